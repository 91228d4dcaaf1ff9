"""Low-level pieces of the in-place editor: who references ``.dynstr``, header packing, loader invariants.

The user-level planner lives in ``illumos_rust.edit``; this module only knows ELF. It is kept apart from
``reader.py`` so the reader stays read-only and the facts an editor must prove before touching a byte
(``shared/notes/elf-tooling.md`` §5, pitfalls 1, 3 and 5) are computed in one place:

* every reference into ``.dynstr`` (dynamic symbols, ``.SUNW_ldynsym``, version needs and definitions, dynamic
  string tags), because linkers tail-merge strings and overwriting a shared one corrupts symbol names;
* ``.SUNW_syminfo`` bindings, because ``si_boundto`` is an *index* into ``.dynamic`` and shifting entries
  would silently re-bind symbols to a different library;
* the loader invariants a rewritten program header table must keep (gABI: PT_PHDR and PT_INTERP before
  every PT_LOAD, PT_LOADs ascending and disjoint, offset congruent to address modulo alignment).
"""

from __future__ import annotations

import itertools
import struct
from typing import NamedTuple

from . import constants as C
from .reader import ElfFile, Section, Segment
from .versions import verdef, verneed

SHT_SUNW_SYMINFO = 0x6FFFFFFC
SYMINFO_BT_LOWRESERVE = 0xFF00
DT_POSFLAG_1 = 0x6FFFFDFD
DT_DEBUG = 21

# Section types whose string references into .dynstr we can enumerate; any other section linked to .dynstr
# holds references we cannot see, so an in-place rewrite of a string can never be proved safe there.
_SCANNED_LINKERS = frozenset(
    {
        C.SHT_DYNSYM,
        C.SHT_SUNW_LDYNSYM,
        C.SHT_DYNAMIC,
        C.SHT_GNU_VERNEED,
        C.SHT_GNU_VERDEF,
        C.SHT_SYMTAB,
        C.SHT_HASH,
        C.SHT_GNU_HASH,
        C.SHT_GNU_VERSYM,
        SHT_SUNW_SYMINFO,
        C.SHT_RELA,
        C.SHT_REL,
    }
)


class StringRef(NamedTuple):
    """One reference to a ``.dynstr`` offset and its holder, put into words only when an edit is refused."""

    value: int
    what: str  # "symbol", "version need", "version definition", or a complete description
    name: str = ""
    where: str = ""

    @property
    def owner(self) -> str:
        if not self.name and not self.where:
            return self.what
        return f"{self.what} {self.name!r}" + (f" in {self.where}" if self.where else "")


def dynstr_section(elf: ElfFile, strtab_offset: int) -> Section | None:
    """The section header describing the dynamic string table (found by file offset, as DT_STRTAB is)."""
    for s in elf.sections:
        if s.sh_type == C.SHT_STRTAB and s.sh_offset == strtab_offset and s.is_alloc:
            return s
    return None


def static_string_refs(elf: ElfFile, strtab_offset: int) -> tuple[list[StringRef], list[str]]:
    """References into ``.dynstr`` an edit cannot change, plus the sections whose references we cannot see.

    Dynamic entries and ``vn_file`` fields are left out on purpose: edits change them, so the planner tracks
    their current values itself.
    """
    refs: list[StringRef] = []
    blind: list[str] = []
    if not elf.sections:
        blind.append("every symbol (no section headers, so references cannot be enumerated)")
    dstr = dynstr_section(elf, strtab_offset)
    index = dstr.index if dstr is not None else -1
    for sec in elf.sections:
        if sec.sh_link != index or index < 0:
            continue
        if sec.sh_type in (C.SHT_DYNSYM, C.SHT_SUNW_LDYNSYM, C.SHT_SYMTAB):
            cached = {C.SHT_DYNSYM: "dynsym", C.SHT_SUNW_LDYNSYM: "ldynsym", C.SHT_SYMTAB: "symtab"}[
                sec.sh_type
            ]
            table = getattr(elf, cached)
            if table.section is None or table.section.index != sec.index:
                table = elf.symbols(sec)
            names, where = table.names, sec.name
            refs.extend(
                StringRef(raw[0], "symbol", names[i], where) for i, raw in enumerate(table.raws) if raw[0]
            )
        elif sec.sh_type not in _SCANNED_LINKERS:
            blind.append(
                f"section {sec.name or sec.index} (links to .dynstr; references cannot be enumerated)"
            )
    for need in verneed(elf):  # vn_file itself is left out: a NEEDED rename changes it, the planner tracks it
        refs.extend(StringRef(aux.name_value, "version need", aux.name, need.file) for aux in need.aux)
    if any(sec.sh_link == index for sec in elf.sections_of_type(C.SHT_GNU_VERDEF)):
        for d in verdef(elf):
            label = d.names[0] if d.names else "?"
            refs.extend(StringRef(value, "version definition", label) for value in d.name_values)
    return refs, blind


def syminfo_boundto(elf: ElfFile) -> list[int]:
    """``si_boundto`` values of ``.SUNW_syminfo`` that name a ``.dynamic`` index (reserved values dropped)."""
    out: list[int] = []
    half = elf.half
    for sec in elf.sections_of_type(SHT_SUNW_SYMINFO):
        ent = sec.sh_entsize or 4
        elf.check_range(sec.sh_offset, sec.sh_size, sec.name)
        for pos in range(sec.sh_offset, sec.sh_offset + sec.sh_size - ent + 1, ent):
            bound = half.unpack_from(elf.buf, pos)[0]
            if bound < SYMINFO_BT_LOWRESERVE:
                out.append(bound)
    return out


# -- header records ---------------------------------------------------------------------------------------
# Built field by field rather than with dataclasses.replace/NamedTuple._replace, so the editor does not depend
# on which record type reader.py uses for Section and Segment.
_SEGMENT_FIELDS = (
    "index",
    "p_type",
    "p_flags",
    "p_offset",
    "p_vaddr",
    "p_paddr",
    "p_filesz",
    "p_memsz",
    "p_align",
    "header_offset",
)
_SECTION_FIELDS = (
    "index",
    "name",
    "sh_name",
    "sh_type",
    "sh_flags",
    "sh_addr",
    "sh_offset",
    "sh_size",
    "sh_link",
    "sh_info",
    "sh_addralign",
    "sh_entsize",
    "header_offset",
)


def with_segment(p: Segment, **changes: int) -> Segment:
    """A copy of ``p`` with some fields changed."""
    values: dict[str, int] = {f: getattr(p, f) for f in _SEGMENT_FIELDS}
    values.update(changes)
    return Segment(**values)


def with_section(s: Section, **changes: int) -> Section:
    values: dict[str, object] = {f: getattr(s, f) for f in _SECTION_FIELDS}
    values.update(changes)
    return Section(**values)  # type: ignore[arg-type]


# -- header packing -------------------------------------------------------------------------------------


def pack_phdr(elf: ElfFile, p: Segment) -> bytes:
    """A program header in the file's class and byte order (ELF32 puts p_flags after p_memsz)."""
    e = elf.endian
    if elf.is64:
        return struct.pack(
            e + "IIQQQQQQ",
            p.p_type,
            p.p_flags,
            p.p_offset,
            p.p_vaddr,
            p.p_paddr,
            p.p_filesz,
            p.p_memsz,
            p.p_align,
        )
    return struct.pack(
        e + "IIIIIIII",
        p.p_type,
        p.p_offset,
        p.p_vaddr,
        p.p_paddr,
        p.p_filesz,
        p.p_memsz,
        p.p_flags,
        p.p_align,
    )


def pack_shdr(elf: ElfFile, s: Section) -> bytes:
    fmt = "IIQQQQIIQQ" if elf.is64 else "IIIIIIIIII"
    return struct.pack(
        elf.endian + fmt,
        s.sh_name,
        s.sh_type,
        s.sh_flags,
        s.sh_addr,
        s.sh_offset,
        s.sh_size,
        s.sh_link,
        s.sh_info,
        s.sh_addralign,
        s.sh_entsize,
    )


def ehdr_phdr_fields(elf: ElfFile, phoff: int, phnum: int) -> list[tuple[int, bytes]]:
    """Patches for e_phoff and e_phnum."""
    e = elf.endian
    if elf.is64:
        return [(32, struct.pack(e + "Q", phoff)), (56, struct.pack(e + "H", phnum))]
    return [(28, struct.pack(e + "I", phoff)), (44, struct.pack(e + "H", phnum))]


# -- loader invariants ----------------------------------------------------------------------------------


def layout_problems(elf: ElfFile) -> list[str]:
    """Every violated loader invariant, as one-line reasons (empty when the layout is sound).

    Checked on the original and the edited file; the editor fails only on problems it introduced, so an
    odd-but-working input layout is not held against an edit that did not touch it.
    """
    out: list[str] = []
    segs = elf.segments
    loads = [p for p in segs if p.p_type == C.PT_LOAD]
    first_load = next((p.index for p in segs if p.p_type == C.PT_LOAD), len(segs))
    for p in segs:
        if p.p_type in (C.PT_PHDR, C.PT_INTERP) and p.index > first_load:
            out.append(f"{p.type_name} (program header {p.index}) comes after a PT_LOAD")
    phdrs = [p for p in segs if p.p_type == C.PT_PHDR]
    if len(phdrs) > 1:
        out.append("more than one PT_PHDR")
    for a, b in itertools.pairwise(loads):
        if b.p_vaddr < a.p_vaddr:
            out.append(f"PT_LOADs not in ascending address order (0x{a.p_vaddr:x} before 0x{b.p_vaddr:x})")
        elif a.p_vaddr + a.p_memsz > b.p_vaddr:
            out.append(f"PT_LOADs at 0x{a.p_vaddr:x} and 0x{b.p_vaddr:x} overlap")
    for p in loads:
        if p.p_filesz > p.p_memsz:
            out.append(f"PT_LOAD at 0x{p.p_vaddr:x} has p_filesz > p_memsz")
        if p.p_align > 1 and (p.p_offset - p.p_vaddr) % p.p_align:
            out.append(f"PT_LOAD at 0x{p.p_vaddr:x}: offset and address not congruent modulo 0x{p.p_align:x}")
        if p.p_offset + p.p_filesz > elf.size:
            out.append(f"PT_LOAD at 0x{p.p_vaddr:x} runs past the end of the file")
    for p in segs:
        covered = any(_covers(load, p) for load in loads)
        if p.p_type in (C.PT_PHDR, C.PT_DYNAMIC, C.PT_INTERP) and p.p_filesz and not covered:
            out.append(f"{p.type_name} at 0x{p.p_vaddr:x} is not inside any PT_LOAD")
    h = elf.header
    if phdrs and (phdrs[0].p_offset != h.e_phoff or phdrs[0].p_filesz != h.e_phnum * h.e_phentsize):
        out.append("PT_PHDR does not describe the program header table")
    return out


def _covers(load: Segment, p: Segment) -> bool:
    """``p`` lies inside ``load`` both in the file and in memory, at the same relative position."""
    return (
        load.p_vaddr <= p.p_vaddr
        and p.p_vaddr + p.p_filesz <= load.p_vaddr + load.p_filesz
        and p.p_offset - load.p_offset == p.p_vaddr - load.p_vaddr
    )
