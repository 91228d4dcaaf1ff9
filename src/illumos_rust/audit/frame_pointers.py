"""Frame pointers: classify every function so DTrace ``ustack()``, mdb ``$C`` and pstack can walk stacks.

RFD 0161: Rust without frame pointers triggers OS-7515 in the system unwinder, and no production binary
should ship without them. The classification follows ``shared/notes/elf-tooling.md`` §2, where the CFI rule
agreed 100 % with an instruction decoder on 106k functions:

* FP: some CFA row is based on the frame-pointer register (rbp / x29): covers ``endbr64``, shrink-wrapped
  prologues after an early return and GCC-interleaved prologues, because CFI describes the real frame.
* RBP_CLOBBER: rbp is saved (an offset rule) but the CFA is never rbp-based: rbp is a general register.
* LEAF: the CFA never moves (no stack adjustment, hence no call), or the decoder finds no CALL.
* NO_FP: the frame moves but no frame pointer is set up.
* FRAGMENT: ``.cold``/``.warm``/``.part.N`` and BOLT pieces run on their parent's frame.
* UNKNOWN: no FDE and the prologue bytes decide nothing (no decoder, or the decoder was inconclusive).
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter, defaultdict
from typing import Any

from ..elf import constants as C
from ..elf.eh_frame import FRAME_POINTER, eh_frame
from ..findings import Severity
from . import disasm
from .context import FRAGMENT, Context, Function, display
from .model import Emitter

CLASSES = ("FP", "LEAF", "NO_FP", "RBP_CLOBBER", "FRAGMENT", "EXEMPT", "UNKNOWN")
# CFA offset at function entry: only the return address is on the stack (x86-64), nothing (aarch64).
ENTRY_CFA = {C.EM_AMD64: 8, C.EM_386: 4, C.EM_AARCH64: 0}
ENDBR64 = b"\xf3\x0f\x1e\xfa"
LEAF_DECODE_LIMIT = 16384  # bytes: larger bodies keep the CFI verdict (bounded cost on 100k functions)
MAX_LISTED = 8  # offenders spelled out in a finding's evidence; properties keep up to MAX_PROPERTY
MAX_PROPERTY = 25  # names in a finding's properties (demangling them all costs seconds on big files)
MAX_OWNERS = 12  # crates/objects in the coverage finding's text evidence


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


def classify(ctx: Context) -> tuple[list[tuple[Function, str, str]], bool]:
    """(function, class, evidence) for every function, and whether a decoder refined the verdicts."""
    fp_reg = FRAME_POINTER.get(ctx.machine)
    entry = ENTRY_CFA.get(ctx.machine, 8)
    eh = eh_frame(ctx.elf)
    exact = {p for p in ctx.policy.fp_exempt if not any(ch in p for ch in "*?[")}
    globs = [fnmatch.translate(p) for p in ctx.policy.fp_exempt if p not in exact]
    globbed = re.compile("|".join(globs)) if globs else None
    decode = disasm.AVAILABLE and ctx.machine in (C.EM_AMD64, C.EM_386)
    bitness = 64 if ctx.machine == C.EM_AMD64 else 32
    out: list[tuple[Function, str, str]] = []
    for fn in ctx.functions:
        name = fn.name
        if FRAGMENT.search(name):
            out.append((fn, "FRAGMENT", "split fragment: runs on its parent's frame"))
            continue
        if name in exact or (globbed is not None and globbed.match(name)):
            out.append((fn, "EXEMPT", "exempt by policy (fp_exempt)"))
            continue
        fde = eh.fde_for(fn.addr) if eh is not None else None
        if fde is not None and fp_reg is not None:
            s = fde.summary()
            if fp_reg in s.cfa_regs:
                out.append((fn, "FP", f"CFA based on r{fp_reg} (FDE 0x{fde.offset:x})"))
            elif fp_reg in s.saved_regs:
                out.append((fn, "RBP_CLOBBER", f"r{fp_reg} saved but CFA never r{fp_reg}-based"))
            elif s.max_cfa_offset <= entry and not s.has_expression:
                out.append((fn, "LEAF", "CFA never moves: no stack frame"))
            elif decode and fn.size <= LEAF_DECODE_LIMIT:
                calls = disasm.has_call(ctx.bytes_at(fn.addr, fn.size), fn.addr, bitness)
                if calls is False:
                    out.append((fn, "LEAF", "frame without FP but no CALL (decoded)"))
                else:
                    out.append((fn, "NO_FP", f"CFA moves to {s.max_cfa_offset}, never FP-based; has CALL"))
            else:
                out.append((fn, "NO_FP", f"CFA moves (max offset {s.max_cfa_offset}), never FP-based"))
            continue
        pro = _prologue_class(ctx, fn)
        if pro:
            out.append((fn, pro, "no FDE; FP prologue bytes"))
        elif decode and fn.size <= LEAF_DECODE_LIMIT:
            frame = disasm.frame_of(ctx.bytes_at(fn.addr, fn.size), fn.addr, bitness) or "UNKNOWN"
            why = {
                "FP": "no FDE; push rbp; mov rbp,rsp before the first call (decoded)",
                "LEAF": "no FDE; no CALL (decoded)",
                "NO_FP": "no FDE; calls without setting up rbp (decoded)",
                "RBP_CLOBBER": "no FDE; writes rbp without a frame-pointer prologue (decoded)",
            }.get(frame, "no FDE; undecodable")
            out.append((fn, frame, why))
        else:
            out.append((fn, "UNKNOWN", "no FDE and no FP prologue (no decoder to tell a leaf)"))
    return out, decode


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    if ctx.machine not in FRAME_POINTER:
        return {"skipped": f"machine {ctx.elf.machine_name} not classified"}
    if ctx.elf.header.e_type == C.ET_REL:
        # .eh_frame's pc_begin fields and symbol values are not relocated yet: audit the linked output.
        return {"skipped": "relocatable object: audit the linked file"}
    classified, decoded = classify(ctx)
    owners = ctx.owners
    totals: Counter[str] = Counter()
    per_owner: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    offenders: dict[tuple[str, str], list[tuple[Function, str, str]]] = defaultdict(list)
    for fn, cls, why in classified:
        totals[cls] += 1
        owner = owners[fn.addr]
        per_owner[owner][cls] += 1
        if cls in ("NO_FP", "RBP_CLOBBER", "UNKNOWN") or (cls == "LEAF" and ctx.policy.fp_require_in_leaves):
            offenders[owner].append((fn, cls, why))
    coverage = []
    for (kind, name), counts in sorted(per_owner.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        judged = counts["FP"] + counts["NO_FP"] + counts["RBP_CLOBBER"]
        if ctx.policy.fp_require_in_leaves:
            judged += counts["LEAF"]
        coverage.append(
            {
                "kind": kind,
                "name": name,
                **{c: counts[c] for c in CLASSES if counts[c]},
                "coverage": round(100.0 * counts["FP"] / judged, 1) if judged else 100.0,
            }
        )
    judged_all = totals["FP"] + totals["NO_FP"] + totals["RBP_CLOBBER"]
    pct = round(100.0 * totals["FP"] / judged_all, 1) if judged_all else 100.0
    emit.add(
        "fp-coverage",
        f"frame pointers in {totals['FP']} of {judged_all} non-leaf functions ({pct}%); "
        + ", ".join(f"{c} {totals[c]}" for c in CLASSES if totals[c]),
        evidence="\n".join(
            ["method: .eh_frame CFA rows" + (" + iced-x86 leaf decoding" if decoded else " (CFI only)")]
            + [
                f"{row['kind']} {row['name']}: {row['coverage']}% ("
                + ", ".join(f"{c} {row[c]}" for c in CLASSES if row.get(c))
                + ")"
                for row in coverage[:MAX_OWNERS]
            ]
            + (
                [f"... and {len(coverage) - MAX_OWNERS} more (see --format json)"]
                if len(coverage) > MAX_OWNERS
                else []
            )
        ),
    )
    for (kind, name), items in sorted(offenders.items(), key=lambda kv: -len(kv[1])):
        by_cls = Counter(cls for _, cls, _ in items)
        for cls, rule in (
            ("NO_FP", "fp-missing"),
            ("RBP_CLOBBER", "fp-rbp-clobber"),
            ("UNKNOWN", "fp-unknown"),
            ("LEAF", "fp-missing"),
        ):
            chosen = [it for it in items if it[1] == cls]
            if not chosen:
                continue
            sev = None
            if rule in ("fp-missing", "fp-rbp-clobber") and kind == "object":
                sev = Severity.WARNING  # C objects: the fix is in someone else's build flags
            listed = [f"{display(fn.name)} @ 0x{fn.addr:x}: {why}" for fn, _, why in chosen[:MAX_LISTED]]
            if len(chosen) > MAX_LISTED:
                listed.append(f"... and {len(chosen) - MAX_LISTED} more")
            what = {
                "NO_FP": "without a frame pointer",
                "RBP_CLOBBER": "using rbp as a general register",
                "UNKNOWN": "not classifiable",
                "LEAF": "leaf functions without a frame pointer",
            }[cls]
            first = chosen[0][0]
            emit.add(
                rule,
                f"{kind} {name}: {by_cls[cls]} function(s) {what}",
                evidence="\n".join(listed),
                symbol=display(first.name),
                address=first.addr,
                severity=sev,
                owner_kind=kind,
                owner=name,
                count=by_cls[cls],
                functions=[display(fn.name) for fn, _, _ in chosen[:MAX_PROPERTY]],
            )
    return {
        "method": "cfi+decoder" if decoded else "cfi",
        "totals": {c: totals[c] for c in CLASSES if totals[c]},
        "coverage_percent": pct,
        "by_owner": coverage,
    }
