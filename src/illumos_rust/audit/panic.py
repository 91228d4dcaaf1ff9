"""Panic strategy (unwind or abort), from what the binary imports and defines.

``elf-tooling.md`` §3 measured the signals: an unwinding binary has ``panic_unwind`` symbols and uses
``_Unwind_RaiseException``; a ``panic=abort`` binary still imports ``_Unwind_Resume`` (std's landing pads)
and still defines ``rust_eh_personality``, so those two prove nothing.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .model import Emitter


def check(ctx: Context, emit: Emitter, is_rust: bool) -> dict[str, Any]:
    if not is_rust:
        return {"strategy": None}
    names = ctx.symbol_names
    raise_exc = "_Unwind_RaiseException" in names
    panic_unwind = any("panic_unwind" in n for n in names if n.startswith(("_ZN", "_R")))
    evidence = []
    if raise_exc:
        evidence.append("_Unwind_RaiseException referenced")
    if panic_unwind:
        evidence.append("panic_unwind crate symbols present")
    strategy = "unwind" if raise_exc or panic_unwind else "abort"
    if strategy == "abort":
        evidence.append("no _Unwind_RaiseException and no panic_unwind symbols")
    emit.add(
        "panic-strategy",
        f"panic strategy: {strategy}",
        evidence="; ".join(evidence),
        fix=""
        if strategy == "abort"
        else "RFD 0161 suggests panic=abort for platform daemons "
        "(a core dump at the panic site instead of an unwound thread)",
        strategy=strategy,
    )
    return {"strategy": strategy, "evidence": evidence}
