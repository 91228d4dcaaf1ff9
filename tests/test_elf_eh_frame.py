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
