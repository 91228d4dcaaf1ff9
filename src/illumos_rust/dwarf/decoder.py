"""Compiled attribute decoders: one ``struct.Struct`` per run of fixed-size forms of an abbreviation.

Decoding a DIE attribute by attribute costs a Python call per value; most abbreviations (rustc's and gcc's
alike) consist of fixed-size forms only, so their whole attribute block is one ``unpack_from`` whose values
go into the DIE's ``{attribute: value}`` dict with one ``dict.update(zip(names, values))`` (C code, no
bytecode per value). Only the values whose stored number is not yet their meaning are then rewritten, each
group by one short loop chosen when the decoder is compiled, never by a test per value: unit references
made section-absolute, ``.debug_str`` offsets resolved. No per-attribute record object is built: a caller
that wants the form and stored value of one attribute asks for it (``DIE.attribute``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from . import constants as DW
from .abbrev import Abbrev, Shape, fixed_form_size

# Translation kinds.
K_RAW, K_REF, K_STRP, K_LINE_STRP, K_STRX, K_ADDRX, K_FLAG, K_CONST, K_U24, K_VAR = range(10)
# Variable-size forms decoded inline (no per-value method call): DW_FORM_udata, DW_FORM_sdata, the
# ULEB128-length blocks DW_FORM_exprloc / DW_FORM_block and DW_FORM_string (DWARF 5 section 7.5.6). Any
# other variable form keeps the generic K_VAR path.
K_UDATA, K_SDATA, K_EXPRLOC, K_STRING = 10, 11, 12, 13
_VAR_KIND = {
    DW.DW_FORM_udata: K_UDATA,
    DW.DW_FORM_sdata: K_SDATA,
    DW.DW_FORM_exprloc: K_EXPRLOC,
    DW.DW_FORM_block: K_EXPRLOC,
    DW.DW_FORM_string: K_STRING,
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

#: The key a repeated attribute's value is stored under while decoding (then dropped): the first
#: occurrence wins, as in pyelftools and llvm-dwarfdump's lookups. Attribute numbers are never negative.
DUPLICATE = -1


class Item(NamedTuple):
    """One value needing more than a dict slot: its attribute, form, translation kind, tuple index."""

    name: int
    form: int
    kind: int
    arg: int


# One segment: a run of fixed-size values read by one Struct, or one variable-size value (``var``).
#   st, size: the Struct and its byte size (None, 0 for a variable segment)
#   names:    the attribute of each unpacked value, in order (DUPLICATE for a repeat)
#   refs:     (attribute, index) of unit-relative references, to add the unit's offset to
#   strps:    (attribute, index) of .debug_str offsets, to resolve
#   rest:     the rare kinds (flag, 3-byte numbers, strx/addrx, line_strp) as Items
#   var:      the variable-size value, or None
PlainItems = tuple[tuple[int, int], ...]


class Segment(NamedTuple):
    st: struct.Struct | None
    size: int
    names: tuple[int, ...]
    refs: PlainItems
    strps: PlainItems
    rest: tuple[Item, ...]
    var: Item | None


class Plan(NamedTuple):
    """How to decode one abbreviation's attributes for one unit shape."""

    segments: tuple[Segment, ...]
    consts: dict[int, Any]  # zero-size forms: flag_present (True) and implicit_const (the constant)
    duplicates: bool  # some attribute repeats: drop DUPLICATE after decoding
    # The common case (nine DIEs in ten of a rustc build): one fixed run, no rare kinds, no repeats.
    # ``(size, decode)``: the run's byte size and its generated decoder (``single_run_decoder``).
    single: tuple[int, SingleRun] | None


#: ``decode(buf, pos, unit_offset, cached_string, string)`` -> ``{attribute: value}`` for one DIE.
SingleRun = Callable[[Any, int, int, Callable[[int], str | None], Callable[[int], str]], dict[int, Any]]


def single_run_decoder(segment: Segment, consts: dict[int, Any]) -> SingleRun:
    """A function decoding a one-run abbreviation in straight-line code: one ``unpack_from``, then a dict
    display with each value's translation written in (``v[1] + unit_offset`` for a reference, a string
    cache lookup for a strp) — no loop and no test per value, about 40% faster than the table-driven path
    on rustc output. The source is built only from integers this module chose or parsed (attribute
    numbers, tuple indexes, implicit constants as ``int``), never from text in the file.
    """
    assert segment.st is not None
    refs = {i for _, i in segment.refs}
    strps = {i for _, i in segment.strps}
    body = ["def decode(buf, pos, unit_offset, cached, string):", "    v = ST.unpack_from(buf, pos)"]
    items = []
    for i, name in enumerate(segment.names):
        if i in strps:
            body.append(f"    s{i} = cached(v[{i}])")
            body.append(f"    if s{i} is None: s{i} = string(v[{i}])")
            items.append(f"{int(name)}: s{i}")
        elif i in refs:
            items.append(f"{int(name)}: unit_offset + v[{i}]")
        else:
            items.append(f"{int(name)}: v[{i}]")
    for name, value in consts.items():
        items.append(f"{int(name)}: {'True' if value is True else int(value)}")
    body.append("    return {" + ", ".join(items) + "}")
    namespace: dict[str, Any] = {"ST": segment.st}
    exec(compile("\n".join(body), "<dwarf abbreviation decoder>", "exec"), namespace)
    decode: SingleRun = namespace["decode"]
    return decode


#: Plans by what they depend on. Every unit of a rustc or gcc build repeats the same few hundred
#: abbreviations in its own table (858 tables entries, 145 distinct, in bench_dwarf's input), and a
#: generated decoder costs a ``compile()``: each is built once per process. Bounded for long-lived processes.
_PLANS: dict[tuple[tuple[tuple[int, int, int], ...], Shape, str], Plan] = {}
MAX_CACHED_PLANS = 1 << 16


def compile_plan(abbrev: Abbrev, shape: Shape, endian: str) -> Plan:
    """The segments that decode ``abbrev``'s attributes for units of ``shape`` (shared between equal
    abbreviations: a plan depends only on the specs, the shape and the byte order)."""
    key = (abbrev.specs, shape, endian)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= MAX_CACHED_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = _compile(abbrev, shape, endian)
    return plan


def _compile(abbrev: Abbrev, shape: Shape, endian: str) -> Plan:
    segments: list[Segment] = []
    consts: dict[int, Any] = {}
    fmt = ""
    names: list[int] = []
    items: list[Item] = []

    def flush() -> None:
        nonlocal fmt, names, items
        if fmt:
            st = struct.Struct(endian + fmt)

            def plain(kind: int) -> PlainItems:
                return tuple((i.name, i.arg) for i in items if i.kind == kind)

            rest = tuple(i for i in items if i.kind not in (K_RAW, K_REF, K_STRP))
            segments.append(Segment(st, st.size, tuple(names), plain(K_REF), plain(K_STRP), rest, None))
        fmt, names, items = "", [], []

    seen: set[int] = set()
    for name, form, const in abbrev.specs:
        first = name not in seen  # a repeated attribute is read past but not reported (first one wins)
        seen.add(name)
        key = name if first else DUPLICATE
        size = fixed_form_size(form, shape)
        if size is None:
            flush()
            segments.append(Segment(None, 0, (), (), (), (), Item(key, form, _VAR_KIND.get(form, K_VAR), 0)))
            continue
        kind = _KIND.get(form, K_RAW)
        if size == 0:
            if first:
                consts[name] = const if form == DW.DW_FORM_implicit_const else True
            continue
        if size == 3:
            kind = K_U24 if kind == K_RAW else kind  # strx3/addrx3 are converted inside their kind
        if first and kind != K_RAW:
            items.append(Item(name, form, kind, len(names)))
        fmt += _CODE[size]
        names.append(key)
    flush()
    duplicates = len(seen) < len(abbrev.specs)
    single = None
    if len(segments) == 1 and not segments[0].rest and not duplicates:
        only = segments[0]
        if only.st is not None:
            single = (only.size, single_run_decoder(only, consts))
    return Plan(tuple(segments), consts, duplicates, single)
