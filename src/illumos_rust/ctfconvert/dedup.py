"""Whole-binary deduplication by structural identity: the coarsest partition of the node graph in which
equal nodes have equal local content and point, position by position, at equal nodes.

This is partition refinement (the bisimulation used to minimise automata): start from classes of equal local
content (kind, name, size, encoding, member names and bit offsets, enumerators, array length…), then split
classes by the classes of their references until nothing changes. Cycles (a list node pointing at itself
through a pointer) are handled naturally, and two types that merely share a name — different crate versions
with different layouts — stay apart, as ``shared/notes/ctf.md`` §3.3 requires. Each round is one pass over all
edges in C-speed dict/tuple operations; rounds are bounded by the longest chain of distinguishing references.
"""

from __future__ import annotations

from .graph import Node


def partition(nodes: list[Node]) -> list[int]:
    """The class number of every node; classes are numbered by first appearance (stable output order)."""
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
