"""Shared pieces of the dist/toolchain tests: the one std build of the session, cached on disk by its inputs.

A full ``-Zbuild-std`` takes minutes on a loaded 2-core machine, so it runs at most once per set of inputs
(compiler version, rust-src, flags): the result is kept in the system temp directory under a key of those
inputs, behind a lock so two xdist workers do not build it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_SRC = Path("/usr/src/rustc-1.96.0")
RUSTUP = Path(os.path.expanduser("~/.cargo/bin/rustup"))
ILLUMOS = "x86_64-unknown-illumos"
CLI = [sys.executable, "-m", "illumos_rust.cli.main"]


def require_debian_rust() -> None:
    if not DEBIAN_RUSTC.is_file() or not (DEBIAN_SRC / "library" / "vendor").is_dir():
        pytest.skip("needs Debian rustc-web + rust-web-src 1.96 (make sysdeps)")
    if shutil.which("ld") is None:
        pytest.skip("needs binutils' ld (make sysdeps)")


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: int = 1800
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def cached_build_std(target: str, *flags: str) -> tuple[Path, dict[str, object]]:
    """(sysroot dir, the JSON build-std printed), built once per inputs."""
    version = subprocess.run([str(DEBIAN_RUSTC), "-vV"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256("\0".join([version, str(DEBIAN_SRC), target, *flags, "v1"]).encode()).hexdigest()[
        :16
    ]
    base = Path(tempfile.gettempdir()) / f"illumos-rust-test-std-{key}"
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{base}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = base / "report.json"
        if not report.is_file():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            done = cli(
                "toolchain", "build-std", "--target", target, "--rustc", str(DEBIAN_RUSTC),
                "--rust-src", str(DEBIAN_SRC), "--out", str(base / "sysroot"), "--format", "json", *flags,
            )  # fmt: skip
            if done.returncode not in (0, 1):
                raise AssertionError(f"build-std failed ({done.returncode}): {done.stderr[-2000:]}")
            (base / "stderr.txt").write_text(done.stderr)
            report.write_text(done.stdout)
        return base / "sysroot", json.loads(report.read_text())
