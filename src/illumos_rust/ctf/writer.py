"""CTF v2 writer: a ``Container`` into the bytes of a ``.SUNW_ctf`` section.

Record layouts are those of illumos ``sys/ctf.h`` (``ctf_stype_t``/``ctf_type_t``, ``ctf_member_t``/
``ctf_lmember_t``, ``ctf_array_t``, ``ctf_enum_t``, ``ctf_lblent_t``). The v2 limits are enforced here,
before a byte is written, because a container that breaks them is silently misread by libctf (a 32,768th
type becomes a child reference, a 1,024th member wraps the 10-bit vlen): ``CtfLimitError`` says which
type broke which limit. Strings are deduplicated into table 0; the body is one zlib stream when
compressing, as ``ctfconvert`` writes.
"""

from __future__ import annotations

import struct
import zlib

from .constants import (
    CTF_CHILD_BIT,
    CTF_F_COMPRESS,
    CTF_K_ARRAY,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_MAX,
    CTF_K_STRUCT,
    CTF_K_UNION,
    CTF_LSIZE_SENT,
    CTF_LSTRUCT_THRESH,
    CTF_MAGIC,
    CTF_MAX_INTBITS,
    CTF_MAX_INTOFF,
    CTF_MAX_PTYPE,
    CTF_MAX_SIZE,
    CTF_MAX_VLEN,
    CTF_VERSION_2,
    INT32_MAX,
    INT32_MIN,
    REFERENCE_KINDS,
)
from .model import Container, CtfLimitError, CtfType, FunctionInfo, trim_functions, trim_objects

_U64 = (1 << 64) - 1


class _StringTable:
    def __init__(self) -> None:
        self.offsets: dict[str, int] = {"": 0}
        self.parts: list[bytes] = [b"\0"]
        self.size = 1

    def add(self, name: str) -> int:
        found = self.offsets.get(name)
        if found is not None:
            return found
        raw = name.encode("utf-8")
        if b"\0" in raw:
            raise CtfLimitError(f"name {name!r} contains a NUL byte")
        offset = self.size
        if offset + len(raw) + 1 > 0x7FFFFFFF:
            raise CtfLimitError("string table exceeds 2 GiB")
        self.offsets[name] = offset
        self.parts.append(raw + b"\0")
        self.size += len(raw) + 1
        return offset


def _check_id(value: int, what: str, max_id: int) -> int:
    if not 0 <= value <= max_id or value == CTF_LSIZE_SENT:
        raise CtfLimitError(f"{what}: type id {value} out of range")
    return value


def write_container(c: Container, *, compress: bool = True, byte_order: str = "<") -> bytes:
    """Serialise ``c``. Trailing empty object/function entries are dropped (they carry no information)."""
    if byte_order not in ("<", ">"):
        raise ValueError("byte_order must be '<' or '>'")
    o = byte_order
    child = c.is_child
    if len(c.types) > CTF_MAX_PTYPE - (1 if child else 0):
        raise CtfLimitError(f"{len(c.types)} types: a CTF v2 container holds at most {CTF_MAX_PTYPE}")
    max_id = 0xFFFE if child else CTF_MAX_PTYPE
    strings = _StringTable()
    u16, u32 = struct.Struct(o + "H"), struct.Struct(o + "I")
    stype, ltype = struct.Struct(o + "IHH"), struct.Struct(o + "IHHII")
    member, lmember = struct.Struct(o + "IHH"), struct.Struct(o + "IHHII")
    enum, array, label = struct.Struct(o + "Ii"), struct.Struct(o + "HHI"), struct.Struct(o + "II")

    labels = b"".join(label.pack(strings.add(lb.name), lb.typeidx & 0xFFFFFFFF) for lb in c.labels)
    objects = trim_objects(c.objects)
    objt = b"".join(u16.pack(_check_id(t, "data object", max_id)) for t in objects)
    func_parts: list[bytes] = []
    for f in trim_functions(c.functions):
        func_parts.append(u16.pack(0) if f is None else _function_entry(f, o, max_id))
    funcs = b"".join(func_parts)

    types: list[bytes] = []
    for index, t in enumerate(c.types):
        tid = (index + 1) | (CTF_CHILD_BIT if child else 0)
        types.append(
            _type_record(t, tid, strings, max_id, o, stype, ltype, member, lmember, enum, array, u32)
        )

    lbloff = 0
    objtoff = lbloff + len(labels)
    funcoff = objtoff + len(objt)
    pad = (-(funcoff + len(funcs))) % 4
    typeoff = funcoff + len(funcs) + pad  # the pad is one u16 0, read back as a "no information" entry
    type_bytes = b"".join(types)
    stroff = typeoff + len(type_bytes)
    parlabel, parname = strings.add(c.parent_label), strings.add(c.parent_name)
    strtab = b"".join(strings.parts)
    body = b"".join((labels, objt, funcs, b"\0" * pad, type_bytes, strtab))
    flags = CTF_F_COMPRESS if compress else 0
    header = struct.pack(
        o + "HBB8I",
        CTF_MAGIC,
        CTF_VERSION_2,
        flags,
        parlabel,
        parname,
        lbloff,
        objtoff,
        funcoff,
        typeoff,
        stroff,
        len(strtab),
    )
    return header + (zlib.compress(body, 9) if compress else body)


def _function_entry(f: FunctionInfo, o: str, max_id: int) -> bytes:
    args = (*f.args, 0) if f.varargs else f.args
    if len(args) > CTF_MAX_VLEN:
        raise CtfLimitError(f"function with {len(args)} arguments: CTF v2 allows {CTF_MAX_VLEN}")
    for a in (f.return_type, *args):
        _check_id(a, "function entry", max_id)
    info = CTF_K_FUNCTION << 11 | len(args)
    return struct.pack(f"{o}HH{len(args)}H", info, f.return_type, *args)


def _type_record(
    t: CtfType,
    tid: int,
    strings: _StringTable,
    max_id: int,
    o: str,
    stype: struct.Struct,
    ltype: struct.Struct,
    member: struct.Struct,
    lmember: struct.Struct,
    enum: struct.Struct,
    array: struct.Struct,
    u32: struct.Struct,
) -> bytes:
    kind = t.kind
    what = f"type {tid} ({t.name or 'anonymous'})"
    if not 0 <= kind <= CTF_K_MAX:
        raise CtfLimitError(f"{what}: kind {kind} is not a CTF v2 kind")
    name = strings.add(t.name)
    vlen = 0
    extra = b""
    if kind in (CTF_K_STRUCT, CTF_K_UNION):
        vlen = len(t.members)
        long_members = t.size >= CTF_LSTRUCT_THRESH
        parts = []
        for m in t.members:
            _check_id(m.type, f"{what} member {m.name}", max_id)
            if not 0 <= m.offset <= _U64:
                raise CtfLimitError(f"{what}: member {m.name} offset {m.offset} out of range")
            if long_members:
                parts.append(
                    lmember.pack(strings.add(m.name), m.type, 0, m.offset >> 32, m.offset & 0xFFFFFFFF)
                )
            else:
                if m.offset > 0xFFFF:
                    raise CtfLimitError(f"{what}: member {m.name} bit offset {m.offset} needs a long member")
                parts.append(member.pack(strings.add(m.name), m.type, m.offset))
        extra = b"".join(parts)
    elif kind == CTF_K_ENUM:
        vlen = len(t.enumerators)
        parts = []
        for e in t.enumerators:
            if not INT32_MIN <= e.value <= INT32_MAX:
                raise CtfLimitError(f"{what}: enumerator {e.name} = {e.value} does not fit int32")
            parts.append(enum.pack(strings.add(e.name), e.value))
        extra = b"".join(parts)
    elif kind == CTF_K_FUNCTION:
        args = (*t.args, 0) if t.varargs else t.args
        vlen = len(args)
        for a in args:
            _check_id(a, f"{what} argument", max_id)
        extra = struct.pack(f"{o}{vlen + (vlen & 1)}H", *args, *((0,) if vlen & 1 else ()))
    elif kind in (CTF_K_INTEGER, CTF_K_FLOAT):
        enc = t.encoding
        if enc is None:
            raise CtfLimitError(f"{what}: integer/float without an encoding")
        if not (
            0 <= enc.format <= 0xFF and 0 <= enc.offset <= CTF_MAX_INTOFF and 0 <= enc.bits <= CTF_MAX_INTBITS
        ):
            raise CtfLimitError(f"{what}: encoding {enc} out of range")
        extra = u32.pack(enc.format << 24 | enc.offset << 16 | enc.bits)
    elif kind == CTF_K_ARRAY:
        arr = t.array
        if arr is None:
            raise CtfLimitError(f"{what}: array without array info")
        _check_id(arr.contents, f"{what} contents", max_id)
        _check_id(arr.index, f"{what} index", max_id)
        if not 0 <= arr.nelems <= 0xFFFFFFFF:
            raise CtfLimitError(f"{what}: {arr.nelems} elements do not fit u32")
        extra = array.pack(arr.contents, arr.index, arr.nelems)
    if vlen > CTF_MAX_VLEN:
        raise CtfLimitError(f"{what}: {vlen} members/enumerators/arguments, CTF v2 allows {CTF_MAX_VLEN}")
    info = kind << 11 | (0x400 if t.root else 0) | vlen
    if kind in REFERENCE_KINDS or kind == CTF_K_FUNCTION:
        return stype.pack(name, info, _check_id(t.ref, what, max_id)) + extra
    if kind == CTF_K_FORWARD:
        if t.ref not in (0, CTF_K_STRUCT, CTF_K_UNION, CTF_K_ENUM):
            raise CtfLimitError(f"{what}: forward of kind {t.ref}")
        return stype.pack(name, info, t.ref)
    if kind == CTF_K_ARRAY:
        return stype.pack(name, info, 0) + extra
    if not 0 <= t.size <= _U64:
        raise CtfLimitError(f"{what}: size {t.size} out of range")
    if t.size > CTF_MAX_SIZE:
        return ltype.pack(name, info, CTF_LSIZE_SENT, t.size >> 32, t.size & 0xFFFFFFFF) + extra
    return stype.pack(name, info, t.size) + extra
