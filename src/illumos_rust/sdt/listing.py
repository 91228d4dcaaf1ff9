"""Every static probe an ELF file carries: usdt records, DOF sections and SystemTap notes.

Three places (shared/notes/observability.md §2.6):

* ``set_dtrace_probes`` records (usdt crate and ``probes gen``; usdt-impl record.rs): length-prefixed,
  version <= 1, an absolute site address. In a PIE or shared object that address is 0 in the file and a
  ``R_X86_64_RELATIVE``/``R_X86_64_64`` dynamic relocation fills it in; in an object file (``--emit obj``)
  a ``.rela`` section names the symbol. Both are applied here.
* DOF from ``dtrace -G`` (``.SUNW_dof``) or anywhere: any section whose bytes start with ``7f 'D' 'O' 'F'``.
* ``.note.stapsdt`` notes (``sys/sdt.h``): pc, base, semaphore and three strings; when ``.stapsdt.base``
  moved (prelink), pc and semaphore are shifted by the same amount.

Sites of one probe in one function are grouped, as DTrace groups them into one probe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from ..demangle import try_demangle
from ..elf import constants as C
from ..elf.function_lookup import FunctionLookup
from ..elf.reader import ElfFile, Section
from ..elf.relocations import (
    R_AARCH64_ABS64,
    R_X86_64_64,
    R_X86_64_RELATIVE,
    relocation_sections,
    relocations,
)
from ..elf.section_notes import section_notes
from ..errors import FormatError
from . import dof as D

RECORD_SECTION = "set_dtrace_probes"
R_AARCH64_RELATIVE = 1027
MAX_RECORD_ARGS = 32  # usdt allows 6; anything far above is a damaged record


@dataclass
class Site:
    """One usdt record: where, which kind of site, for which probe."""

    address: int
    is_enabled: bool
    provider: str
    probe: str
    arg_types: list[str]
    version: int
    offset: int  # file offset of the record
    shndx: int | None = None  # object files: the section the address is relative to


@dataclass
class ListedProbe:
    source: str  # "usdt", "dof" or "stapsdt"
    provider: str
    name: str
    function: str  # mangled (as dladdr and DTrace see it); "" when no symbol covers the site
    address: int  # the base the offsets are relative to (function start, or the lowest site)
    sites: list[int] = field(default_factory=list)  # absolute probe-site addresses
    enabled_sites: list[int] = field(default_factory=list)  # absolute is-enabled site addresses
    arg_types: list[str] = field(default_factory=list)
    semaphore: int | None = None
    section: str = ""

    @property
    def function_demangled(self) -> str:
        """The function as the other commands show it: demangled without the legacy hash (rustc-demangle's
        alternate form); ``to_json`` keeps the mangled name beside it for tools that need the exact symbol."""
        return (try_demangle(self.function, hash=False) if self.function else None) or self.function

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "provider": self.provider,
            "probe": self.name,
            "function": self.function_demangled,
            "function_mangled": self.function,
            "address": self.address,
            "sites": self.sites,
            "is_enabled_sites": self.enabled_sites,
            "arguments": self.arg_types,
            "semaphore": self.semaphore,
            "section": self.section,
        }


# -- usdt records ----------------------------------------------------------------------------------------
def _record_relocations(elf: ElfFile, sec: Section) -> dict[int, tuple[int, int | None]]:
    """Section offset of an address field -> its value (and, in an object file, the section that value is
    relative to), from the relocations that fill it in."""
    out: dict[int, tuple[int, int | None]] = {}
    lo, hi = sec.sh_addr, sec.sh_addr + sec.sh_size
    if elf.header.e_type == C.ET_REL:
        symtab = elf.symtab
        for rsec in relocation_sections(elf):
            if rsec.sh_info != sec.index:
                continue
            for rel in relocations(elf, rsec):
                if rel.type in (R_X86_64_64, R_AARCH64_ABS64) and 0 <= rel.sym < len(symtab):
                    sym = symtab[rel.sym]
                    out[rel.offset] = (sym.value + rel.addend, sym.shndx)
        return out
    dynsym = None
    for rsec in relocation_sections(elf):
        if rsec.sh_flags & C.SHF_ALLOC == 0:
            continue
        for rel in relocations(elf, rsec):
            if not lo <= rel.offset < hi:
                continue
            if rel.type in (R_X86_64_RELATIVE, R_AARCH64_RELATIVE):
                out[rel.offset - lo] = (rel.addend, None)
            elif rel.type in (R_X86_64_64, R_AARCH64_ABS64):
                dynsym = elf.dynsym if dynsym is None else dynsym
                if 0 <= rel.sym < len(dynsym):
                    out[rel.offset - lo] = (dynsym[rel.sym].value + rel.addend, None)
    return out


def usdt_sites(elf: ElfFile) -> list[Site]:
    """Every record of ``set_dtrace_probes``, relocations applied; damaged records raise ``FormatError``."""
    sec = elf.section(RECORD_SECTION)
    if sec is None or sec.sh_type == C.SHT_NOBITS or sec.sh_size == 0:
        return []
    data = elf.section_data(sec)
    relocs = _record_relocations(elf, sec)
    endian = elf.endian
    head = struct.Struct(endian + "IBBHQ")
    sites: list[Site] = []
    pos, end = 0, len(data)
    raw = bytes(data)
    while pos + 16 <= end:
        length, version, nargs, flags, addr = head.unpack_from(raw, pos)
        if length == 0:
            pos += 8  # alignment padding between records of different objects
            continue
        where = sec.sh_offset + pos
        if length < 16 or pos + length > end:
            raise FormatError(elf.path, where, f"{RECORD_SECTION}: record length {length} is out of bounds")
        if nargs > MAX_RECORD_ARGS:
            raise FormatError(elf.path, where, f"{RECORD_SECTION}: record claims {nargs} arguments")
        strings = raw[pos + 16 : pos + length].split(b"\0")
        if len(strings) < 2 + nargs + 1:
            raise FormatError(elf.path, where, f"{RECORD_SECTION}: record strings are not NUL-terminated")
        names = [s.decode("utf-8", "replace") for s in strings[: 2 + nargs]]
        addr, shndx = relocs.get(pos + 8, (addr, None))
        sites.append(Site(addr, bool(flags & 1), names[0], names[1], names[2:], version, where, shndx))
        pos += length
    return sites


def group_sites(sites: list[Site], functions: FunctionLookup | None) -> list[ListedProbe]:
    """One probe per (provider, probe, function), sites relative to the function's start; the rule the
    generated ``register_probes()`` follows with ``dladdr(3C)``, so the offline DOF matches the runtime's."""
    probes: dict[tuple[str, str, str | None], ListedProbe] = {}
    for s in sorted(sites, key=lambda s: (s.shndx or 0, s.address)):
        hit = functions.lookup(s.address, s.shndx) if functions is not None else None
        # No symbol covers the site: one probe for all such sites, named after the lowest of them.
        func, base = hit if hit is not None else (f"0x{s.address:x}", s.address)
        key = (s.provider, s.probe, func if hit is not None else None)
        p = probes.get(key)
        if p is None:
            p = probes[key] = ListedProbe("usdt", s.provider, s.probe, func, base, section=RECORD_SECTION)
        if s.is_enabled:
            p.enabled_sites.append(s.address)
        else:
            p.sites.append(s.address)
            p.arg_types = s.arg_types
    return list(probes.values())


def to_dof_providers(
    probes: list[ListedProbe], attributes: dict[str, dict[str, str]] | None = None
) -> list[D.DofProvider]:
    """The providers ``register_probes()`` would hand to the kernel for these (usdt) probes; the records do
    not carry stability attributes, so they come from the provider file (``attributes``) when given."""
    providers: dict[str, D.DofProvider] = {}
    for p in probes:
        prov = providers.get(p.provider)
        if prov is None:
            attrs = dict((attributes or {}).get(p.provider, {}))
            prov = providers[p.provider] = D.DofProvider(p.provider, attributes=attrs)
        prov.probes.append(
            D.DofProbe(
                p.name,
                p.function,
                p.address,
                list(p.arg_types),
                [a - p.address for a in p.sites],
                [a - p.address for a in p.enabled_sites],
            )
        )
    return list(providers.values())


# -- SystemTap notes -------------------------------------------------------------------------------------
def stapsdt_probes(elf: ElfFile, functions: FunctionLookup | None = None) -> list[ListedProbe]:
    notes = [s for s in elf.sections_of_type(C.SHT_NOTE) if s.name == ".note.stapsdt"]
    if not notes:
        return []
    base_sec = elf.section(".stapsdt.base")
    is_object = elf.header.e_type == C.ET_REL
    functions = functions or FunctionLookup(elf, by_section=is_object)
    words = struct.Struct(elf.endian + ("QQQ" if elf.is64 else "III"))
    out: dict[tuple[str, str, str], ListedProbe] = {}
    for sec in notes:
        relocs = _record_relocations(elf, sec) if is_object else {}  # an object's pc is a relocation
        _stapsdt_in(elf, sec, relocs, base_sec, functions, words, out)
    return list(out.values())


def _stapsdt_in(
    elf: ElfFile,
    sec: Section,
    relocs: dict[int, tuple[int, int | None]],
    base_sec: Section | None,
    functions: FunctionLookup,
    words: struct.Struct,
    out: dict[tuple[str, str, str], ListedProbe],
) -> None:
    for note in section_notes(elf, sec):
        if note.name != "stapsdt" or note.type != 3:
            continue
        desc = note.desc
        if len(desc) < words.size + 3:
            raise FormatError(elf.path, note.offset, "stapsdt note descriptor is too short")
        pc, base, sema = words.unpack_from(desc, 0)
        parts = desc[words.size :].split(b"\0")
        if len(parts) < 4:
            raise FormatError(elf.path, note.offset, "stapsdt note strings are not NUL-terminated")
        provider, name, args = (x.decode("utf-8", "replace") for x in parts[:3])
        if base_sec is not None and base and base_sec.sh_addr != base:
            delta = base_sec.sh_addr - base  # prelink moved the file (sys/sdt.h, notes §3)
            pc += delta
            sema = sema + delta if sema else 0
        shndx = None
        if relocs:  # desc starts after the 12-byte header and the 4-aligned "stapsdt\0" name
            pc, shndx = relocs.get(note.offset + 12 + 8 - sec.sh_offset, (pc, None))
        func, start = functions.lookup(pc, shndx) or ("", pc)
        key = (provider, name, func)
        p = out.get(key)
        if p is None:
            p = out[key] = ListedProbe(
                "stapsdt", provider, name, func, start, arg_types=args.split(), section=".note.stapsdt"
            )
            p.semaphore = sema or None
        p.sites.append(pc)


# -- DOF sections ----------------------------------------------------------------------------------------
def dof_sections(elf: ElfFile) -> list[tuple[Section, D.DofImage]]:
    found = []
    for sec in elf.sections:
        if sec.sh_type == C.SHT_NOBITS or sec.sh_size < D.HDR_SIZE:
            continue
        if elf.read(sec.sh_offset, 4, f"section {sec.name}") != D.DOF_MAG:
            continue
        elf.check_range(sec.sh_offset, sec.sh_size, f"section {sec.name}")
        found.append((sec, D.decode(elf.section_data(sec), elf.path, sec.sh_offset)))
    return found


def dof_probes(elf: ElfFile) -> list[ListedProbe]:
    out = []
    for sec, image in dof_sections(elf):
        for prov in image.providers:
            for p in prov.probes:
                out.append(
                    ListedProbe(
                        "dof",
                        prov.name,
                        p.name,
                        p.function,
                        p.address,
                        [p.address + o for o in p.offsets],
                        [p.address + o for o in p.enabled_offsets],
                        p.arg_types,
                        section=sec.name,
                    )
                )
    return out


def usdt_probes(elf: ElfFile, functions: FunctionLookup | None = None) -> list[ListedProbe]:
    """The usdt records of ``elf`` grouped into probes (what ``register_probes()`` would register)."""
    sites = usdt_sites(elf)
    if not sites:
        return []
    if functions is None:
        functions = FunctionLookup(elf, by_section=elf.header.e_type == C.ET_REL)
    return group_sites(sites, functions)


def list_probes(elf: ElfFile) -> list[ListedProbe]:
    """Every probe in ``elf`` (the library entry point; ``audit`` can report these as information)."""
    probes = dof_probes(elf)
    has_records = elf.section(RECORD_SECTION) is not None
    has_notes = any(s.name == ".note.stapsdt" for s in elf.sections_of_type(C.SHT_NOTE))
    if has_records or has_notes:  # the function table is read only when some probe needs a name
        functions = FunctionLookup(elf, by_section=elf.header.e_type == C.ET_REL)
        if has_records:
            probes += usdt_probes(elf, functions)
        if has_notes:
            probes += stapsdt_probes(elf, functions)
    return probes


def registers_probes(elf: ElfFile) -> bool | None:
    """Whether something can register the usdt records: ``register_probes()`` (ours or the usdt crate's)
    walks them between ``__start_``/``__stop_set_dtrace_probes``, which the linker defines only when
    referenced (and an object file references). Inlining can hide ``register_probes`` itself, so either
    name counts. None when the file has no ``.symtab`` to tell (stripped)."""
    if not len(elf.symtab):
        return None
    return any(name == "__start_set_dtrace_probes" or "register_probes" in name for name in elf.symtab.names)
