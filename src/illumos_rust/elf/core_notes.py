"""Walking a core's ``PT_NOTE`` segments, tolerating the damage a real core can carry.

Core notes are 4-byte aligned on both systems, for 64-bit processes too (Linux ``fs/binfmt_elf.c``
``writenote``, illumos ``elf_notes.c`` ``elfnote``: ``roundup(namesz, sizeof (Elf32_Word))``). Unlike
``ElfFile.notes`` (strict: a broken note in a binary is an error), this walker stops at the first damaged
note and reports where, so a core truncated by a full disk still gives the notes before the damage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import constants as C
from .core_memory import CoreMemory, LoadSegment
from .reader import ElfFile

MAX_NOTES = 1 << 16  # a 65k-thread process has 3 notes per thread on Linux; more is hostile

PF_SUNW_FAILURE = 0x00100000  # illumos elf.c: writing this segment failed (errno in the reserved bytes)
PF_SUNW_KILLED = 0x00200000  # UNVERIFIED value (notes/observability.md §4.1): dump interrupted by a signal
PF_SUNW_SIGINFO = 0x00400000  # UNVERIFIED value: the reserved bytes hold a prkillinfo_t


@dataclass(frozen=True)
class CoreNote:
    name: str
    type: int
    desc: bytes
    offset: int  # file offset of the note header
    segment: int  # which PT_NOTE (0 = the first; illumos puts the old-style notes there)


def walk_notes(elf: ElfFile, problems: list[str]) -> list[CoreNote]:
    """Every note of every ``PT_NOTE`` segment in file order; damage goes to ``problems``."""
    out: list[CoreNote] = []
    word = struct.Struct("<3I" if elf.little else ">3I")
    for seg_no, seg in enumerate(elf.segments_of_type(C.PT_NOTE)):
        pos, end = seg.p_offset, seg.p_offset + seg.p_filesz
        if end > elf.size:
            problems.append(
                f"note segment {seg_no} is cut short: {end - elf.size} of its {seg.p_filesz} bytes are "
                "past the end of the file (truncated core)"
            )
            end = elf.size
        while pos + 12 <= end:
            if len(out) >= MAX_NOTES:
                problems.append(f"more than {MAX_NOTES} notes: the rest are ignored")
                return out
            namesz, descsz, ntype = word.unpack_from(elf.buf, pos)
            name_start = pos + 12
            desc_start = name_start + ((namesz + 3) & ~3)
            desc_end = desc_start + descsz
            if desc_end > end:
                problems.append(
                    f"note at offset 0x{pos:x} (type {ntype}) claims {descsz} bytes that run past its "
                    "segment: the notes after it are lost"
                )
                break
            raw_name = bytes(elf.buf[name_start : name_start + namesz])
            name = raw_name.split(b"\0", 1)[0].decode("ascii", "replace")
            out.append(CoreNote(name, ntype, bytes(elf.buf[desc_start:desc_end]), pos, seg_no))
            pos = desc_start + ((descsz + 3) & ~3)
    return out


def load_segments(elf: ElfFile, problems: list[str]) -> tuple[list[LoadSegment], list[tuple[int, int, str]]]:
    """The core's ``PT_LOAD``s, saying which are cut by the end of the file or marked failed by illumos."""
    loads: list[LoadSegment] = []
    failed: list[tuple[int, int, str]] = []
    truncated = 0
    for p in elf.segments_of_type(C.PT_LOAD):
        filesz = p.p_filesz
        if p.p_flags & PF_SUNW_FAILURE:
            why = "interrupted by a signal" if p.p_flags & PF_SUNW_KILLED else "write failed"
            failed.append((p.p_vaddr, p.p_memsz, why))
            filesz = 0
        if p.p_offset + filesz > elf.size:
            truncated += 1
            filesz = max(0, elf.size - p.p_offset)
        loads.append(LoadSegment(p.p_vaddr, p.p_memsz, p.p_offset, min(filesz, p.p_memsz), p.p_flags))
    if truncated:
        problems.append(
            f"the core is truncated: {truncated} memory segment(s) end past the end of the file "
            f"({elf.size} bytes); their missing pages read as unavailable"
        )
    if failed:
        problems.append(f"{len(failed)} memory segment(s) were not written by the kernel (PF_SUNW_FAILURE)")
    return loads, failed


def core_memory(elf: ElfFile, problems: list[str]) -> tuple[CoreMemory, list[tuple[int, int, str]]]:
    loads, failed = load_segments(elf, problems)
    return CoreMemory(elf.buf, loads, elf.little), failed
