"""What the DWARF of a file says about its types and functions, read with pyelftools (the independent oracle
for the CTF converter tests). Only facts the converter must preserve: aggregate sizes and member bit offsets,
Rust enum discriminant values, C enum values, subprogram parameter sizes, static object sizes.
"""

from __future__ import annotations

import lzma
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile

SCOPES = ("DW_TAG_namespace", "DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_enumeration_type")
LANG_RUST = 0x1C


@dataclass
class Aggregate:
    name: str
    kind: str  # "struct" / "union"
    size: int
    members: list[tuple[str, int]]  # (name, bit offset), variant parts excluded
    discr: tuple[int, dict[str, int]] | None = None  # (tag bit offset, {variant: value}) of a Rust enum
    variants: list[str] = field(default_factory=list)


@dataclass
class Facts:
    aggregates: list[Aggregate] = field(default_factory=list)
    enums: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)
    functions: dict[str, list[int | None]] = field(default_factory=dict)  # symbol name -> param sizes
    objects: dict[str, int | None] = field(default_factory=dict)
    # functions of units with no type information at all (no DW_AT_type anywhere, no formal parameter):
    # -C debuginfo=1 / std's prebuilt units / gcc -g1; their DWARF does not say the signature
    untyped_functions: set[str] = field(default_factory=set)


def _attr(die: DIE, name: str) -> Any:
    a = die.attributes.get(name)
    return None if a is None else a.value


def _str(die: DIE, name: str) -> str | None:
    v = _attr(die, name)
    return v.decode() if isinstance(v, bytes) else v


def qualified(die: DIE, rust: bool) -> str:
    name = _str(die, "DW_AT_name") or ""
    if rust and name:
        parts = []
        p = die.get_parent()
        while p is not None and p.tag in SCOPES:
            parts.append(_str(p, "DW_AT_name") or "{anon}")
            p = p.get_parent()
        name = "::".join([*reversed(parts), name])
    # The converter's documented escape: no '*' in CTF names (libctf lookups stop at '*').
    return name.replace("*const ", "ptr const ").replace("*mut ", "ptr mut ").replace("*", "ptr ")


def _ref(die: DIE, name: str = "DW_AT_type") -> DIE | None:
    if name not in die.attributes:
        return None
    return die.get_DIE_from_attribute(name)


def type_size(die: DIE | None, pointer: int = 8) -> int | None:
    for _ in range(64):
        if die is None:
            return 0
        tag = die.tag
        if tag in ("DW_TAG_pointer_type", "DW_TAG_reference_type", "DW_TAG_rvalue_reference_type"):
            return pointer
        if tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type"):
            die = _ref(die)
            continue
        if tag == "DW_TAG_array_type":
            n = 1
            for sub in die.iter_children():
                if sub.tag == "DW_TAG_subrange_type":
                    count = _attr(sub, "DW_AT_count")
                    if count is None:
                        upper = _attr(sub, "DW_AT_upper_bound")
                        count = 0 if upper is None else upper + 1
                    n *= count
            inner = type_size(_ref(die), pointer)
            return None if inner is None else n * inner
        if tag == "DW_TAG_subroutine_type":
            return 0
        size = _attr(die, "DW_AT_byte_size")
        return size if isinstance(size, int) else None
    return None


def _member_offset(m: DIE) -> int:
    bit = _attr(m, "DW_AT_data_bit_offset")
    if bit is not None:
        return int(bit)
    loc = _attr(m, "DW_AT_data_member_location") or 0
    if isinstance(loc, list):  # DWARF 2 style block: DW_OP_plus_uconst N
        loc = loc[1] if len(loc) == 2 else 0
    legacy = _attr(m, "DW_AT_bit_offset")
    if legacy is not None:
        storage = _attr(m, "DW_AT_byte_size") or type_size(_ref(m))
        return int(loc) * 8 + int(storage or 0) * 8 - int(legacy) - int(_attr(m, "DW_AT_bit_size"))
    return int(loc) * 8


def _signed(die: DIE | None) -> bool:
    return die is not None and _attr(die, "DW_AT_encoding") in (5, 6)


def _value(v: int, size: int, signed: bool) -> int:
    if signed and v >= 1 << (8 * size - 1):
        v -= 1 << (8 * size)
    return v


def read_facts(path: Path, only_cu: str | None = None) -> Facts:
    """Facts of every compile unit (or only those whose DW_AT_name contains ``only_cu``)."""
    facts = Facts()
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=True)
        for cu in dwarf.iter_CUs():
            top = cu.get_top_DIE()
            if only_cu and only_cu not in (_str(top, "DW_AT_name") or ""):
                continue
            rust = _attr(top, "DW_AT_language") == LANG_RUST
            before = set(facts.functions)
            typed = False
            for die in cu.iter_DIEs():
                typed = typed or "DW_AT_type" in die.attributes or die.tag == "DW_TAG_formal_parameter"
                _collect(die, rust, facts)
            if not typed:
                facts.untyped_functions.update(set(facts.functions) - before)
    return facts


def _collect(die: DIE, rust: bool, facts: Facts) -> None:
    tag = die.tag
    if tag in ("DW_TAG_structure_type", "DW_TAG_union_type") and "DW_AT_declaration" not in die.attributes:
        size = _attr(die, "DW_AT_byte_size")
        if size is None:
            return
        agg = Aggregate(qualified(die, rust), "union" if tag == "DW_TAG_union_type" else "struct", size, [])
        for child in die.iter_children():
            if child.tag == "DW_TAG_member" and "DW_AT_external" not in child.attributes:
                agg.members.append((_str(child, "DW_AT_name") or "", _member_offset(child)))
            elif child.tag == "DW_TAG_variant_part":
                tag_die = _ref(child, "DW_AT_discr")
                tag_type = _ref(tag_die) if tag_die is not None else None
                values: dict[str, int] = {}
                for variant in child.iter_children():
                    if variant.tag != "DW_TAG_variant":
                        continue
                    member = next(c for c in variant.iter_children() if c.tag == "DW_TAG_member")
                    vname = _str(member, "DW_AT_name") or ""
                    agg.variants.append(vname)
                    if "DW_AT_discr_value" in variant.attributes:
                        raw = _attr(variant, "DW_AT_discr_value")
                        values[vname] = _value(raw, type_size(tag_type) or 8, _signed(tag_type))
                if tag_die is not None:
                    agg.discr = (_member_offset(tag_die), values)
        facts.aggregates.append(agg)
    elif tag == "DW_TAG_enumeration_type" and "DW_AT_declaration" not in die.attributes:
        size = _attr(die, "DW_AT_byte_size") or 4
        base = _ref(die)
        values = {}
        for e in die.iter_children():
            if e.tag == "DW_TAG_enumerator":
                form = e.attributes["DW_AT_const_value"].form
                values[_str(e, "DW_AT_name") or ""] = _value(
                    _attr(e, "DW_AT_const_value"), size, _signed(base) and form != "DW_FORM_sdata"
                )
        facts.enums[qualified(die, rust)] = (size, values)
    elif tag == "DW_TAG_subprogram" and (
        "DW_AT_low_pc" in die.attributes or "DW_AT_ranges" in die.attributes
    ):
        src = die
        while "DW_AT_abstract_origin" in src.attributes or "DW_AT_specification" in src.attributes:
            src = _ref(
                src,
                "DW_AT_abstract_origin"
                if "DW_AT_abstract_origin" in src.attributes
                else "DW_AT_specification",
            )  # type: ignore[assignment]
        name = _str(src, "DW_AT_linkage_name") or _str(src, "DW_AT_name")
        params = [c for c in src.iter_children() if c.tag == "DW_TAG_formal_parameter"]
        if name:
            facts.functions.setdefault(name, [type_size(_ref(p)) for p in params])
    elif tag == "DW_TAG_variable" and "DW_AT_location" in die.attributes:
        name = _str(die, "DW_AT_linkage_name") or _str(die, "DW_AT_name")
        parent = die.get_parent()
        if name and parent is not None and parent.tag in ("DW_TAG_compile_unit", "DW_TAG_namespace"):
            facts.objects.setdefault(name, type_size(_ref(die)))


def unpack_xz(src: Path, dst: Path) -> Path:
    if not dst.exists():
        with lzma.open(src) as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return dst
