"""DWARF type DIEs to a CTF-shaped node graph (before deduplication and id assignment).

Each node is what one CTF type record will say — kind, name, size, encoding, the node indices it refers to,
and kind-specific detail — so that structural identity (``dedup``) and the budget walk (``budget``) are
plain graph algorithms. Conversion is iterative (a work list, never recursion), memoised by DIE offset, and
follows the Rust mapping of ``shared/notes/ctf.md`` §3.3:

* base types: INTEGER (SIGNED/CHAR/BOOL from ``DW_AT_encoding``; Rust ``char`` is ``DW_ATE_UTF``: unsigned,
  no CHAR flag; 128-bit integers keep 128 bits) or FLOAT by size; zero-sized ``()``/``!`` are 0-bit integers;
* pointers and references (``&T``, ``*const T``, ``Box`` internals) become anonymous POINTERs — rustc names
  pointer types, CTF must not (libctf renders pointer names itself);
* structs, tuples, closures, slices, ``&str``, ``dyn`` fat pointers: STRUCT with the qualified name;
* data-carrying enums (``DW_TAG_variant_part``): STRUCT { tag member typed as an ENUM ``E::{discriminant}``
  whose enumerators are the variants' ``DW_AT_discr_value``s; an anonymous UNION of the variant structs };
  a niche-optimised enum keeps the tag member exactly where DWARF puts it and lists only explicit values;
* C-like enums: ENUM of the real byte size when every value fits int32 (or its 32-bit two's complement), else
  the underlying INTEGER under the enum's name — never truncated (reported);
* arrays: one ARRAY per dimension, outermost first, indexed by a synthetic ``long`` as ctfconvert does;
* C units the same way (bit-fields as INTEGERs of the field's width, as ctfconvert does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ctf.constants import (
    CTF_FP_CPLX,
    CTF_FP_DCPLX,
    CTF_FP_DOUBLE,
    CTF_FP_LDCPLX,
    CTF_FP_LDOUBLE,
    CTF_FP_SINGLE,
    CTF_INT_BOOL,
    CTF_INT_CHAR,
    CTF_INT_SIGNED,
    CTF_K_ARRAY,
    CTF_K_CONST,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_POINTER,
    CTF_K_RESTRICT,
    CTF_K_STRUCT,
    CTF_K_TYPEDEF,
    CTF_K_UNION,
    CTF_K_VOLATILE,
    INT32_MAX,
    INT32_MIN,
)
from ..dwarf import constants as DW
from ..dwarf.expr import constant_offset
from ..dwarf.unit import DIE

MAX_NAME = 1024  # longer names (closure/iterator types) are cut with a stable hash suffix
_AGGREGATES = {
    DW.DW_TAG_structure_type,
    DW.DW_TAG_class_type,
    DW.DW_TAG_union_type,
    DW.DW_TAG_enumeration_type,
}
_SCOPES = {DW.DW_TAG_namespace, DW.DW_TAG_module, *_AGGREGATES}
TYPE_TAGS = frozenset(
    {
        DW.DW_TAG_base_type,
        DW.DW_TAG_pointer_type,
        DW.DW_TAG_reference_type,
        DW.DW_TAG_rvalue_reference_type,
        DW.DW_TAG_const_type,
        DW.DW_TAG_volatile_type,
        DW.DW_TAG_restrict_type,
        DW.DW_TAG_atomic_type,
        DW.DW_TAG_typedef,
        DW.DW_TAG_structure_type,
        DW.DW_TAG_class_type,
        DW.DW_TAG_union_type,
        DW.DW_TAG_enumeration_type,
        DW.DW_TAG_array_type,
        DW.DW_TAG_subroutine_type,
        DW.DW_TAG_unspecified_type,
        DW.DW_TAG_ptr_to_member_type,
    }
)
_QUALIFIER_KIND = {
    DW.DW_TAG_const_type: CTF_K_CONST,
    DW.DW_TAG_volatile_type: CTF_K_VOLATILE,
    DW.DW_TAG_restrict_type: CTF_K_RESTRICT,
}


def clean_name(name: str) -> str:
    """A CTF-safe name: no ``*`` (libctf lookups stop at the first ``*``), bounded length.

    ``*const `` and ``*mut `` inside generic arguments become ``ptr const ``/``ptr mut ``; a name longer than
    ``MAX_NAME`` keeps its head and gets ``#`` plus 16 hex digits of its SHA-1, so it stays unique and stable.
    """
    if "*" in name:
        name = name.replace("*const ", "ptr const ").replace("*mut ", "ptr mut ").replace("*", "ptr ")
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        name = name[: MAX_NAME - 17] + "#" + digest
    return name


@dataclass
class Node:
    """One would-be CTF type. ``refs`` are node indices (order matters: see ``detail`` per kind)."""

    kind: int
    name: str = ""
    size: int = 0
    encoding: tuple[int, int, int] | None = None
    refs: list[int] = field(default_factory=list)
    # STRUCT/UNION: ((member name, bit offset), ...) parallel to refs; ENUM: ((name, value), ...);
    # ARRAY: (nelems,), refs = [contents, index]; FUNCTION: (varargs,), refs = [return, *args];
    # FORWARD: (forwarded kind,)
    detail: tuple[Any, ...] = ()
    root: bool = True
    die: int = -1  # DIE offset it came from (for reports and tests), -1 for synthetic nodes

    def local_key(self) -> tuple[Any, ...]:
        return (self.kind, self.name, self.size, self.encoding, self.detail, self.root, len(self.refs))


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    by_die: dict[tuple[int, int], int] = field(default_factory=dict)
    lowered_enums: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1


class GraphBuilder:
    """Converts type DIEs on demand: ``node_for(die)`` returns a node index at once and queues the DIE;
    ``drain()`` fills queued nodes in until none is left, so deep or cyclic type graphs never recurse."""

    def __init__(self, pointer_size: int) -> None:
        self.graph = Graph()
        self.pointer_size = pointer_size
        self.queue: list[tuple[int, DIE]] = []
        # queued node indices not filled yet (drain_one may fill one out of order)
        self._pending: set[int] = set()
        self._prefix: dict[tuple[int, int], str] = {}
        self._rust: dict[int, bool] = {}
        self.void = self.graph.add(Node(CTF_K_INTEGER, "void", 0, (0, 0, 0)))
        self.index_type = self.graph.add(
            Node(CTF_K_INTEGER, "long", pointer_size, (CTF_INT_SIGNED, 0, 8 * pointer_size))
        )
        self._bitfields: dict[tuple[int, int, int], int] = {}

    # -- naming ----------------------------------------------------------------------------------------------
    def qualified(self, die: DIE) -> str:
        """``crate::module::Type<args>`` from namespace (and enclosing type) ancestors, for Rust units;
        the plain ``DW_AT_name`` for C."""
        name = die.name or ""
        if not name or not self.is_rust(die):
            return clean_name(name)
        prefix = self._scope(die.parent)
        return clean_name(prefix + name if prefix else name)

    def _scope(self, die: DIE | None) -> str:
        """``a::b::`` for the enclosing namespaces/types (iterative: nesting depth is input)."""
        chain: list[DIE] = []
        found = ""
        while die is not None and die.tag in _SCOPES:
            key = (id(die.unit), die.index)
            cached = self._prefix.get(key)
            if cached is not None:
                found = cached
                break
            chain.append(die)
            die = die.parent
        for scope in reversed(chain):
            found = f"{found}{scope.name or '{anon}'}::"
            self._prefix[(id(scope.unit), scope.index)] = found
        return found

    def is_rust(self, die: DIE) -> bool:
        unit = die.unit
        found = self._rust.get(id(unit))
        if found is None:
            found = self._rust[id(unit)] = unit.top.get_int(DW.DW_AT_language) == DW.DW_LANG_Rust
        return found

    # -- conversion ------------------------------------------------------------------------------------------

    def node_for(self, die: DIE | None) -> int:
        """The node index for a type DIE (``None``: void)."""
        if die is None:
            return self.void
        key = (id(die.unit), die.index)
        found = self.graph.by_die.get(key)
        if found is not None:
            return found
        idx = self.graph.add(Node(CTF_K_INTEGER, die=die.offset))
        self.graph.by_die[key] = idx
        self.queue.append((idx, die))
        self._pending.add(idx)
        return idx

    def separate_chars(self) -> None:
        """Rust ``char`` (32-bit, ``DW_ATE_UTF``) and C ``char`` (8-bit, CHAR flag) would share the name
        ``char``, and libctf's name lookup keeps the first integer of a name: when both are present the Rust
        one is called ``rust char`` (notes §3.3). A pure Rust binary keeps ``char``."""
        chars = [n for n in self.graph.nodes if n.kind == CTF_K_INTEGER and n.name == "char" and n.root]
        if any(n.encoding and n.encoding[0] & CTF_INT_CHAR for n in chars):
            for n in chars:
                if n.encoding and not n.encoding[0] & CTF_INT_CHAR and n.size == 4:
                    n.name = "rust char"

    def drain(self, progress: Callable[[str, int, int], None] | None = None) -> None:
        """Fill every queued node (and what they reach); ``progress(phase, done, total)`` now and then."""
        filled = 0
        while self.queue:
            idx, die = self.queue.pop()
            if idx in self._pending:  # else drain_one filled it already
                self._pending.discard(idx)
                self._fill(idx, die)
                filled += 1
                if progress is not None and not filled & 0xFFF:
                    progress("converting types", filled, filled + len(self._pending))

    def _target(self, die: DIE) -> int:
        return self.node_for(die.ref(DW.DW_AT_type))

    def _fill(self, idx: int, die: DIE) -> None:
        node = self.graph.nodes[idx]
        tag = die.tag
        _ = die.values  # decode every attribute once: the lookups below are then dict hits
        if tag == DW.DW_TAG_base_type:
            self._base(node, die)
        elif tag in (
            DW.DW_TAG_pointer_type,
            DW.DW_TAG_reference_type,
            DW.DW_TAG_rvalue_reference_type,
            DW.DW_TAG_ptr_to_member_type,
        ):
            node.kind, node.refs = CTF_K_POINTER, [self._target(die)]
        elif tag in _QUALIFIER_KIND:
            node.kind, node.refs = _QUALIFIER_KIND[tag], [self._target(die)]
        elif tag == DW.DW_TAG_atomic_type:  # no CTF kind: the type itself
            node.kind, node.name, node.refs = CTF_K_TYPEDEF, "", [self._target(die)]
        elif tag == DW.DW_TAG_typedef:
            node.kind, node.name, node.refs = CTF_K_TYPEDEF, self.qualified(die), [self._target(die)]
        elif tag in (DW.DW_TAG_structure_type, DW.DW_TAG_class_type, DW.DW_TAG_union_type):
            self._aggregate(node, die)
        elif tag == DW.DW_TAG_enumeration_type:
            self._enum(node, die)
        elif tag == DW.DW_TAG_array_type:
            self._array(node, die)
        elif tag == DW.DW_TAG_subroutine_type:
            self._function(node, die)
        else:  # DW_TAG_unspecified_type and anything unknown: CTF has nothing better than void
            node.kind, node.name, node.encoding = CTF_K_INTEGER, "void", (0, 0, 0)
            if tag != DW.DW_TAG_unspecified_type:
                self.graph.notes.append(f"DIE 0x{die.offset:x}: tag 0x{tag:x} converted as void")

    def _base(self, node: Node, die: DIE) -> None:
        size = _size(die.get_int(DW.DW_AT_byte_size), 0)
        enc = die.get_int(DW.DW_AT_encoding) or 0
        node.name = clean_name(die.name or "")
        node.size = size
        if enc in (DW.DW_ATE_float, DW.DW_ATE_complex_float):
            node.kind = CTF_K_FLOAT
            if enc == DW.DW_ATE_float:
                fmt = {4: CTF_FP_SINGLE, 8: CTF_FP_DOUBLE}.get(size, CTF_FP_LDOUBLE)
            else:
                fmt = {8: CTF_FP_CPLX, 16: CTF_FP_DCPLX}.get(size, CTF_FP_LDCPLX)
            node.encoding = (fmt, 0, 8 * size)
            return
        node.kind = CTF_K_INTEGER
        flags = 0
        if enc in (DW.DW_ATE_signed, DW.DW_ATE_signed_char):
            flags |= CTF_INT_SIGNED
        if enc in (DW.DW_ATE_signed_char, DW.DW_ATE_unsigned_char):
            flags |= CTF_INT_CHAR
        if enc == DW.DW_ATE_boolean:
            flags |= CTF_INT_BOOL
        node.encoding = (flags, 0, min(8 * size, 0xFFFF))

    def _member_offset(self, m: DIE) -> int:
        """Bit offset of a member: ``DW_AT_data_bit_offset``, else ``DW_AT_data_member_location`` (constant or
        ``DW_OP_plus_uconst``) plus the legacy big-endian ``DW_AT_bit_offset`` of a bit-field."""
        bit = m.get_int(DW.DW_AT_data_bit_offset)
        if bit is not None:
            return bit
        loc = m.get(DW.DW_AT_data_member_location)
        if isinstance(loc, bytes):
            byte = constant_offset(loc) or 0
        elif isinstance(loc, int) and not isinstance(loc, bool):
            byte = loc
        else:
            byte = 0
        legacy = m.get_int(DW.DW_AT_bit_offset)
        bits = m.get_int(DW.DW_AT_bit_size)
        if legacy is not None and bits is not None:
            storage = m.get_int(DW.DW_AT_byte_size)
            if storage is None:
                t = m.ref(DW.DW_AT_type)
                storage = (t.get_int(DW.DW_AT_byte_size) if t is not None else None) or 0
            return byte * 8 + storage * 8 - legacy - bits
        return byte * 8

    def _member_type(self, m: DIE) -> int:
        target = self._target(m)
        bits = m.get_int(DW.DW_AT_bit_size)
        if bits is None:
            return target
        # A bit-field: an INTEGER of the field's width named like its type (ctfconvert does the same).
        t = m.ref(DW.DW_AT_type)
        for _ in range(64):  # bounded: a hostile typedef cycle must not spin
            if t is None or t.tag not in (DW.DW_TAG_typedef, DW.DW_TAG_const_type, DW.DW_TAG_volatile_type):
                break
            t = t.ref(DW.DW_AT_type)
        if t is None or t.tag not in (DW.DW_TAG_base_type, DW.DW_TAG_enumeration_type):
            return target
        key = (t.unit.offset, t.index, bits)
        found = self._bitfields.get(key)
        if found is None:
            base = self.node_for(t)
            self.drain_one(base, t)
            b = self.graph.nodes[base]
            fmt = b.encoding[0] if b.encoding and b.kind == CTF_K_INTEGER else 0
            found = self.graph.add(
                Node(CTF_K_INTEGER, b.name, b.size, (fmt, 0, bits), root=False, die=t.offset)
            )
            self._bitfields[key] = found
        return found

    def drain_one(self, idx: int, die: DIE) -> None:
        """Fill ``idx`` now if it is still queued (a bit-field needs its base type's encoding). Its queue
        entry stays and is skipped when popped: a linear search of the queue per bit-field base type cost
        half the conversion time of libc6-dbg."""
        if idx in self._pending:
            self._pending.discard(idx)
            self._fill(idx, die)

    def _aggregate(self, node: Node, die: DIE) -> None:
        tag = die.tag
        kind = CTF_K_UNION if tag == DW.DW_TAG_union_type else CTF_K_STRUCT
        node.name = self.qualified(die)
        if die.flag(DW.DW_AT_declaration):
            node.kind, node.detail = CTF_K_FORWARD, (kind,)
            return
        node.kind = kind
        node.size = _size(die.get_int(DW.DW_AT_byte_size), 0)
        members: list[tuple[str, int]] = []
        refs: list[int] = []
        variant_part = None
        for child in die.children():
            ctag = child.tag
            if ctag == DW.DW_TAG_member or ctag == DW.DW_TAG_inheritance:
                _ = child.values
                if child.flag(DW.DW_AT_external) or child.flag(DW.DW_AT_declaration):
                    continue  # a static member: no storage in the aggregate
                members.append((clean_name(child.name or ""), self._member_offset(child)))
                refs.append(self._member_type(child))
            elif ctag == DW.DW_TAG_variant_part and variant_part is None:
                variant_part = child
        if variant_part is not None:
            self._variants(node, variant_part, members, refs)
        node.detail, node.refs = tuple(members), refs

    def _variants(self, node: Node, part: DIE, members: list[tuple[str, int]], refs: list[int]) -> None:
        """A Rust enum with data: the tag member (at its real offset) typed by an ENUM of the explicit
        discriminant values, and an anonymous UNION of the variants at offset 0."""
        tag_die = part.ref(DW.DW_AT_discr)
        values: list[tuple[str, int]] = []
        union_members: list[tuple[str, int]] = []
        union_refs: list[int] = []
        tag_type = tag_die.ref(DW.DW_AT_type) if tag_die is not None else None
        signed = False
        if tag_type is not None:
            signed = tag_type.get_int(DW.DW_AT_encoding) in (DW.DW_ATE_signed, DW.DW_ATE_signed_char)
        for variant in part.children():
            if variant.tag == DW.DW_TAG_member and tag_die is not None and variant.offset == tag_die.offset:
                continue
            if variant.tag != DW.DW_TAG_variant:
                continue
            member = next((c for c in variant.children() if c.tag == DW.DW_TAG_member), None)
            if member is None:
                continue
            vname = clean_name(member.name or "")
            union_members.append((vname, 0))
            union_refs.append(self._target(member))
            if variant.has(DW.DW_AT_discr_value):
                value = (
                    variant.signed(DW.DW_AT_discr_value) if signed else variant.get_int(DW.DW_AT_discr_value)
                )
                if value is not None:
                    values.append((vname, value))
        if tag_die is not None:
            tag_size = (tag_type.get_int(DW.DW_AT_byte_size) if tag_type is not None else None) or 0
            fitted = _fit_int32(values, tag_size)
            if fitted is None:
                tag_node = self.node_for(tag_type)
                self.graph.lowered_enums.append(f"{node.name}::{{discriminant}}")
            else:
                tag_node = self.graph.add(
                    Node(
                        CTF_K_ENUM,
                        clean_name(f"{node.name}::{{discriminant}}"),
                        tag_size,
                        detail=tuple(fitted),
                    )
                )
            members.insert(0, (clean_name(tag_die.name or "__discr"), self._member_offset(tag_die)))
            refs.insert(0, tag_node)
        if not union_members and tag_die is None:
            return  # an uninhabited enum (core::convert::Infallible): nothing to describe
        union = self.graph.add(Node(CTF_K_UNION, "", node.size, detail=tuple(union_members), refs=union_refs))
        members.append(("", 0))
        refs.append(union)

    def _enum(self, node: Node, die: DIE) -> None:
        node.name = self.qualified(die)
        if die.flag(DW.DW_AT_declaration):
            node.kind, node.detail = CTF_K_FORWARD, (CTF_K_ENUM,)
            return
        size = _size(die.get_int(DW.DW_AT_byte_size), 4)
        base = die.ref(DW.DW_AT_type)
        signed = base is not None and base.get_int(DW.DW_AT_encoding) in (
            DW.DW_ATE_signed,
            DW.DW_ATE_signed_char,
        )
        values: list[tuple[str, int]] = []
        for e in die.children():
            if e.tag != DW.DW_TAG_enumerator:
                continue
            attr = e.attribute(DW.DW_AT_const_value)
            if attr is None:
                continue
            value = e.signed(DW.DW_AT_const_value) if signed or attr.form == DW.DW_FORM_sdata else attr.value
            if isinstance(value, int) and not isinstance(value, bool):
                values.append((clean_name(e.name or ""), value))
        fitted = _fit_int32(values, size)
        if fitted is None or len(fitted) > 1023:
            # Values beyond int32 (Rust #[repr(i64)]/u64 enums): keep the layout as the underlying integer.
            self.graph.lowered_enums.append(node.name)
            node.kind, node.size = CTF_K_INTEGER, size
            node.encoding = (CTF_INT_SIGNED if signed else 0, 0, 8 * size)
            return
        node.kind, node.size, node.detail = CTF_K_ENUM, size, tuple(fitted)

    def _array(self, node: Node, die: DIE) -> None:
        dims: list[int] = []
        for sub in die.children():
            if sub.tag != DW.DW_TAG_subrange_type:
                continue
            count = sub.get_int(DW.DW_AT_count)
            if count is None:
                upper = sub.get_int(DW.DW_AT_upper_bound)
                lower = sub.get_int(DW.DW_AT_lower_bound) or 0
                count = upper - lower + 1 if upper is not None and upper >= lower - 1 else 0
            dims.append(max(0, min(count, 0xFFFFFFFF)))
        if not dims:
            dims = [0]
        inner = self._target(die)
        for n in reversed(dims[1:]):
            inner = self.graph.add(
                Node(CTF_K_ARRAY, detail=(n,), refs=[inner, self.index_type], die=die.offset)
            )
        node.kind, node.detail, node.refs = CTF_K_ARRAY, (dims[0],), [inner, self.index_type]

    def _function(self, node: Node, die: DIE) -> None:
        ret, args, varargs = self.signature(die)
        node.kind, node.detail, node.refs = CTF_K_FUNCTION, (varargs,), [ret, *args]

    def signature(self, die: DIE) -> tuple[int, list[int], bool]:
        """(return node, argument nodes, varargs) of a subprogram or subroutine type DIE."""
        ret = self._target(die)
        args: list[int] = []
        varargs = False
        for child in die.children():
            if child.tag == DW.DW_TAG_formal_parameter:
                args.append(self._target(child))
            elif child.tag == DW.DW_TAG_unspecified_parameters:
                varargs = True
        return ret, args, varargs


def _size(value: int | None, default: int) -> int:
    """A DWARF byte size as CTF can hold it: absent -> ``default``; negative or over 64 bits -> 0."""
    if value is None:
        return default
    return value if 0 <= value < 1 << 64 else 0


def _fit_int32(values: list[tuple[str, int]], size: int) -> list[tuple[str, int]] | None:
    """Enumerator values as CTF's int32, or None if one cannot be stored without changing its bits.

    An unsigned value of a type of at most 4 bytes that only overflows int32 is stored as its 32-bit two's
    complement (the same bits in memory, which is what a debugger compares)."""
    out = []
    for name, v in values:
        if INT32_MIN <= v <= INT32_MAX:
            out.append((name, v))
        elif size <= 4 and 0 <= v < 1 << 32:
            out.append((name, v - (1 << 32)))
        else:
            return None
    return out
