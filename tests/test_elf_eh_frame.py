"""``.eh_frame`` CFA tables agree with ``readelf --debug-dump=frames-interp`` row for row."""

from __future__ import annotations

from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import SHARED, build_rust
from illumos_rust.elf import ElfFile
from illumos_rust.elf.eh_frame import eh_frame, eh_frame_hdr, register_name

SRC = r"""
use std::collections::BTreeMap;
#[inline(never)]
fn deep(n: u32, m: &mut BTreeMap<u32, String>) -> usize {
    if n == 0 { return m.len(); }
    m.insert(n, format!("{n}"));
    let r = std::panic::catch_unwind(|| if n == 3 { panic!("three") } else { n });
    deep(n - 1, m) + r.unwrap_or(0) as usize
}
fn main() { let mut m = BTreeMap::new(); println!("{}", deep(8, &mut m)); }
"""


def _cases() -> list[pytest.ParameterSet]:
    out = [
        pytest.param(("fixture", p), id=p)
        for p in (
            "illumos-rust/bin/illumos/hello",
            "illumos-rust/bin/solaris/threads",
            "elf/exe_solaris64_cc.elf",
        )
    ]
    out += [
        pytest.param(("rust", f), id=f"rustc{'-'.join(f) or '-default'}")
        for f in (
            ("-O",),
            ("-C", "opt-level=0", "-g"),
            ("-O", "-C", "force-frame-pointers=yes", "-C", "panic=abort"),
        )
    ]
    return out


@pytest.fixture(params=_cases())
def binary(request: pytest.FixtureRequest) -> Path:
    kind, what = request.param
    if kind == "fixture":
        path: Path = SHARED / "fixtures" / what
        if not path.exists():
            pytest.skip(f"{path} not present (needs ../shared)")
        return path
    return build_rust(SRC, "ehf" + str(abs(hash(what)) % 10**6), *what)


def test_cfa_rows_match_readelf(binary: Path) -> None:
    want = {f.offset: f for f in ro.frames_interp(binary)}
    assert want, "readelf found no FDE"
    with ElfFile(binary) as elf:
        eh = eh_frame(elf)
        assert eh is not None
        got = {f.offset: f for f in eh.fdes}
        assert set(got) == set(want)
        machine = elf.header.e_machine
        for off, w in want.items():
            f = got[off]
            assert (f.pc_begin, f.pc_end) == (w.pc_begin, w.pc_end)
            rows = f.rows()
            if not w.rows:
                # readelf prints no table for an FDE with an empty program; the CIE's initial row applies
                assert not f.instructions.strip(b"\0") and len(rows) == 1 and rows[0].loc == f.pc_begin
                continue
            assert len(rows) == len(w.rows), hex(off)
            for row, (loc, cfa, cells) in zip(rows, w.rows, strict=True):
                assert row.loc == loc
                mine = (
                    "exp"
                    if row.cfa_reg is None
                    else f"{register_name(machine, row.cfa_reg)}{row.cfa_offset:+d}"
                )
                assert mine == cfa, (hex(off), hex(loc))
                for reg_name, rule in cells.items():
                    num = _reg_number(machine, reg_name)
                    assert row.regs.get(num, "u") == rule, (hex(off), hex(loc), reg_name)


def _reg_number(machine: int, name: str) -> int:
    for num in range(64):
        if register_name(machine, num) == name:
            return num
    raise AssertionError(f"unknown register {name}")


def test_summary_says_which_register_defines_the_cfa(binary: Path) -> None:
    """The summary's CFA registers are exactly those readelf shows in the CFA column."""
    want = {
        f.offset: {c.split("+")[0].split("-")[0] for _, c, _ in f.rows}
        for f in ro.frames_interp(binary)
        if f.rows
    }
    with ElfFile(binary) as elf:
        eh = eh_frame(elf)
        assert eh is not None
        for f in eh.fdes:
            if f.offset not in want:
                continue
            names = {register_name(elf.header.e_machine, r) for r in f.summary().cfa_regs}
            if f.summary().has_expression:
                names.add("exp")
            assert names == want[f.offset], hex(f.offset)


def test_eh_frame_hdr_indexes_every_fde(binary: Path) -> None:
    with ElfFile(binary) as elf:
        hdr = eh_frame_hdr(elf)
        eh = eh_frame(elf)
        if hdr is None:
            pytest.skip("no .eh_frame_hdr in this file")
        assert eh is not None
        assert hdr.fde_count == len(hdr.table) == len(eh.fdes)
        sec = elf.section(".eh_frame")
        assert sec is not None and hdr.eh_frame_ptr == sec.sh_addr
        starts = sorted(f.pc_begin for f in eh.fdes)
        assert [loc for loc, _ in hdr.table] == starts
        assert eh.fde_for(starts[len(starts) // 2]) is not None


def test_a_bad_call_frame_instruction_is_reported_at_its_fde(tmp_path: Path) -> None:
    """The FDE offsets come from ``readelf --debug-dump=frames``; the first instruction byte of one FDE with
    a program is replaced by 0x3c (in DW_CFA_lo_user..hi_user, which no producer here emits). The error
    must name that FDE (its file offset and address), not the shared CIE or the section start."""
    import re
    import shutil
    import subprocess

    from illumos_rust.errors import FormatError

    exe = tmp_path / "prog"
    shutil.copy(build_rust(SRC, "eh_bad_op", "-O"), exe)
    dump = subprocess.run(["readelf", "--debug-dump=frames", str(exe)], capture_output=True, text=True).stdout
    sec = subprocess.run(["readelf", "-SW", str(exe)], capture_output=True, text=True).stdout
    eh_off = int(re.search(r"\.eh_frame\s+PROGBITS\s+\S+\s+(\S+)", sec)[1], 16)  # type: ignore[index]
    # an FDE of a zR CIE (4-byte pcrel pc_begin and range, augmentation length 0): body at entry+4+4+4+4+1
    fde = re.search(r"^([0-9a-f]{8}) ([0-9a-f]+) ([0-9a-f]{8}) FDE cie=\S+ pc=([0-9a-f]+)\.\.", dump, re.M)
    found = [
        m
        for m in re.finditer(
            r"^([0-9a-f]{8}) ([0-9a-f]+) [0-9a-f]{8} FDE cie=\S+ pc=([0-9a-f]+)\.\.", dump, re.M
        )
        if int(m[2], 16) > 0x14
    ]
    assert fde is not None and found
    entry, pc = int(found[0][1], 16), int(found[0][3], 16)
    data = bytearray(exe.read_bytes())
    data[eh_off + entry + 17] = 0x3C
    exe.write_bytes(bytes(data))
    with ElfFile(exe) as elf, pytest.raises(FormatError) as err:
        eh = eh_frame(elf)
        assert eh is not None
        hit = eh.fde_for(pc)
        assert hit is not None
        hit.rows()
    assert err.value.offset == eh_off + entry, (hex(err.value.offset or 0), hex(eh_off + entry))
    assert f"FDE for 0x{pc:x}" in err.value.what and "0x3c" in err.value.what, err.value.what
