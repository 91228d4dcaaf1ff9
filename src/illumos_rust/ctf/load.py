"""Find and decode the CTF of a file: an ELF object's ``.SUNW_ctf`` (with its linked symbol table) or a raw
container such as ``ctfdump -u`` writes.

illumos libctf (``ctf_fdopen``) reads ``.SUNW_ctf`` and the symbol table its ``sh_link`` names —
``.symtab``, or ``.dynsym`` in a stripped binary (libproc ``Pbuild_file_ctf``); names in string table 1
come from that symbol table's string table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..elf.constants import ELFMAG, SHT_DYNSYM, SHT_SYMTAB
from ..elf.reader import ElfFile, Symbol
from ..errors import FormatError
from .model import Container, FunctionInfo
from .reader import read_container
from .symbols import associate

CTF_SECTION = ".SUNW_ctf"


@dataclass
class CtfFile:
    """A decoded container and, for an ELF file, its entries paired with symbols."""

    path: str
    container: Container
    raw: bytes
    symtab_name: str | None = None
    pointer_size: int = 8
    objects: list[tuple[int, str, int]] = field(default_factory=list)
    functions: list[tuple[int, str, FunctionInfo | None]] = field(default_factory=list)


def load_ctf(path: str | os.PathLike[str]) -> CtfFile:
    """Read the CTF of ``path`` (ELF with ``.SUNW_ctf``, or a raw container); FormatError if none."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise FormatError(name, None, f"cannot read: {exc.strerror or exc}") from None
    if head != ELFMAG:
        try:
            with open(name, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise FormatError(name, None, f"cannot read: {exc.strerror or exc}") from None
        return CtfFile(name, read_container(raw, name), raw)
    with ElfFile(name) as elf:
        return load_ctf_elf(elf)


def load_ctf_elf(elf: ElfFile) -> CtfFile:
    name = elf.path
    section = elf.section(CTF_SECTION)
    if section is None:
        if elf.section(".ctf") is not None:
            raw = elf.section_bytes(elf.section(".ctf"))  # type: ignore[arg-type]
            read_container(raw, f"{name}: .ctf")  # raises the precise reason (GNU CTF, usually)
        raise FormatError(name, None, f"no {CTF_SECTION} section (no CTF type information)")
    elf.check_range(section.sh_offset, section.sh_size, CTF_SECTION)
    raw = elf.section_bytes(section)
    sections = elf.sections
    symtab = None
    if 0 < section.sh_link < len(sections) and sections[section.sh_link].sh_type in (SHT_SYMTAB, SHT_DYNSYM):
        symtab = sections[section.sh_link]
    elif section.sh_link:
        raise FormatError(
            name, section.header_offset, f"{CTF_SECTION}: sh_link {section.sh_link} is not a symbol table"
        )
    strtab = None
    symbols: list[Symbol] = []
    if symtab is not None:
        symbols = list(elf.symbols(symtab))
        if 0 < symtab.sh_link < len(sections):
            strtab = elf.section_bytes(sections[symtab.sh_link])
    container = read_container(raw, f"{name}: {CTF_SECTION}", elf_strtab=strtab)
    out = CtfFile(name, container, raw, symtab.name if symtab else None, 8 if elf.is64 else 4)
    if symbols:
        out.objects, out.functions = associate(container, symbols)
    return out
