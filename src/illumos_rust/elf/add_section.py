"""Add (or replace) one non-allocated section in an ELF file, and write the result as a transaction.

This is what illumos ``ctf_elfwrite`` does for ``.SUNW_ctf`` and ``objcopy --add-section`` does generally,
reduced to the one safe case: a section no segment loads (``SHF_ALLOC`` clear), so nothing the loader maps
moves. The new image is the original bytes unchanged, followed by a copy of ``.shstrtab`` with the new name
appended, the section contents, and a new section header table with one more entry; the ELF header's
``e_shoff``/``e_shnum`` are patched. Replacing an existing section of that name keeps its index (so no
``sh_link``/``st_shndx`` anywhere needs renumbering) and points it at the new bytes.

Files that would need more than this are refused with the reason: extended section numbering
(``e_shnum`` ≥ 0xff00 or ``e_shstrndx`` = ``SHN_XINDEX``), no section header table, or no ``.shstrtab``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import tempfile
from collections.abc import Callable

from ..errors import UnsafeEditError
from ..files import file_kind
from . import constants as C
from .editor import pack_shdr, with_section
from .reader import ElfFile, Section


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment if alignment > 1 else value


def add_section(
    elf: ElfFile,
    name: str,
    data: bytes,
    *,
    sh_type: int = C.SHT_PROGBITS,
    sh_link: int = 0,
    sh_info: int = 0,
    sh_addralign: int = 4,
    sh_entsize: int = 0,
) -> bytes:
    """The bytes of ``elf`` with section ``name`` holding ``data`` (added at the end, or replacing one)."""
    h = elf.header
    sections = elf.sections
    if not sections:
        raise UnsafeEditError(elf.path, "no section header table to add a section to")
    if h.e_shnum == 0 or h.e_shnum >= C.SHN_LORESERVE - 1 or h.e_shstrndx == C.SHN_XINDEX:
        raise UnsafeEditError(elf.path, "extended section numbering is not supported")
    if not 0 < h.e_shstrndx < len(sections):
        raise UnsafeEditError(elf.path, "no section name string table (e_shstrndx)")
    shstr = sections[h.e_shstrndx]
    original = bytes(elf.buf[: elf.size])
    image = bytearray(original)
    existing = next((s for s in sections if s.name == name and s.index), None)

    def append(blob: bytes, alignment: int) -> int:
        image.extend(b"\0" * (_align(len(image), alignment) - len(image)))
        at = len(image)
        image.extend(blob)
        return at

    new_sections = list(sections)
    if existing is None:
        names = elf.read(shstr.sh_offset, shstr.sh_size, ".shstrtab")
        name_offset = len(names)
        names += name.encode() + b"\0"
        new_sections[shstr.index] = with_section(shstr, sh_offset=append(names, 1), sh_size=len(names))
    else:
        name_offset = existing.sh_name
    offset = append(data, max(sh_addralign, 1))
    fields = {
        "sh_name": name_offset,
        "sh_type": sh_type,
        "sh_flags": 0,
        "sh_addr": 0,
        "sh_offset": offset,
        "sh_size": len(data),
        "sh_link": sh_link,
        "sh_info": sh_info,
        "sh_addralign": sh_addralign,
        "sh_entsize": sh_entsize,
    }
    if existing is None:
        new_sections.append(Section(len(sections), name, header_offset=0, **fields))
    else:
        new_sections[existing.index] = with_section(existing, **fields)
    table = b"".join(pack_shdr(elf, s).ljust(h.e_shentsize, b"\0") for s in new_sections)
    shoff = append(table, 8 if elf.is64 else 4)
    e = elf.endian
    if elf.is64:
        image[40:48] = struct.pack(e + "Q", shoff)
        image[60:62] = struct.pack(e + "H", len(new_sections))
    else:
        image[32:36] = struct.pack(e + "I", shoff)
        image[48:50] = struct.pack(e + "H", len(new_sections))
    return bytes(image)


def write_atomically(
    path: str, image: bytes, verify: Callable[[str], None], *, output: str | None = None
) -> None:
    """Write ``image`` to a temporary file beside the target, let ``verify`` re-read it (raising to
    refuse), then rename it over ``output`` (default ``path``) keeping ``path``'s permission bits.
    Nothing is left behind on failure; the original is untouched until the rename."""
    target = os.path.realpath(output or path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise UnsafeEditError(target, f"cannot write: {exc.strerror or exc}") from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        # a rename would replace the node itself: run as root, `-o /dev/null` turned /dev/null into a
        # regular file (and every later reader of /dev/null read this ELF image)
        raise UnsafeEditError(target, f"not a regular file ({file_kind(existing.st_mode)}): nothing written")
    try:
        st = os.stat(path)
        fd, tmp = tempfile.mkstemp(prefix=".illumos-rust-", dir=os.path.dirname(target))
    except OSError as exc:
        raise UnsafeEditError(target, f"cannot write beside it: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(image)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        verify(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UnsafeEditError(target, f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
