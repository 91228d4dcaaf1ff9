"""The ELF core agrees with GNU readelf (-W) on real Solaris/illumos files and on programs rustc builds."""

from __future__ import annotations

from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import SHARED, build_rust
from illumos_rust.elf import ElfFile, dynamic
from illumos_rust.elf import constants as C

FIXTURES = [
    "elf/exe_solaris64_cc.elf",
    "elf/exe_solaris32_cc.elf",
    "elf/exe_solaris64_cc.sparc.elf",
    "elf/exe_solaris32_cc.sparc.elf",
    "elf/esbuild-sunos-x64/esbuild",
    "illumos-rust/bin/illumos/hello",
    "illumos-rust/bin/illumos/hello-stripped",
    "illumos-rust/bin/illumos/net",
    "illumos-rust/bin/illumos/libcexport.so",
    "illumos-rust/bin/illumos/librdylib.so",
    "illumos-rust/bin/solaris/threads",
]

HELLO = r"""
use std::collections::HashMap;
#[inline(never)]
fn leaf_add(a: u64, b: u64) -> u64 { a.wrapping_mul(b) ^ 7 }
fn main() {
    let mut m = HashMap::new();
    for i in 0..10u64 { m.insert(i, leaf_add(i, 3)); }
    let v: Vec<_> = std::env::args().collect();
    println!("hello {} {}", m.len(), v.len());
}
"""
CDYLIB = r"""
#[no_mangle]
pub extern "C" fn fixture_add(a: i32, b: i32) -> i32 { a + b }
#[no_mangle]
pub extern "C" fn fixture_hello() -> *const u8 { b"hi\0".as_ptr() }
"""

RUST_BUILDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pie": (HELLO, ("-O",), "bin"),
    "pie-debug": (HELLO, ("-g",), "bin"),
    "nonpie-runpath": (
        HELLO,
        ("-O", "-C", "relocation-model=static", "-C", "link-arg=-Wl,-rpath,/opt/local/lib"),
        "bin",
    ),
    "rpath-old": (HELLO, ("-O", "-C", "link-arg=-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib"), "bin"),
    "cdylib": (CDYLIB, ("-O",), "cdylib"),
}


def _fixture(rel: str) -> Path:
    path = SHARED / "fixtures" / rel
    if not path.exists():
        pytest.skip(f"{path} not present (needs ../shared)")
    return path


def _rust(kind: str) -> Path:
    src, flags, crate_type = RUST_BUILDS[kind]
    return build_rust(src, f"oracle_{kind.replace('-', '_')}", *flags, crate_type=crate_type)


def _all_params() -> list[pytest.ParameterSet]:
    return [pytest.param(("fixture", f), id=f) for f in FIXTURES] + [
        pytest.param(("rust", k), id=f"rustc-{k}") for k in RUST_BUILDS
    ]


@pytest.fixture(params=_all_params())
def binary(request: pytest.FixtureRequest) -> Path:
    kind, name = request.param
    return _fixture(name) if kind == "fixture" else _rust(name)


def test_sections_agree(binary: Path) -> None:
    expected = ro.sections(binary)
    with ElfFile(binary) as elf:
        got = elf.sections
        assert len(got) == len(expected)
        for e in expected:
            s = got[e.index]
            assert (s.name, s.sh_addr, s.sh_offset, s.sh_size) == (e.name, e.addr, e.offset, e.size)


def test_dynamic_agrees(binary: Path) -> None:
    count, rows = ro.dynamic(binary)
    with ElfFile(binary) as elf:
        dyn = dynamic(elf)
        if count is None:
            assert not dyn.present or dyn.used == 0
            return
        # readelf lists entries up to and including the first DT_NULL, as the runtime linker reads them.
        assert dyn.used == count == len(rows)
        assert [e.tag for e in dyn.entries] == [r.tag for r in rows]
        want_needed = [ro.bracketed(r.text) for r in rows if r.tag == C.DT_NEEDED]
        assert dyn.needed == want_needed
        for tag, value in ((C.DT_RUNPATH, dyn.runpath), (C.DT_RPATH, dyn.rpath), (C.DT_SONAME, dyn.soname)):
            want = [ro.bracketed(r.text) for r in rows if r.tag == tag]
            assert value == (want[0] if want else None)


def test_symbols_agree(binary: Path) -> None:
    expected = ro.symbols(binary)
    with ElfFile(binary) as elf:
        tables = {".symtab": elf.symtab, ".dynsym": elf.dynsym, ".SUNW_ldynsym": elf.ldynsym}
        for name, table in tables.items():
            if name == ".SUNW_ldynsym":
                continue  # GNU readelf does not dump this Solaris table; pyelftools checks it below
            want = expected.get(name, [])
            assert len(table) == len(want), name
            for sym, w in zip(table, want, strict=True):
                assert (sym.index, sym.value, sym.size) == (w.num, w.value, w.size), (name, w)
                shown = sym.name
                if not shown and sym.type == C.STT_SECTION and sym.shndx < len(elf.sections):
                    shown = elf.sections[sym.shndx].name  # readelf displays a section symbol by its section
                assert shown == w.name, (name, w)
                assert sym.bind_name == w.bind or w.bind.startswith("<"), (name, w)
                ndx = {C.SHN_UNDEF: "UND", C.SHN_ABS: "ABS", C.SHN_COMMON: "COM"}.get(
                    sym.shndx, str(sym.shndx)
                )
                assert ndx == w.ndx, (name, w)
                if w.type in ("NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE", "TLS"):
                    assert sym.type_name == w.type, (name, w)


def test_rust_build_kinds_are_what_we_asked_for() -> None:
    """The oracle builds really cover PIE, non-PIE, cdylib, debug info and RUNPATH vs RPATH."""
    with ElfFile(_rust("pie")) as e:
        assert e.type_name == "DYN" and e.interpreter
    with ElfFile(_rust("nonpie-runpath")) as e:
        assert e.type_name == "EXEC"
        assert dynamic(e).runpath == "/opt/local/lib"
    with ElfFile(_rust("rpath-old")) as e:
        assert dynamic(e).rpath == "$ORIGIN/../lib" and dynamic(e).runpath is None
    with ElfFile(_rust("cdylib")) as e:
        assert e.type_name == "DYN" and e.interpreter is None
        assert {"fixture_add", "fixture_hello"} <= {s.name for s in e.dynsym}
    with ElfFile(_rust("pie-debug")) as e:
        assert e.section(".debug_info") is not None


@pytest.mark.parametrize("rel", ["elf/exe_solaris64_cc.elf", "elf/exe_solaris32_cc.elf"])
def test_sunw_ldynsym_agrees_with_pyelftools(rel: str) -> None:
    """.SUNW_ldynsym (local dynamic symbols sharing .dynstr) read as pyelftools reads it."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    from pyelftools_oracle import section

    path = _fixture(rel)
    with path.open("rb") as fh:
        sec = section(ELFFile(fh), ".SUNW_ldynsym", SymbolTableSection)
        want = [(s.name, s["st_value"], s["st_size"], s["st_info"]["type"]) for s in sec.iter_symbols()]
    with ElfFile(path) as elf:
        got = [(s.name, s.value, s.size, "STT_" + s.type_name) for s in elf.ldynsym]
    assert len(want) == 9  # fixtures/elf/README.md: the x86 pair carries .SUNW_ldynsym
    assert got == want
