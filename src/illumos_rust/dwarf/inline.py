"""Address -> frames through inlined subroutines, for stack printers (DWARF 5 §3.3.8).

A PC inside inlined code belongs to several source frames: the innermost inlined body, each enclosing inlined
call, and finally the concrete function. ``DW_TAG_inlined_subroutine`` DIEs record their address ranges and
where they were called from (``DW_AT_call_file``/``DW_AT_call_line``/``DW_AT_call_column``); the innermost
frame's own position comes from the line table.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import constants as DW
from .ranges import die_ranges
from .types import key_of
from .unit import DIE

if TYPE_CHECKING:
    from .info import DwarfInfo

MAX_SCOPE_DEPTH = 256


@dataclass
class Frame:
    """One source-level frame at an address: function, its linkage name, file:line:column, inlined or not."""

    function: str | None
    linkage_name: str | None
    file: str | None
    line: int | None
    column: int | None
    inlined: bool
    die_key: int


class InlineIndex:
    """Lazily built: which units cover an address (from their unit DIE's ranges), then per unit its
    subprogram ranges sorted by start, for ``frames(address)``.

    A stack printer asks about a few hundred PCs falling in a handful of units; decoding every subprogram
    of every unit up front (the whole of std's DWARF) cost most of a core analysis. Units whose unit DIE
    gives no ranges are searched for every address, so nothing is missed.
    """

    def __init__(self, dwarf: DwarfInfo) -> None:
        self.dwarf = dwarf
        self._units: tuple[list[int], list[int], list[tuple[int, int, int]], list[int]] | None = None
        self._per_unit: dict[int, list[tuple[int, int, DIE]]] = {}
        self._merged: dict[tuple[int, ...], tuple[list[int], list[tuple[int, int, DIE]]]] = {}
        self._scopes: dict[tuple[int, int], list[tuple[DIE, list[tuple[int, int]]]]] = {}
        self._names: dict[int, tuple[str | None, str | None]] = {}

    def _build_units(self) -> tuple[list[int], list[int], list[tuple[int, int, int]], list[int]]:
        """Unit ranges sorted by start, the running maximum of their ends, and the units without ranges."""
        spans: list[tuple[int, int, int]] = []
        unranged: list[int] = []
        for i, unit in enumerate(self.dwarf.compile_units):
            if not unit.die_count:
                continue
            ranges = [(lo, hi) for lo, hi in die_ranges(unit.top) if hi > lo]
            if not ranges:
                unranged.append(i)
            spans.extend((lo, hi, i) for lo, hi in ranges)
        spans.sort()
        reach: list[int] = []
        top = -1
        for _lo, hi, _i in spans:
            top = max(top, hi)
            reach.append(top)
        return [s[0] for s in spans], reach, spans, unranged

    def _units_at(self, address: int) -> list[int]:
        if self._units is None:
            self._units = self._build_units()
        starts, reach, spans, unranged = self._units
        found = set(unranged)
        j = bisect_right(starts, address) - 1
        while j >= 0 and reach[j] > address:  # no earlier range reaches past ``address`` once reach <= it
            lo, hi, i = spans[j]
            if lo <= address < hi:
                found.add(i)
            j -= 1
        return sorted(found)

    def _unit_spans(self, i: int) -> list[tuple[int, int, DIE]]:
        got = self._per_unit.get(i)
        if got is None:
            unit = self.dwarf.compile_units[i]
            got = self._per_unit[i] = [
                (lo, hi, die)
                for die in unit.dies_with_tag(DW.DW_TAG_subprogram)
                for lo, hi in die_ranges(die)
                if hi > lo
            ]
        return got

    def function_at(self, address: int) -> DIE | None:
        """The concrete ``DW_TAG_subprogram`` whose ranges contain ``address``."""
        units = tuple(self._units_at(address))
        merged = self._merged.get(units)
        if merged is None:
            spans = [s for i in units for s in self._unit_spans(i)]
            spans.sort(key=lambda s: (s[0], -s[1]))
            merged = self._merged[units] = ([s[0] for s in spans], spans)
        starts, spans = merged
        i = bisect_right(starts, address) - 1
        # Functions do not nest, but relocatable objects put every function at 0: look at a few neighbours.
        for j in range(i, max(-1, i - 64), -1):
            lo, hi, die = spans[j]
            if lo <= address < hi:
                return die
        return None

    def _child_containing(self, scope: DIE, address: int) -> DIE | None:
        """The lexical block or inlined subroutine directly under ``scope`` that covers ``address``."""
        key = (id(scope.unit), scope.index)
        children = self._scopes.get(key)
        if children is None:  # decoded once per scope: stack printers ask about the same functions again
            children = self._scopes[key] = [
                (child, die_ranges(child))
                for child in scope.children()
                if child.tag in (DW.DW_TAG_inlined_subroutine, DW.DW_TAG_lexical_block)
            ]
        for child, ranges in children:
            for lo, hi in ranges:
                if lo <= address < hi:
                    return child
        return None

    def frames(self, address: int) -> list[Frame]:
        """Frames at ``address``, innermost (deepest inlined) first, the concrete function last."""
        func = self.function_at(address)
        if func is None:
            return []
        chain = [func]
        scope = func
        for _ in range(MAX_SCOPE_DEPTH):
            inner = self._child_containing(scope, address)
            if inner is None:
                break
            if inner.tag == DW.DW_TAG_inlined_subroutine:
                chain.append(inner)
            scope = inner
        unit = func.unit
        table = self.dwarf.line_table(unit)
        row = table.lookup(address) if table is not None else None
        file = table.file_name(row.file) if table is not None and row is not None else None
        line = row.line if row is not None else None
        column = row.column if row is not None else None
        frames: list[Frame] = []
        for die in reversed(chain):  # innermost first
            key = key_of(die)
            got = self._names.get(key)
            if got is None:
                got = self._names[key] = _names(die)
            name, linkage = got
            frames.append(
                Frame(name, linkage, file, line, column, die.tag == DW.DW_TAG_inlined_subroutine, key)
            )
            if die.tag == DW.DW_TAG_inlined_subroutine:
                # The caller's position is where this body was inlined.
                cf = die.get_int(DW.DW_AT_call_file)
                file = table.file_name(cf) if table is not None and cf is not None else None
                line = die.get_int(DW.DW_AT_call_line)
                column = die.get_int(DW.DW_AT_call_column)
        return frames


def _names(die: DIE) -> tuple[str | None, str | None]:
    seen = 0
    cur: DIE | None = die
    name = linkage = None
    while cur is not None and seen < 8:
        name = name or cur.name
        linkage = linkage or cur.get_str(DW.DW_AT_linkage_name) or cur.get_str(DW.DW_AT_MIPS_linkage_name)
        if name and linkage:
            break
        nxt = cur.ref(DW.DW_AT_abstract_origin) or cur.ref(DW.DW_AT_specification)
        cur = None if nxt == cur else nxt
        seen += 1
    return name, linkage
