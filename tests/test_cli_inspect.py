"""The ``illumos-rust`` command as a user runs it: summaries, JSON, and one-line errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, build_rust

SOLARIS64 = SHARED / "fixtures/elf/exe_solaris64_cc.elf"


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.main", *args],
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _solaris() -> Path:
    if not SOLARIS64.exists():
        pytest.skip(f"{SOLARIS64} not present (needs ../shared)")
    return SOLARIS64


def test_summary_of_solaris_binary_states_the_facts_of_its_readme() -> None:
    # fixtures/elf/README.md: OSABI 6, interpreter /usr/lib/amd64/ld.so.1, NEEDED libc.so.1 (SUNW_0.7),
    # STRPAD 0x200, 43 slots with 33 used so 10 spare DT_NULL, DT_FLAGS_1 = DIRECT, Solaris link-editor.
    out = cli("inspect", str(_solaris()), check=True).stdout
    assert "OSABI Solaris" in out
    assert "/usr/lib/amd64/ld.so.1" in out
    assert "libc.so.1 (SUNW_0.7)" in out
    assert "STRPAD 512 bytes, 10 spare DT_NULL of 43 dynamic slots (33 used)" in out
    assert "flags_1: DIRECT" in out
    assert "illumos/Solaris ld" in out


def test_json_has_the_same_facts() -> None:
    data = json.loads(cli("inspect", "--format", "json", "--dynamic", str(_solaris()), check=True).stdout)
    assert data["needed"] == ["libc.so.1"]
    assert data["strpad"] == 0x200 and data["spare_dt_null"] == 10 and data["dynamic_slots"] == 43
    tags = [e["tag"] for e in data["dynamic_entries"]]
    assert "SUNW_STRPAD" in tags and "SUNW_LDMACH" in tags and tags[-1] == "NULL"


def test_rust_program_is_identified_with_the_rustc_that_built_it() -> None:
    exe = build_rust('fn main() { println!("hi"); }', "cli_hello", "-O")
    version = subprocess.run(
        ["rustc", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    out = cli("inspect", str(exe), check=True).stdout
    assert f"rustc:        {version}" in out
    assert "rust:         yes" in out
    data = json.loads(cli("inspect", "--format", "json", "--symbols", str(exe), check=True).stdout)
    names = [s["name"] for s in data["symbols"][".symtab"]]
    readelf = subprocess.run(["readelf", "-Ws", str(exe)], capture_output=True, text=True, check=True).stdout
    assert f"contains {len(names)} entries" in readelf


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "empty file"),
        (b"#!/bin/sh\necho hi\n", "not an ELF file"),
        (b"\x7fELF\x03\x01\x01" + b"\0" * 9, "unknown ELF class"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 20, "runs past the end of the file"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, content: bytes, what: str) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    r = cli("inspect", str(bad))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"illumos-rust: {bad}: ") and what in lines[0]


def test_truncated_real_binary_names_offset(tmp_path: Path) -> None:
    data = _solaris().read_bytes()
    bad = tmp_path / "cut.elf"
    bad.write_bytes(data[: len(data) - 2000])  # the section header table sits at the end
    r = cli("inspect", str(bad))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "(offset 0x" in r.stderr and "Traceback" not in r.stderr


def test_missing_file_and_directory() -> None:
    r = cli("inspect", "/nonexistent/file")
    assert r.returncode == 2 and r.stderr.startswith("illumos-rust: /nonexistent/file: cannot read")
    r = cli("inspect", "/")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1


def test_cargo_illumos_entry_point_drops_the_subcommand_name() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.cargo", "illumos", "inspect", str(_solaris())],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "OSABI Solaris" in r.stdout


def test_symbols_are_shown_demangled_like_rustfilt() -> None:
    from conftest import require_tool

    rustfilt = require_tool("rustfilt")
    exe = build_rust(
        'fn main() { let v: Vec<String> = vec!["a".into()]; println!("{v:?}"); }', "cli_dm", "-O"
    )
    data = json.loads(cli("inspect", "--format", "json", "--symbols", str(exe), check=True).stdout)
    rows = [r for r in data["symbols"][".symtab"] if r["name"].startswith(("_R", "_ZN"))]
    assert len(rows) > 100
    names = "\n".join(r["name"] for r in rows) + "\n"
    want = subprocess.run(
        [rustfilt], input=names, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    same = sum(r["display"] == w for r, w in zip(rows, want, strict=True))
    # rustfilt (Debian) links rustc-demangle 0.1.21, which differs from the reference on ~0.04 % of names
    assert same >= len(rows) * 0.995
    raw = json.loads(
        cli("inspect", "--format", "json", "--symbols", "--no-demangle", str(exe), check=True).stdout
    )
    assert all(r["display"] == r["name"] for r in raw["symbols"][".symtab"])


def test_real_cargo_finds_the_subcommand() -> None:
    """``cargo illumos …`` as a user types it: cargo looks up ``cargo-illumos`` on PATH."""
    from conftest import require_tool

    require_tool("cargo")
    bindir = Path(sys.executable).parent
    if not (bindir / "cargo-illumos").exists():
        pytest.skip("cargo-illumos is not installed next to this Python (make venv installs it)")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    r = subprocess.run(
        ["cargo", "illumos", "inspect", str(_solaris())], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    assert "OSABI Solaris" in r.stdout
