"""Choose which deduplicated types fit the CTF v2 budget and number them into a ``Container``.

Types are taken breadth-first from the roots in priority order — the types of the symbol table's data
objects, then its functions' signatures, then everything else in DWARF order — while the number of types
taken plus the number of types they reference but are not yet taken stays within the budget. When the budget
is reached, every referenced-but-untaken type becomes a *stand-in* that costs one id and keeps its referrer's
layout valid (``shared/notes/ctf.md`` §3.3 point 3): a type with no references is emitted whole; any other
becomes an empty STRUCT with the type's name and byte size (a FORWARD would have no size and break the
layout of a struct that holds it by value). Everything else is left out and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..ctf.constants import (
    CTF_K_ARRAY,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_POINTER,
    CTF_K_STRUCT,
    CTF_K_UNION,
    CTF_LSTRUCT_THRESH,
    CTF_MAX_PTYPE,
    CTF_MAX_VLEN,
)
from ..ctf.model import ArrayInfo, CtfType, Encoding, Enumerator, Member
from .graph import Node

MAX_WALK = 512


@dataclass
class Selection:
    types: list[CtfType]
    id_of: dict[int, int]  # class -> CTF type id
    taken: int
    stand_ins: list[str] = field(default_factory=list)
    dropped: int = 0
    dropped_names: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)


def node_size(nodes: list[Node], index: int, pointer_size: int) -> int:
    """Byte size of a node as ``ctf_type_size`` would compute it once emitted (bounded walk)."""
    scale = 1
    for _ in range(MAX_WALK):
        n = nodes[index]
        if n.kind in (CTF_K_INTEGER, CTF_K_FLOAT, CTF_K_STRUCT, CTF_K_UNION, CTF_K_ENUM):
            return scale * n.size
        if n.kind == CTF_K_POINTER:
            return scale * pointer_size
        if n.kind == CTF_K_ARRAY:
            scale *= n.detail[0]
            index = n.refs[0]
        elif n.kind in (CTF_K_FUNCTION, CTF_K_FORWARD) or not n.refs:
            return 0
        else:
            index = n.refs[0]
    return 0


def select(
    nodes: list[Node],
    classes: list[int],
    roots: Iterable[int],
    *,
    limit: int = CTF_MAX_PTYPE,
    pointer_size: int = 8,
) -> Selection:
    """Pick and number classes. ``roots`` are node indices in priority order; all nodes follow them."""
    rep: dict[int, int] = {}
    for i, c in enumerate(classes):
        rep.setdefault(c, i)
    class_refs = {c: [classes[r] for r in nodes[i].refs] for c, i in rep.items()}
    taken: list[int] = []
    is_taken: set[int] = set()
    frontier: set[int] = set()
    queue: deque[int] = deque()
    seen: set[int] = set()

    def order() -> Iterable[int]:
        for r in roots:
            yield classes[r]
        yield from rep  # everything else, in order of first appearance

    full = False
    for start in order():
        if full:
            break
        if start in seen:
            continue
        seen.add(start)
        queue.append(start)
        while queue:
            c = queue.popleft()
            if c in is_taken:
                continue
            new = {r for r in class_refs[c] if r not in is_taken and r not in frontier and r != c}
            after = len(taken) + 1 + len(frontier) - (1 if c in frontier else 0) + len(new)
            if after > limit:
                full = True
                break
            taken.append(c)
            is_taken.add(c)
            frontier.discard(c)
            frontier |= new
            for r in class_refs[c]:
                if r not in seen:
                    seen.add(r)
                    queue.append(r)
    stand_in_classes = sorted(frontier - is_taken)
    id_of: dict[int, int] = {}
    for c in taken + stand_in_classes:
        id_of[c] = len(id_of) + 1
    sel = Selection([], id_of, len(taken))
    for c in taken:
        sel.types.append(_emit(nodes[rep[c]], classes, id_of, sel))
    for c in stand_in_classes:
        n = nodes[rep[c]]
        if not n.refs:
            sel.types.append(_emit(n, classes, id_of, sel))
        else:
            size = node_size(nodes, rep[c], pointer_size)
            sel.types.append(CtfType(CTF_K_STRUCT, n.name, True, size))
            sel.stand_ins.append(n.name or f"(anonymous kind {n.kind})")
    dropped = [c for c in rep if c not in id_of]
    sel.dropped = len(dropped)
    sel.dropped_names = [nodes[rep[c]].name for c in dropped if nodes[rep[c]].name][:50]
    return sel


def _emit(n: Node, classes: list[int], id_of: dict[int, int], sel: Selection) -> CtfType:
    def tid(node_index: int) -> int:
        return id_of.get(classes[node_index], 0)

    kind = n.kind
    if kind in (CTF_K_INTEGER, CTF_K_FLOAT):
        enc = n.encoding or (0, 0, 0)
        return CtfType(kind, n.name, n.root, n.size, encoding=Encoding(*enc))
    if kind in (CTF_K_STRUCT, CTF_K_UNION):
        members = [Member(name, tid(r), off) for (name, off), r in zip(n.detail, n.refs, strict=True)]
        if any(not 0 <= m.offset < 1 << 64 for m in members):
            sel.truncated.append(f"{n.name}: members with offsets outside 0..2^64 bits dropped")
            members = [m for m in members if 0 <= m.offset < 1 << 64]
        if n.size < CTF_LSTRUCT_THRESH:
            kept = [m for m in members if m.offset <= 0xFFFF]
            if len(kept) != len(members):
                sel.truncated.append(f"{n.name}: members past bit 65535 of a small struct dropped")
            members = kept
        if len(members) > CTF_MAX_VLEN:
            sel.truncated.append(f"{n.name}: {len(members)} members, kept the first {CTF_MAX_VLEN}")
            members = members[:CTF_MAX_VLEN]
        return CtfType(kind, n.name, n.root, n.size, members=tuple(members))
    if kind == CTF_K_ENUM:
        return CtfType(kind, n.name, n.root, n.size, enumerators=tuple(Enumerator(a, v) for a, v in n.detail))
    if kind == CTF_K_ARRAY:
        return CtfType(kind, n.name, n.root, array=ArrayInfo(tid(n.refs[0]), tid(n.refs[1]), n.detail[0]))
    if kind == CTF_K_FUNCTION:
        args = tuple(tid(r) for r in n.refs[1:])
        varargs = bool(n.detail[0])
        if len(args) + varargs > CTF_MAX_VLEN:
            sel.truncated.append(f"function type with {len(args)} arguments cut to {CTF_MAX_VLEN - 1}")
            args = args[: CTF_MAX_VLEN - 1]
        return CtfType(kind, "", n.root, ref=tid(n.refs[0]), args=args, varargs=varargs)
    if kind == CTF_K_FORWARD:
        return CtfType(kind, n.name, n.root, ref=n.detail[0])
    return CtfType(kind, n.name, n.root, ref=tid(n.refs[0]) if n.refs else 0)
