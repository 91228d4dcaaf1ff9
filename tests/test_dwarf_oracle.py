"""Every DIE and attribute of real files read by ``dwarf/`` equals what pyelftools (independent) reads.

Inputs cover DWARF 2 (ctfconvert's gcc -gdwarf-2), 4 and 5; gcc, clang and rustc producers; ET_REL objects
with x86-64 and AArch64 relocations; zlib-compressed sections (gcc -gz); 32-bit and big-endian objects.
Where pyelftools gives a different *representation* (it turns ``rnglistx``/``loclistx`` into offsets) the
test compares the meaning: the decoded ranges (see test_dwarf_views.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from elftools.dwarf.enums import ENUM_DW_AT, ENUM_DW_FORM, ENUM_DW_TAG
from elftools.elf.elffile import ELFFile

from conftest import build_rust
from dwarf_inputs import RUST_SOURCE, build_c, fixture, rust_dwarf4, rust_dwarf5
from illumos_rust.dwarf import DwarfInfo

UNIT_REF_FORMS = {"DW_FORM_ref1", "DW_FORM_ref2", "DW_FORM_ref4", "DW_FORM_ref8", "DW_FORM_ref_udata"}
INDEX_FORMS = {ENUM_DW_FORM["DW_FORM_rnglistx"], ENUM_DW_FORM["DW_FORM_loclistx"]}


def pyelftools_dies(path: Path) -> list[tuple[int, int, dict[int, tuple[int, Any]]]]:
    """(offset, tag, {attribute: (form, value)}) of every non-null DIE, as pyelftools decodes them."""
    out: list[tuple[int, int, dict[int, tuple[int, Any]]]] = []
    with path.open("rb") as fh:
        dwarf = ELFFile(fh).get_dwarf_info()
        for cu in dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                if die.is_null():
                    continue
                attrs: dict[int, tuple[int, Any]] = {}
                for a in die.attributes.values():
                    at = ENUM_DW_AT[a.name] if isinstance(a.name, str) else a.name
                    value = a.value
                    if a.form in UNIT_REF_FORMS:
                        value += cu.cu_offset
                    if isinstance(value, list):
                        value = bytes(value)
                    attrs[at] = (ENUM_DW_FORM[a.form], value)
                raw_tag: Any = die.tag
                tag = int(ENUM_DW_TAG[raw_tag] if isinstance(raw_tag, str) else raw_tag)
                out.append((die.offset, tag, attrs))
    return out


def inputs() -> list[tuple[str, Any]]:
    return [
        ("rustypes.o (rustc ET_REL, DWARF 4)", lambda: fixture("rustypes.o")),
        ("rustbin (rustc executable)", lambda: fixture("rustbin")),
        ("ctfconv_t.o (gcc DWARF 2)", lambda: fixture("ctfconv_t.o")),
        ("gcc -gdwarf-4", lambda: build_c("g4", "gcc", "-g", "-gdwarf-4")),
        ("gcc -gdwarf-5 -gz", lambda: build_c("g5z", "gcc", "-g", "-gdwarf-5", "-gz")),
        ("gcc -gdwarf-5 -gdwarf64", lambda: build_c("g5_64", "gcc", "-g", "-gdwarf-5", "-gdwarf64")),
        (
            "clang aarch64 ET_REL DWARF 4",
            lambda: build_c("a64", "clang", "--target=aarch64-linux-gnu", "-gdwarf-4"),
        ),
        (
            "clang aarch64 ET_REL DWARF 5",
            lambda: build_c("a64v5", "clang", "--target=aarch64-linux-gnu", "-gdwarf-5"),
        ),
        (
            "clang i386 ET_REL (SHT_REL)",
            lambda: build_c("i386", "clang", "--target=i386-linux-gnu", "-gdwarf-4"),
        ),
        (
            "clang ppc64 big-endian",
            lambda: build_c("ppc64", "clang", "--target=powerpc64-linux-gnu", "-gdwarf-4"),
        ),
        ("rustc DWARF 4", rust_dwarf4),
        ("rustc DWARF 5 -O", lambda: rust_dwarf5(optimized=True)),
    ]


@pytest.mark.parametrize(("label", "make"), inputs(), ids=[i[0] for i in inputs()])
def test_every_die_and_attribute_matches_pyelftools(label: str, make: Any) -> None:
    path = make()
    theirs = pyelftools_dies(path)
    with DwarfInfo.open(path) as dwarf:
        # Both decoders: ``values`` (compiled per abbreviation, the fast path) and ``attributes`` (value by
        # value, with forms), each held to pyelftools, plus ``attribute()`` (one record on demand).
        dies = [d for u in dwarf.units for d in u.dies()]
        ours = [(d.offset, d.tag, d.attributes, d.values) for d in dies]
        assert [(o, t) for o, t, _, _ in ours] == [(o, t) for o, t, _ in theirs]
        compared = 0
        for die, (offset, _tag, mine, fast), (_, _, other) in zip(dies, ours, theirs, strict=True):
            assert set(mine) == set(other) == set(fast), hex(offset)
            for at, attr in mine.items():
                form, value = other[at]
                assert attr.form == form, (hex(offset), at)
                assert die.form_of(at) == form, (hex(offset), at)
                if form in INDEX_FORMS:
                    continue  # pyelftools turns the index into an offset: compared through the views
                if isinstance(value, bytes) and isinstance(attr.value, str):
                    value = value.decode("utf-8", "surrogateescape")
                if isinstance(attr.value, bool):
                    value = bool(value)
                assert attr.value == value, (hex(offset), hex(at), attr, value)
                assert fast[at] == value and type(fast[at]) is type(attr.value), (hex(offset), hex(at), value)
                assert die.attribute(at) == attr, (hex(offset), hex(at))
                compared += 1
        assert compared > 100


def test_die_access_by_offset_parses_only_the_unit_it_needs() -> None:
    """A statically linked -g build carries std's units too; reading one DIE must not walk the others."""
    path = build_rust(RUST_SOURCE, "dwarf4static", "-g")
    with DwarfInfo.open(path) as dwarf:
        units = dwarf.units
        assert len(units) > 5
        target = units[len(units) // 2]
        with path.open("rb") as fh:  # pyelftools decodes only that unit's DIEs
            (cu,) = [c for c in ELFFile(fh).get_dwarf_info().iter_CUs() if c.cu_offset == target.offset]
            theirs = [(d.offset, str(d.tag)) for d in cu.iter_DIEs() if not d.is_null()]
        wanted, tag = theirs[5]
        die = dwarf.die_at(wanted)
        assert die is not None and die.tag == ENUM_DW_TAG[tag] and die.unit is target
        assert [u for u in units if u._offsets is not None] == [target]
        assert dwarf.die_at(wanted + 1) is None  # no DIE starts one byte in
