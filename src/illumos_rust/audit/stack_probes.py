"""Stack probes: inline probe loops or ``__rust_probestack`` mean a non-illumos target built this code.

The illumos target has ``stack-probes: none`` (RFD 0161: probes interfere with illumos' own stack guard);
x86_64-pc-solaris and Linux emit ``sub $0x1000,%rsp; movq $0,(%rsp)`` probes, older toolchains call
``__rust_probestack`` (illumos-target.md §1 and §5, checked on the ``bigframe`` fixture).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

from ..elf import constants as C
from .context import Context, display
from .model import Emitter

# sub $0x1000,%rsp ; movq $0x0,(%rsp)  (unrolled and looped forms both start like this)
_PROBE = re.compile(rb"\x48\x81\xec\x00\x10\x00\x00\x48\xc7\x04\x24\x00\x00\x00\x00")
_PROBESTACK = ("__rust_probestack", "__probestack", "___chkstk_ms")


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    present = sorted(set(_PROBESTACK) & ctx.symbol_names)
    hits: list[int] = []
    if ctx.machine == C.EM_AMD64:
        hits.extend(addr for addr, _m in ctx.scan(_PROBE))
    funcs = ctx.functions
    starts = [f.addr for f in funcs]
    owners: dict[str, int] = {}
    for h in hits:
        i = bisect_right(starts, h) - 1
        if i >= 0 and h < funcs[i].addr + funcs[i].size:
            owners.setdefault(funcs[i].name, h)
    if present or owners:
        ev = [
            f"{display(n)} @ 0x{a:x}: sub $0x1000,%rsp; movq $0,(%rsp)" for n, a in list(owners.items())[:10]
        ]
        if present:
            ev.insert(0, "defines/references " + ", ".join(present))
        emit.add(
            "stack-probes",
            f"stack probes in {len(owners)} function(s)"
            + (f"; {', '.join(present)} present" if present else ""),
            evidence="\n".join(ev),
            symbol=display(next(iter(owners))) if owners else None,
            count=len(owners),
        )
    return {"inline_probe_functions": len(owners), "probestack_symbols": present}
