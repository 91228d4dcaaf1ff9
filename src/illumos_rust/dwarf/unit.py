"""Units (compile, partial, type, skeleton) and their DIEs: headers eagerly, trees lazily, values on demand.

A unit's DIE tree is parsed the first time it is asked for, into three flat lists (DIE offsets, abbreviations,
subtree ends), which is all the navigation needs; ``DIE`` objects are thin handles made on access and
attribute values are decoded only when read. Header layouts: DWARF 5 section 7.5.1 (v5 ``unit_type`` first),
DWARF 4 section 7.5.1 and 7.5.1.2 (``.debug_types``), DWARF 2/3 (same as v4 compile units).
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import FormatError
from . import constants as DW
from .abbrev import (
    SKIP_BLOCK1,
    SKIP_BLOCK2,
    SKIP_BLOCK4,
    SKIP_BLOCK_ULEB,
    SKIP_CSTRING,
    SKIP_FIXED,
    SKIP_INDIRECT,
    SKIP_ULEB,
    Abbrev,
    Shape,
    fixed_form_size,
    is_known_form,
)
from .decoder import (
    DUPLICATE,
    K_EXPRLOC,
    K_FLAG,
    K_SDATA,
    K_STRING,
    K_U24,
    K_UDATA,
    compile_plan,
)
from .leb128 import sleb, uleb
from .sections import DwarfSection

if TYPE_CHECKING:
    from .info import DwarfInfo

AttrValue = int | str | bytes | bool

MAX_INDIRECT = 8  # DW_FORM_indirect chains: one is normal, a loop is hostile


class Attribute(NamedTuple):
    """One decoded attribute: strings resolved, references made section-absolute, addresses looked up."""

    name: int
    form: int
    value: AttrValue
    raw: int | bytes | str  # the value as stored (string offset, index, unit-relative reference...)


class Unit:
    """One unit header of ``.debug_info`` or ``.debug_types``; ``dies`` parses its tree on first use."""

    def __init__(self, dwarf: DwarfInfo, section: DwarfSection, offset: int, in_types_section: bool) -> None:
        self.dwarf = dwarf
        self.section = section
        self.offset = offset
        self.in_types_section = in_types_section
        buf, base = section.buf, section.base
        section.check(offset, 4, "unit length")
        e = dwarf.endian
        (length,) = struct.unpack_from(e + "I", buf, base + offset)
        pos = offset + 4
        if length == 0xFFFFFFFF:  # 64-bit DWARF (§7.4)
            section.check(pos, 8, "64-bit unit length")
            (length,) = struct.unpack_from(e + "Q", buf, base + pos)
            pos += 8
            self.offset_size = 8
        elif length >= 0xFFFFFFF0:
            raise section.error(offset, f"reserved unit length 0x{length:x}")
        else:
            self.offset_size = 4
        self.end = pos + length
        if self.end > section.size:
            raise section.error(offset, f"unit of {length} bytes runs past the end of the section")
        section.check(pos, 2, "unit version")
        (self.version,) = struct.unpack_from(e + "H", buf, base + pos)
        pos += 2
        if not 2 <= self.version <= 5:
            raise section.error(offset, f"unsupported DWARF version {self.version}")
        off_fmt = e + ("Q" if self.offset_size == 8 else "I")
        osz = self.offset_size
        self.type_signature: int | None = None
        self.type_offset: int | None = None
        self.dwo_id: int | None = None
        try:
            if self.version >= 5:
                self.unit_type, self.address_size = buf[base + pos], buf[base + pos + 1]
                (self.abbrev_offset,) = struct.unpack_from(off_fmt, buf, base + pos + 2)
                pos += 2 + osz
                if self.unit_type in (DW.DW_UT_type, DW.DW_UT_split_type):
                    (self.type_signature,) = struct.unpack_from(e + "Q", buf, base + pos)
                    (self.type_offset,) = struct.unpack_from(off_fmt, buf, base + pos + 8)
                    pos += 8 + osz
                elif self.unit_type in (DW.DW_UT_skeleton, DW.DW_UT_split_compile):
                    (self.dwo_id,) = struct.unpack_from(e + "Q", buf, base + pos)
                    pos += 8
                elif self.unit_type not in (DW.DW_UT_compile, DW.DW_UT_partial):
                    raise section.error(offset, f"unknown unit type 0x{self.unit_type:x}")
            else:
                (self.abbrev_offset,) = struct.unpack_from(off_fmt, buf, base + pos)
                self.address_size = buf[base + pos + osz]
                pos += osz + 1
                if in_types_section:
                    self.unit_type = DW.DW_UT_type
                    (self.type_signature,) = struct.unpack_from(e + "Q", buf, base + pos)
                    (self.type_offset,) = struct.unpack_from(off_fmt, buf, base + pos + 8)
                    pos += 8 + osz
                else:
                    self.unit_type = DW.DW_UT_compile
        except (IndexError, struct.error):
            raise section.error(offset, "unit header is truncated") from None
        if pos > self.end:
            raise section.error(offset, "unit header is longer than the unit")
        if self.address_size not in (1, 2, 4, 8):
            raise section.error(offset, f"address size {self.address_size} is not supported")
        if self.type_offset is not None and not pos - offset <= self.type_offset < self.end - offset:
            raise section.error(offset, f"type offset 0x{self.type_offset:x} outside the unit")
        self.die_offset = pos
        self.shape = Shape(self.address_size, self.offset_size, self.version)
        self._offsets: Sequence[int] | None = None
        self._abbrevs: list[Abbrev] = []
        self._ends: Sequence[int] = ()
        self._parents: Sequence[int] = ()
        self._bases: tuple[int, int, int, int] | None = None
        self._language: int | None = None
        # What ``values`` needs on every call, gathered once (one attribute load instead of nine).
        self._decode_ctx: (
            tuple[DwarfSection, Any, int, int, DwarfInfo, dict[int, str], int, Any, Any] | None
        ) = None
        e_ = dwarf.endian
        self._u16 = struct.Struct(e_ + "H")
        self._u32 = struct.Struct(e_ + "I")
        self._u64 = struct.Struct(e_ + "Q")
        self._addr = {1: struct.Struct("B"), 2: self._u16, 4: self._u32, 8: self._u64}[self.address_size]
        self._off = self._u64 if osz == 8 else self._u32

    def __repr__(self) -> str:
        sec = ".debug_types" if self.in_types_section else ".debug_info"
        return f"<Unit {sec}+0x{self.offset:x} v{self.version} type 0x{self.unit_type:x}>"

    @property
    def language(self) -> int | None:
        """``DW_AT_language`` of the unit DIE (``DW_LANG_Rust`` = 0x1c, C99 = 0x0c, ...)."""
        if self._language is None:
            lang = self.top.get_int(DW.DW_AT_language) if self.die_count else None
            self._language = -1 if lang is None else lang
        return None if self._language < 0 else self._language

    @property
    def is_type_unit(self) -> bool:
        return self.unit_type in (DW.DW_UT_type, DW.DW_UT_split_type)

    # -- the tree -------------------------------------------------------------------------------------------
    def _parse(self) -> Sequence[int]:
        """Walk the DIEs once: offsets, abbreviations, subtree ends and parents (no attribute decoding)."""
        sec = self.section
        abbrevs = self.dwarf.abbreviations(self.abbrev_offset, self.shape)
        buf, base = sec.buf, sec.base
        pos = base + self.die_offset
        end = base + self.end
        offsets: list[int] = []
        kinds: list[Abbrev] = []
        ends: list[int] = []
        parents: list[int] = []
        stack: list[int] = []
        parent = -1
        add_offset, add_kind, add_end, add_parent = offsets.append, kinds.append, ends.append, parents.append
        get = abbrevs.get
        find = buf.find
        little = self.dwarf.little
        try:
            while pos < end:
                start = pos
                code = buf[pos]
                pos += 1
                if code >= 0x80:
                    code, pos = uleb(buf, start, end)
                    if pos < 0:
                        raise sec.error(start - base, "truncated abbreviation code")
                if code == 0:
                    if stack:
                        ends[parent] = len(offsets)
                        parent = stack.pop()
                    continue  # padding after the top-level DIE is allowed
                a = get(code)
                if a is None:
                    raise sec.error(start - base, f"abbreviation code {code} is not in the unit's table")
                n = len(offsets)
                add_offset(start - base)
                add_kind(a)
                add_end(n + 1)
                add_parent(parent)
                fixed = a.fixed_size
                if fixed is not None:
                    pos += fixed
                else:
                    after_code = pos
                    pos = _skip(a.steps, buf, pos, end, find, little)
                    if pos == -2:  # DW_FORM_indirect: sizes are only known value by value
                        for _name, form, const in a.specs:
                            _, after_code, _ = self._read(form, const, after_code, end)
                        pos = after_code
                    if pos < 0:
                        raise sec.error(start - base, "attribute value runs past the end of the unit")
                if pos > end:
                    raise sec.error(start - base, "DIE runs past the end of the unit")
                if a.has_children:
                    stack.append(parent)
                    parent = n
        except IndexError:
            raise sec.error(self.offset, "DIE tree runs past the end of the section") from None
        n = len(offsets)
        while stack:  # a unit may end without closing its open children lists
            ends[parent] = n
            parent = stack.pop()
        # Kept as packed arrays: 8 bytes a number instead of a list slot plus an int object (~4x less memory
        # for the million-DIE builds the converter reads; indexing costs the same).
        self._abbrevs = kinds
        self._ends, self._parents = array("q", ends), array("q", parents)
        packed = self._offsets = array("q", offsets)
        return packed

    @property
    def die_count(self) -> int:
        return len(self._offsets if self._offsets is not None else self._parse())

    def dies(self) -> Iterator[DIE]:
        """Every DIE in section order (pre-order)."""
        offsets = self._offsets if self._offsets is not None else self._parse()
        for i in range(len(offsets)):
            yield DIE(self, i)

    def dies_with_tag(self, tag: int) -> Iterator[DIE]:
        """The DIEs of one tag, in section order: a filtered walk that makes no handle for the others."""
        if self._offsets is None:
            self._parse()
        for i, a in enumerate(self._abbrevs):
            if a.tag == tag:
                yield DIE(self, i)

    @property
    def top(self) -> DIE:
        """The unit DIE (``DW_TAG_compile_unit``, ``DW_TAG_type_unit``, ...)."""
        offsets = self._offsets if self._offsets is not None else self._parse()
        if not offsets:
            raise self.section.error(self.offset, "unit has no DIE")
        return DIE(self, 0)

    def die_at(self, offset: int) -> DIE | None:
        """The DIE starting at section offset ``offset`` in this unit, or None."""
        offsets = self._offsets if self._offsets is not None else self._parse()
        i = bisect_left(offsets, offset)
        if i < len(offsets) and offsets[i] == offset:
            return DIE(self, i)
        return None

    def type_die(self) -> DIE | None:
        """For a type unit, the DIE its header's ``type_offset`` names."""
        if self.type_offset is None:
            return None
        return self.die_at(self.offset + self.type_offset)

    # -- unit-wide bases (DWARF 5 §3.1.1) -------------------------------------------------------------------
    @property
    def bases(self) -> tuple[int, int, int, int]:
        """``(str_offsets_base, addr_base, rnglists_base, loclists_base)``; header sizes when absent."""
        if self._bases is None:
            hdr = 16 if self.offset_size == 8 else 8
            list_hdr = 20 if self.offset_size == 8 else 12
            raw = {name: value for name, _form, value in self.raw_values(0)} if self.die_count else {}
            str_base = raw.get(DW.DW_AT_str_offsets_base, hdr if self.version >= 5 else 0)
            addr_base = raw.get(DW.DW_AT_addr_base, raw.get(DW.DW_AT_GNU_addr_base, hdr))
            rng_base = raw.get(DW.DW_AT_rnglists_base, list_hdr)
            loc_base = raw.get(DW.DW_AT_loclists_base, list_hdr)
            vals = (str_base, addr_base, rng_base, loc_base)
            if not all(isinstance(v, int) for v in vals):
                raise self.section.error(self.offset, "unit base attribute has a non-constant form")
            self._bases = (int(str_base), int(addr_base), int(rng_base), int(loc_base))
        return self._bases

    # -- attribute decoding ---------------------------------------------------------------------------------
    def raw_values(self, index: int) -> list[tuple[int, int, int | bytes | str]]:
        """``(attribute, form, stored value)`` of DIE ``index``; ``DW_FORM_indirect`` is resolved."""
        if self._offsets is None:
            self._parse()
        assert self._offsets is not None
        sec = self.section
        buf, base = sec.buf, sec.base
        end = base + self.end
        start = base + self._offsets[index]
        _, pos = uleb(buf, start, end)
        out: list[tuple[int, int, int | bytes | str]] = []
        for name, form, const in self._abbrevs[index].specs:
            value, pos, form = self._read(form, const, pos, end)
            out.append((name, form, value))
        return out

    def raw_value(self, index: int, attr: int) -> tuple[int, int | bytes | str] | None:
        """``(form, stored value)`` of one attribute of DIE ``index``, reading only up to it."""
        if self._offsets is None:
            self._parse()
        assert self._offsets is not None
        a = self._abbrevs[index]
        want = a.index.get(attr)
        if want is None:
            return None
        sec = self.section
        buf, base = sec.buf, sec.base
        end = base + self.end
        _, pos = uleb(buf, base + self._offsets[index], end)
        specs = a.specs
        for i in range(want):
            _, form, const = specs[i]
            size = fixed_form_size(form, self.shape)
            if size is not None:
                pos += size
            else:
                _, pos, _ = self._read(form, const, pos, end)
        _, form, const = specs[want]
        value, pos, form = self._read(form, const, pos, end)
        return form, value

    def _read(self, form: int, const: int, pos: int, end: int) -> tuple[int | bytes | str, int, int]:
        """Read one value of ``form`` at absolute ``pos``: ``(value, next position, final form)``."""
        sec = self.section
        buf, base = sec.buf, sec.base
        for _ in range(MAX_INDIRECT):
            if form == DW.DW_FORM_indirect:
                form, nxt = uleb(buf, pos, end)
                if nxt < 0:
                    raise sec.error(pos - base, "truncated DW_FORM_indirect")
                if not is_known_form(form) or form == DW.DW_FORM_implicit_const:
                    raise sec.error(pos - base, f"DW_FORM_indirect names unusable form 0x{form:x}")
                pos = nxt
                continue
            size = fixed_form_size(form, self.shape)
            if size is not None:
                if pos + size > end:
                    raise sec.error(pos - base, "attribute value runs past the end of the unit")
                if size == 0:
                    return (const if form == DW.DW_FORM_implicit_const else 1), pos, form
                if size == 1:
                    return buf[pos], pos + 1, form
                if size == 2:
                    return self._u16.unpack_from(buf, pos)[0], pos + 2, form
                if size == 4:
                    return self._u32.unpack_from(buf, pos)[0], pos + 4, form
                if size == 8:
                    return self._u64.unpack_from(buf, pos)[0], pos + 8, form
                if size == 3:
                    lo = self._u16.unpack_from(buf, pos)[0]
                    hi = buf[pos + 2]
                    v = lo | hi << 16 if self.dwarf.little else hi | buf[pos + 1] << 8 | buf[pos] << 16
                    return v, pos + 3, form
                return bytes(buf[pos : pos + size]), pos + size, form  # data16
            if form == DW.DW_FORM_sdata:
                value, nxt = sleb(buf, pos, end)
            elif form == DW.DW_FORM_string:
                stop = buf.find(b"\0", pos, end)
                if stop < 0:
                    raise sec.error(pos - base, "DW_FORM_string is not NUL-terminated inside its unit")
                return buf[pos:stop].decode("utf-8", "surrogateescape"), stop + 1, form
            elif form in (DW.DW_FORM_block1, DW.DW_FORM_block2, DW.DW_FORM_block4):
                width = {DW.DW_FORM_block1: 1, DW.DW_FORM_block2: 2, DW.DW_FORM_block4: 4}[form]
                if pos + width > end:
                    raise sec.error(pos - base, "block length runs past the end of the unit")
                n = (
                    buf[pos]
                    if width == 1
                    else (self._u16 if width == 2 else self._u32).unpack_from(buf, pos)[0]
                )
                return self._block(pos + width, n, end), pos + width + n, form
            elif form in (DW.DW_FORM_block, DW.DW_FORM_exprloc):
                n, nxt = uleb(buf, pos, end)
                if nxt < 0:
                    raise sec.error(pos - base, "truncated block length")
                return self._block(nxt, n, end), nxt + n, form
            else:  # the remaining variable forms are all ULEB128 numbers
                value, nxt = uleb(buf, pos, end)
            if nxt < 0:
                raise sec.error(pos - base, "truncated LEB128 attribute value")
            return value, nxt, form
        raise sec.error(pos - base, "DW_FORM_indirect chain is too long")

    def _block(self, pos: int, n: int, end: int) -> bytes:
        if pos + n > end:
            raise self.section.error(
                pos - self.section.base, f"block of {n} bytes runs past the end of the unit"
            )
        return bytes(self.section.buf[pos : pos + n])

    def values(self, index: int) -> dict[int, AttrValue]:
        """``{attribute: decoded value}`` of DIE ``index``, through the abbreviation's compiled plan.

        Strings resolved, unit references made section-absolute, flags as bool, ``addrx``/``strx`` looked
        up: the meaning of every value, as ``translate`` gives it, without a record object per attribute.
        """
        a = self._abbrevs[index]
        plan = a.decoder
        if plan is None:
            plan = a.decoder = compile_plan(a, self.shape, self.dwarf.endian)
        ctx = self._decode_ctx
        if ctx is None:
            ctx = self._decode_ctx = (
                self.section,
                self.section.buf,
                self.section.base,
                self.section.base + self.end,
                self.dwarf,
                self.dwarf._strings,
                self.offset,
                self.dwarf._strings.get,  # bound once here, not per DIE
                self.dwarf.string,
            )
        sec, buf, base, end, dwarf, strings, unit_offset, cached, string = ctx
        pos = base + self._offsets[index]  # type: ignore[index]
        pos += 1
        if buf[pos - 1] >= 0x80:
            _, pos = uleb(buf, pos - 1, end)
        single = plan.single
        if single is not None:  # one fixed run: nine DIEs in ten
            size, decode = single
            if pos + size > end:
                raise sec.error(pos - base, "attribute values run past the end of the unit")
            found: dict[int, AttrValue] = decode(buf, pos, unit_offset, cached, string)
            return found
        out: dict[int, AttrValue] = {}
        for st, size, names, refs, strps, rest, var in plan.segments:
            if st is not None:
                if pos + size > end:
                    raise sec.error(pos - base, "attribute values run past the end of the unit")
                vals = st.unpack_from(buf, pos)
                pos += size
                out.update(zip(names, vals, strict=True))
                for name, i in refs:
                    out[name] = unit_offset + vals[i]
                for name, i in strps:
                    off = vals[i]
                    text = strings.get(off)
                    out[name] = text if text is not None else dwarf.string(off)
                for name, form, kind, i in rest:
                    raw = vals[i]
                    if kind == K_FLAG:
                        out[name] = bool(raw)
                        continue
                    if isinstance(raw, bytes):  # the 3-byte forms
                        raw = int.from_bytes(raw, "little" if dwarf.little else "big")
                    out[name] = raw if kind == K_U24 else self.translate(form, raw)
                continue
            assert var is not None
            name, form, kind, _ = var
            if kind in (K_UDATA, K_SDATA):
                if pos >= end:
                    raise sec.error(pos - base, "attribute value runs past the end of the unit")
                byte = buf[pos]
                if byte < 0x80:  # one-byte LEB128, by far the most common
                    pos += 1
                    out[name] = byte - 0x80 if kind == K_SDATA and byte & 0x40 else byte
                else:
                    num, nxt = (uleb if kind == K_UDATA else sleb)(buf, pos, end)
                    if nxt < 0:
                        raise sec.error(pos - base, "truncated LEB128 attribute value")
                    pos = nxt
                    out[name] = num
            elif kind == K_STRING:
                stop = buf.find(b"\0", pos, end)
                if stop < 0:
                    raise sec.error(pos - base, "DW_FORM_string is not NUL-terminated inside its unit")
                out[name] = buf[pos:stop].decode("utf-8", "surrogateescape")
                pos = stop + 1
            elif kind == K_EXPRLOC:
                length, nxt = uleb(buf, pos, end)
                if nxt < 0:
                    raise sec.error(pos - base, "truncated block length")
                if nxt + length > end:
                    raise sec.error(nxt - base, f"block of {length} bytes runs past the end of the unit")
                pos = nxt + length
                out[name] = bytes(buf[nxt:pos])
            else:
                raw, pos, form = self._read(form, 0, pos, end)  # implicit_const is never variable
                out[name] = self.translate(form, raw)
        if plan.consts:
            out.update(plan.consts)
        if plan.duplicates:
            out.pop(DUPLICATE, None)
        return out

    def translate(self, form: int, raw: int | bytes | str) -> AttrValue:
        """The meaning of a stored value: strings looked up, references made absolute, flags as bool."""
        if isinstance(raw, (bytes, str)):
            return raw
        if form in _UNIT_REFS:
            return self.offset + raw
        if form in _STRING_INDEX:
            return self.dwarf.indexed_string(self, raw)
        if form == DW.DW_FORM_strp:
            return self.dwarf.string(raw)
        if form == DW.DW_FORM_line_strp:
            return self.dwarf.line_string(raw)
        if form in ADDR_INDEX_FORMS:
            return self.dwarf.indexed_address(self, raw)
        if form in (DW.DW_FORM_flag, DW.DW_FORM_flag_present):
            return bool(raw)
        return raw


_UNIT_REFS = frozenset(
    {DW.DW_FORM_ref1, DW.DW_FORM_ref2, DW.DW_FORM_ref4, DW.DW_FORM_ref8, DW.DW_FORM_ref_udata}
)
_STRING_INDEX = frozenset(
    {
        DW.DW_FORM_strx,
        DW.DW_FORM_strx1,
        DW.DW_FORM_strx2,
        DW.DW_FORM_strx3,
        DW.DW_FORM_strx4,
        DW.DW_FORM_GNU_str_index,
    }
)
#: Forms whose value is an index into .debug_addr (DWARF 5 §7.5.5; GNU split-DWARF addr_index).
ADDR_INDEX_FORMS = frozenset(
    {
        DW.DW_FORM_addrx,
        DW.DW_FORM_addrx1,
        DW.DW_FORM_addrx2,
        DW.DW_FORM_addrx3,
        DW.DW_FORM_addrx4,
        DW.DW_FORM_GNU_addr_index,
    }
)
REFERENCE_FORMS = _UNIT_REFS | {DW.DW_FORM_ref_addr, DW.DW_FORM_ref_sig8}
#: Forms whose stored value ``DIE.attribute`` recovers from the decoded one (numbers, blocks, inline
#: strings, unit references, flags); the others (string and address offsets or indexes) are read again.
_STATIC_RAW = frozenset(
    {
        DW.DW_FORM_addr,
        DW.DW_FORM_data1,
        DW.DW_FORM_data2,
        DW.DW_FORM_data4,
        DW.DW_FORM_data8,
        DW.DW_FORM_data16,
        DW.DW_FORM_udata,
        DW.DW_FORM_sdata,
        DW.DW_FORM_implicit_const,
        DW.DW_FORM_sec_offset,
        DW.DW_FORM_loclistx,
        DW.DW_FORM_rnglistx,
        DW.DW_FORM_ref_addr,
        DW.DW_FORM_ref_sig8,
        DW.DW_FORM_ref_sup4,
        DW.DW_FORM_ref_sup8,
        DW.DW_FORM_GNU_ref_alt,
        DW.DW_FORM_exprloc,
        DW.DW_FORM_block,
        DW.DW_FORM_block1,
        DW.DW_FORM_block2,
        DW.DW_FORM_block4,
        DW.DW_FORM_string,
        DW.DW_FORM_flag,
        DW.DW_FORM_flag_present,
    }
    | _UNIT_REFS
)
#: Bits of the DW_FORM_dataN constants, whose sign DWARF leaves to the consumer (DWARF 5 §7.5.6).
_DATA_BITS = {DW.DW_FORM_data1: 8, DW.DW_FORM_data2: 16, DW.DW_FORM_data4: 32, DW.DW_FORM_data8: 64}


def _skip(
    steps: tuple[tuple[int, int], ...], buf: object, pos: int, end: int, find: object, little: bool
) -> int:
    """Position after the attributes of a DIE whose abbreviation has variable-size forms; -1 on bad data."""
    b = buf  # mmap | bytes: indexing gives int
    for kind, n in steps:
        if kind == SKIP_FIXED:
            pos += n
        elif kind == SKIP_ULEB:
            count = 0
            while b[pos] & 0x80:  # type: ignore[index]
                pos += 1
                count += 1
                if count > 20:
                    return -1
            pos += 1
        elif kind == SKIP_CSTRING:
            stop = find(b"\0", pos, end)  # type: ignore[operator]
            if stop < 0:
                return -1
            pos = stop + 1
        elif kind == SKIP_BLOCK1:
            pos += 1 + b[pos]  # type: ignore[index]
        elif kind == SKIP_BLOCK_ULEB:
            length, pos = uleb(b, pos, end)  # type: ignore[arg-type]
            if pos < 0:
                return -1
            pos += length
        elif kind in (SKIP_BLOCK2, SKIP_BLOCK4):
            width = 2 if kind == SKIP_BLOCK2 else 4
            if pos + width > end:
                return -1
            length = int.from_bytes(b[pos : pos + width], "little" if little else "big")  # type: ignore[index]
            pos += width + length
        elif kind == SKIP_INDIRECT:
            return -2
        if pos > end:
            return -1
    return pos


class DIE:
    """A handle on one DIE: its unit and index; attribute values are decoded when first read.

    ``values`` is the fast view (``{attribute: decoded value}``, one compiled decode per DIE);
    ``attribute()`` and ``attributes`` add each value's form and stored number, built on demand.
    """

    __slots__ = ("_values", "index", "unit")

    def __init__(self, unit: Unit, index: int) -> None:
        self.unit = unit
        self.index = index
        self._values: dict[int, AttrValue] | None = None

    def __repr__(self) -> str:
        return f"<DIE 0x{self.offset:x} {DW.tag_name(self.tag)} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DIE) and other.unit is self.unit and other.index == self.index

    def __hash__(self) -> int:
        return hash((id(self.unit), self.index))

    @property
    def offset(self) -> int:
        """Offset of the DIE in its section (``.debug_info``, or ``.debug_types`` for v4 type units)."""
        return self.unit._offsets[self.index]  # type: ignore[index]

    @property
    def tag(self) -> int:
        return self.unit._abbrevs[self.index].tag

    @property
    def has_children(self) -> bool:
        return self.unit._abbrevs[self.index].has_children

    @property
    def values(self) -> dict[int, AttrValue]:
        """Every attribute's decoded value (first occurrence wins if a producer repeats one); cached."""
        vals = self._values
        if vals is None:
            vals = self._values = self.unit.values(self.index)
        return vals

    @property
    def attributes(self) -> dict[int, Attribute]:
        """Every attribute as a record with its form and stored value (first occurrence wins).

        Decoded value by value through the generic reader, a second decoder independent of ``values``
        (the tests hold both to pyelftools); for the values alone, ``values`` is several times cheaper.
        """
        unit = self.unit
        out: dict[int, Attribute] = {}
        for name, form, raw in unit.raw_values(self.index):
            if name not in out:
                out[name] = Attribute(name, form, unit.translate(form, raw), raw)
        return out

    def has(self, attr: int) -> bool:
        return attr in self.unit._abbrevs[self.index].index

    def _value(self, attr: int) -> AttrValue | None:
        """The decoded value of ``attr`` (None if absent), decoding the whole DIE on the first query."""
        vals = self._values
        if vals is None:
            if attr not in self.unit._abbrevs[self.index].index:
                return None
            try:
                vals = self._values = self.unit.values(self.index)
            except FormatError:
                # Another attribute cannot be decoded (e.g. an addrx of a .dwo opened without its
                # skeleton): decode just this one, so only a question about the bad value fails.
                got = self.unit.raw_value(self.index, attr)
                return None if got is None else self.unit.translate(got[0], got[1])
        return vals.get(attr)

    def attribute(self, attr: int) -> Attribute | None:
        """One attribute with its form and stored value, or None."""
        unit = self.unit
        a = unit._abbrevs[self.index]
        at = a.index.get(attr)
        if at is None:
            return None
        form = a.specs[at][1]
        if form in _STATIC_RAW:  # the stored value follows from the decoded one: no second read
            value = self._value(attr)
            assert value is not None
            raw: int | bytes | str
            if form in _UNIT_REFS:
                raw = int(value) - unit.offset
            elif form in (DW.DW_FORM_flag, DW.DW_FORM_flag_present):
                raw = int(value)
            else:
                raw = value
            return Attribute(attr, form, value, raw)
        got = unit.raw_value(self.index, attr)  # string/address indexes and offsets, DW_FORM_indirect
        if got is None:
            return None
        form, stored = got
        return Attribute(attr, form, unit.translate(form, stored), stored)

    def get(self, attr: int, default: AttrValue | None = None) -> AttrValue | None:
        """The decoded value of ``attr``, or ``default``."""
        vals = self._values  # fast path once decoded: one dict lookup (the converter asks ~4 per DIE)
        v = vals.get(attr) if vals is not None else self._value(attr)
        return default if v is None else v

    def get_int(self, attr: int) -> int | None:
        """An integer-valued attribute (constant, offset, address); None if absent or not a number."""
        vals = self._values
        v = vals.get(attr) if vals is not None else self._value(attr)
        return v if type(v) is int else None

    def get_str(self, attr: int) -> str | None:
        v = self.get(attr)
        return v if isinstance(v, str) else None

    def flag(self, attr: int) -> bool:
        return bool(self.get(attr, False))

    @property
    def name(self) -> str | None:
        return self.get_str(DW.DW_AT_name) if self.has(DW.DW_AT_name) else None

    def signed(self, attr: int) -> int | None:
        """A constant read as signed: ``DW_FORM_dataN`` values are sign-extended from their width."""
        form = self.form_of(attr)
        if form is None:
            return None
        v = self._value(attr)
        if type(v) is not int:
            return None
        width = _DATA_BITS.get(form)
        if width and v >= 1 << (width - 1):
            v -= 1 << width
        return v

    def form_of(self, attr: int) -> int | None:
        """The form ``attr`` is stored in (``DW_FORM_indirect`` resolved), or None when absent."""
        a = self.unit._abbrevs[self.index]
        at = a.index.get(attr)
        if at is None:
            return None
        form = a.specs[at][1]
        if form == DW.DW_FORM_indirect:
            rec = self.attribute(attr)
            return None if rec is None else rec.form
        return form

    def ref(self, attr: int) -> DIE | None:
        """The DIE a reference attribute points to (any unit, type units by signature)."""
        form = self.form_of(attr)
        if form is None or form not in REFERENCE_FORMS:
            return None
        v = self._value(attr)
        if type(v) is not int:
            return None
        dwarf = self.unit.dwarf
        if form == DW.DW_FORM_ref_sig8:
            return dwarf.type_unit_die(v)
        if form == DW.DW_FORM_ref_addr:
            return dwarf.die_at(v)
        return dwarf.die_at(v, types=self.unit.in_types_section)

    # -- tree navigation ------------------------------------------------------------------------------------
    @property
    def parent(self) -> DIE | None:
        p = self.unit._parents[self.index]
        return None if p < 0 else DIE(self.unit, p)

    def children(self) -> Iterator[DIE]:
        unit = self.unit
        ends = unit._ends
        j = self.index + 1
        stop = ends[self.index]
        while j < stop:
            yield DIE(unit, j)
            j = ends[j]

    def descendants(self) -> Iterator[DIE]:
        """Every DIE below this one, pre-order."""
        unit = self.unit
        for j in range(self.index + 1, unit._ends[self.index]):
            yield DIE(unit, j)
