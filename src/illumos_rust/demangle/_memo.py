"""Memo tables bounded by the characters they hold, not by their entry count.

The demangler memoises by exact text (whole symbols, filter runs, nested paths, top-level paths). An entry
limit alone does not bound memory: a long-running filter fed distinct backref bombs (400 bytes in, 1 MB of
output each) or 60 KiB identifiers would keep megabytes per entry. Each table here counts the characters of
its keys and values plus a per-entry overhead, and is emptied when the next entry would pass its budget;
lookups stay plain ``dict.get`` calls, which is what the hot path pays for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: What an entry costs besides its characters (dict slot, key and value objects), in characters.
ENTRY_COST: Final = 64


class BoundedMemo(dict[K, V]):
    """A ``dict`` emptied when it would hold more than ``budget`` characters (see ``ENTRY_COST``).

    Every table registers itself so ``clear_all`` can empty them without the modules that own tables
    importing each other (core and filter each keep their own).
    """

    __slots__ = ("budget", "used")

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.used = 0
        _ALL.append(self.clear)

    def put(self, key: K, value: V, chars: int) -> None:
        """Store ``value`` whose key and value text are ``chars`` characters long.

        An entry larger than a 256th of the budget is not kept (a 1 MB size-capped answer, say): a few of
        them would flush everything else for a rare hit.
        """
        cost = chars + ENTRY_COST
        if cost * 256 > self.budget:
            return
        if self.used + cost > self.budget:
            self.clear()
        self[key] = value
        self.used += cost

    def clear(self) -> None:
        super().clear()
        self.used = 0


_ALL: Final[list[Callable[[], None]]] = []


def clear_all() -> None:
    """Empty every memo table of the demangler (benchmarks measure cold throughput after this)."""
    for clear in _ALL:
        clear()
