"""Recognition on binaries nobody here wrote (issue 11): Rust without symbols, Go targets, whole hashes.

Expected facts come from outside our code: ``strings``-level facts checked with ``grep -c`` on the file, the
Debian package's version of ripgrep's rustc (``/usr/src/rustc-<version>/`` is where Debian builds std), the
installed rustc's ``-vV`` (release and the whole commit hash), ``go version`` and ``go env`` for a Go program
built here, and the fixture README for esbuild's illumos binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import build_rust, require_tool, shared_path
from illumos_rust.elf import ElfFile
from illumos_rust.elf.go_buildinfo import go_buildinfo
from illumos_rust.elf.producer import identify, mangling_counts
from test_cli_inspect import cli

RG = Path("/usr/bin/rg")
CDYLIB = r"""
#[no_mangle]
pub extern "C" fn add_one(x: u64) -> u64 { x.checked_add(1).expect("overflow") }
"""


def _rustc_vv() -> tuple[str, str]:
    vv = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    release = re.search(r"^release: (\S+)", vv, re.M)
    commit = re.search(r"^commit-hash: (\S+)", vv, re.M)
    assert release and commit
    return release[1], commit[1]


def test_stripped_debian_ripgrep_is_rust() -> None:
    """Debian's rg: no .symtab, no .comment, yet std's panic paths and the gdb pretty-printer loader."""
    if not RG.exists():
        pytest.skip("ripgrep not installed (make sysdeps installs it)")
    _check_debian_rust(RG)
    with ElfFile(RG) as elf:
        assert len(elf.symtab) == 0 and not elf.comment  # why the old rules missed it
        assert "gdb_load_rust_pretty_printers.py" in identify(elf).rust_evidence
    out = cli("inspect", str(RG))
    assert out.returncode == 0 and "rust:         yes" in out.stdout


@pytest.mark.parametrize("pattern", ["librsvg-2.so.2*", "librav1e.so.0*"])
def test_debian_rust_libraries_are_rust(pattern: str) -> None:
    """C-ABI libraries Debian builds from Rust (librsvg, rav1e), when installed."""
    found = sorted(p for p in Path("/usr/lib/x86_64-linux-gnu").glob(pattern) if not p.is_symlink())
    if not found:
        pytest.skip(f"no {pattern} installed")
    _check_debian_rust(found[0])


def _check_debian_rust(path: Path) -> None:
    m = re.search(rb"/usr/src/rustc-(\d+\.\d+\.\d+)/library/", path.read_bytes())
    assert m, f"{path} was not built by Debian's rustc; the oracle here does not apply"
    with ElfFile(path) as elf:
        p = identify(elf)
    assert p.is_rust, path
    assert p.rustc == m[1].decode()


def test_stripped_rust_cdylib_is_rust_with_the_whole_commit() -> None:
    """A cdylib (a Python extension is one) stripped of symbols and .comment still names its rustc."""
    release, commit = _rustc_vv()
    lib = build_rust(CDYLIB, "prod_cdylib", "-O", "-C", "strip=symbols", crate_type="cdylib")
    stripped = lib.with_name("libprod_cdylib_nocomment.so")
    objcopy = require_tool("objcopy")
    subprocess.run([objcopy, "--remove-section=.comment", str(lib), str(stripped)], check=True)
    with ElfFile(stripped) as elf:
        assert elf.section(".comment") is None and len(elf.symtab) == 0
        p = identify(elf)
    assert p.is_rust, p
    assert p.rustc_commit == commit  # whole, from /rustc/<commit>/library/… in .rodata
    text = cli("inspect", str(stripped)).stdout
    assert commit in text  # printed whole, not abbreviated
    with ElfFile(lib) as elf:
        q = identify(elf)
    assert q.rustc == release and q.rustc_commit == commit


def test_python_extension_built_with_rust_is_rust() -> None:
    """Rust-built extension modules on this machine (orjson, rpds-py), whatever their symbol tables hold."""
    import site
    import sys

    roots = {Path(p) for p in site.getsitepackages()}
    roots.add(
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    )
    found = []
    for root in roots:
        for pattern in ("orjson/*.so", "rpds/*.so"):
            found += [p for p in root.glob(pattern) if b"library/core/src/" in p.read_bytes()]
    if not found:
        pytest.skip("no Rust-built Python extension module installed")
    for so in found:
        with ElfFile(so) as elf:
            assert identify(elf).is_rust, so


def test_go_program_reports_goos_goarch() -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go not installed (Debian golang-go)")
    env_out = subprocess.run([go, "env", "GOOS", "GOARCH"], capture_output=True, text=True, check=True)
    goos, goarch = env_out.stdout.split()
    version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()
    exe = _build_go()
    with ElfFile(exe) as elf:
        p = identify(elf)
    assert (p.linker, p.go_version, p.goos, p.goarch) == ("Go", version, goos, goarch)
    assert not p.is_rust
    assert f"GOOS={goos} GOARCH={goarch}" in cli("inspect", str(exe)).stdout


def _build_go() -> Path:
    from conftest import BUILD_CACHE

    out_dir = BUILD_CACHE / "go-hello"
    exe = out_dir / "hello"
    if exe.exists():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "main.go").write_text('package main\nimport "fmt"\nfunc main() { fmt.Println("hi") }\n')
    (out_dir / "go.mod").write_text("module example.com/hello\n\ngo 1.18\n")
    env = {"GOCACHE": str(out_dir / ".gocache"), "GOFLAGS": "-mod=mod", "GOPATH": str(out_dir / ".gopath")}
    subprocess.run(
        ["go", "build", "-o", str(exe), "."],
        cwd=out_dir,
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    return exe


def test_illumos_go_fixture_without_buildinfo_header() -> None:
    """fixtures/elf/README.md: esbuild for illumos/amd64, by the Go linker; module info names the target."""
    path = shared_path("fixtures", "elf", "esbuild-sunos-x64", "esbuild")
    with ElfFile(path) as elf:
        p = identify(elf)
    assert (p.linker, p.goos, p.goarch) == ("Go", "illumos", "amd64")
    assert p.go_version is not None and p.go_version.startswith("go1.")


def test_cxx_is_not_rust(tmp_path: Path) -> None:
    """A C++ program: ``_ZN`` names without rustc's hash and libstdc++'s ``_Rb_tree`` are not Rust."""
    gxx = require_tool("g++")
    src = tmp_path / "m.cc"
    src.write_text(
        "#include <map>\n#include <string>\nnamespace n { struct S { int f(int x) { return x + 1; } }; }\n"
        'int main() { std::map<std::string, int> m; m["a"] = n::S().f(1); return m.size() == 1 ? 0 : 1; }\n'
    )
    exe = tmp_path / "m"
    subprocess.run([gxx, "-O1", "-o", str(exe), str(src)], check=True)
    with ElfFile(exe) as elf:
        p = identify(elf)
        names = elf.symtab.names
    assert any(n.startswith("_ZN") for n in names)
    assert not p.is_rust, p.rust_evidence
    counts = mangling_counts(names)
    assert counts.get("v0", 0) == 0 and counts.get("legacy", 0) == 0 and counts["c++"] > 0


def test_mangling_counts_follow_the_grammars() -> None:
    # Hand-classified: RFC 2603 path tags after _R, rustc's legacy hash "17h" + 16 hex + "E", else Itanium.
    names = [
        "_RNvCs1234_3foo3bar",  # v0
        "_R0NvC3foo3bar",  # v0 with an encoding version
        "_Rb_tree_insert",  # not v0 (lowercase tag), not _Z: nothing
        "_ZN3foo3bar17h0123456789abcdefE",  # legacy
        "_ZN3foo3bar17h0123456789abcdefE.llvm.42",  # legacy with a suffix
        "_ZN4llvm3FooC2Ev",  # C++
        "_ZN3foo3barE",  # C++ (no hash)
        "_ZSt4cout",  # C++
        "main",
    ]
    assert mangling_counts(names) == {"v0": 2, "legacy": 2, "c++": 3}


FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


@st.composite
def _mutated_go(draw: st.DrawFn) -> bytes:
    data, (start, size) = _go_corpus()
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        off = start + draw(st.integers(0, size - 1))
        patch = draw(st.binary(min_size=1, max_size=8))
        buf[off : off + len(patch)] = patch
    return bytes(buf)


@cache
def _go_corpus() -> tuple[bytes, tuple[int, int]]:
    if shutil.which("go") is None:
        return b"", (0, 0)
    exe = _build_go()
    with ElfFile(exe) as elf:
        sec = elf.section(".go.buildinfo")
        assert sec is not None
        return exe.read_bytes(), (sec.sh_offset, sec.sh_size)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=_mutated_go())
def test_fuzz_mutated_go_buildinfo_never_raises(data: bytes) -> None:
    """A damaged ``.go.buildinfo`` is absent evidence, never an exception or a hang."""
    if not data:
        pytest.skip("go not installed (Debian golang-go)")
    with ElfFile("mutated-go", data=data) as elf:
        info = go_buildinfo(elf)
        identify(elf)
    assert info is None or isinstance(info.version, str)


def test_bolt_optimised_driver_gets_the_whole_commit() -> None:
    """librustc_driver's .comment abbreviates the commit; its std paths, in BOLT's ``.bolt.org.rodata``,
    carry it whole, and it must be the sysroot rustc's ``commit-hash``."""
    import glob

    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True)
    found = sorted(glob.glob(f"{sysroot.stdout.strip()}/lib/librustc_driver-*.so"))
    if not found:
        pytest.skip("no librustc_driver in the sysroot")
    _release, commit = _rustc_vv()
    with ElfFile(found[0]) as elf:
        p = identify(elf)
    assert p.rustc_commit == commit
    assert commit in cli("inspect", found[0]).stdout
