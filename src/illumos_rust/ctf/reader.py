"""CTF v2 reader: a raw container (``.SUNW_ctf`` section contents or a ``.ctf`` blob) into a ``Container``.

Layout and validation follow illumos ``sys/ctf.h`` and the checks of ``common/ctf/ctf_open.c``
(``ctf_bufopen``/``init_types``): the header is never compressed, offsets are relative to its end and ordered
``lbloff <= objtoff <= funcoff <= typeoff <= stroff``, with 4/2/2/4 alignment; a compressed body is one zlib
stream of exactly ``stroff + strlen`` bytes. Anything else is a ``FormatError`` naming the offset — a hostile
container must never surface as ``struct.error`` or ``IndexError``.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable

from ..errors import FormatError
from .constants import (
    CTF_CHILD_BIT,
    CTF_F_COMPRESS,
    CTF_HEADER_SIZE,
    CTF_K_ARRAY,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_MAX,
    CTF_K_STRUCT,
    CTF_K_UNION,
    CTF_K_UNKNOWN,
    CTF_LSIZE_SENT,
    CTF_LSTRUCT_THRESH,
    CTF_MAGIC,
    CTF_MAX_PTYPE,
    CTF_VERSION_2,
    GNU_CTF_MAGIC,
    REFERENCE_KINDS,
)
from .model import (
    ArrayInfo,
    Container,
    CtfType,
    Encoding,
    Enumerator,
    FunctionInfo,
    Header,
    Label,
    Member,
    trim_functions,
    trim_objects,
)

_MAX_CHAIN = 1 << 16  # longer reference chains than there are ids mean a cycle


class _Structs:
    """Precompiled ``struct.Struct``s for one byte order (CTF is in its ELF file's byte order)."""

    def __init__(self, order: str) -> None:
        self.header = struct.Struct(order + "HBB8I")
        self.u16 = struct.Struct(order + "H")
        self.u32 = struct.Struct(order + "I")
        self.stype = struct.Struct(order + "IHH")  # ctf_stype_t: name, info, size/type
        self.lsize = struct.Struct(order + "II")  # ctt_lsizehi, ctt_lsizelo
        self.array = struct.Struct(order + "HHI")  # ctf_array_t
        self.member = struct.Struct(order + "IHH")  # ctf_member_t: name, type, bit offset
        self.lmember = struct.Struct(order + "IHHII")  # ctf_lmember_t: name, type, pad, off hi, off lo
        self.enum = struct.Struct(order + "Ii")  # ctf_enum_t: name, int32 value
        self.label = struct.Struct(order + "II")  # ctf_lblent_t: name, typeidx


_LITTLE, _BIG = _Structs("<"), _Structs(">")


def byte_order_of(data: bytes | memoryview, path: str) -> str:
    """``'<'`` or ``'>'`` from the magic, or a FormatError saying what the bytes are instead."""
    if len(data) < 4:
        raise FormatError(path, 0, f"CTF header truncated: {len(data)} bytes, need {CTF_HEADER_SIZE}")
    for order, structs in (("<", _LITTLE), (">", _BIG)):
        magic = structs.u16.unpack_from(data, 0)[0]
        if magic == CTF_MAGIC:
            return order
        if magic == GNU_CTF_MAGIC:
            raise FormatError(
                path, 0, f"GNU CTF (magic 0x{GNU_CTF_MAGIC:04x}, version {data[2]}), not illumos CTF v2"
            )
    raise FormatError(path, 0, f"not a CTF container (magic bytes {bytes(data[:2]).hex()}, want f1cf)")


def read_header(data: bytes | memoryview, path: str = "<ctf>") -> tuple[Header, _Structs]:
    order = byte_order_of(data, path)
    s = _LITTLE if order == "<" else _BIG
    if len(data) < CTF_HEADER_SIZE:
        raise FormatError(path, 0, f"CTF header truncated: {len(data)} bytes, need {CTF_HEADER_SIZE}")
    h = Header(*s.header.unpack_from(data, 0))
    if h.version != CTF_VERSION_2:
        what = "FreeBSD CTF v3 (32-bit ids)" if h.version == 3 else f"CTF version {h.version}"
        raise FormatError(path, 2, f"{what} is not supported: illumos reads only version 2")
    if h.flags & ~CTF_F_COMPRESS:
        raise FormatError(path, 3, f"unknown CTF header flags 0x{h.flags:02x}")
    offsets = (h.lbloff, h.objtoff, h.funcoff, h.typeoff, h.stroff)
    if any(a > b for a, b in itertools.pairwise(offsets)):
        raise FormatError(path, 12, f"CTF section offsets out of order {offsets}")
    for value, align, name in ((h.lbloff, 4, "lbloff"), (h.objtoff, 2, "objtoff"), (h.funcoff, 2, "funcoff")):
        if value % align:
            raise FormatError(path, 12, f"cth_{name} {value} is not {align}-byte aligned")
    if h.typeoff % 4:
        raise FormatError(path, 24, f"cth_typeoff {h.typeoff} is not 4-byte aligned")
    return h, s


def _body(data: bytes | memoryview, h: Header, path: str) -> bytes | memoryview:
    size = h.stroff + h.strlen
    raw = memoryview(data)[CTF_HEADER_SIZE:]
    if not h.flags & CTF_F_COMPRESS:
        if len(raw) < size:
            raise FormatError(path, len(data), f"CTF body truncated: {len(raw)} bytes, header says {size}")
        return raw[:size]
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(raw, size + 1)  # bounded: a zlib bomb stops one byte past the promise
    except zlib.error as exc:
        raise FormatError(path, CTF_HEADER_SIZE, f"CTF body is not a valid zlib stream ({exc})") from None
    if len(body) != size:
        raise FormatError(
            path, CTF_HEADER_SIZE, f"compressed CTF body inflates to {len(body)}+ bytes, header says {size}"
        )
    if not inflater.eof:
        raise FormatError(path, CTF_HEADER_SIZE, "compressed CTF body: zlib stream truncated")
    return body


class _Strings:
    """Resolves ``ctf_name_t`` references: bit 31 selects the ELF string table, the rest is an offset."""

    def __init__(
        self, table: bytes | memoryview, external: bytes | memoryview | None, path: str, at: int
    ) -> None:
        self.table, self.external, self.path, self.at = table, external, path, at
        self.cache: dict[int, str] = {0: ""}

    def __call__(self, ref: int) -> str:
        found = self.cache.get(ref)
        if found is not None:
            return found
        table = self.table if not ref >> 31 else self.external
        offset = ref & 0x7FFFFFFF
        if table is None:
            raise FormatError(self.path, None, f"name 0x{ref:x} is in the ELF string table, which is absent")
        if offset >= len(table):
            raise FormatError(self.path, self.at, f"name offset 0x{offset:x} is past the string table")
        end = bytes(table[offset : offset + 4096]).find(b"\0") if len(table) - offset <= 4096 else -1
        if end < 0:
            blob = bytes(table[offset:])
            end = blob.find(b"\0")
            if end < 0:
                raise FormatError(self.path, self.at, f"name at 0x{offset:x} is not NUL-terminated")
            text = blob[:end].decode("utf-8", "replace")
        else:
            text = bytes(table[offset : offset + end]).decode("utf-8", "replace")
        self.cache[ref] = text
        return text


def read_container(
    data: bytes | memoryview, path: str = "<ctf>", *, elf_strtab: bytes | memoryview | None = None
) -> Container:
    """Decode one CTF v2 container. ``elf_strtab`` resolves names in string table 1 (ELF ``.strtab``)."""
    h, s = read_header(data, path)
    body = _body(data, h, path)
    strings = _Strings(body[h.stroff : h.stroff + h.strlen], elf_strtab, path, CTF_HEADER_SIZE + h.stroff)
    if h.strlen and body[h.stroff] != 0:
        raise FormatError(path, CTF_HEADER_SIZE + h.stroff, "CTF string table does not start with NUL")
    base = CTF_HEADER_SIZE  # for error offsets: positions are reported in the (inflated) container

    if (h.objtoff - h.lbloff) % 8:
        raise FormatError(path, base + h.lbloff, "label section is not a whole number of 8-byte labels")
    labels = tuple(Label(strings(n), idx) for n, idx in s.label.iter_unpack(body[h.lbloff : h.objtoff]))
    if (h.funcoff - h.objtoff) % 2:
        raise FormatError(path, base + h.objtoff, "data-object section has an odd length")
    objects = tuple(t for (t,) in s.u16.iter_unpack(body[h.objtoff : h.funcoff]))
    functions = _functions(body, h, s, path)
    types, child = _types(body, h, s, strings, path)
    out = Container(
        types=types,
        labels=labels,
        objects=trim_objects(objects),
        functions=trim_functions(functions),
        parent_label=strings(h.parlabel),
        parent_name=strings(h.parname),
        child=child,
        header=h,
        strings=bytes(body[h.stroff : h.stroff + h.strlen]),
        compressed=bool(h.flags & CTF_F_COMPRESS),
    )
    _check_references(out, path)
    return out


def _functions(
    body: bytes | memoryview, h: Header, s: _Structs, path: str
) -> tuple[FunctionInfo | None, ...]:
    """The function section: per ``STT_FUNC`` symbol either one zero u16 (no data) or info, return, args."""
    out: list[FunctionInfo | None] = []
    pos, end = h.funcoff, h.typeoff
    u16 = s.u16.unpack_from
    while pos + 2 <= end:
        info = u16(body, pos)[0]
        kind, vlen = info >> 11, info & 0x3FF
        if kind == CTF_K_UNKNOWN and vlen == 0:
            out.append(None)
            pos += 2
            continue
        if kind != CTF_K_FUNCTION:
            raise FormatError(path, CTF_HEADER_SIZE + pos, f"function section entry has kind {kind}, not 5")
        if pos + 4 + 2 * vlen > end:
            raise FormatError(
                path, CTF_HEADER_SIZE + pos, f"function entry with {vlen} args overruns the section"
            )
        ret = u16(body, pos + 2)[0]
        args = struct.unpack_from(s.u16.format[0] + f"{vlen}H", body, pos + 4)
        varargs = bool(args) and args[-1] == 0
        out.append(FunctionInfo(ret, tuple(args[:-1] if varargs else args), varargs))
        pos += 4 + 2 * vlen
    if pos != end:
        raise FormatError(path, CTF_HEADER_SIZE + pos, "function section ends inside an entry")
    return tuple(out)


def _types(
    body: bytes | memoryview, h: Header, s: _Structs, strings: Callable[[int], str], path: str
) -> tuple[tuple[CtfType, ...], bool]:
    out: list[CtfType] = []
    pos, end = h.typeoff, h.stroff
    child = False
    stype, lsize, u32 = s.stype.unpack_from, s.lsize.unpack_from, s.u32.unpack_from
    member, lmember, enum, array = s.member, s.lmember, s.enum, s.array
    order = s.u16.format[0]
    while pos < end:
        at = CTF_HEADER_SIZE + pos
        if pos + 8 > end:
            raise FormatError(path, at, "type record truncated")
        name_ref, info, size_or_type = stype(body, pos)
        kind, root, vlen = info >> 11, bool(info & 0x400), info & 0x3FF
        if kind > CTF_K_MAX:
            raise FormatError(path, at, f"type {len(out) + 1} has undefined kind {kind}")
        pos += 8
        size = size_or_type
        if size_or_type == CTF_LSIZE_SENT:
            # sys/ctf.h: ctt_size == CTF_LSIZE_SENT means ctf_type_t with a 64-bit size follows.
            if kind in REFERENCE_KINDS or kind in (CTF_K_FUNCTION, CTF_K_FORWARD):
                raise FormatError(
                    path, at, f"type {len(out) + 1}: reference to type 0xffff (the LSIZE sentinel)"
                )
            if pos + 8 > end:
                raise FormatError(path, at, "long type record truncated")
            hi, lo = lsize(body, pos)
            size = hi << 32 | lo
            pos += 8
        name = strings(name_ref)
        t: CtfType
        if kind in (CTF_K_INTEGER, CTF_K_FLOAT):
            if vlen or pos + 4 > end:
                raise FormatError(path, at, f"type {len(out) + 1}: bad integer/float record")
            word = u32(body, pos)[0]
            pos += 4
            t = CtfType(
                kind, name, root, size, encoding=Encoding(word >> 24, (word >> 16) & 0xFF, word & 0xFFFF)
            )
        elif kind in REFERENCE_KINDS or kind == CTF_K_FORWARD:
            t = CtfType(kind, name, root, ref=size_or_type)
            child |= kind != CTF_K_FORWARD and size_or_type > CTF_MAX_PTYPE
        elif kind == CTF_K_ARRAY:
            if pos + 8 > end:
                raise FormatError(path, at, f"type {len(out) + 1}: array record truncated")
            contents, index, nelems = array.unpack_from(body, pos)
            pos += 8
            child |= contents > CTF_MAX_PTYPE or index > CTF_MAX_PTYPE
            t = CtfType(kind, name, root, array=ArrayInfo(contents, index, nelems))
        elif kind == CTF_K_FUNCTION:
            nbytes = 2 * (vlen + (vlen & 1))  # padded to an even count so the next record is 4-byte aligned
            if pos + nbytes > end:
                raise FormatError(path, at, f"type {len(out) + 1}: function with {vlen} args overruns types")
            args = struct.unpack_from(f"{order}{vlen}H", body, pos)
            pos += nbytes
            varargs = bool(args) and args[-1] == 0
            if varargs:
                args = args[:-1]
            child |= size_or_type > CTF_MAX_PTYPE or any(a > CTF_MAX_PTYPE for a in args)
            t = CtfType(kind, name, root, ref=size_or_type, args=tuple(args), varargs=varargs)
        elif kind in (CTF_K_STRUCT, CTF_K_UNION):
            rec = member if size < CTF_LSTRUCT_THRESH else lmember
            nbytes = rec.size * vlen
            if pos + nbytes > end:
                raise FormatError(path, at, f"type {len(out) + 1}: {vlen} members overrun the type section")
            if rec is member:
                members = tuple(
                    Member(strings(n), ty, off) for n, ty, off in member.iter_unpack(body[pos : pos + nbytes])
                )
            else:
                members = tuple(
                    Member(strings(n), ty, hi << 32 | lo)
                    for n, ty, _pad, hi, lo in lmember.iter_unpack(body[pos : pos + nbytes])
                )
            pos += nbytes
            child |= any(m.type > CTF_MAX_PTYPE for m in members)
            t = CtfType(kind, name, root, size, members=members)
        elif kind == CTF_K_ENUM:
            nbytes = 8 * vlen
            if pos + nbytes > end:
                raise FormatError(
                    path, at, f"type {len(out) + 1}: {vlen} enumerators overrun the type section"
                )
            values = tuple(Enumerator(strings(n), v) for n, v in enum.iter_unpack(body[pos : pos + nbytes]))
            pos += nbytes
            t = CtfType(kind, name, root, size, enumerators=values)
        else:  # CTF_K_UNKNOWN: a hole that still consumes an id
            t = CtfType(kind, name, root, size)
        out.append(t)
    if len(out) > CTF_MAX_PTYPE:
        raise FormatError(path, CTF_HEADER_SIZE + h.typeoff, f"{len(out)} types: CTF v2 holds at most 32767")
    return tuple(out), child and not h.parname  # a named parent already makes it a child


def _check_references(c: Container, path: str) -> None:
    """Every reference into this container names an existing type, and no declaration chain (pointer,
    typedef, qualifier, array element, function return) loops: libctf would recurse forever on one."""
    n = len(c.types)
    own = CTF_CHILD_BIT if c.is_child else 0

    def valid(ref: int, zero_ok: bool = True) -> bool:
        if ref == 0:
            return zero_ok
        if c.is_child and not ref & CTF_CHILD_BIT:
            return True  # in the parent, which is not here to check
        return own <= ref and (ref & ~CTF_CHILD_BIT) <= n

    for index, t in enumerate(c.types):
        refs: list[int] = []
        if t.kind in REFERENCE_KINDS or t.kind == CTF_K_FUNCTION:
            refs.append(t.ref)
        if t.array is not None:
            refs += (t.array.contents, t.array.index)
        refs += (m.type for m in t.members)
        refs += t.args
        for ref in refs:
            if not valid(ref):
                raise FormatError(path, None, f"type {c.type_id(index)} refers to missing type {ref}")
        if t.kind == CTF_K_FORWARD and t.ref not in (0, CTF_K_STRUCT, CTF_K_UNION, CTF_K_ENUM):
            raise FormatError(path, None, f"forward {c.type_id(index)} names kind {t.ref}, not a tag kind")
    for ref in c.objects:
        if not valid(ref):
            raise FormatError(path, None, f"data object refers to missing type {ref}")
    for f in c.functions:
        if f is not None and not all(valid(r) for r in (f.return_type, *f.args)):
            raise FormatError(path, None, "function entry refers to a missing type")
    _check_chains(c, path)


def _next_in_chain(t: CtfType) -> int:
    if t.kind in REFERENCE_KINDS or t.kind == CTF_K_FUNCTION:
        return t.ref
    if t.kind == CTF_K_ARRAY and t.array is not None:
        return t.array.contents
    return 0


def _check_chains(c: Container, path: str) -> None:
    state: dict[int, int] = {}  # 1 = on the current chain, 2 = known to end
    for start in c.ids():
        chain: list[int] = []
        tid = start
        while tid and state.get(tid) != 2:
            if state.get(tid) == 1:
                raise FormatError(
                    path, None, f"type {tid} refers to itself through pointers/typedefs/qualifiers"
                )
            t = c.lookup(tid)
            if t is None:
                break
            state[tid] = 1
            chain.append(tid)
            tid = _next_in_chain(t)
        for done in chain:
            state[done] = 2
