"""``cargo illumos ctf`` converts the workspace's built artefacts (issue 13): a real cargo workspace with a
binary and a cdylib, built in debug (DWARF) here; readelf is the oracle for the added section, and the binary
must still run and print what it printed before."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")


def _out(*cmd: str) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=True).stdout


def _workspace(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(
        '[package]\nname = "ctfdemo_ws"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\npath = "src/lib.rs"\n\n'
        '[[bin]]\nname = "ctfdemo_ws"\npath = "src/main.rs"\n'
    )
    (root / "src" / "lib.rs").write_text(
        "#[repr(C)]\npub struct Pair { pub a: u32, pub b: u64 }\n"
        '#[no_mangle]\npub extern "C" fn pair_sum(p: &Pair) -> u64 { p.a as u64 + p.b }\n'
    )
    (root / "src" / "main.rs").write_text(
        "struct Job { id: u32, name: &'static str }\n"
        'fn main() { let j = Job { id: 7, name: "seven" }; println!("{} {}", j.id, j.name); }\n'
    )
    return root


def test_cargo_illumos_ctf_converts_every_artefact(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    env = {**os.environ, "CARGO_TARGET_DIR": str(ws / "target")}
    subprocess.run(["cargo", "build", "--offline", "-q"], cwd=ws, env=env, check=True, timeout=600)
    exe = ws / "target" / "debug" / "ctfdemo_ws"
    lib = ws / "target" / "debug" / "libctfdemo_ws.so"
    before = _out(str(exe))
    proc = subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.cargo", "illumos", "ctf"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    for f in (exe, lib):
        sections = subprocess.run(
            ["readelf", "-SW", str(f)], capture_output=True, text=True, check=True
        ).stdout
        assert ".SUNW_ctf" in sections, f
        assert f"{f}: .SUNW_ctf with" in proc.stdout
    assert (
        subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout == before == "7 seven\n"
    )


def test_cargo_illumos_ctf_without_artefacts_is_one_line(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    env = {**os.environ, "CARGO_TARGET_DIR": str(ws / "target")}
    proc = subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.cargo", "illumos", "ctf"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "cargo build" in proc.stderr
