"""Compiled attribute decoders: one ``struct.Struct`` per run of fixed-size forms of an abbreviation.

Decoding a DIE attribute by attribute costs a Python call per value; most abbreviations (rustc's and gcc's
alike) consist of fixed-size forms only, so their whole attribute block is one ``unpack_from``. Each value
then gets the one translation its form needs (``Kind``), chosen when the decoder is compiled, not per value.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from . import constants as DW
from .abbrev import Abbrev, Shape, fixed_form_size

# Translation kinds.
K_RAW, K_REF, K_STRP, K_LINE_STRP, K_STRX, K_ADDRX, K_FLAG, K_CONST, K_U24, K_VAR = range(10)
# Variable-size forms decoded inline (no per-value method call): DW_FORM_udata, DW_FORM_sdata, and the
# ULEB128-length blocks DW_FORM_exprloc / DW_FORM_block (DWARF 5 section 7.5.6). Any other variable form keeps
# the generic K_VAR path.
K_UDATA, K_SDATA, K_EXPRLOC = 10, 11, 12
_VAR_KIND = {
    DW.DW_FORM_udata: K_UDATA,
    DW.DW_FORM_sdata: K_SDATA,
    DW.DW_FORM_exprloc: K_EXPRLOC,
    DW.DW_FORM_block: K_EXPRLOC,
}

_KIND = {
    DW.DW_FORM_ref1: K_REF,
    DW.DW_FORM_ref2: K_REF,
    DW.DW_FORM_ref4: K_REF,
    DW.DW_FORM_ref8: K_REF,
    DW.DW_FORM_strp: K_STRP,
    DW.DW_FORM_line_strp: K_LINE_STRP,
    DW.DW_FORM_strx1: K_STRX,
    DW.DW_FORM_strx2: K_STRX,
    DW.DW_FORM_strx3: K_STRX,
    DW.DW_FORM_strx4: K_STRX,
    DW.DW_FORM_addrx1: K_ADDRX,
    DW.DW_FORM_addrx2: K_ADDRX,
    DW.DW_FORM_addrx3: K_ADDRX,
    DW.DW_FORM_addrx4: K_ADDRX,
    DW.DW_FORM_flag: K_FLAG,
    DW.DW_FORM_flag_present: K_CONST,
    DW.DW_FORM_implicit_const: K_CONST,
}
_CODE = {1: "B", 2: "H", 3: "3s", 4: "I", 8: "Q", 16: "16s"}


class Item(NamedTuple):
    name: int
    form: int
    kind: int
    arg: int | bool  # index into the unpacked tuple, or the constant (implicit_const, flag_present)


# A segment is a run of fixed-size values read by one Struct (None when the run occupies no bytes), or one
# variable-size value (``var``). The fixed run's items are grouped by translation so the decoder runs one
# tight loop per group instead of testing each value's kind: ``(name, form, index)`` for raw numbers,
# unit references and .debug_str offsets, ``(name, form, constant)`` for zero-size forms, and the rare other
# kinds as full Items. Attribute order inside a run therefore follows the groups (callers key by name).
PlainItems = tuple[tuple[int, int, Any], ...]


class Segment(NamedTuple):
    st: struct.Struct | None
    var: Item | None
    raws: PlainItems
    refs: PlainItems
    strps: PlainItems
    consts: PlainItems
    rest: tuple[Item, ...]


def _fixed_segment(st: struct.Struct | None, items: list[Item]) -> Segment:
    def plain(kind: int) -> PlainItems:
        return tuple((i.name, i.form, i.arg) for i in items if i.kind == kind)

    groups = (K_RAW, K_REF, K_STRP, K_CONST)
    rest = tuple(i for i in items if i.kind not in groups)
    return Segment(st, None, plain(K_RAW), plain(K_REF), plain(K_STRP), plain(K_CONST), rest)


def compile_decoder(abbrev: Abbrev, shape: Shape, endian: str) -> tuple[Segment, ...]:
    """The segments that decode ``abbrev``'s attributes for units of ``shape``."""
    segments: list[Segment] = []
    fmt = ""
    items: list[Item] = []
    count = 0

    def flush() -> None:
        nonlocal fmt, items, count
        if items or fmt:
            segments.append(_fixed_segment(struct.Struct(endian + fmt) if fmt else None, items))
        fmt, items, count = "", [], 0

    seen: set[int] = set()
    for name, form, const in abbrev.specs:
        first = name not in seen  # a repeated attribute is read past but not reported (first one wins)
        seen.add(name)
        size = fixed_form_size(form, shape)
        if size is None:
            flush()
            item = Item(name, form, _VAR_KIND.get(form, K_VAR), int(first))
            segments.append(Segment(None, item, (), (), (), (), ()))
            continue
        kind = _KIND.get(form, K_RAW)
        if size == 0:
            if first:
                items.append(Item(name, form, K_CONST, const if form == DW.DW_FORM_implicit_const else True))
            continue
        if size == 3:
            kind = K_U24 if kind == K_RAW else kind  # strx3/addrx3 are converted inside their kind
        fmt += _CODE[size]
        if first:
            items.append(Item(name, form, kind, count))
        count += 1
    flush()
    return tuple(segments)
