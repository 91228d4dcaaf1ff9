"""Every ``DW_FORM`` in one hand-assembled DWARF 5 unit, 32- and 64-bit, with values computed by hand.

No compiler emits ``DW_FORM_indirect``, ``strx3``, ``addrx2`` or ``block4`` in ordinary output, so the unit is
written in assembler (binutils ``as``) from the DWARF 5 tables 7.5-7.6; the expected values below are read off
the same source, not from the reader.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from illumos_rust.dwarf import DwarfInfo
from illumos_rust.dwarf import constants as DW
from illumos_rust.errors import FormatError

# (attribute, form, assembler for the value, expected decoded value)
A = 0x2100  # DW_AT_lo_user range: attribute numbers with no meaning attached
FORMS: list[tuple[int, int, str, object]] = [
    (DW.DW_AT_name, DW.DW_FORM_strx1, ".byte 0", "alpha"),
    (A + 1, DW.DW_FORM_strx2, ".short 1", "beta"),
    (A + 2, DW.DW_FORM_strx3, ".byte 2, 0, 0", "gamma"),
    (A + 3, DW.DW_FORM_strx4, ".long 3", "delta"),
    (A + 4, DW.DW_FORM_strx, ".uleb128 1", "beta"),
    (A + 5, DW.DW_FORM_strp, "{off} .Ls_eps - .Ldebug_str", "epsilon"),
    (A + 6, DW.DW_FORM_line_strp, "{off} .Ll_dir - .Ldebug_line_str", "/src/dir"),
    (A + 7, DW.DW_FORM_string, '.asciz "inline"', "inline"),
    (A + 8, DW.DW_FORM_addrx1, ".byte 1", 0xDEADBEEF),
    (A + 9, DW.DW_FORM_addrx2, ".short 0", 0x1122334455667788),
    (A + 10, DW.DW_FORM_addrx3, ".byte 1, 0, 0", 0xDEADBEEF),
    (A + 11, DW.DW_FORM_addrx4, ".long 0", 0x1122334455667788),
    (A + 12, DW.DW_FORM_addrx, ".uleb128 1", 0xDEADBEEF),
    (A + 13, DW.DW_FORM_addr, ".quad 0x401000", 0x401000),
    (A + 14, DW.DW_FORM_data1, ".byte 0xfe", 0xFE),
    (A + 15, DW.DW_FORM_data2, ".short 0xbeef", 0xBEEF),
    (A + 16, DW.DW_FORM_data4, ".long 0x12345678", 0x12345678),
    (A + 17, DW.DW_FORM_data8, ".quad 0x0102030405060708", 0x0102030405060708),
    (A + 18, DW.DW_FORM_data16, ".quad 0x0706050403020100, 0x0f0e0d0c0b0a0908", bytes(range(16))),
    (A + 19, DW.DW_FORM_sdata, ".sleb128 -300", -300),
    (A + 20, DW.DW_FORM_udata, ".uleb128 300", 300),
    (A + 21, DW.DW_FORM_implicit_const, "", -42),
    (A + 22, DW.DW_FORM_flag, ".byte 1", True),
    (A + 23, DW.DW_FORM_flag_present, "", True),
    (A + 24, DW.DW_FORM_block1, ".byte 2, 0xaa, 0xbb", b"\xaa\xbb"),
    (A + 25, DW.DW_FORM_block2, ".short 3\n.byte 1, 2, 3", b"\x01\x02\x03"),
    (A + 26, DW.DW_FORM_block4, ".long 1\n.byte 9", b"\x09"),
    (A + 27, DW.DW_FORM_block, ".uleb128 2\n.byte 7, 8", b"\x07\x08"),
    (A + 28, DW.DW_FORM_exprloc, ".uleb128 2\n.byte 0x23, 0x10", b"\x23\x10"),  # DW_OP_plus_uconst 16
    (A + 29, DW.DW_FORM_sec_offset, "{off} 0x1234", 0x1234),
    (A + 30, DW.DW_FORM_indirect, ".uleb128 0x0f\n.uleb128 77", 77),  # indirect -> udata 77
    (A + 31, DW.DW_FORM_indirect, ".uleb128 0x25\n.byte 3", "delta"),  # indirect -> strx1 3
    (A + 32, DW.DW_FORM_ref1, ".byte .Ldie_b - .Lunit", "die_b"),
    (A + 33, DW.DW_FORM_ref2, ".short .Ldie_b - .Lunit", "die_b"),
    (A + 34, DW.DW_FORM_ref4, ".long .Ldie_b - .Lunit", "die_b"),
    (A + 35, DW.DW_FORM_ref8, ".quad .Ldie_b - .Lunit", "die_b"),
    (A + 36, DW.DW_FORM_ref_udata, ".uleb128 .Ldie_b - .Lunit", "die_b"),
    (A + 37, DW.DW_FORM_ref_addr, "{off} .Ldie_b - .Ldebug_info", "die_b"),
    (A + 38, DW.DW_FORM_ref_sig8, ".quad 0x5151515151515151", 0x5151515151515151),
    (A + 39, DW.DW_FORM_loclistx, ".uleb128 5", 5),
    (A + 40, DW.DW_FORM_rnglistx, ".uleb128 6", 6),
]
STRINGS = ["alpha", "beta", "gamma", "delta"]


def assemble(tmp: Path, dwarf64: bool) -> Path:
    off = ".quad" if dwarf64 else ".long"

    def length(start: str, end: str) -> str:
        return (
            f".long 0xffffffff\n.quad {end} - {start}" if dwarf64 else f".long {end} - {start}"
        ) + f"\n{start}:"

    abbrev = ['.section .debug_abbrev,"",@progbits', ".uleb128 1", ".uleb128 0x11", ".byte 1"]
    abbrev += [".uleb128 0x72", ".uleb128 0x17", ".uleb128 0x73", ".uleb128 0x17"]  # str_offsets/addr base
    for at, form, _, expected in FORMS:
        abbrev += [f".uleb128 {at}", f".uleb128 {form}"]
        if form == DW.DW_FORM_implicit_const:
            abbrev.append(f".sleb128 {expected}")
    abbrev += [".byte 0, 0", ".uleb128 2", ".uleb128 0x24", ".byte 0", ".uleb128 3", ".uleb128 0x08"]
    abbrev += [".byte 0, 0", ".byte 0"]
    hdr = 16 if dwarf64 else 8
    info = ['.section .debug_info,"",@progbits', ".Ldebug_info:", ".Lunit:", length(".Lu0", ".Lu1")]
    info += [".short 5", ".byte 1", ".byte 8", f"{off} 0", ".uleb128 1", f"{off} {hdr}", f"{off} {hdr}"]
    info += [v.format(off=off) for _, _, v, _ in FORMS if v]
    info += [".Ldie_b:", ".uleb128 2", '.asciz "die_b"', ".byte 0", ".Lu1:"]
    strs = ['.section .debug_str,"MS",@progbits,1', ".Ldebug_str:"]
    for i, s in enumerate(STRINGS):
        strs += [f".Ls{i}:", f'.asciz "{s}"']
    strs += [".Ls_eps:", '.asciz "epsilon"']
    offsets = ['.section .debug_str_offsets,"",@progbits', length(".Lo0", ".Lo1"), ".short 5", ".short 0"]
    offsets += [f"{off} .Ls{i} - .Ldebug_str" for i in range(len(STRINGS))] + [".Lo1:"]
    addr = ['.section .debug_addr,"",@progbits', length(".La0", ".La1"), ".short 5", ".byte 8", ".byte 0"]
    addr += [".quad 0x1122334455667788", ".quad 0xdeadbeef", ".La1:"]
    line_str = [
        '.section .debug_line_str,"MS",@progbits,1',
        ".Ldebug_line_str:",
        ".Ll_dir:",
        '.asciz "/src/dir"',
    ]
    src = tmp / f"forms{'64' if dwarf64 else '32'}.s"
    src.write_text("\n".join(abbrev + info + strs + offsets + addr + line_str) + "\n")
    obj = src.with_suffix(".o")
    subprocess.run([require_tool("as"), "--64", "-o", str(obj), str(src)], check=True, capture_output=True)
    return obj


@pytest.mark.parametrize("dwarf64", [False, True], ids=["dwarf32", "dwarf64"])
def test_every_form_decodes_to_the_hand_computed_value(tmp_path: Path, dwarf64: bool) -> None:
    obj = assemble(tmp_path, dwarf64)
    with DwarfInfo.open(obj) as dwarf:
        (unit,) = dwarf.units
        assert (unit.version, unit.offset_size, unit.address_size) == (5, 8 if dwarf64 else 4, 8)
        top = unit.top
        die_b = next(top.children())
        assert die_b.name == "die_b"
        attrs = top.attributes
        assert len(attrs) == len(FORMS) + 2  # + DW_AT_str_offsets_base, DW_AT_addr_base
        for at, form, _, expected in FORMS:
            a = attrs[at]
            want_form = {A + 30: DW.DW_FORM_udata, A + 31: DW.DW_FORM_strx1}.get(at, form)
            assert a.form == want_form, DW.form_name(form)
            if expected == "die_b":
                assert a.value == die_b.offset, DW.form_name(form)
                assert top.ref(at) == die_b
            else:
                assert a.value == expected, DW.form_name(form)
            # The one-attribute path (no full decode) agrees with the full decode, and so do the compiled
            # decoder (``values``) and the record made on demand (``attribute``).
            single = unit.raw_value(top.index, at)
            assert single is not None and single == (a.form, a.raw)
            assert top.values[at] == a.value and type(top.values[at]) is type(a.value), DW.form_name(form)
            assert top.attribute(at) == a, DW.form_name(form)
        assert top.ref(A + 38) is None  # a signature with no type unit in the file


def test_unknown_and_misused_forms_are_format_errors(tmp_path: Path) -> None:
    obj = assemble(tmp_path, False)
    data = bytearray(obj.read_bytes())
    with DwarfInfo.open(obj) as dwarf:
        abbrev = dwarf.sections["abbrev"]
        info = dwarf.sections["info"]
        assert abbrev.file_offset is not None and info.file_offset is not None
        abbrev_at, info_at = abbrev.file_offset, info.file_offset
    # Point the first DW_FORM_indirect's inner form at implicit_const, which carries no bytes to read.
    indirect_value = bytes([0x0F, 77])
    start = data.index(indirect_value, info_at)
    data[start] = 0x21
    bad = tmp_path / "bad.o"
    bad.write_bytes(data)
    with (
        DwarfInfo.open(bad) as dwarf,
        pytest.raises(FormatError, match=r"\.debug_info\+0x[0-9a-f]+: .*indirect"),
    ):
        _ = dwarf.units[0].top.attributes
    assert abbrev_at != info_at


def test_a_repeated_attribute_keeps_its_first_value(tmp_path: Path) -> None:
    """A producer that repeats an attribute: every view reports the first occurrence (as llvm-dwarfdump's
    lookups do) and the values after it are still read past, in fixed runs and variable forms alike."""
    # (attribute, form, assembler) in DIE order; the hand-computed first values are in ``want``.
    specs = [
        (A + 1, DW.DW_FORM_data1, ".byte 11"),
        (A + 1, DW.DW_FORM_data2, ".short 22"),  # repeat inside the same fixed run
        (A + 2, DW.DW_FORM_udata, ".uleb128 300"),
        (A + 2, DW.DW_FORM_data4, ".long 44"),  # repeat of a variable form by a fixed one
        (A + 3, DW.DW_FORM_flag_present, ""),
        (A + 3, DW.DW_FORM_string, '.asciz "late"'),  # repeat of a zero-size form by a variable one
        (A + 4, DW.DW_FORM_data1, ".byte 55"),  # after the repeats: still at the right position
    ]
    want = {A + 1: 11, A + 2: 300, A + 3: True, A + 4: 55}
    abbrev = ['.section .debug_abbrev,"",@progbits', ".uleb128 1", ".uleb128 0x11", ".byte 0"]
    for at, form, _ in specs:
        abbrev += [f".uleb128 {at}", f".uleb128 {form}"]
    abbrev += [".byte 0, 0", ".byte 0"]
    info = ['.section .debug_info,"",@progbits', ".long .Lu1 - .Lu0", ".Lu0:", ".short 4", ".long 0"]
    info += [".byte 8"]
    info += [".uleb128 1"] + [v for _, _, v in specs if v] + [".Lu1:"]
    src = tmp_path / "repeat.s"
    src.write_text("\n".join(abbrev + info) + "\n")
    obj = src.with_suffix(".o")
    subprocess.run([require_tool("as"), "--64", "-o", str(obj), str(src)], check=True, capture_output=True)
    with DwarfInfo.open(obj) as dwarf:
        top = dwarf.units[0].top
        assert top.values == want
        assert {k: a.value for k, a in top.attributes.items()} == want
        assert top.get_int(A + 2) == 300 and top.form_of(A + 2) == DW.DW_FORM_udata
        assert top.attribute(A + 1) == (A + 1, DW.DW_FORM_data1, 11, 11)
