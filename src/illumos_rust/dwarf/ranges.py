"""Address ranges and location lists: ``DW_AT_ranges`` and ``DW_AT_location`` lists, DWARF 2-5.

DWARF 5 uses ``.debug_rnglists``/``.debug_loclists`` (typed entries, §2.17.3 and §2.6.2, tables 7.30/7.31),
reachable by section offset or by index through the unit's offset table (``DW_FORM_rnglistx``/``loclistx``);
DWARF 2-4 use ``.debug_ranges``/``.debug_loc`` (address pairs, an all-ones start selecting a new base).
Offsets are taken relative to the unit's base address (``DW_AT_low_pc`` of the unit DIE) where the spec says.
"""

from __future__ import annotations

import struct

from . import constants as DW
from .leb128 import uleb
from .sections import DwarfSection
from .unit import ADDR_INDEX_FORMS, DIE, Unit

MAX_LIST_ENTRIES = 1 << 20


def pc_range(die: DIE) -> tuple[int | None, int | None]:
    """``(low_pc, high_pc)`` of a DIE; a constant-class ``DW_AT_high_pc`` is a length (DWARF 4 §2.17.2)."""
    low = die.get_int(DW.DW_AT_low_pc)
    a = die.attribute(DW.DW_AT_high_pc)
    if low is None or a is None or not isinstance(a.value, int):
        return low, None
    if a.form in _ADDRESS_FORMS:
        return low, a.value
    return low, low + a.value


def die_ranges(die: DIE) -> list[tuple[int, int]]:
    """The ``[low, high)`` ranges a DIE covers: ``low_pc``/``high_pc`` or its ``DW_AT_ranges`` list."""
    low, high = pc_range(die)
    if low is not None and high is not None:
        return [(low, high)]
    r = die.attribute(DW.DW_AT_ranges)
    if r is None or not isinstance(r.value, int):
        return []
    return range_list(die.unit, r.value, r.form == DW.DW_FORM_rnglistx)


#: Forms of a DW_AT_high_pc that is an address, not a length.
_ADDRESS_FORMS = ADDR_INDEX_FORMS | {DW.DW_FORM_addr}


def unit_base_address(unit: Unit) -> int:
    return unit.top.get_int(DW.DW_AT_low_pc) or 0


def _list_offset(unit: Unit, sec: DwarfSection, value: int, is_index: bool, base_field: int) -> int:
    """Section offset of a list given by ``DW_FORM_sec_offset`` (as is) or by index (offset table entry)."""
    if not is_index:  # DW_FORM_sec_offset is an offset from the start of the section, in every version
        return value
    osz = unit.offset_size
    table = base_field
    where = table + value * osz
    sec.check(where, osz, f"list index {value}")
    e = unit.dwarf.endian
    (rel,) = struct.unpack_from(e + ("Q" if osz == 8 else "I"), sec.buf, sec.base + where)
    return int(table + rel)


def range_list(unit: Unit, value: int, is_index: bool) -> list[tuple[int, int]]:
    """Decode the range list ``value`` names (offset, or index when ``is_index``)."""
    dwarf = unit.dwarf
    # The default base is the unit's DW_AT_low_pc, for the unit DIE's own list too (DWARF 5 §2.17.3).
    base = unit_base_address(unit)
    if unit.version >= 5:
        sec = dwarf.section("rnglists")
        off = _list_offset(unit, sec, value, is_index, unit.bases[2])
        return [(lo, hi) for lo, hi, _ in _v5_entries(unit, sec, off, base, ranges=True)]
    sec = dwarf.section("ranges")
    return [(lo, hi) for lo, hi, _ in _pairs(unit, sec, value, base, with_expr=False)]


def location_list(unit: Unit, value: int, is_index: bool) -> list[tuple[int, int, bytes]]:
    """Decode the location list ``value`` names: ``(low, high, expression)`` entries (default: 0, 2**64)."""
    dwarf = unit.dwarf
    base = unit_base_address(unit)
    if unit.version >= 5:
        sec = dwarf.section("loclists")
        off = _list_offset(unit, sec, value, is_index, unit.bases[3])
        return _v5_entries(unit, sec, off, base, ranges=False)
    return _pairs(unit, dwarf.section("loc"), value, base, with_expr=True)


def _pairs(
    unit: Unit, sec: DwarfSection, off: int, base: int, with_expr: bool
) -> list[tuple[int, int, bytes]]:
    asz = unit.address_size
    e = unit.dwarf.endian
    fmt = struct.Struct(e + {1: "BB", 2: "HH", 4: "II", 8: "QQ"}[asz])
    u16 = struct.Struct(e + "H")
    ones = (1 << (8 * asz)) - 1
    out: list[tuple[int, int, bytes]] = []
    pos = off
    for _ in range(MAX_LIST_ENTRIES):
        sec.check(pos, fmt.size, "list entry")
        lo, hi = fmt.unpack_from(sec.buf, sec.base + pos)
        pos += fmt.size
        if lo == 0 and hi == 0:
            return out
        if lo == ones:
            base = hi
            continue
        expr = b""
        if with_expr:
            sec.check(pos, 2, "location expression length")
            (n,) = u16.unpack_from(sec.buf, sec.base + pos)
            expr = sec.bytes_at(pos + 2, n, "location expression")
            pos += 2 + n
        out.append((base + lo, base + hi, expr))
    raise sec.error(off, "list has too many entries")


def _v5_entries(
    unit: Unit, sec: DwarfSection, off: int, base: int, ranges: bool
) -> list[tuple[int, int, bytes]]:
    dwarf = unit.dwarf
    buf, sbase, end = sec.buf, sec.base, sec.base + sec.size
    asz = unit.address_size
    little = dwarf.little
    out: list[tuple[int, int, bytes]] = []
    if not 0 <= off < sec.size:
        raise sec.error(off, "list offset outside the section")
    pos = sbase + off

    def u() -> int:
        nonlocal pos
        v, pos = uleb(buf, pos, end)
        if pos < 0:
            raise sec.error(off, "truncated list entry")
        return v

    def addr() -> int:
        nonlocal pos
        if pos + asz > end:
            raise sec.error(pos - sbase, "truncated address in list entry")
        v = int.from_bytes(buf[pos : pos + asz], "little" if little else "big")
        pos += asz
        return v

    def expr() -> bytes:
        nonlocal pos
        if ranges:
            return b""
        n = u()
        if pos + n > end:
            raise sec.error(pos - sbase, "location expression runs past the section")
        data = bytes(buf[pos : pos + n])
        pos += n
        return data

    ix = dwarf.indexed_address
    for _ in range(MAX_LIST_ENTRIES):
        if pos >= end:
            raise sec.error(off, "list runs past the end of the section without an end entry")
        kind = buf[pos]
        pos += 1
        # DW_RLE_* and DW_LLE_* share codes 0-4; 5-8 differ (table 7.30 vs 7.31).
        if kind == 0:
            return out
        if kind == 1:
            base = ix(unit, u())
        elif kind == 2:
            lo = ix(unit, u())
            hi = ix(unit, u())
            out.append((lo, hi, expr()))
        elif kind == 3:
            lo = ix(unit, u())
            n = u()
            out.append((lo, lo + n, expr()))
        elif kind == 4:
            lo = u()
            hi = u()
            out.append((base + lo, base + hi, expr()))
        elif (ranges and kind == DW.DW_RLE_base_address) or (not ranges and kind == DW.DW_LLE_base_address):
            base = addr()
        elif (ranges and kind == DW.DW_RLE_start_end) or (not ranges and kind == DW.DW_LLE_start_end):
            lo = addr()
            hi = addr()
            out.append((lo, hi, expr()))
        elif (ranges and kind == DW.DW_RLE_start_length) or (not ranges and kind == DW.DW_LLE_start_length):
            lo = addr()
            n = u()
            out.append((lo, lo + n, expr()))
        elif not ranges and kind == DW.DW_LLE_default_location:
            out.append((0, 1 << 64, expr()))
        elif not ranges and kind == DW.DW_LLE_GNU_view_pair:
            u()
            u()
        else:
            raise sec.error(pos - 1 - sbase, f"unknown list entry kind 0x{kind:x}")
    raise sec.error(off, "list has too many entries")
