"""Relocation tables (``SHT_REL``/``SHT_RELA``) of both ELF classes, decoded in one place.

The audit's syscall check reads the dynamic relocations that bind GOT slots to libc; the DWARF reader
applies ``ET_REL`` relocations to ``.debug_*`` sections, and the core analyzer and probe lister need the
same records. One decoder serves them all (gABI "Relocation", ``Elf32_Rel``/``Elf64_Rela``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from . import constants as C
from .reader import ElfFile, Section

# x86-64 psABI relocation types used by the tools.
R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32 = 0, 1, 2
R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, R_X86_64_RELATIVE = 6, 7, 8
R_X86_64_32, R_X86_64_32S = 10, 11
R_X86_64_DTPOFF32, R_X86_64_DTPOFF64 = 21, 17
R_X86_64_PC64 = 24
# AArch64 ELF ABI relocation types used by the tools.
R_AARCH64_ABS64, R_AARCH64_ABS32, R_AARCH64_PREL32 = 257, 258, 261


class Relocation(NamedTuple):
    """One record: where (``r_offset``), which type and symbol (from ``r_info``), and the explicit addend."""

    offset: int
    type: int
    sym: int
    addend: int


def relocations(elf: ElfFile, section: Section) -> Iterator[Relocation]:
    """Every record of a ``SHT_REL``/``SHT_RELA`` section; a trailing partial record is ignored.

    ``SHT_REL`` records carry no addend (0 here: the addend is in the relocated field).
    """
    is_rela = section.sh_type == C.SHT_RELA
    if elf.is64:
        fmt = struct.Struct(elf.endian + ("QQq" if is_rela else "QQ"))
        sym_shift, type_mask = 32, 0xFFFFFFFF
    else:
        fmt = struct.Struct(elf.endian + ("IIi" if is_rela else "II"))
        sym_shift, type_mask = 8, 0xFF
    data = elf.section_data(section)
    usable = len(data) - len(data) % fmt.size
    for rec in fmt.iter_unpack(data[:usable]):
        info = rec[1]
        yield Relocation(rec[0], info & type_mask, info >> sym_shift, rec[2] if is_rela else 0)


def relocation_sections(elf: ElfFile) -> Iterator[Section]:
    """The ``SHT_REL``/``SHT_RELA`` sections of a file, in section-header order."""
    for sec in elf.sections:
        if sec.sh_type in (C.SHT_REL, C.SHT_RELA):
            yield sec
