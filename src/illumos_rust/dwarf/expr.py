"""The two shapes of DWARF expression a type and symbol reader needs to understand (DWARF 5 §2.5, §7.7.1).

Member offsets given as an expression are, in every producer we read, ``DW_OP_plus_uconst N`` (DWARF 2
style) or ``DW_OP_constu N``; a static's location is ``DW_OP_addr A`` or ``DW_OP_addrx I``. Anything else is
a run-time computation that has no constant answer, and is reported as None, not guessed.
"""

from __future__ import annotations

from . import constants as DW
from .leb128 import uleb


def constant_offset(expr: bytes) -> int | None:
    """N for ``DW_OP_plus_uconst N`` or ``DW_OP_constu N`` filling the whole expression, else None."""
    if len(expr) >= 2 and expr[0] in (DW.DW_OP_plus_uconst, DW.DW_OP_constu):
        value, pos = uleb(expr, 1, len(expr))
        if pos == len(expr):
            return value
    return None


def static_address(expr: bytes, address_size: int, little: bool) -> tuple[str, int] | None:
    """``("addr", A)`` for ``DW_OP_addr A``, ``("addrx", I)`` for ``DW_OP_addrx I``, else None.

    Trailing operations (e.g. ``DW_OP_GNU_push_tls_address``) mean the value is not a plain address: None.
    """
    if len(expr) == 1 + address_size and expr[0] == DW.DW_OP_addr:
        return "addr", int.from_bytes(expr[1:], "little" if little else "big")
    if expr and expr[0] in (DW.DW_OP_addrx, DW.DW_OP_GNU_addr_index):
        value, pos = uleb(expr, 1, len(expr))
        if pos == len(expr):
            return "addrx", value
    return None
