"""Abbreviation tables (``.debug_abbrev``, DWARF 5 section 7.5.3) and the per-unit "skip plans" built on them.

A DIE is only a code followed by attribute values whose sizes its abbreviation's forms decide. Walking a tree
fast therefore means knowing, per abbreviation, how to jump over its attributes: when every form has a fixed
size for the unit's shape (address size, offset size, version) the whole DIE is skipped in one addition;
otherwise a short list of steps is run. Plans are computed once per (table, shape) and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import constants as DW
from .leb128 import sleb, uleb
from .sections import DwarfSection

# Step kinds of a skip plan.
SKIP_FIXED, SKIP_ULEB, SKIP_CSTRING, SKIP_BLOCK1, SKIP_BLOCK2, SKIP_BLOCK4 = range(6)
SKIP_BLOCK_ULEB, SKIP_INDIRECT = 6, 7

MAX_ATTRIBUTES = 4096  # per abbreviation; real producers use < 40


@dataclass(frozen=True)
class Shape:
    """What the size of a form depends on, besides the form itself."""

    address_size: int
    offset_size: int
    version: int


def fixed_form_size(form: int, shape: Shape) -> int | None:
    """Bytes a value of ``form`` occupies, or None when its size is encoded in the data (DWARF 5 §7.5.6)."""
    size = _FIXED.get(form)
    if size is not None:
        return size
    if form in _OFFSET_SIZED:
        return shape.offset_size
    if form == DW.DW_FORM_addr:
        return shape.address_size
    if form == DW.DW_FORM_ref_addr:  # DWARF 2 wrote an address here, DWARF 3+ an offset (§7.5.4 note)
        return shape.address_size if shape.version <= 2 else shape.offset_size
    return None


_FIXED = {
    DW.DW_FORM_data1: 1,
    DW.DW_FORM_ref1: 1,
    DW.DW_FORM_flag: 1,
    DW.DW_FORM_strx1: 1,
    DW.DW_FORM_addrx1: 1,
    DW.DW_FORM_data2: 2,
    DW.DW_FORM_ref2: 2,
    DW.DW_FORM_strx2: 2,
    DW.DW_FORM_addrx2: 2,
    DW.DW_FORM_strx3: 3,
    DW.DW_FORM_addrx3: 3,
    DW.DW_FORM_data4: 4,
    DW.DW_FORM_ref4: 4,
    DW.DW_FORM_strx4: 4,
    DW.DW_FORM_addrx4: 4,
    DW.DW_FORM_ref_sup4: 4,
    DW.DW_FORM_data8: 8,
    DW.DW_FORM_ref8: 8,
    DW.DW_FORM_ref_sig8: 8,
    DW.DW_FORM_ref_sup8: 8,
    DW.DW_FORM_data16: 16,
    DW.DW_FORM_flag_present: 0,
    DW.DW_FORM_implicit_const: 0,
}
_OFFSET_SIZED = {
    DW.DW_FORM_strp,
    DW.DW_FORM_line_strp,
    DW.DW_FORM_sec_offset,
    DW.DW_FORM_strp_sup,
    DW.DW_FORM_GNU_ref_alt,
    DW.DW_FORM_GNU_strp_alt,
}
_VARIABLE = {
    DW.DW_FORM_udata: SKIP_ULEB,
    DW.DW_FORM_sdata: SKIP_ULEB,  # same byte length as unsigned
    DW.DW_FORM_ref_udata: SKIP_ULEB,
    DW.DW_FORM_strx: SKIP_ULEB,
    DW.DW_FORM_addrx: SKIP_ULEB,
    DW.DW_FORM_loclistx: SKIP_ULEB,
    DW.DW_FORM_rnglistx: SKIP_ULEB,
    DW.DW_FORM_GNU_addr_index: SKIP_ULEB,
    DW.DW_FORM_GNU_str_index: SKIP_ULEB,
    DW.DW_FORM_string: SKIP_CSTRING,
    DW.DW_FORM_block1: SKIP_BLOCK1,
    DW.DW_FORM_block2: SKIP_BLOCK2,
    DW.DW_FORM_block4: SKIP_BLOCK4,
    DW.DW_FORM_block: SKIP_BLOCK_ULEB,
    DW.DW_FORM_exprloc: SKIP_BLOCK_ULEB,
    DW.DW_FORM_indirect: SKIP_INDIRECT,
}


def is_known_form(form: int) -> bool:
    return (
        form in _FIXED
        or form in _OFFSET_SIZED
        or form in _VARIABLE
        or form
        in (
            DW.DW_FORM_addr,
            DW.DW_FORM_ref_addr,
        )
    )


@dataclass
class Abbrev:
    """One abbreviation: tag, children flag, ``(attribute, form, implicit constant)`` specs."""

    code: int
    tag: int
    has_children: bool
    specs: tuple[tuple[int, int, int], ...]
    offset: int  # in .debug_abbrev, for error messages
    # Filled per shape by ``plan_for``: total size when every form is fixed, else None and ``steps``.
    fixed_size: int | None = None
    steps: tuple[tuple[int, int], ...] = ()
    index: dict[int, int] = field(default_factory=dict)  # attribute -> position in specs (first wins)
    decoder: Any = None  # decoder.Plan, compiled on first decode (decoder.compile_plan)


Specs = tuple[tuple[int, int, int], ...]
RawAbbrev = tuple[int, int, bool, Specs, int]  # code, tag, has_children, specs, offset


def parse_table(section: DwarfSection, offset: int) -> dict[int, RawAbbrev]:
    """The abbreviation table at ``offset``: code -> (code, tag, has_children, specs, offset)."""
    buf, base, end = section.buf, section.base, section.base + section.size
    if not 0 <= offset < section.size:
        raise section.error(offset, "abbreviation table offset outside .debug_abbrev")
    pos = base + offset
    out: dict[int, RawAbbrev] = {}
    while True:
        start = pos
        code, pos = uleb(buf, pos, end)
        if pos < 0:
            raise section.error(start - base, "truncated abbreviation code")
        if code == 0:
            return out
        tag, pos = uleb(buf, pos, end)
        if pos < 0 or pos >= end:
            raise section.error(start - base, "truncated abbreviation")
        children = buf[pos]
        pos += 1
        if children > 1:
            raise section.error(pos - 1 - base, f"children flag {children} is neither 0 nor 1")
        specs: list[tuple[int, int, int]] = []
        while True:
            at_pos = pos
            name, pos = uleb(buf, pos, end) if pos >= 0 else (0, -1)
            form, pos = uleb(buf, pos, end) if pos >= 0 else (0, -1)
            if pos < 0:
                raise section.error(at_pos - base, "truncated attribute specification")
            if name == 0 and form == 0:
                break
            if not is_known_form(form):
                raise section.error(at_pos - base, f"unknown form 0x{form:x}")
            const = 0
            if form == DW.DW_FORM_implicit_const:
                const, pos = sleb(buf, pos, end)
                if pos < 0:
                    raise section.error(at_pos - base, "truncated implicit constant")
            specs.append((name, form, const))
            if len(specs) > MAX_ATTRIBUTES:
                raise section.error(start - base, "abbreviation has too many attributes")
        if code in out:
            raise section.error(start - base, f"abbreviation code {code} defined twice")
        out[code] = (code, tag, bool(children), tuple(specs), start - base)


def plan_for(table: dict[int, RawAbbrev], shape: Shape) -> dict[int, Abbrev]:
    """The table's abbreviations with skip plans for units of ``shape``."""
    out: dict[int, Abbrev] = {}
    for code, (_, tag, children, specs, off) in table.items():
        steps: list[tuple[int, int]] = []
        fixed = 0
        variable = False
        index: dict[int, int] = {}
        for i, (name, form, _const) in enumerate(specs):
            index.setdefault(name, i)
            size = fixed_form_size(form, shape)
            if size is not None:
                fixed += size
                if steps and steps[-1][0] == SKIP_FIXED:
                    steps[-1] = (SKIP_FIXED, steps[-1][1] + size)
                elif size:
                    steps.append((SKIP_FIXED, size))
            else:
                variable = True
                steps.append((_VARIABLE[form], 0))
        if any(kind == SKIP_INDIRECT for kind, _ in steps):
            steps = [(SKIP_INDIRECT, 0)]  # the unit reads such DIEs value by value
        out[code] = Abbrev(
            code,
            tag,
            children,
            specs,
            off,
            None if variable else fixed,
            tuple(steps) if variable else (),
            index,
        )
    return out
