"""``inspect``: an elfdump-style summary of one ELF file, as data (the CLI only renders it).

What a platform engineer asks first about a binary, in one place: what it is, what it loads and from where,
how much room an elfedit-style edit has (STRPAD reserve, spare DT_NULL slots), and who built it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .elf import constants as C
from .elf.dynamic import dynamic
from .elf.eh_frame import fde_count
from .elf.producer import Producer, identify
from .elf.reader import ElfFile
from .elf.versions import verdef, verneed


@dataclass(frozen=True)
class Inspection:
    path: str
    size: int
    elf_class: str
    byte_order: str
    osabi: str
    abiversion: int
    type: str
    machine: str
    entry: int
    interpreter: str | None
    needed: list[str]
    runpath: str | None
    rpath: str | None
    soname: str | None
    flags: list[str]
    flags_1: list[str]
    edited: bool
    strpad: int | None
    dynamic_slots: int
    dynamic_used: int
    spare_dt_null: int
    sections: int
    segments: int
    symtab: int
    dynsym: int
    ldynsym: int
    version_needs: dict[str, list[str]]
    version_defs: list[str]
    build_id: str | None
    fdes: int
    producer: Producer
    has_debug_info: bool
    has_ctf: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect_elf(elf: ElfFile) -> Inspection:
    dyn = dynamic(elf)
    names = {s.name for s in elf.sections}
    return Inspection(
        path=elf.path,
        size=elf.size,
        elf_class=elf.elf_class,
        byte_order=elf.byte_order,
        osabi=elf.osabi_name,
        abiversion=elf.abiversion,
        type=elf.type_name,
        machine=elf.machine_name,
        entry=elf.header.e_entry,
        interpreter=elf.interpreter,
        needed=dyn.needed,
        runpath=dyn.runpath,
        rpath=dyn.rpath,
        soname=dyn.soname,
        flags=C.flag_names(dyn.flags, C.DF),
        flags_1=C.flag_names(dyn.flags_1, C.DF_1),
        edited=dyn.edited,
        strpad=dyn.strpad,
        dynamic_slots=dyn.slots,
        dynamic_used=dyn.used if dyn.present else 0,
        spare_dt_null=dyn.spare_nulls,
        sections=len(elf.sections),
        segments=len(elf.segments),
        symtab=len(elf.symtab),
        dynsym=len(elf.dynsym),
        ldynsym=len(elf.ldynsym),
        version_needs={v.file: [a.name for a in v.aux] for v in verneed(elf)},
        version_defs=[n for d in verdef(elf) for n in d.names[:1]],
        build_id=elf.build_id,
        fdes=fde_count(elf),
        producer=identify(elf),
        has_debug_info=".debug_info" in names,
        has_ctf=".SUNW_ctf" in names,
        notes=sorted({f"{n.name}:{n.type}" for n in elf.notes()}),
    )


def inspect_path(path: str | os.PathLike[str]) -> Inspection:
    with ElfFile(path) as elf:
        return inspect_elf(elf)
