"""The views over the DIEs (types, subprograms, ranges, line tables, inline frames) against independent tools.

Oracles: gdb ``ptype/o`` (layouts of Rust and C types), ``llvm-dwarfdump-14`` (range and location lists,
type units), pyelftools' line program decoder, binutils ``addr2line -i`` (inlined frames), and the sources
themselves for values a human can read off them (enumerators, array bounds).
"""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import build_rust, require_tool
from dwarf_inputs import C_SOURCE, build_c, fixture, rust_dwarf4, rust_dwarf5
from illumos_rust.dwarf import DwarfInfo, Type
from illumos_rust.dwarf import constants as DW
from illumos_rust.dwarf.ranges import die_ranges, location_list
from illumos_rust.errors import FormatError

GDB_ROW = re.compile(r"^/\*\s+(\d+)(?::\s*(\d+))?\s+\|\s+(\d+) \*/")
GDB_UNION_ROW = re.compile(r"^/\*\s+(\d+) \*/")  # union members: size only, offset 0
GDB_TOTAL = re.compile(r"total size \(bytes\):\s+(\d+)")


def gdb_ptype(path: Path, names: list[str]) -> dict[str, tuple[list[tuple[int, int | None]], int]]:
    """``ptype/o`` of each type: the (byte offset, bit) of every field row, and the outer total size."""
    require_tool("gdb")
    args = ["gdb", "-nx", "-batch"]
    for n in names:
        args += ["-ex", f"echo @@{n}\\n", "-ex", f"ptype/o {n}"]
    out = subprocess.run([*args, str(path)], capture_output=True, text=True, check=True).stdout
    result: dict[str, tuple[list[tuple[int, int | None]], int]] = {}
    for chunk in out.split("@@")[1:]:
        name, _, body = chunk.partition("\n")
        rows = []
        for line in body.splitlines():
            m = GDB_ROW.match(line)
            if m:
                rows.append((int(m.group(1)), int(m.group(2)) if m.group(2) else None))
            elif GDB_UNION_ROW.match(line):
                rows.append((0, None))
        totals = GDB_TOTAL.findall(body)
        result[name] = (rows, int(totals[-1]))
    return result


def by_name(dwarf: DwarfInfo, name: str) -> Type:
    found = [t for t in dwarf.types.types() if t.qualified_name == name and not t.declaration]
    assert found, name
    return found[0]


def flatten(dwarf: DwarfInfo, t: Type) -> list[tuple[int, int | None]]:
    """Our layout in gdb's row order: members (C bit-fields as byte:bit), Rust variants with their fields."""
    rows: list[tuple[int, int | None]] = []
    for m in t.members:
        if m.artificial:
            continue  # gdb hides the discriminant of a Rust enum
        if m.bit_size is not None and m.bit_offset is not None:
            rows.append((m.bit_offset // 8, m.bit_offset % 8))
        else:
            assert m.offset is not None
            rows.append((m.offset, None))
    if t.variant_part is not None:
        for v in t.variant_part.variants:
            for vm in v.members:
                assert vm.offset is not None and vm.type is not None
                rows.append((vm.offset, None))
                inner = dwarf.types[vm.type]
                rows += [(m.offset or 0, None) for m in inner.members]
    return rows


RUST_TYPES = [
    "rustbin::Shape",
    "rustbin::Pt",
    "rustbin::Big",
    "rustbin::Bits",
    "rustbin::U",
    "rustbin::Newtype",
]


def test_rust_layouts_match_gdb() -> None:
    path = fixture("rustbin")
    expected = gdb_ptype(path, RUST_TYPES)
    with DwarfInfo.open(path) as dwarf:
        for name in RUST_TYPES:
            rows, total = expected[name]
            t = by_name(dwarf, name)
            assert t.byte_size == total, name
            assert sorted(flatten(dwarf, t)) == sorted(rows), name  # gdb prints Rust fields by offset


@pytest.mark.parametrize(
    "flags",
    [("-gdwarf-2", "-gstrict-dwarf"), ("-gdwarf-4",), ("-gdwarf-5",), ("-gdwarf-5", "-gz")],
    ids=["dwarf2", "dwarf4", "dwarf5", "dwarf5-zlib"],
)
def test_c_layouts_and_bitfields_match_gdb(flags: tuple[str, ...]) -> None:
    obj = build_c("layout" + "".join(flags), "gcc", "-g", *flags)
    names = ["struct point", "union u", "struct list"]
    expected = gdb_ptype(obj, names)
    with DwarfInfo.open(obj) as dwarf:
        for name in names:
            rows, total = expected[name]
            t = by_name(dwarf, name.split()[1])
            assert t.byte_size == total
            assert flatten(dwarf, t) == rows, (name, flags)


def test_values_read_off_the_sources() -> None:
    """Enumerators, array bounds, variant discriminants and signatures, as the sources spell them."""
    with DwarfInfo.open(build_c("values", "gcc", "-g", "-gdwarf-5")) as dwarf:
        color = by_name(dwarf, "color")
        assert [(e.name, e.value) for e in color.enumerators] == [("RED", 0), ("GREEN", 5), ("BLUE", -2)]
        names = next(t for t in dwarf.types.types() if t.kind == "array" and len(t.dimensions) == 2)
        assert [d.count for d in names.dimensions] == [3, 4]  # static const char *names[3][4]
        arrays = by_name(dwarf, "arrays")  # char buf[256]; char big[70000]; int z[0]; int flex[];
        dims = [[d.count for d in dwarf.types[m.type or 0].dimensions] for m in arrays.members[1:]]
        assert dims == [[256], [70000], [0], [None]]
        (fn,) = [s for s in dwarf.types.subprograms() if s.name == "sum"]
        assert [p.name for p in fn.params] == ["p", "c", "v", "l"] and fn.varargs
        assert dwarf.types[fn.params[1].type or 0].qualified_name == "color"
        lst = by_name(dwarf, "list")
        cb = dwarf.types[dwarf.types[lst.members[2].type or 0].target or 0]
        assert cb.kind == "subroutine" and cb.varargs and len(cb.params) == 1
        quals = dwarf.types[dwarf.types[lst.members[1].type or 0].target or 0]
        assert {quals.kind, dwarf.types[quals.target or 0].kind} == {"const", "volatile"}
    with DwarfInfo.open(fixture("rustypes.o")) as dwarf:
        wide = by_name(dwarf, "rustypes::Wide")  # #[repr(i64)] enum Wide { Lo = -1, Hi = 0x1_0000_0000 }
        assert [(e.name, e.value) for e in wide.enumerators] == [("Lo", -1), ("Hi", 1 << 32)]
        assert wide.byte_size == 8
        small = by_name(dwarf, "rustypes::Small")
        assert [(e.name, e.value) for e in small.enumerators] == [("A", 0), ("B", 1), ("C", 2)]
        shape = by_name(dwarf, "rustypes::Shape")
        assert shape.variant_part is not None
        variants = [(v.discr_value, [m.name for m in v.members]) for v in shape.variant_part.variants]
        assert variants == [(0, ["Circle"]), (1, ["Rect"]), (2, ["Empty"])]
        tag = shape.variant_part.discr_member
        assert tag is not None and tag.key == shape.variant_part.discr and tag.artificial
        # gdb shows Rect's first field at offset 4 (test_rust_layouts_match_gdb): a 4-byte tag at 0.
        assert (tag.offset, dwarf.types[tag.type or 0].name) == (0, "u32")
        opt = by_name(dwarf, "core::option::Option<&str>")  # niche layout: Some is the default variant
        assert opt.variant_part is not None
        assert [(v.discr_value, v.members[0].name) for v in opt.variant_part.variants] == [
            (0, "None"),
            (None, "Some"),
        ]
        big = by_name(dwarf, "rustypes::Big")  # pub struct Big { pub data: [u8; 9000], pub tail: u64 }
        arr = dwarf.types[big.members[0].type or 0]
        assert [d.count for d in arr.dimensions] == [9000]
        wrapper = next(t for t in dwarf.types.types() if (t.name or "").startswith("Wrapper<"))
        assert [p.name for p in wrapper.template_params] == ["T"]


def test_rust_dwarf5_layouts_match_gdb() -> None:
    path = rust_dwarf5()
    names = ["dwarf5::Shape", "dwarf5::Pair"]
    expected = gdb_ptype(path, names)
    with DwarfInfo.open(path) as dwarf:
        assert {u.version for u in dwarf.units} == {5}
        for name in names:
            rows, total = expected[name]
            t = by_name(dwarf, name)
            assert (t.byte_size, sorted(flatten(dwarf, t))) == (total, sorted(rows))
        pair = by_name(dwarf, "dwarf5::Pair")  # c: [[u16; 3]; 2]
        outer = dwarf.types[pair.members[2].type or 0]
        inner = dwarf.types[outer.target or 0]
        assert [d.count for d in outer.dimensions] == [2] and [d.count for d in inner.dimensions] == [3]


def symbols(path: Path) -> dict[str, int]:
    with path.open("rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        assert symtab is not None
        return {s.name: s["st_value"] for s in symtab.iter_symbols()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("make", [rust_dwarf4, rust_dwarf5], ids=["dwarf4", "dwarf5"])
def test_functions_and_statics_match_the_symbol_table(make: object) -> None:
    path = make()  # type: ignore[operator]
    syms = symbols(path)
    with DwarfInfo.open(path) as dwarf:
        funcs = [s for s in dwarf.types.subprograms() if s.low_pc and s.linkage_name in syms]
        assert len(funcs) > 5
        for f in funcs:
            assert f.low_pc == syms[f.linkage_name or ""], f.name
            assert f.high_pc is not None and f.high_pc > f.low_pc
        (total,) = [f for f in funcs if f.name == "total"]
        assert [p.name for p in total.params] == ["v", "k"]
        crate = path.name  # the crate name (dwarf4 / dwarf5) is the binary's name
        assert dwarf.types[total.params[0].type or 0].name == f"&[{crate}::Shape]"
        assert dwarf.types[total.params[1].type or 0].qualified_name == "core::option::Option<&str>"
        statics = {v.name: v for v in dwarf.types.variables()}
        gpair = statics["GPAIR"]
        assert gpair.address == syms[gpair.linkage_name or "GPAIR"]


LLVM_DIE = re.compile(r"^0x([0-9a-f]+):\s+DW_TAG_")
LLVM_RANGE = re.compile(r"\[0x([0-9a-f]+), 0x([0-9a-f]+)\)")


def llvm_lists(path: Path, attr: str) -> dict[int, list[tuple[int, int]]]:
    """``{DIE offset: [(low, high)]}`` for every ``attr`` list that llvm-dwarfdump resolves."""
    tool = require_tool("llvm-dwarfdump-14")
    out = subprocess.run([tool, "--debug-info", str(path)], capture_output=True, text=True, check=True).stdout
    result: dict[int, list[tuple[int, int]]] = {}
    die = -1
    inside = False
    for line in out.splitlines():
        m = LLVM_DIE.match(line)
        if m:
            die, inside = int(m.group(1), 16), False
            continue
        stripped = line.strip()
        if stripped.startswith("DW_AT_"):
            inside = stripped.startswith(attr) and ("rangelist" in line or "loclist" in line or "(0x" in line)
        if inside:
            for lo, hi in LLVM_RANGE.findall(line):
                result.setdefault(die, []).append((int(lo, 16), int(hi, 16)))
    return result


@pytest.mark.parametrize(
    "make",
    [lambda: rust_dwarf4(True), lambda: rust_dwarf5(True), lambda: fixture("rustbin")],
    ids=["dwarf4-O", "dwarf5-O", "rustbin"],
)
def test_range_and_location_lists_match_llvm_dwarfdump(make: object) -> None:
    path = make()  # type: ignore[operator]
    ranges = llvm_lists(path, "DW_AT_ranges")
    locations = llvm_lists(path, "DW_AT_location")
    assert ranges
    with DwarfInfo.open(path) as dwarf:
        for off, expected in ranges.items():
            die = dwarf.die_at(off)
            assert die is not None
            assert die_ranges(die) == expected, hex(off)
        checked = 0
        for off, expected in locations.items():
            die = dwarf.die_at(off)
            assert die is not None
            a = die.attribute(DW.DW_AT_location)
            assert a is not None
            if isinstance(a.value, bytes):
                continue  # a single expression, not a list
            got = location_list(die.unit, int(a.value), a.form == DW.DW_FORM_loclistx)
            assert [(lo, hi) for lo, hi, _ in got] == expected, hex(off)
            checked += 1
        assert checked or "-O" not in str(make)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fixture("rustbin"),
        lambda: fixture("ctfconv_t.o"),
        lambda: rust_dwarf5(True),
        lambda: build_c("lines5z", "gcc", "-g", "-gdwarf-5", "-gz"),
        lambda: build_c("lines4", "gcc", "-g", "-gdwarf-4"),
        lambda: build_c("lines_a64", "clang", "--target=aarch64-linux-gnu", "-gdwarf-5"),
        lambda: build_c("lines_i386", "clang", "--target=i386-linux-gnu", "-gdwarf-4"),
        lambda: build_c("lines_ppc64", "clang", "--target=powerpc64-linux-gnu", "-gdwarf-5"),
    ],
    ids=["rustbin", "dwarf2", "rust-dwarf5", "gcc-dwarf5-zlib", "gcc-dwarf4", "aarch64", "i386", "ppc64-be"],
)
def test_line_tables_match_llvm_dwarfdump_and_pyelftools(make: object) -> None:
    """Rows against llvm-dwarfdump (pyelftools reports is_stmt wrongly on end_sequence rows), file tables
    against pyelftools."""
    path = make()  # type: ignore[operator]
    tool = require_tool("llvm-dwarfdump-14")
    dump = subprocess.run(
        [tool, "--debug-line", str(path)], capture_output=True, text=True, check=True
    ).stdout
    programs = dump.split("debug_line[")[1:]
    with path.open("rb") as fh, DwarfInfo.open(path) as dwarf:
        theirs_info = ELFFile(fh).get_dwarf_info()
        cus = list(theirs_info.iter_CUs())
        assert len(cus) == len(dwarf.compile_units) == len(programs)
        for cu, unit, text in zip(cus, dwarf.compile_units, programs, strict=True):
            table = dwarf.line_table(unit)
            assert table is not None
            expected = [
                (int(a, 16), int(f), int(ln), int(c), int(d), "is_stmt" in flags, "end_sequence" in flags)
                for a, ln, c, f, _isa, d, flags in LLVM_LINE_ROW.findall(text)
            ]
            got = [
                (r.address, r.file, r.line, r.column, r.discriminator, r.is_stmt, r.end_sequence)
                for r in table.rows
            ]
            assert got == expected
            program = theirs_info.line_program_for_CU(cu)
            assert program is not None
            names = [f.name.decode() for f in program["file_entry"]]
            assert [f.name for f in table.files] == names


LLVM_LINE_ROW = re.compile(r"^0x([0-9a-f]{16})[ ]+(\d+)[ ]+(\d+)[ ]+(\d+)[ ]+(\d+)[ ]+(\d+)[ ]*(.*)$", re.M)


SYMBOLIZERS = {
    # binutils 2.40 addr2line numbers DWARF 5 line-table files from 1 (it prints file 0 for file 1), so the
    # DWARF 5 build is checked with llvm-symbolizer in GNU output style instead.
    "dwarf4": ["addr2line"],
    "dwarf5": ["llvm-symbolizer-14", "--no-demangle", "--output-style=GNU"],
}


@pytest.mark.parametrize("version", ["dwarf4", "dwarf5"])
def test_inlined_frames_match_addr2line(version: str) -> None:
    path = (rust_dwarf4 if version == "dwarf4" else rust_dwarf5)(optimized=True)
    tool, *extra = SYMBOLIZERS[version]
    tool = require_tool(tool)
    with DwarfInfo.open(path) as dwarf:
        addresses_set: set[int] = set()
        for u in dwarf.compile_units:
            table = dwarf.line_table(u) or pytest.fail("no line table")
            for seq in table.sequences:
                for row, nxt in itertools.pairwise(seq):
                    addresses_set.add(row.address)
                    if nxt.address > row.address + 1:
                        addresses_set.add(row.address + 1)  # between rows: the lookup must bisect
        addresses = sorted(addresses_set)
        frames = {a: dwarf.inlines.frames(a) for a in addresses}
    out = subprocess.run(
        [tool, *extra, "-a", "-f", "-i", "-s", "-e", str(path), *[hex(a) for a in addresses]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    blocks = re.split(r"^0x([0-9a-f]+)\n", out, flags=re.M)[1:]
    inlined = 0
    for addr_text, body in zip(blocks[::2], blocks[1::2], strict=True):
        lines = body.splitlines()
        expected = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
        ours = frames[int(addr_text, 16)]
        if expected[0][0] == "??":
            assert ours == []
            continue
        got = [
            (f.linkage_name or f.function, f"{(f.file or '??').rsplit('/', 1)[-1]}:{f.line or 0}")
            for f in ours
        ]
        # addr2line prints line 0 ("no line") as "?", llvm-symbolizer as 0.
        want = [(fn, loc.split(" (discriminator")[0].replace(":?", ":0")) for fn, loc in expected]
        assert got == want, addr_text
        inlined += len(ours) > 1
    assert inlined > 10


@pytest.mark.parametrize("version", ["-gdwarf-4", "-gdwarf-5"])
def test_type_units_match_llvm_dwarfdump(version: str) -> None:
    obj = build_c("tu" + version, "gcc", "-g", version, "-fdebug-types-section")
    tool = require_tool("llvm-dwarfdump-14")
    out = subprocess.run(
        [tool, "--debug-info", "--debug-types", str(obj)], capture_output=True, text=True
    ).stdout
    signatures = {int(s, 16) for s in re.findall(r"type_signature = 0x([0-9a-f]+)", out)}
    assert signatures
    with DwarfInfo.open(obj) as dwarf:
        assert {u.type_signature for u in dwarf.type_units} == signatures
        assert all(u.version == int(version[-1]) for u in dwarf.type_units)
        resolved = 0
        for die in dwarf.iter_dies():
            a = die.attribute(DW.DW_AT_type) or die.attribute(DW.DW_AT_signature)
            if a is not None and a.form == DW.DW_FORM_ref_sig8:
                target = die.ref(a.name)
                assert target is not None and target.tag in (
                    DW.DW_TAG_structure_type,
                    DW.DW_TAG_union_type,
                    DW.DW_TAG_enumeration_type,
                )
                resolved += 1
        assert resolved
        point = [t for t in dwarf.types.types() if t.qualified_name == "point" and not t.declaration]
        assert point and [m.name for m in point[0].members] == ["x", "y", "flags", "mode", "big"]
    assert "struct point" in C_SOURCE


TLS_SOURCE = """
use std::cell::Cell;
thread_local! { pub static T: Cell<u64> = const { Cell::new(5) }; }
pub fn bump() -> u64 { T.with(|t| { t.set(t.get() + 1); t.get() }) }
"""
LLVM_NAMED_DIE = re.compile(
    r"^0x([0-9a-f]+):\s+(DW_TAG_\w+)(?:\n\s+DW_AT_\w+\t\(.*\))*?\n\s+DW_AT_name\t\(\"([^\"]*)\"\)", re.M
)


def test_thread_local_relocations_match_llvm_dwarfdump() -> None:
    """rustc's thread_local! puts R_X86_64_DTPOFF64 in .debug_info (pyelftools cannot apply it)."""
    # --emit=obj writes the object to the -o path, which build_rust names like an rlib.
    obj = build_rust(TLS_SOURCE, "tlsobj", "-g", "--emit=obj", crate_type="rlib")
    tool = require_tool("llvm-dwarfdump-14")
    out = subprocess.run([tool, "--debug-info", str(obj)], capture_output=True, text=True, check=True).stdout
    expected = [(int(o, 16), tag, name) for o, tag, name in LLVM_NAMED_DIE.findall(out)]
    assert len(expected) > 50
    with DwarfInfo.open(obj) as dwarf:
        ours = {d.offset: d for d in dwarf.iter_dies()}
        for offset, tag, name in expected:
            die = ours[offset]
            assert (DW.tag_name(die.tag), die.name) == (tag, name), hex(offset)
        tls = [
            d.get(DW.DW_AT_location)
            for d in ours.values()
            if d.tag == DW.DW_TAG_variable and isinstance(d.get(DW.DW_AT_location), bytes)
        ]
        # DW_OP_const8u 0x0, DW_OP_GNU_push_tls_address: the symbols sit at offset 0 of their TLS sections.
        assert b"\x0e" + bytes(8) + b"\xe0" in tls


def test_thread_local_offsets_are_relocated() -> None:
    """gcc's two __thread ints: tb's DW_OP_const8u operand gets R_X86_64_DTPOFF32 = S + A = tb's st_value (4).

    (llvm-dwarfdump 14 leaves this relocation unapplied and prints 0, so the symbol table is the oracle.)
    """
    source = "__thread int ta = 1;\n__thread int tb = 2;\nint f(void) { return ta + tb; }\n"
    obj = build_c("tls2", "gcc", "-g", "-gdwarf-5", source=source)
    syms = symbols(obj)
    assert syms["tb"] == 4
    with DwarfInfo.open(obj) as dwarf:
        locations = {
            d.name: d.get(DW.DW_AT_location) for d in dwarf.iter_dies() if d.tag == DW.DW_TAG_variable
        }
    for name in ("ta", "tb"):
        loc = locations[name]
        assert isinstance(loc, bytes) and loc[0] == DW.DW_OP_const8u and loc[9] == DW.DW_OP_form_tls_address
        assert int.from_bytes(loc[1:9], "little") == syms[name]


@pytest.mark.parametrize("version", ["-gdwarf-4", "-gdwarf-5"])
def test_split_dwarf_objects_match_llvm_dwarfdump(version: str) -> None:
    """gcc -gsplit-dwarf: the skeleton in the .o and the full unit in the .dwo (sections .debug_*.dwo)."""
    obj = build_c("split" + version, "gcc", "-g", version, "-gsplit-dwarf")
    dwo = obj.with_suffix(".dwo")
    assert dwo.exists()
    tool = require_tool("llvm-dwarfdump-14")
    out = subprocess.run([tool, "--debug-info", str(dwo)], capture_output=True, text=True, check=True).stdout
    expected = [(int(o, 16), tag, name) for o, tag, name in LLVM_NAMED_DIE.findall(out)]
    assert len(expected) > 20
    with DwarfInfo.open(obj) as skeleton, DwarfInfo.open(dwo) as full:
        ours = {d.offset: d for d in full.iter_dies()}
        got = [(o, DW.tag_name(ours[o].tag), ours[o].name) for o, _, _ in expected]
        assert got == expected
        point = [t for t in full.types.types() if t.qualified_name == "point" and not t.declaration]
        assert point and [m.name for m in point[0].members] == ["x", "y", "flags", "mode", "big"]
        (sk,) = skeleton.units
        (unit,) = full.units
        if version == "-gdwarf-5":  # the DWO id ties the two: a header field in DWARF 5 ...
            assert (sk.unit_type, unit.unit_type) == (DW.DW_UT_skeleton, DW.DW_UT_split_compile)
            assert sk.dwo_id == unit.dwo_id is not None
        else:  # ... and DW_AT_GNU_dwo_id (0x2131) on both unit DIEs in the GNU extension to DWARF 4
            assert sk.top.get(0x2131) == unit.top.get(0x2131) is not None
        # Addresses of a .dwo live in the skeleton's .debug_addr: without it only that value is unreadable.
        (fn,) = [d for d in full.iter_dies() if d.tag == DW.DW_TAG_subprogram and d.name == "sum"]
        with pytest.raises(FormatError, match="debug_addr"):
            fn.get(DW.DW_AT_low_pc)
        full.attach_skeleton(skeleton)
        fresh = full.die_at(fn.offset)
        assert fresh is not None and fresh.get(DW.DW_AT_low_pc) == symbols(obj)["sum"]
