"""Whole-binary deduplication by structural identity: the coarsest partition of the node graph in which
equal nodes have equal local content and point, position by position, at equal nodes.

This is partition refinement (the bisimulation used to minimise automata): start from classes of equal local
content (kind, name, size, encoding, member names and bit offsets, enumerators, array length…), then split
classes by the classes of their references until nothing changes. Cycles (a list node pointing at itself
through a pointer) are handled naturally, and two types that merely share a name — different crate versions
with different layouts — stay apart, as ``shared/notes/ctf.md`` §3.3 requires. Each round is one pass over all
edges in C-speed dict/tuple operations; rounds are bounded by the longest chain of distinguishing references.

Forward declarations are then resolved the way illumos ``ctfmerge`` does (libctf ``ctf_diff.c``
``ctf_diff_forward``: a forward and a struct or union of the same name are the same type; ``ctf_merge.c``
maps the forward onto the definition): a C unit that only saw ``struct X;`` must not make every type that
points at ``X`` differ from the same type in a unit that saw the definition. A forward is completed only
when every definition of that name in the binary is one class. When several different types share the name,
definitions a forward cannot mean are set aside: a struct declared in a unit's own ``.c`` file (not in a
header) is private to that unit, and a forward seen elsewhere never completes to it (glibc's argp-parse.c
has its own 72-byte ``struct group``; every ``struct group;`` in the nss code means grp.h's). If still more
than one class remains the forward stays a forward rather than guess (ctfmerge takes the first one).
Completing forwards can merge definitions that differed only through them, which can make more names
unambiguous, so resolution and refinement alternate until no forward is completed.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ctf.constants import CTF_K_FORWARD
from .graph import Node

#: ``private(node index)``: whether a definition is local to its compile unit's main source file.
PrivateTest = Callable[[int], bool]

MAX_RESOLVE_ROUNDS = 64  # each round completes at least one forward; real programs settle in a few


def refine(nodes: list[Node]) -> list[int]:
    """The class number of every node (structural identity alone, forwards distinct from definitions);
    classes are numbered by first appearance (stable output order)."""
    ids: dict[object, int] = {}
    cls = [ids.setdefault(n.local_key(), len(ids)) for n in nodes]
    count = len(ids)
    refs = [n.refs for n in nodes]
    while True:
        ids = {}
        new = [ids.setdefault((c, *[cls[r] for r in rs]), len(ids)) for c, rs in zip(cls, refs, strict=True)]
        if len(ids) == count:
            return new
        cls, count = new, len(ids)


def complete_forwards(nodes: list[Node], classes: list[int], private: PrivateTest | None = None) -> int:
    """Turn each forward whose name has exactly one class of definitions (of the forwarded kind, leaving
    out unit-private ones when there are several) into a copy of that definition; returns how many."""
    forwards = [i for i, n in enumerate(nodes) if n.kind == CTF_K_FORWARD and n.name]
    if not forwards:
        return 0
    wanted = {(nodes[i].detail[0] if nodes[i].detail else 0, nodes[i].name) for i in forwards}
    definitions: dict[tuple[int, str], dict[int, list[int]]] = {}  # (kind, name) -> {class: its nodes}
    for i, n in enumerate(nodes):
        key = (n.kind, n.name)
        if n.root and key in wanted:
            definitions.setdefault(key, {}).setdefault(classes[i], []).append(i)
    chosen: dict[tuple[int, str], int | None] = {}
    done = 0
    for i in forwards:
        n = nodes[i]
        key = (n.detail[0] if n.detail else 0, n.name)
        if key not in chosen:
            chosen[key] = _definition(definitions.get(key, {}), private)
        target = chosen[key]
        if target is None:
            continue  # no definition anywhere, or several different ones: stay a forward
        d = nodes[target]
        n.kind, n.size, n.encoding, n.detail, n.refs = d.kind, d.size, d.encoding, d.detail, list(d.refs)
        done += 1
    return done


def _definition(found: dict[int, list[int]], private: PrivateTest | None) -> int | None:
    """A node of the one class a forward can mean, or None."""
    if len(found) > 1 and private is not None:
        found = {c: members for c, members in found.items() if not all(private(i) for i in members)}
    if len(found) != 1:
        return None
    return next(iter(found.values()))[0]


def partition(nodes: list[Node], private: PrivateTest | None = None) -> list[int]:
    """The class number of every node, after completing what forwards can be completed (``nodes`` is
    updated in place: a completed forward node becomes a copy of its definition)."""
    classes = refine(nodes)
    for _ in range(MAX_RESOLVE_ROUNDS):
        if not complete_forwards(nodes, classes, private):
            break
        classes = refine(nodes)
    return classes
