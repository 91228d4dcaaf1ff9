"""Separate debug files: the symbols and DWARF that distributions strip out of the objects they ship.

Debian's ``-dbg``/``-dbgsym`` packages (``libc6-dbg`` for glibc) install them as
``/usr/lib/debug/.build-id/NN/NNNN….debug``, named by the object's GNU build-id; objects split by hand
(``objcopy --only-keep-debug`` + ``--add-gnu-debuglink``) name theirs in a ``.gnu_debuglink`` section
(file name, NUL, padding to 4, CRC-32 of the debug file). The search order is gdb's ("Separate Debug
Files" in the gdb manual): the build-id path under each debug directory, then the debuglink name beside
the object, in its ``.debug/`` subdirectory, and under each debug directory followed by the object's
directory. A candidate is used only when it proves to be the object's: the same build-id, or (without
one) the debuglink's CRC. Section and symbol addresses in a debug file are the object's own link-time
addresses, so the object's load bias applies to both.
"""

from __future__ import annotations

import os
import struct
import zlib

from ..elf.reader import ElfFile
from ..errors import FormatError

DEBUG_DIRS = ("/usr/lib/debug",)


def find_debug_file(elf: ElfFile, disk_path: str, sysroot: str | None = None) -> tuple[ElfFile | None, str]:
    """The debug file of the object at ``disk_path`` (already open as ``elf``), opened, with a note for
    the report; (None, "") when the object carries its own DWARF and symbols or none is found."""
    roots = [os.path.join(sysroot, d.lstrip("/")) for d in DEBUG_DIRS] if sysroot else []
    roots += list(DEBUG_DIRS)
    build_id = _build_id(elf)
    candidates: list[tuple[str, str]] = []
    if build_id and len(build_id) > 2:
        for root in roots:
            candidates.append(
                (os.path.join(root, ".build-id", build_id[:2], build_id[2:] + ".debug"), "build-id")
            )
    link = _debuglink(elf)
    if link is not None:
        name = link[0]
        here = os.path.dirname(os.path.realpath(disk_path))
        candidates += [
            (os.path.join(here, name), "debuglink"),
            (os.path.join(here, ".debug", name), "debuglink"),
        ]
        candidates += [(os.path.join(root, here.lstrip("/"), name), "debuglink") for root in roots]
    seen: set[str] = set()
    for path, how in candidates:
        real = os.path.realpath(path)
        if real in seen or real == os.path.realpath(disk_path) or not os.path.isfile(path):
            continue
        seen.add(real)
        try:
            debug = ElfFile(path)
        except (FormatError, OSError):
            continue
        if _matches(debug, path, build_id, link[1] if link is not None else None):
            return debug, f"symbols and DWARF from {path} ({how})"
        debug.close()
    return None, ""


def wants_debug_file(elf: ElfFile) -> bool:
    """An object without ``.debug_info`` or without a ``.symtab`` is worth a debug file lookup."""
    return elf.section(".debug_info") is None or not len(elf.symtab)


def _matches(debug: ElfFile, path: str, build_id: str | None, crc: int | None) -> bool:
    try:
        theirs = _build_id(debug)
    except FormatError:
        return False
    if build_id is not None and theirs is not None:
        return theirs == build_id
    if crc is None:
        return False
    try:
        with open(path, "rb") as fh:
            value = 0
            while chunk := fh.read(1 << 20):
                value = zlib.crc32(chunk, value)
    except OSError:
        return False
    return value == crc


def _build_id(elf: ElfFile) -> str | None:
    try:
        return elf.build_id
    except FormatError:
        return None


def _debuglink(elf: ElfFile) -> tuple[str, int] | None:
    """``.gnu_debuglink``: a NUL-terminated file name, zero padding to a 4-byte boundary, a CRC-32 (in the
    object's byte order) of the whole debug file."""
    sec = elf.section(".gnu_debuglink")
    if sec is None:
        return None
    try:
        raw = bytes(elf.section_bytes(sec))
    except FormatError:
        return None
    end = raw.find(b"\0")
    if end <= 0:
        return None
    at = (end + 4) & ~3
    if at + 4 > len(raw):
        return None
    name = raw[:end].decode("utf-8", "surrogateescape")
    if "/" in name:  # a file name, never a path (a hostile one must not walk the file system)
        return None
    (crc,) = struct.unpack_from("<I" if elf.little else ">I", raw, at)
    return name, crc
