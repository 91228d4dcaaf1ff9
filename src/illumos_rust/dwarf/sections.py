"""The ``.debug_*`` sections of one ELF file, ready to parse: inflated, relocated, bounds-known.

A ``DwarfSection`` is a window ``[base, base + size)`` on a buffer (the file's ``mmap`` when the section is
stored plainly, a private ``bytes`` copy when it had to be inflated or relocated). Parsers index the buffer
directly at ``base + offset``, which keeps the hot loops free of slicing; every error they raise names the
section and the offset inside it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..elf import constants as EC
from ..elf.compressed import section_contents
from ..elf.reader import ElfFile, Section
from ..elf.relocations import (
    R_AARCH64_ABS32,
    R_AARCH64_ABS64,
    R_X86_64_32,
    R_X86_64_32S,
    R_X86_64_64,
    R_X86_64_DTPOFF32,
    R_X86_64_DTPOFF64,
    R_X86_64_NONE,
    relocations,
)
from ..errors import FormatError
from .leb128 import Buf

DEBUG_SECTIONS = (
    "info",
    "abbrev",
    "str",
    "line_str",
    "str_offsets",
    "addr",
    "rnglists",
    "loclists",
    "ranges",
    "loc",
    "line",
    "types",
)

R_AARCH64_NONE = 0
_EM_PPC64 = 21
# (machine, relocation type) -> bytes written; the value is S + A (x86-64 psABI table 4.10, AArch64 ELF ABI
# "Static data relocations"). These are the only kinds compilers put in debug sections against symbols.
_ABSOLUTE = {
    (EC.EM_AMD64, R_X86_64_64): 8,
    (EC.EM_AMD64, R_X86_64_32): 4,
    (EC.EM_AMD64, R_X86_64_32S): 4,
    # Thread-local statics: the location is the variable's offset in the TLS block (DW_OP_const*u followed
    # by DW_OP_form_tls_address); rustc's thread_local! and gcc's __thread emit these.
    (EC.EM_AMD64, R_X86_64_DTPOFF64): 8,
    (EC.EM_AMD64, R_X86_64_DTPOFF32): 4,
    (EC.EM_AARCH64, R_AARCH64_ABS64): 8,
    (EC.EM_AARCH64, R_AARCH64_ABS32): 4,
    (EC.EM_386, 1): 4,  # R_386_32 (i386 psABI), SHT_REL: the addend is in place
    (_EM_PPC64, 1): 4,  # R_PPC64_ADDR32 (64-bit ELF ABI for Power), big-endian test objects
    (_EM_PPC64, 38): 8,  # R_PPC64_ADDR64
}
_NONE = {(EC.EM_AMD64, R_X86_64_NONE), (EC.EM_AARCH64, R_AARCH64_NONE), (EC.EM_386, 0), (_EM_PPC64, 0)}


@dataclass(frozen=True)
class DwarfSection:
    """One debug section: ``buf[base : base + size]``; ``file_offset`` is None for an inflated copy."""

    name: str
    buf: Buf
    base: int
    size: int
    path: str
    file_offset: int | None

    def error(self, offset: int, what: str) -> FormatError:
        """A ``FormatError`` naming this section and the offset inside it."""
        file_off = None if self.file_offset is None else self.file_offset + offset
        return FormatError(self.path, file_off, f"{self.name}+0x{offset:x}: {what}")

    def check(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.error(offset, f"{what} runs past the end of the section ({self.size} bytes)")

    def bytes_at(self, offset: int, length: int, what: str) -> bytes:
        self.check(offset, length, what)
        start = self.base + offset
        return bytes(self.buf[start : start + length])

    def cstring(self, offset: int, what: str = "string") -> str:
        """The NUL-terminated string at ``offset`` (strings in DWARF are UTF-8; bad bytes are escaped)."""
        if not 0 <= offset < self.size:
            raise self.error(offset, f"{what} offset outside the section ({self.size} bytes)")
        start = self.base + offset
        stop = self.buf.find(b"\0", start, self.base + self.size)
        if stop < 0:
            raise self.error(offset, f"{what} is not NUL-terminated")
        return self.buf[start:stop].decode("utf-8", "surrogateescape")


def empty_section(name: str, path: str) -> DwarfSection:
    return DwarfSection(name, b"", 0, 0, path, None)


def load_sections(elf: ElfFile) -> dict[str, DwarfSection]:
    """Every ``.debug_*``/``.zdebug_*`` section present, keyed by the short name (``info``, ``line``...).

    Linked files are zero-copy. ``ET_REL`` objects get their relocations applied to a private copy, and
    their per-group duplicates (gcc puts each type unit in its own COMDAT ``.debug_types`` or ``.debug_info``)
    are concatenated in section order, with relocations against those sections shifted to match.
    """
    found: dict[str, list[Section]] = {}
    dwo: dict[str, list[Section]] = {}
    for sec in elf.sections:
        for prefix in (".debug_", ".zdebug_"):
            if sec.name.startswith(prefix) and sec.sh_type != EC.SHT_NOBITS:
                short = sec.name[len(prefix) :]
                if short in DEBUG_SECTIONS:
                    found.setdefault(short, []).append(sec)
                elif short.endswith(".dwo") and short[:-4] in DEBUG_SECTIONS:
                    dwo.setdefault(short[:-4], []).append(sec)
    # A split-DWARF object (.dwo, DWARF 5 §7.3.2) names its sections .debug_*.dwo: read them as plain ones.
    for short, secs in dwo.items():
        found.setdefault(short, secs)
    is_rel = elf.header.e_type == EC.ET_REL
    if not is_rel:
        found = {k: v[:1] for k, v in found.items()}  # a linked file has one of each
    contents = {sec.index: section_contents(elf, sec) for secs in found.values() for sec in secs}
    # Where each input section starts inside its concatenation: relocations against it move by as much.
    shift: dict[int, int] = {}
    for secs in found.values():
        at = 0
        for sec in secs:
            shift[sec.index] = at
            at += len(contents[sec.index])
    relocs = _relocation_sections(elf) if is_rel else {}
    out: dict[str, DwarfSection] = {}
    for short, secs in found.items():
        name = f".debug_{short}"
        first = contents[secs[0].index]
        if len(secs) == 1 and secs[0].index not in relocs and isinstance(first, memoryview):
            out[short] = DwarfSection(
                name, elf.buf, secs[0].sh_offset, len(first), elf.path, secs[0].sh_offset
            )
            continue
        parts: list[bytes] = []
        for sec in secs:
            data = contents[sec.index]
            rel = relocs.get(sec.index)
            if rel is None:
                parts.append(bytes(data))
            else:
                buf = bytearray(data)
                _apply(elf, sec, rel, buf, shift)
                parts.append(bytes(buf))
        joined = b"".join(parts) if len(parts) > 1 else parts[0]
        out[short] = DwarfSection(name, joined, 0, len(joined), elf.path, None)
    return out


def _relocation_sections(elf: ElfFile) -> dict[int, Section]:
    out: dict[int, Section] = {}
    for sec in elf.sections:
        if sec.sh_type in (EC.SHT_REL, EC.SHT_RELA) and sec.sh_info:
            out[sec.sh_info] = sec
    return out


def _apply(elf: ElfFile, target: Section, rel: Section, buf: bytearray, shift: dict[int, int]) -> None:
    """Apply ``rel`` to ``buf`` (the target's contents): S + A written at r_offset (gABI "Relocation")."""
    secs = elf.sections
    if not 0 < rel.sh_link < len(secs):
        raise elf.error(rel.header_offset, f"{rel.name}: sh_link {rel.sh_link} is not a symbol table")
    symtab = elf.symbols(secs[rel.sh_link])
    machine = elf.header.e_machine
    is_rela = rel.sh_type == EC.SHT_RELA
    e = elf.endian
    u64, u32 = struct.Struct(e + "Q"), struct.Struct(e + "I")
    nsyms = len(symtab)
    for r in relocations(elf, rel):
        if (machine, r.type) in _NONE:
            continue
        width = _ABSOLUTE.get((machine, r.type))
        if width is None:
            raise elf.error(
                rel.sh_offset, f"{rel.name}: relocation type {r.type} is not supported in {target.name}"
            )
        if r.offset + width > len(buf):
            raise elf.error(rel.sh_offset, f"{rel.name}: relocation at 0x{r.offset:x} outside {target.name}")
        if r.sym >= nsyms:
            raise elf.error(rel.sh_offset, f"{rel.name}: relocation names symbol {r.sym} of {nsyms}")
        fmt = u64 if width == 8 else u32
        addend = r.addend if is_rela else fmt.unpack_from(buf, r.offset)[0]
        sym = symtab[r.sym]
        value = (sym.value + shift.get(sym.shndx, 0) + addend) & ((1 << (8 * width)) - 1)
        fmt.pack_into(buf, r.offset, value)
