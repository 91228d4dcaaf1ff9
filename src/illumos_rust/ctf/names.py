"""Type names and sizes the way libctf renders them (``ctf_type_name``/``ctf_type_size``).

Names follow the declaration stack of illumos ``common/ctf/ctf_decl.c``: the chain of pointers, arrays,
functions and qualifiers is sorted into precedence levels (base, pointer, array, function) so that
``int (*)()`` and ``char *restrict`` come out as C writes them. The walk is iterative and bounded because
a container is input: the reader already refuses cyclic chains, and a missing type renders as ``(unknown)``.
"""

from __future__ import annotations

from .constants import (
    CTF_K_ARRAY,
    CTF_K_CONST,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_POINTER,
    CTF_K_RESTRICT,
    CTF_K_STRUCT,
    CTF_K_TYPEDEF,
    CTF_K_UNION,
    CTF_K_VOLATILE,
)
from .model import Container, CtfType

# Longest declaration chain rendered: real C/Rust types nest a handful of levels; a hostile container with a
# 32k-long pointer chain would otherwise cost O(n^2) to dump.
MAX_DEPTH = 512
_PREC_BASE, _PREC_POINTER, _PREC_ARRAY, _PREC_FUNCTION = 0, 1, 2, 3
_TAG = {CTF_K_STRUCT: "struct", CTF_K_UNION: "union", CTF_K_ENUM: "enum"}
_QUALIFIERS = {CTF_K_VOLATILE: "volatile", CTF_K_CONST: "const", CTF_K_RESTRICT: "restrict"}


def _chain(c: Container, type_id: int) -> list[tuple[int, CtfType]] | None:
    out: list[tuple[int, CtfType]] = []
    seen: set[int] = set()
    tid = type_id
    while True:
        t = c.lookup(tid)
        if t is None or tid in seen or len(out) >= MAX_DEPTH:
            return None
        seen.add(tid)
        out.append((tid, t))
        if t.kind == CTF_K_ARRAY and t.array is not None:
            tid = t.array.contents
        elif (
            t.kind in (CTF_K_FUNCTION, CTF_K_POINTER)
            or t.kind in _QUALIFIERS
            or (t.kind == CTF_K_TYPEDEF and not t.name)
        ):
            tid = t.ref
        else:
            return out


def type_name(c: Container, type_id: int) -> str:
    """``ctf_type_name``: the C-like declaration of a type, e.g. ``const char *``, ``struct point``."""
    chain = _chain(c, type_id)
    if chain is None:
        return "(unknown)"
    levels: list[list[tuple[int, CtfType]]] = [[], [], [], []]
    order = [-1, -1, -1, -1]
    ordp, qualp = 0, _PREC_BASE
    for tid, t in reversed(chain):  # ctf_decl_push recurses to the end of the chain first
        if t.kind == CTF_K_TYPEDEF and not t.name:
            continue
        qual = t.kind in _QUALIFIERS
        if t.kind == CTF_K_ARRAY:
            prec = _PREC_ARRAY
        elif t.kind == CTF_K_FUNCTION:
            prec = _PREC_FUNCTION
        elif t.kind == CTF_K_POINTER:
            prec = _PREC_POINTER
        elif qual:
            prec = qualp
        else:
            prec = _PREC_BASE
        if not levels[prec]:
            order[prec] = ordp
            ordp += 1
        if _PREC_BASE < prec < _PREC_ARRAY and prec > qualp:
            qualp = prec
        if t.kind == CTF_K_ARRAY or (qual and prec == _PREC_BASE):
            levels[prec].insert(0, (tid, t))
        else:
            levels[prec].append((tid, t))
    ptr = order[_PREC_POINTER] > _PREC_POINTER
    arr = order[_PREC_ARRAY] > _PREC_ARRAY
    rp = _PREC_ARRAY if arr else _PREC_POINTER if ptr else -1
    lp = _PREC_POINTER if ptr else _PREC_ARRAY if arr else -1
    parts: list[str] = []
    last = CTF_K_POINTER  # no leading space
    for prec in range(4):
        for _tid, t in levels[prec]:
            if last not in (CTF_K_POINTER, CTF_K_ARRAY):
                parts.append(" ")
            if lp == prec:
                parts.append("(")
                lp = -1
            kind = t.kind
            if kind in (CTF_K_INTEGER, CTF_K_FLOAT, CTF_K_TYPEDEF):
                parts.append(t.name)
            elif kind == CTF_K_POINTER:
                parts.append("*")
            elif kind == CTF_K_ARRAY and t.array is not None:
                parts.append(f"[{t.array.nelems}]")
            elif kind == CTF_K_FUNCTION:
                parts.append("()")
            elif kind in _TAG:
                parts.append(f"{_TAG[kind]} {t.name}")
            elif kind == CTF_K_FORWARD:
                parts.append(f"{_TAG.get(t.forward_kind, 'struct')} {t.name}")
            elif kind in _QUALIFIERS:
                parts.append(_QUALIFIERS[kind])
            last = kind
        if rp == prec:
            parts.append(")")
    return "".join(parts)


def type_size(c: Container, type_id: int, pointer_size: int = 8) -> int | None:
    """``ctf_type_size``: bytes, through typedefs, qualifiers, array dimensions; None when missing."""
    tid, scale = type_id, 1
    for _ in range(min(len(c.types) + 1, MAX_DEPTH)):
        t = c.lookup(tid)
        if t is None:
            return None
        if t.kind == CTF_K_TYPEDEF or t.kind in _QUALIFIERS:
            tid = t.ref
        elif t.kind == CTF_K_ARRAY and t.array is not None:
            scale *= t.array.nelems
            tid = t.array.contents
        elif t.kind == CTF_K_POINTER:
            return scale * pointer_size
        elif t.kind == CTF_K_FUNCTION:
            return 0
        elif t.kind == CTF_K_FORWARD:
            return scale * t.ref  # libctf returns the slot, which holds the forwarded kind (oracle quirk)
        else:
            return scale * t.size
    return None


def resolve(c: Container, type_id: int) -> int:
    """``ctf_type_resolve``: the id behind typedefs and qualifiers (0 when the chain leaves the container)."""
    tid = type_id
    for _ in range(min(len(c.types) + 1, MAX_DEPTH)):
        t = c.lookup(tid)
        if t is None:
            return 0
        if t.kind == CTF_K_TYPEDEF or t.kind in _QUALIFIERS:
            tid = t.ref
            continue
        return tid
    return 0
