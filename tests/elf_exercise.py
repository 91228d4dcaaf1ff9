"""Touch every reader of the ELF core once: what the fuzz and CLI tests run on mutated files."""

from __future__ import annotations

from illumos_rust.elf import ElfFile, dynamic
from illumos_rust.elf.eh_frame import eh_frame, eh_frame_hdr
from illumos_rust.elf.versions import verdef, verneed
from illumos_rust.inspect import inspect_elf


def exercise(elf: ElfFile) -> int:
    """Read everything; return a number so nothing can be optimised away."""
    total = 0
    info = inspect_elf(elf)
    total += info.sections + info.symtab + len(info.needed)
    for table in (elf.symtab, elf.dynsym, elf.ldynsym):
        total += sum(len(s.name) for s in table)
    for seg in elf.segments:
        total += seg.p_filesz & 1
    d = dynamic(elf)
    total += len(d.entries) + d.spare_nulls
    total += len(verneed(elf)) + len(verdef(elf))
    total += len(list(elf.notes()))
    eh = eh_frame(elf)
    if eh is not None:
        for f in eh.fdes:
            total += len(f.rows()) + len(f.summary().cfa_regs)
    hdr = eh_frame_hdr(elf)
    if hdr is not None:
        total += hdr.fde_count
    lookup = elf.symbol_index
    for s in list(elf.symtab)[:50]:
        total += lookup.lookup(s.value) is not None
    return total
