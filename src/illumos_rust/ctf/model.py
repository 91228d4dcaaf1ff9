"""The CTF v2 container as plain values: what the reader returns, the writer takes and the converter builds.

Type ids are implicit: ``Container.types[i]`` has id ``i + 1`` in a standalone (parent) container and
``0x8000 | (i + 1)`` in a child (illumos ``sys/ctf.h``: ``CTF_TYPE_TO_INDEX``/``CTF_INDEX_TO_TYPE``).
Values are frozen dataclasses so two graphs compare with ``==`` — the round-trip
property the writer is tested on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import IllumosRustError
from .constants import CTF_CHILD_BIT, CTF_K_FORWARD, CTF_K_STRUCT


class CtfLimitError(IllumosRustError):
    """A type graph does not fit the CTF v2 format (too many types, members, a value out of range)."""


@dataclass(frozen=True, slots=True)
class Encoding:
    """Integer/float encoding word: ``format`` (CTF_INT_* flags or CTF_FP_* kind), ``offset``, ``bits``."""

    format: int
    offset: int
    bits: int


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """``ctf_array_t``: element type, index type, element count."""

    contents: int
    index: int
    nelems: int


@dataclass(frozen=True, slots=True)
class Member:
    """A struct/union member; ``offset`` is in **bits** from the start of the aggregate, as on disk."""

    name: str
    type: int
    offset: int


@dataclass(frozen=True, slots=True)
class Enumerator:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class CtfType:
    """One type record. Which fields matter depends on ``kind``:

    * sized kinds (INTEGER, FLOAT, STRUCT, UNION, ENUM, UNKNOWN): ``size`` in bytes;
    * reference kinds (POINTER, TYPEDEF, VOLATILE, CONST, RESTRICT): ``ref``;
    * FUNCTION: ``ref`` is the return type, ``args`` the argument types, ``varargs`` a trailing ``...``;
    * FORWARD: ``ref`` is the kind of the forwarded tag (STRUCT, UNION or ENUM; 0 is read as STRUCT);
    * ARRAY: ``array``; INTEGER/FLOAT: ``encoding``.
    """

    kind: int
    name: str = ""
    root: bool = True
    size: int = 0
    ref: int = 0
    encoding: Encoding | None = None
    array: ArrayInfo | None = None
    members: tuple[Member, ...] = ()
    enumerators: tuple[Enumerator, ...] = ()
    args: tuple[int, ...] = ()
    varargs: bool = False

    @property
    def forward_kind(self) -> int:
        return self.ref if self.kind == CTF_K_FORWARD and self.ref else CTF_K_STRUCT


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """A function-section record: the signature of one ``STT_FUNC`` symbol."""

    return_type: int
    args: tuple[int, ...] = ()
    varargs: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    """``ctf_lblent_t``: a name for "types up to ``typeidx``" (used to match a child with its parent)."""

    name: str
    typeidx: int


@dataclass(frozen=True, slots=True)
class Header:
    """The header as found on disk (offsets relative to the end of the 36-byte header)."""

    magic: int
    version: int
    flags: int
    parlabel: int
    parname: int
    lbloff: int
    objtoff: int
    funcoff: int
    typeoff: int
    stroff: int
    strlen: int


@dataclass(frozen=True)
class Container:
    """A whole CTF container. ``objects``/``functions`` are parallel to the qualifying symbols of the linked
    symbol table (see ``symbols.ctf_symbols``), ``None`` in ``functions`` meaning "no information"."""

    types: tuple[CtfType, ...] = ()
    labels: tuple[Label, ...] = ()
    objects: tuple[int, ...] = ()
    functions: tuple[FunctionInfo | None, ...] = ()
    parent_label: str = ""
    parent_name: str = ""
    child: bool = False
    header: Header | None = field(default=None, compare=False, repr=False)
    strings: bytes = field(default=b"", compare=False, repr=False)
    compressed: bool = field(default=False, compare=False)

    @property
    def is_child(self) -> bool:
        return self.child or bool(self.parent_name)

    def type_id(self, index: int) -> int:
        """The id of ``types[index]``."""
        return (index + 1) | (CTF_CHILD_BIT if self.is_child else 0)

    def lookup(self, type_id: int) -> CtfType | None:
        """The type with this id if it is in this container (not the parent), else None."""
        if self.is_child != bool(type_id & CTF_CHILD_BIT):
            return None
        index = (type_id & ~CTF_CHILD_BIT) - 1
        return self.types[index] if 0 <= index < len(self.types) else None

    def ids(self) -> range:
        base = CTF_CHILD_BIT if self.is_child else 0
        return range(base + 1, base + len(self.types) + 1)


def trim_objects(objects: tuple[int, ...]) -> tuple[int, ...]:
    """Trailing "no type" entries say nothing (readers stop at the section end, libctf
    ``ctf_lookup_by_symbol`` treats 0 as no data), and a writer's 4-byte alignment padding reads back as one:
    drop them."""
    end = len(objects)
    while end and not objects[end - 1]:
        end -= 1
    return objects[:end]


def trim_functions(functions: tuple[FunctionInfo | None, ...]) -> tuple[FunctionInfo | None, ...]:
    """As ``trim_objects`` for the function section, whose padding u16 0 reads as "no information"."""
    end = len(functions)
    while end and functions[end - 1] is None:
        end -= 1
    return functions[:end]
