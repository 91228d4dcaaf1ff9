"""Frame pointers: classify every function so DTrace ``ustack()``, mdb ``$C`` and pstack can walk stacks.

RFD 0161: Rust without frame pointers triggers OS-7515 in the system unwinder, and no production binary
should ship without them. The classification follows ``shared/notes/elf-tooling.md`` §2, where the CFI rule
agreed 100 % with an instruction decoder on 106k functions:

* FP: rbp is the frame base a walker follows: some CFA row is rbp+16 with rbp saved at CFA-16 (covers
  ``endbr64``, shrink-wrapped and GCC-interleaved prologues, because CFI describes the real frame); without
  an FDE, the decoder sees ``push rbp; mov rbp, rsp`` (or Go's ``mov [rsp+K], rbp; lea rbp, [rsp+K]``)
  before the first call and no later write to rbp but restores.
* RBP_CLOBBER: rbp is saved but never becomes that frame base (CFA rbp-based at another offset, as in
  OpenSSL's perlasm), or is overwritten after (Go assembly): rbp is a general register.
* LEAF: the decoder finds no CALL (``syscall`` is not one); without a decoder, the CFA never moves.
* NO_FP: calls (or a moving frame, CFI only) without a frame pointer.
* FRAGMENT: GCC's ``.cold`` parts run on their parent's frame; ``.part.N``/``.isra.N`` clones are whole
  functions and get verdicts.
* UNKNOWN: no FDE, no decoder, and the prologue bytes decide nothing.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from ..elf import constants as C
from ..elf.eh_frame import FRAME_POINTER, EhFrame, Fde, eh_frame
from ..findings import Severity
from ..forked import map_halves
from . import disasm
from .context import FRAGMENT, Context, Function
from .model import Emitter

CLASSES = ("FP", "LEAF", "NO_FP", "RBP_CLOBBER", "FRAGMENT", "EXEMPT", "UNKNOWN")
# CFA offset at function entry: only the return address is on the stack (x86-64), nothing (aarch64).
ENTRY_CFA = {C.EM_AMD64: 8, C.EM_386: 4, C.EM_AARCH64: 0}
ENDBR64 = b"\xf3\x0f\x1e\xfa"
PADDING = 64  # a gap between functions shorter than this is alignment filler, not unexamined code
RELEASE_EVERY = 16 << 20  # bytes of function bodies read between releases of the mapped pages
MAX_OWNERS = 12  # crates/objects in the coverage finding's text evidence (JSON facts keep all)
# One finding per offending function (the text renderer groups them; JSON and SARIF keep each).
_UNSET = object()
_RULE_OF = {
    "NO_FP": "fp-missing",
    "RBP_CLOBBER": "fp-rbp-clobber",
    "UNKNOWN": "fp-unknown",
    "LEAF": "fp-missing",
}


def _prologue_class(ctx: Context, fn: Function) -> str | None:
    """Classify from the first bytes when there is no FDE.

    ``push rbp; mov rbp,rsp`` (after an optional ``endbr64``) or ``stp x29,x30,[sp,#-N]!; mov x29,sp``.
    """
    code = ctx.bytes_at(fn.addr, min(fn.size, 16))
    if ctx.machine == C.EM_AMD64:
        if code.startswith(ENDBR64):
            code = code[4:]
        if code.startswith((b"\x55\x48\x89\xe5", b"\x55\x48\x8b\xec")):
            return "FP"
    elif ctx.machine == C.EM_386:
        if code.startswith((b"\xf3\x0f\x1e\xfb",)):  # endbr32
            code = code[4:]
        if code.startswith((b"\x55\x89\xe5", b"\x55\x8b\xec")):
            return "FP"
    elif ctx.machine == C.EM_AARCH64 and len(code) >= 8:
        first = int.from_bytes(code[:4], "little")
        second = int.from_bytes(code[4:8], "little")
        # stp x29, x30, [sp, #imm]! (pre-index, 64-bit) then mov x29, sp (add x29, sp, #0)
        if first & 0xFFC07FFF == 0xA9807BFD and second == 0x910003FD:
            return "FP"
    return None


def _keeps_frame_base(fde: Fde, fp_reg: int, machine: int) -> bool:
    """Whether some CFA row has the frame pointer as the frame base a walker can follow.

    x86-64 (SysV psABI §3.2.2, ``push rbp; mov rbp, rsp``): CFA = rbp+16 with rbp saved at CFA-16, so
    ``[rbp]`` is the caller's rbp and ``[rbp+8]`` the return address; i386 the same with 4-byte slots.
    aarch64 (AAPCS64 §6.2.3, the frame record): x29 points at the saved (x29, x30) pair, so CFA = x29+N
    with x29 saved at CFA-N. OpenSSL's perlasm often moves the CFA to rbp after pushing other registers
    (CFA = rbp+64, rbp saved at CFA-32): rbp is then a base register, not a frame pointer.
    """
    want = {C.EM_AMD64: 16, C.EM_386: 8}.get(machine)
    for row in fde.rows():
        if row.cfa_reg != fp_reg:
            continue
        off = want if want is not None else row.cfa_offset
        if row.cfa_offset == off and row.regs.get(fp_reg) == f"c-{off}":
            return True
    return False


def classify(ctx: Context) -> tuple[list[tuple[Function, str, str]], bool]:
    """(function, class, evidence) for every function, and whether a decoder refined the verdicts.

    With an FDE the CFI decides FP (it describes the real frame, wherever the prologue sits); the decoder
    then separates LEAF from NO_FP, because a CFA that never moves does not mean "no call" (OpenSSL's
    ``vpaes_encrypt`` calls its core without adjusting the stack). Without an FDE the decoder reads the
    whole body (``disasm.frame_of``), whatever its size; the byte prologue check is the fallback when no
    decoder is installed.
    """
    decode = disasm.AVAILABLE and ctx.machine in (C.EM_AMD64, C.EM_386)
    eh = eh_frame(ctx.elf)  # parsed here, before any split, so both halves share the parsed table
    functions = ctx.functions
    # Each half is independent (~3 s over librustc_driver's 160k functions): the second runs on the other
    # core when there is one (``forked``); the verdicts are the serial ones, in the same order.
    verdicts = map_halves(lambda fns: _classify_slice(ctx, eh, fns, decode), functions)
    return [(fn, cls, why) for fn, (cls, why) in zip(functions, verdicts, strict=True)], decode


def _classify_slice(
    ctx: Context, eh: EhFrame | None, functions: Sequence[Function], decode: bool
) -> list[tuple[str, str]]:
    """(class, evidence) for each function of an address-sorted slice: ``classify``'s loop."""
    fp_reg = FRAME_POINTER.get(ctx.machine)
    entry = ENTRY_CFA.get(ctx.machine, 8)
    exact = {p for p in ctx.policy.fp_exempt if not any(ch in p for ch in "*?[")}
    globs = [fnmatch.translate(p) for p in ctx.policy.fp_exempt if p not in exact]
    globbed = re.compile("|".join(globs)) if globs else None
    bitness = 64 if ctx.machine == C.EM_AMD64 else 32
    out: list[tuple[str, str]] = []
    fdes = eh.fdes if eh is not None else []
    n_fdes = len(fdes)
    # the first FDE that may cover the slice's first function (FDEs are sorted by address)
    k = max(bisect_right(fdes, functions[0].addr, key=_pc_begin) - 1, 0) if functions else 0
    read = 0
    for fn in functions:
        name = fn.name
        read += fn.size
        if read > RELEASE_EVERY:
            # Decoding reads most of the text: drop the pages behind us so the resident set stays small
            # (97 MB of text in librustc_driver); they remain in the page cache.
            ctx.release_pages()
            read = 0
        if ".cold" in name and FRAGMENT.search(name):  # the substring test spares 100k regex scans
            out.append(("FRAGMENT", "split fragment: runs on its parent's frame"))
            continue
        if name in exact or (globbed is not None and globbed.match(name)):
            out.append(("EXEMPT", "exempt by policy (fp_exempt)"))
            continue
        # Functions and FDEs are both sorted by address: walk them together instead of bisecting (the
        # same answer as ``fde_for``: the last FDE starting at or before the address, if it covers it).
        while k + 1 < n_fdes and fdes[k + 1].pc_begin <= fn.addr:
            k += 1
        fde = fdes[k] if k < n_fdes and fdes[k].pc_begin <= fn.addr < fdes[k].pc_end else None
        if fde is not None and fp_reg is not None:
            s = fde.summary()
            if fp_reg in s.cfa_regs and _keeps_frame_base(fde, fp_reg, ctx.machine):
                out.append(("FP", f"CFA = r{fp_reg}-based frame record (FDE 0x{fde.offset:x})"))
                continue
            if fp_reg in s.cfa_regs:
                out.append(("RBP_CLOBBER", f"CFA r{fp_reg}-based but r{fp_reg} is not the frame record"))
                continue
            if fp_reg in s.saved_regs:
                out.append(("RBP_CLOBBER", f"r{fp_reg} saved but CFA never r{fp_reg}-based"))
                continue
            calls = disasm.has_call(ctx.bytes_at(fn.addr, fn.size), fn.addr, bitness) if decode else None
            if calls is True:
                why = f"calls without a frame pointer (CFA max offset {s.max_cfa_offset})"
                out.append(("NO_FP", why))
            elif calls is False:
                out.append(("LEAF", "no CALL (decoded); no frame pointer needed"))
            elif s.max_cfa_offset <= entry and not s.has_expression:
                out.append(("LEAF", "CFA never moves (CFI only: calls not checked)"))
            else:
                out.append(("NO_FP", f"CFA moves (max offset {s.max_cfa_offset}), never FP-based"))
            continue
        if decode:
            frame = disasm.frame_of(ctx.bytes_at(fn.addr, fn.size), fn.addr, bitness) or "UNKNOWN"
            why = {
                "FP": "no FDE; rbp set up as the frame base before the first call, then kept (decoded)",
                "LEAF": "no FDE; no CALL (decoded)",
                "NO_FP": "no FDE; calls without setting up rbp (decoded)",
                "RBP_CLOBBER": "no FDE; rbp written other than as the frame base (decoded)",
            }.get(frame, "no FDE; undecodable")
            out.append((frame, why))
            continue
        pro = _prologue_class(ctx, fn)
        if pro:
            out.append((pro, "no FDE; FP prologue bytes"))
        else:
            out.append(("UNKNOWN", "no FDE and no FP prologue (no decoder to tell a leaf)"))
    return out


def _pc_begin(fde: Fde) -> int:
    return fde.pc_begin


def _text_bytes(ctx: Context, classified: list[tuple[Function, str, str]]) -> tuple[int, int]:
    """(bytes of executable sections examined, executable bytes in total).

    Bytes outside every examined function count as not examined, except gaps shorter than
    ``PADDING``: compilers and linkers align functions to 16 (up to 64) bytes with int3/nop filler, which
    is no code. PLT sections are left out of both: the link editor writes those stubs, no compiler flag
    changes them.
    """
    ranges = sorted(
        (s.sh_addr, s.sh_addr + s.sh_size)
        for s in ctx.elf.sections
        if s.is_exec and s.sh_type != C.SHT_NOBITS and s.sh_size and not s.name.startswith(".plt")
    )
    total = sum(e - b for b, e in ranges)
    spans = sorted((fn.addr, fn.addr + fn.size) for fn, _, _ in classified)
    missed = 0
    k = 0
    for lo, hi in ranges:
        pos = lo  # first byte not yet accounted for in this section
        while k < len(spans) and spans[k][1] <= lo:
            k += 1
        j = k
        while j < len(spans) and spans[j][0] < hi:
            b, e = max(spans[j][0], lo), min(spans[j][1], hi)
            if b - pos >= PADDING:
                missed += b - pos
            pos = max(pos, e)
            j += 1
        if hi - pos >= PADDING:
            missed += hi - pos
    return total - missed, total


def _percent(fp: int, judged: int) -> float | None:
    return round(100.0 * fp / judged, 1) if judged else None


def check(ctx: Context, emit: Emitter, is_rust: bool = False) -> dict[str, Any]:
    if ctx.machine not in FRAME_POINTER:
        return {"skipped": f"machine {ctx.elf.machine_name} not classified"}
    if ctx.elf.header.e_type == C.ET_REL:
        # .eh_frame's pc_begin fields and symbol values are not relocated yet: audit the linked output.
        return {"skipped": "relocatable object: audit the linked file"}
    classified, decoded = classify(ctx)
    owners = ctx.owners
    stripped = not len(ctx.elf.symtab)
    # Counted by C (``Counter`` over one list), not by two dictionary updates per function in Python.
    by_owner_class = Counter([(owners[fn.addr], cls) for fn, cls, _ in classified])
    totals: Counter[str] = Counter()
    per_owner: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (owner, cls), n in by_owner_class.items():
        totals[cls] += n
        per_owner[owner][cls] += n
    leaves_count = ctx.policy.fp_require_in_leaves
    rule_of = dict(_RULE_OF) if leaves_count else {c: r for c, r in _RULE_OF.items() if c != "LEAF"}
    # One appender per (rule, severity), with the policy's verdict looked up once (None: dropped).
    sinks: dict[tuple[str, Severity | None], Any] = {}
    for fn, cls, why in classified:
        rule = rule_of.get(cls)
        if rule is None:
            continue
        kind, name = owners[fn.addr]
        sev = None
        if rule != "fp-unknown" and kind != "crate" and not (stripped and is_rust):
            # C, C++ and assembly: the fix is in someone else's build flags. In a stripped Rust binary
            # nothing names the owner, and the product is Rust: its missing frame pointers are errors.
            sev = Severity.WARNING
        sink = sinks.get((rule, sev), _UNSET)
        if sink is _UNSET:
            sink = sinks[rule, sev] = emit.sink(rule, sev)
        if sink is None:
            continue
        # The symbol as in the table (mangled): demangling 70,000 names would double the audit's time; the
        # text renderer demangles the sites it shows, JSON/SARIF readers have rustfilt/c++filt.
        sink(
            f"{kind} {name}: {why}",
            fn.name,
            fn.addr,
            {"owner_kind": kind, "owner": name, "verdict": cls, "size": fn.size},
        )
    judged_classes = ("FP", "NO_FP", "RBP_CLOBBER") + (("LEAF",) if leaves_count else ())
    coverage = []
    for (kind, name), counts in sorted(per_owner.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        judged = sum(counts[c] for c in judged_classes)
        coverage.append(
            {
                "kind": kind,
                "name": name,
                **{c: counts[c] for c in CLASSES if counts[c]},
                "coverage": _percent(counts["FP"], judged),
            }
        )
    judged_all = sum(totals[c] for c in judged_classes)
    pct = _percent(totals["FP"], judged_all)
    covered, text_total = _text_bytes(ctx, classified)
    text_pct = round(100.0 * covered / text_total, 1) if text_total else None
    if not classified:
        headline = "no functions examined (no function symbols and no .eh_frame FDEs)"
    elif not judged_all:
        headline = f"no non-leaf functions among {len(classified)} examined"
    else:
        headline = f"frame pointers in {totals['FP']} of {judged_all} non-leaf functions ({pct}%)"
    counts_text = ", ".join(f"{c} {totals[c]}" for c in CLASSES if totals[c])
    if counts_text:
        headline += "; " + counts_text
    if text_pct is not None and covered < text_total:
        headline += f"; examined {text_pct}% of executable bytes ({covered} of {text_total})"
    emit.add(
        "fp-coverage",
        headline,
        evidence="\n".join(
            ["method: .eh_frame CFA rows" + (" + iced-x86 decoding" if decoded else " (CFI only)")]
            + [
                f"{row['kind']} {row['name']}: "
                + ("no non-leaf functions" if row["coverage"] is None else f"{row['coverage']}%")
                + " ("
                + ", ".join(f"{c} {row[c]}" for c in CLASSES if row.get(c))
                + ")"
                for row in coverage[:MAX_OWNERS]
            ]
            + (
                [f"... and {len(coverage) - MAX_OWNERS} more owners (every one in --format json)"]
                if len(coverage) > MAX_OWNERS
                else []
            )
        ),
    )
    return {
        "method": "cfi+decoder" if decoded else "cfi",
        "functions": len(classified),
        "totals": {c: totals[c] for c in CLASSES if totals[c]},
        "coverage_percent": pct,
        "examined_bytes": covered,
        "executable_bytes": text_total,
        "examined_percent": text_pct,
        "by_owner": coverage,
    }
