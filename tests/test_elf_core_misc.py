"""Notes, version needs, producer identification, address lookup, and DW_CFA_GNU_args_size."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import SHARED, build_rust
from illumos_rust.elf import ElfFile
from illumos_rust.elf.eh_frame import eh_frame
from illumos_rust.elf.producer import identify
from illumos_rust.elf.versions import verneed

PROGRAM = r"""
#[inline(never)] fn callee(v: &mut Vec<u64>, x: u64) { v.push(x * 3); }
fn main() { let mut v = Vec::new(); for i in 0..100 { callee(&mut v, i); } println!("{}", v.len()); }
"""


def _fixture(rel: str) -> Path:
    path = SHARED / "fixtures" / rel
    if not path.exists():
        pytest.skip(f"{path} not present (needs ../shared)")
    return path


@pytest.fixture(scope="module")
def rust_exe() -> Path:
    return build_rust(PROGRAM, "misc_prog", "-O")


def test_build_id_matches_readelf_notes(rust_exe: Path) -> None:
    text = ro.readelf("-n", str(rust_exe))
    m = re.search(r"Build ID: ([0-9a-f]+)", text)
    assert m
    with ElfFile(rust_exe) as elf:
        assert elf.build_id == m[1]
        owners = {n.name for n in elf.notes()}
    assert owners == set(re.findall(r"^\s+(\S+)\s+0x[0-9a-f]+\s", text, re.M))


def test_version_needs_match_readelf(rust_exe: Path) -> None:
    text = ro.readelf("-V", str(rust_exe))
    want: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"Version: \d+\s+File: (\S+)\s+Cnt: \d+", line)
        if m:
            current = want.setdefault(m[1], [])
            continue
        m = re.search(r"Name: (\S+)\s+Flags: \S+\s+Version: \d+", line)
        if m and current is not None:
            current.append(m[1])
    with ElfFile(rust_exe) as elf:
        got = {v.file: [a.name for a in v.aux] for v in verneed(elf)}
    assert got == want and want


def test_solaris_version_needs_match_pyelftools() -> None:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    for rel in ("elf/exe_solaris64_cc.elf", "elf/exe_solaris32_cc.sparc.elf"):
        path = _fixture(rel)
        with path.open("rb") as fh:
            ef = ELFFile(fh)
            sec = next(s for s in ef.iter_sections() if s.name == ".SUNW_version")
            assert isinstance(sec, GNUVerNeedSection)
            want = {vn.name: [a.name for a in auxes] for vn, auxes in sec.iter_versions()}
        with ElfFile(path) as elf:
            assert {v.file: [a.name for a in v.aux] for v in verneed(elf)} == want


def test_producer_on_fixtures_matches_their_readme() -> None:
    # fixtures/elf/README.md and fixtures/illumos-rust/README.md state who built each file.
    cases = {
        "elf/exe_solaris64_cc.elf": ("illumos/Solaris ld", None, False),
        "elf/exe_solaris32_cc.sparc.elf": ("illumos/Solaris ld", None, False),
        "elf/esbuild-sunos-x64/esbuild": ("Go", None, False),
        "illumos-rust/bin/illumos/hello": ("lld", "1.96.0", True),
        "illumos-rust/bin/illumos/hello-stripped": ("lld", "1.96.0", True),
    }
    for rel, (linker, rustc, is_rust) in cases.items():
        with ElfFile(_fixture(rel)) as elf:
            p = identify(elf)
        assert (p.linker, p.rustc, p.is_rust) == (linker, rustc, is_rust), rel


def test_producer_names_the_installed_rustc(rust_exe: Path) -> None:
    vv = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    release = re.search(r"^release: (\S+)", vv, re.M)
    commit = re.search(r"^commit-hash: (\S+)", vv, re.M)
    assert release and commit
    with ElfFile(rust_exe) as elf:
        p = identify(elf)
    assert p.is_rust and p.rustc == release[1] and p.rustc_commit == commit[1]
    assert p.mangling.get("v0", 0) > 0  # std 1.9x is mangled with v0


def test_address_lookup_matches_symbol_ranges(rust_exe: Path) -> None:
    with ElfFile(rust_exe) as elf:
        funcs = [s for s in elf.symtab if s.type_name == "FUNC" and s.size > 4 and s.defined]
        index = elf.symbol_index
        for s in funcs[:200]:
            hit = index.lookup(s.value + s.size // 2)
            assert hit is not None
            sym, off = hit
            assert (
                sym.value <= s.value + s.size // 2 < sym.value + sym.size
                and off == s.value + s.size // 2 - sym.value
            )
        assert index.lookup(0) is None


def test_gnu_args_size_programs_decode(rust_exe: Path) -> None:
    """pyelftools raises on DW_CFA_GNU_args_size; these Rust FDEs carry it and decode like readelf's."""
    raw = ro.readelf("--debug-dump=frames", str(rust_exe))
    offsets = set()
    current = None
    for line in raw.splitlines():
        m = re.match(r"^([0-9a-f]{8}) [0-9a-f]+ [0-9a-f]+ FDE", line)
        if m:
            current = int(m[1], 16)
        elif "DW_CFA_GNU_args_size" in line and current is not None:
            offsets.add(current)
    assert offsets, "expected rustc output to use DW_CFA_GNU_args_size"
    want = {f.offset: f for f in ro.frames_interp(rust_exe)}
    with ElfFile(rust_exe) as elf:
        eh = eh_frame(elf)
        assert eh is not None
        by_off = {f.offset: f for f in eh.fdes}
        for off in offsets:
            assert [r.loc for r in by_off[off].rows()] == [loc for loc, _, _ in want[off].rows]
