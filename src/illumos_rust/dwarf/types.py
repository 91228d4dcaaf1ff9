"""The type-graph view: what a CTF converter or a debugger needs from DWARF, as plain dataclasses.

Types are identified by a ``TypeKey`` (an int): the DIE offset in ``.debug_info``, or ``TYPES_SECTION_BIT``
plus the offset for DWARF 4 ``.debug_types`` DIEs, so one integer names a DIE in either space. References
between types are keys, so the graph stays flat (cycles through pointers cost nothing) and each ``Type`` is
built lazily, once, when first asked for. ``None`` as a referenced type means ``void``.

Rust data-carrying enums keep DWARF's shape: a struct with a ``variant_part`` whose ``discr`` names the tag
member and whose ``variants`` carry ``discr_value`` (None for the niche-layout default variant) and their
members (DWARF 5 §5.7.10; rustc's layout is described in shared/notes/ctf.md §3.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import constants as DW
from .expr import constant_offset, static_address
from .ranges import pc_range
from .unit import DIE

if TYPE_CHECKING:
    from .info import DwarfInfo

TypeKey = int
TYPES_SECTION_BIT = 1 << 48  # added to .debug_types offsets to keep them apart from .debug_info offsets
MAX_NAME_DEPTH = 64  # namespace nesting followed when qualifying a name

KIND_BY_TAG = {
    DW.DW_TAG_base_type: "base",
    DW.DW_TAG_unspecified_type: "unspecified",
    DW.DW_TAG_pointer_type: "pointer",
    DW.DW_TAG_reference_type: "reference",
    DW.DW_TAG_rvalue_reference_type: "rvalue_reference",
    DW.DW_TAG_ptr_to_member_type: "ptr_to_member",
    DW.DW_TAG_const_type: "const",
    DW.DW_TAG_volatile_type: "volatile",
    DW.DW_TAG_restrict_type: "restrict",
    DW.DW_TAG_atomic_type: "atomic",
    DW.DW_TAG_typedef: "typedef",
    DW.DW_TAG_structure_type: "struct",
    DW.DW_TAG_class_type: "class",
    DW.DW_TAG_union_type: "union",
    DW.DW_TAG_enumeration_type: "enum",
    DW.DW_TAG_array_type: "array",
    DW.DW_TAG_subroutine_type: "subroutine",
    DW.DW_TAG_string_type: "string",
}
TYPE_TAGS = frozenset(KIND_BY_TAG)
_SCOPE_TAGS = frozenset(
    {
        DW.DW_TAG_namespace,
        DW.DW_TAG_module,
        DW.DW_TAG_structure_type,
        DW.DW_TAG_class_type,
        DW.DW_TAG_union_type,
        DW.DW_TAG_enumeration_type,
    }
)


def key_of(die: DIE) -> TypeKey:
    """The ``TypeKey`` of a DIE."""
    return die.offset + (TYPES_SECTION_BIT if die.unit.in_types_section else 0)


@dataclass
class Member:
    """A data member: ``offset`` in bytes (None when DWARF gives a non-constant location).

    ``bit_size``/``bit_offset`` are set for bit-fields; ``bit_offset`` counts from the start of the containing
    type, least significant bit first (DWARF 4 ``DW_AT_data_bit_offset`` semantics; DWARF 2/3
    ``DW_AT_bit_offset`` is converted using the file's byte order).
    """

    name: str | None
    type: TypeKey | None
    offset: int | None
    bit_size: int | None = None
    bit_offset: int | None = None
    artificial: bool = False
    key: TypeKey = 0  # the member DIE itself (DW_AT_discr points at it)


@dataclass
class Variant:
    """One ``DW_TAG_variant``: its discriminant value (None = default) and the members it holds."""

    discr_value: int | None
    members: list[Member]
    discr_list: bytes | None = None


@dataclass
class VariantPart:
    """``DW_TAG_variant_part``: the tag member (``discr``, a member key) and the variants."""

    discr: TypeKey | None
    variants: list[Variant]
    discr_member: Member | None = None  # the member ``discr`` names, when it sits in the variant part


@dataclass
class Enumerator:
    name: str
    value: int


@dataclass
class Subrange:
    """One array dimension: ``count`` elements (None when unknown, e.g. a flexible array member)."""

    count: int | None
    lower_bound: int = 0
    index_type: TypeKey | None = None


@dataclass
class TemplateParam:
    name: str | None
    type: TypeKey | None
    value: int | bytes | str | bool | None = None  # DW_TAG_template_value_parameter's DW_AT_const_value


@dataclass
class Type:
    """One type DIE, decoded. ``kind`` is a word from ``KIND_BY_TAG``; unused fields stay empty."""

    key: TypeKey
    kind: str
    name: str | None
    qualified_name: str | None
    byte_size: int | None
    target: TypeKey | None = None  # DW_AT_type: pointee, element, typedef target, return type, enum base
    encoding: int | None = None  # DW_ATE_* of base types
    bit_size: int | None = None
    alignment: int | None = None
    declaration: bool = False
    members: list[Member] = field(default_factory=list)
    variant_part: VariantPart | None = None
    enumerators: list[Enumerator] = field(default_factory=list)
    dimensions: list[Subrange] = field(default_factory=list)
    params: list[TypeKey | None] = field(default_factory=list)  # subroutine types
    varargs: bool = False
    template_params: list[TemplateParam] = field(default_factory=list)
    language: int | None = None


@dataclass
class Parameter:
    name: str | None
    type: TypeKey | None
    artificial: bool = False


@dataclass
class Subprogram:
    """A function: names, entry address, signature. Follows ``DW_AT_specification``/``abstract_origin``."""

    key: TypeKey
    name: str | None
    qualified_name: str | None
    linkage_name: str | None
    low_pc: int | None
    high_pc: int | None  # exclusive end
    return_type: TypeKey | None
    params: list[Parameter]
    varargs: bool
    external: bool
    declaration: bool
    inline: bool  # an abstract instance (DW_AT_inline) rather than code
    language: int | None = None


@dataclass
class Variable:
    """A variable with a static address (``DW_OP_addr``/``DW_OP_addrx`` location)."""

    key: TypeKey
    name: str | None
    qualified_name: str | None
    linkage_name: str | None
    type: TypeKey | None
    address: int | None
    external: bool


class TypeGraph:
    """Lazily decoded types, subprograms and static variables of one ``DwarfInfo``."""

    def __init__(self, dwarf: DwarfInfo) -> None:
        self.dwarf = dwarf
        self._types: dict[TypeKey, Type] = {}
        self._names: dict[TypeKey, str | None] = {}

    # -- lookup ----------------------------------------------------------------------------------------------
    def die(self, key: TypeKey) -> DIE | None:
        """The DIE a key names."""
        if key >= TYPES_SECTION_BIT:
            return self.dwarf.die_at(key - TYPES_SECTION_BIT, types=True)
        return self.dwarf.die_at(key)

    def __getitem__(self, key: TypeKey) -> Type:
        got = self.get(key)
        if got is None:
            raise KeyError(key)
        return got

    def get(self, key: TypeKey) -> Type | None:
        """The type with ``key``, or None when no type DIE starts there."""
        t = self._types.get(key)
        if t is None:
            die = self.die(key)
            if die is None or die.tag not in TYPE_TAGS:
                return None
            t = self._types[key] = self._build(die)
        return t

    def type_of(self, die: DIE) -> Type:
        """The type a type DIE describes (the DIE must have a type tag)."""
        got = self.get(key_of(die))
        if got is None:
            raise ValueError(f"{die!r} is not a type DIE")
        return got

    def types(self) -> Iterator[Type]:
        """Every type DIE of every unit, in section order."""
        for unit in self.dwarf.units + [u for u in self.dwarf.type_units if u.in_types_section]:
            for die in unit.dies():
                if die.tag in TYPE_TAGS:
                    yield self.type_of(die)

    def subprograms(self) -> Iterator[Subprogram]:
        """Every ``DW_TAG_subprogram`` of the compile units."""
        for unit in self.dwarf.compile_units:
            for die in unit.dies():
                if die.tag == DW.DW_TAG_subprogram:
                    yield self.subprogram(die)

    def variables(self) -> Iterator[Variable]:
        """Every ``DW_TAG_variable`` with a static address (globals and statics, not locals)."""
        for unit in self.dwarf.compile_units:
            for die in unit.dies():
                if die.tag == DW.DW_TAG_variable and die.has(DW.DW_AT_location):
                    var = self.variable(die)
                    if var.address is not None:
                        yield var

    # -- names ----------------------------------------------------------------------------------------------
    def qualified_name(self, die: DIE) -> str | None:
        """``a::b::Name``: the names of enclosing namespaces and types, then the DIE's own name.

        Rust spells generic instances in full in ``DW_AT_name`` and pseudo-scopes like ``{impl#3}`` as
        namespaces; both are kept as DWARF spells them. C types at file scope keep their bare name.
        """
        key = key_of(die)
        if key in self._names:
            return self._names[key]
        name = self._own_name(die)
        if name is not None:
            # Walk up to the first scope whose qualified name is known (or the unit), then build downwards.
            chain: list[DIE] = []
            parent = die.parent
            prefix: str | None = None
            while parent is not None and parent.tag in _SCOPE_TAGS and len(chain) < MAX_NAME_DEPTH:
                known = self._names.get(key_of(parent))
                if known is not None:  # anonymous scopes are cached as None: keep climbing past them
                    prefix = known
                    break
                chain.append(parent)
                parent = parent.parent
            for scope in reversed(chain):
                own = self._own_name(scope)
                part = own if own is not None else "{anon}"
                prefix = part if prefix is None else f"{prefix}::{part}"
                if own is not None:
                    self._names.setdefault(key_of(scope), prefix)
            name = name if prefix is None else f"{prefix}::{name}"
        self._names[key] = name
        return name

    def _own_name(self, die: DIE) -> str | None:
        name = die.name
        if name is None and die.tag == DW.DW_TAG_subprogram:
            origin = die.ref(DW.DW_AT_specification) or die.ref(DW.DW_AT_abstract_origin)
            if origin is not None and origin != die:
                name = origin.name
        return name

    # -- building --------------------------------------------------------------------------------------------
    def _target(self, die: DIE) -> TypeKey | None:
        ref = die.ref(DW.DW_AT_type)
        return None if ref is None else key_of(ref)

    def _build(self, die: DIE) -> Type:
        kind = KIND_BY_TAG[die.tag]
        t = Type(
            key=key_of(die),
            kind=kind,
            name=die.name,
            qualified_name=self.qualified_name(die),
            byte_size=die.get_int(DW.DW_AT_byte_size),
            target=self._target(die),
            encoding=die.get_int(DW.DW_AT_encoding),
            bit_size=die.get_int(DW.DW_AT_bit_size),
            alignment=die.get_int(DW.DW_AT_alignment),
            declaration=die.flag(DW.DW_AT_declaration),
            language=die.unit.language,
        )
        if kind in ("struct", "class", "union"):
            self._fill_aggregate(t, die)
        elif kind == "enum":
            signed = self._is_signed(t.target)
            for child in die.children():
                if child.tag == DW.DW_TAG_enumerator:
                    value = (
                        child.signed(DW.DW_AT_const_value) if signed else child.get_int(DW.DW_AT_const_value)
                    )
                    a = child.attribute(DW.DW_AT_const_value)
                    if a is not None and a.form == DW.DW_FORM_sdata and isinstance(a.value, int):
                        value = a.value
                    t.enumerators.append(Enumerator(child.name or "", value if value is not None else 0))
        elif kind == "array":
            for child in die.children():
                if child.tag == DW.DW_TAG_subrange_type:
                    t.dimensions.append(self._subrange(child))
        elif kind == "subroutine":
            for child in die.children():
                if child.tag == DW.DW_TAG_formal_parameter:
                    t.params.append(self._target(child))
                elif child.tag == DW.DW_TAG_unspecified_parameters:
                    t.varargs = True
        return t

    def _is_signed(self, key: TypeKey | None) -> bool:
        seen = 0
        while key is not None and seen < 32:
            t = self.get(key)
            if t is None:
                return False
            if t.kind == "base":
                return t.encoding in (DW.DW_ATE_signed, DW.DW_ATE_signed_char)
            key = t.target
            seen += 1
        return False

    def _subrange(self, die: DIE) -> Subrange:
        """One dimension. Bounds in ``DW_FORM_dataN`` take the signedness of the subrange's type (DWARF 5
        §7.5.5, the interpretation "depends on the type"): gcc writes ``char buf[256]``'s bound as data1 0xff.
        """
        index_type = self._target(die)
        signed = self._is_signed(index_type)

        def bound(attr: int) -> int | None:
            a = die.attribute(attr)
            if a is None or not isinstance(a.value, int) or isinstance(a.value, bool):
                return None  # absent, or a DWARF expression / variable reference (a run-time bound)
            return die.signed(attr) if signed and a.form != DW.DW_FORM_sdata else a.value

        lower = bound(DW.DW_AT_lower_bound) or 0
        count = die.get_int(DW.DW_AT_count)
        if count is None:
            upper = bound(DW.DW_AT_upper_bound)
            if upper is not None and upper >= lower - 1:
                count = upper - lower + 1
        return Subrange(count, lower, index_type)

    def _member(self, die: DIE, container_size: int | None) -> Member:
        loc = die.attribute(DW.DW_AT_data_member_location)
        offset: int | None = 0
        if loc is not None:
            if isinstance(loc.value, bytes):
                offset = constant_offset(loc.value)
            elif isinstance(loc.value, int) and not isinstance(loc.value, bool):
                offset = loc.value
        bit_size = die.get_int(DW.DW_AT_bit_size)
        bit_offset: int | None = None
        data_bit = die.get_int(DW.DW_AT_data_bit_offset)
        if data_bit is not None:
            bit_offset = data_bit
            if loc is None:
                offset = data_bit // 8
        elif bit_size is not None:
            old = die.get_int(DW.DW_AT_bit_offset)  # DWARF 2/3: from the storage unit's most significant bit
            storage = die.get_int(DW.DW_AT_byte_size)
            if storage is None:
                tgt = self.get(self._target(die) or -1)
                storage = tgt.byte_size if tgt is not None else None
            if old is not None and storage is not None and offset is not None:
                if self.dwarf.little:
                    bit_offset = offset * 8 + storage * 8 - old - bit_size
                else:
                    bit_offset = offset * 8 + old
            elif offset is not None:
                bit_offset = offset * 8
        return Member(
            die.name,
            self._target(die),
            offset,
            bit_size,
            bit_offset,
            die.flag(DW.DW_AT_artificial),
            key_of(die),
        )

    def _fill_aggregate(self, t: Type, die: DIE) -> None:
        for child in die.children():
            tag = child.tag
            if tag == DW.DW_TAG_member or tag == DW.DW_TAG_inheritance:
                if child.flag(DW.DW_AT_declaration) or child.has(DW.DW_AT_const_value):
                    continue  # C++ static data members have no storage in the object
                t.members.append(self._member(child, t.byte_size))
            elif tag == DW.DW_TAG_variant_part:
                t.variant_part = self._variant_part(child, t.byte_size)
            elif tag in (DW.DW_TAG_template_type_parameter, DW.DW_TAG_template_value_parameter):
                value = child.get(DW.DW_AT_const_value)
                t.template_params.append(TemplateParam(child.name, self._target(child), value))

    def _variant_part(self, die: DIE, size: int | None) -> VariantPart:
        discr = die.ref(DW.DW_AT_discr)
        variants: list[Variant] = []
        members_here: list[Member] = []
        for child in die.children():
            if child.tag == DW.DW_TAG_variant:
                members = [self._member(m, size) for m in child.children() if m.tag == DW.DW_TAG_member]
                value: int | None = None
                a = child.attribute(DW.DW_AT_discr_value)
                if a is not None and isinstance(a.value, int) and not isinstance(a.value, bool):
                    value = a.value
                    if a.form != DW.DW_FORM_sdata and discr is not None:
                        member = self._member(discr, size)
                        if self._is_signed(member.type):
                            value = child.signed(DW.DW_AT_discr_value)
                dl = child.get(DW.DW_AT_discr_list)
                variants.append(Variant(value, members, dl if isinstance(dl, bytes) else None))
            elif child.tag == DW.DW_TAG_member:
                members_here.append(self._member(child, size))
        discr_key = None if discr is None else key_of(discr)
        tag = next((m for m in members_here if m.key == discr_key), None)
        return VariantPart(discr_key, variants, tag)

    def subprogram(self, die: DIE) -> Subprogram:
        """The signature and address of a ``DW_TAG_subprogram`` DIE."""
        spec = die.ref(DW.DW_AT_specification) or die.ref(DW.DW_AT_abstract_origin)
        if spec is not None and spec == die:
            spec = None
        # The declaration (Rust trait impls, C++ methods) or abstract instance carries names and types.
        src = [die] if spec is None else [die, spec]

        def first(attr: int) -> DIE | None:
            for d in src:
                if d.has(attr):
                    return d
            return None

        name_die = first(DW.DW_AT_name)
        link_die = first(DW.DW_AT_linkage_name) or first(DW.DW_AT_MIPS_linkage_name)
        linkage = None
        if link_die is not None:
            linkage = link_die.get_str(DW.DW_AT_linkage_name) or link_die.get_str(DW.DW_AT_MIPS_linkage_name)
        ret_die = first(DW.DW_AT_type)
        low, high = pc_range(die)
        params: list[Parameter] = []
        varargs = False
        param_src = die
        if not any(c.tag == DW.DW_TAG_formal_parameter for c in die.children()) and spec is not None:
            param_src = spec
        for child in param_src.children():
            if child.tag == DW.DW_TAG_formal_parameter:
                origin = child.ref(DW.DW_AT_abstract_origin)
                named = child if child.has(DW.DW_AT_name) or origin is None else origin
                typed = child if child.has(DW.DW_AT_type) or origin is None else origin
                params.append(Parameter(named.name, self._target(typed), typed.flag(DW.DW_AT_artificial)))
            elif child.tag == DW.DW_TAG_unspecified_parameters:
                varargs = True
        ext = first(DW.DW_AT_external)
        return Subprogram(
            key=key_of(die),
            name=None if name_die is None else name_die.name,
            qualified_name=self.qualified_name(die if spec is None else spec),
            linkage_name=linkage,
            low_pc=low,
            high_pc=high,
            return_type=None if ret_die is None else self._target(ret_die),
            params=params,
            varargs=varargs,
            external=ext is not None and ext.flag(DW.DW_AT_external),
            declaration=die.flag(DW.DW_AT_declaration),
            inline=die.has(DW.DW_AT_inline),
            language=die.unit.language,
        )

    def variable(self, die: DIE) -> Variable:
        """A ``DW_TAG_variable``; ``address`` is set when its location is a plain static address."""
        spec = die.ref(DW.DW_AT_specification)
        src = die if spec is None else spec
        address: int | None = None
        loc = die.get(DW.DW_AT_location)
        if isinstance(loc, bytes):
            got = static_address(loc, die.unit.address_size, self.dwarf.little)
            if got is not None:
                address = got[1] if got[0] == "addr" else self.dwarf.indexed_address(die.unit, got[1])
        typed = die if die.has(DW.DW_AT_type) else src
        return Variable(
            key=key_of(die),
            name=src.name,
            qualified_name=self.qualified_name(src),
            linkage_name=src.get_str(DW.DW_AT_linkage_name),
            type=self._target(typed),
            address=address,
            external=src.flag(DW.DW_AT_external),
        )
