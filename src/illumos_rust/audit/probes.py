"""Static probes a binary carries (DTrace DOF, usdt-crate records, SystemTap notes), read with the ``sdt``
foundation that ``illumos-rust probes list`` uses.

Information for the person deploying it (what ``dtrace -l -P provider`` should show), and one real defect:
usdt records that nothing registers. On illumos a usdt-style probe exists for DTrace only once the program
hands its DOF to ``/dev/dtrace/helper``; records without a ``register_probes()`` (or the linker's
``__start_set_dtrace_probes`` it walks) are dead weight and the probes never appear.
"""

from __future__ import annotations

from typing import Any

from ..errors import FormatError
from ..sdt.listing import list_probes, registers_probes
from .context import Context
from .model import Emitter

SHOWN = 8  # probe names listed in the finding's message; the facts keep every one


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    try:
        probes = list_probes(ctx.elf)
    except FormatError as exc:  # a damaged probe section must not stop the other checks
        emit.add("probes-present", f"probe sections present but unreadable: {exc.what}", evidence=str(exc))
        return {"count": 0, "error": exc.what}
    if not probes:
        return {"count": 0}
    names = sorted({f"{p.provider}:{p.name}" for p in probes})
    sources = sorted({p.source for p in probes})
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    emit.add(
        "probes-present",
        f"{len(names)} static probe(s): " + ", ".join(names[:SHOWN]) + more,
        evidence="from " + ", ".join(sources),
    )
    registered = registers_probes(ctx.elf)
    if "usdt" in sources and registered is False:
        emit.add(
            "probes-unregistered",
            "usdt probe records, but nothing calls register_probes(): DTrace will never see these probes",
            evidence="no register_probes symbol and no reference to __start_set_dtrace_probes",
            section="set_dtrace_probes",
        )
    return {
        "count": len(names),
        "sources": sources,
        "registered": registered,
        "probes": [p.to_json() for p in probes],
    }
