"""Post-mortem readiness: what mdb, DTrace and pstack will have to work with.

mdb and DTrace ``ustack()`` name frames from ``.symtab`` (or the smaller ``.SUNW_ldynsym``); ``::print`` and
``print()`` need CTF types (``.SUNW_ctf``); source-level debugging needs DWARF; unwinding beyond frame
pointers needs ``.eh_frame`` and its header (PT_SUNW_UNWIND / PT_GNU_EH_FRAME).
"""

from __future__ import annotations

from typing import Any

from ..ctf.load import load_ctf_elf
from ..ctf.symbols import ctf_symbols
from ..elf import constants as C
from ..errors import FormatError
from .context import Context
from .model import Emitter


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    elf = ctx.elf
    names = {s.name for s in elf.sections}
    symtab = len(elf.symtab)
    ldynsym = len(elf.ldynsym)
    dwarf = any(n.startswith((".debug_info", ".zdebug_info")) for n in names)
    ctf = C.SHT_SUNW_CTF_NAME in names
    eh = ".eh_frame" in names
    hdr = bool(elf.segments_of_type(C.PT_SUNW_UNWIND) or elf.segments_of_type(C.PT_GNU_EH_FRAME))
    coverage = _ctf_coverage(ctx) if ctf else None
    facts = {
        "ctf_coverage": coverage,
        "symtab": symtab,
        "ldynsym": ldynsym,
        "dwarf": dwarf,
        "ctf": ctf,
        "eh_frame": eh,
        "eh_frame_hdr": hdr,
    }
    lacks = []
    if not symtab:
        lacks.append(
            "function names beyond exported ones (.symtab stripped"
            + (", .SUNW_ldynsym keeps local names" if ldynsym else "")
            + ")"
        )
    if not ctf:
        lacks.append("types for mdb ::print / DTrace print() (no .SUNW_ctf)")
    if not dwarf:
        lacks.append("source lines and variables (no DWARF)")
    if not eh:
        lacks.append("CFI unwinding (no .eh_frame)")
    if not symtab:
        emit.add(
            "debug-stripped",
            ".symtab is stripped: mdb and DTrace ustack() show only exported names and addresses",
            evidence=f".dynsym {len(elf.dynsym)} entries, .SUNW_ldynsym {ldynsym}",
            section=".symtab",
        )
    emit.add(
        "debug-info",
        "post-mortem: "
        + ", ".join(
            f"{k} {'yes' if v else 'no'}"
            for k, v in (
                ("symtab", symtab),
                ("DWARF", dwarf),
                ("CTF", ctf and coverage is not None and "error" not in coverage),
                ("eh_frame", eh),
                ("unwind header", hdr),
            )
        ),
        evidence="; ".join(
            ([_ctf_text(coverage)] if coverage else [])
            + [("mdb/DTrace will lack: " + "; ".join(lacks)) if lacks else "nothing missing"]
        ),
        fix="keep .symtab; generate CTF (ctfconvert on DWARF) for mdb ::print" if lacks else "",
    )
    return facts


def _ctf_coverage(ctx: Context) -> dict[str, Any]:
    """What ``.SUNW_ctf`` gives mdb ``::print`` and ``::stack`` argument display, read with the CTF reader
    ``ctf dump`` uses: types, and how many function symbols have a signature (a function entry may also be
    "no information"). A container that does not read is a fact too (mdb would refuse it)."""
    try:
        ctf = load_ctf_elf(ctx.elf)
    except FormatError as exc:
        return {"error": exc.what}
    functions = max(len(ctf.functions), _function_symbols(ctx))
    typed = sum(1 for _addr, _name, info in ctf.functions if info is not None)
    return {
        "types": len(ctf.container.types),
        "data_objects": sum(1 for _idx, _name, type_id in ctf.objects if type_id),  # 0: no type known
        "functions": functions,
        "functions_with_signature": typed,
        "symbol_table": ctf.symtab_name,
    }


def _function_symbols(ctx: Context) -> int:
    """How many symbols of the table ``.SUNW_ctf`` links to own a function entry (illumos libctf
    ``init_symtab`` rules): the function section stops at its last entry with information, so its length
    alone would make "0 of 0 functions" of a file whose functions all lack signatures."""
    elf = ctx.elf
    section = elf.section(C.SHT_SUNW_CTF_NAME)
    sections = elf.sections
    if section is None or not 0 < section.sh_link < len(sections):
        return 0
    symtab = sections[section.sh_link]
    if symtab.sh_type not in (C.SHT_SYMTAB, C.SHT_DYNSYM):
        return 0
    try:
        return sum(1 for _i, _sym, is_func in ctf_symbols(elf.symbols(symtab)) if is_func)
    except FormatError:
        return 0


def _ctf_text(coverage: dict[str, Any]) -> str:
    if "error" in coverage:
        return f"CTF unreadable: {coverage['error']}"
    return (
        f"CTF: {coverage['types']} types, {coverage['functions_with_signature']} of "
        f"{coverage['functions']} function symbols with signatures, {coverage['data_objects']} data objects"
    )
