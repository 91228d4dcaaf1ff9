"""Shared pieces of the dist/toolchain tests: std builds cached on disk by their inputs, and the e2e gate.

A full ``-Zbuild-std`` takes minutes on a loaded 2-core machine, so it runs at most once per set of inputs
(compiler version, rust-src, target spec, flags): the result is kept in the system temp directory under a key
of those inputs, behind a lock so two xdist workers do not build it twice. The tests that need a *full* std
(rustup end to end, custom target, panic=abort) run in ``make e2e`` (``ILLUMOS_RUST_E2E=1``), not in
``make test``, which skips them with that reason; there a missing toolchain is a failure, not a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from illumos_rust.dist.serve import make_server

DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_SRC = Path("/usr/src/rustc-1.96.0")
RUSTUP = Path(os.path.expanduser("~/.cargo/bin/rustup"))
ILLUMOS = "x86_64-unknown-illumos"
CLI = [sys.executable, "-m", "illumos_rust.cli.main"]


E2E = os.environ.get("ILLUMOS_RUST_E2E") == "1"
CUSTOM = "x86_64-platform-illumos"
# A platform's own target: the illumos spec under its own name, described as such (`target generate --set`).
CUSTOM_SET = 'metadata={"description":"illumos, platform std","tier":3,"host_tools":false,"std":true}'


def _missing(reason: str) -> None:
    (pytest.fail if E2E else pytest.skip)(reason)


def require_debian_rust() -> None:
    if not DEBIAN_RUSTC.is_file() or not (DEBIAN_SRC / "library" / "vendor").is_dir():
        _missing("needs Debian rustc-web + rust-web-src 1.96 (make sysdeps)")
    if shutil.which("ld") is None:
        _missing("needs binutils' ld (make sysdeps)")


def require_full_std() -> None:
    """Gate for tests that build a full std (minutes each): they run in `make e2e`."""
    if not E2E:
        pytest.skip("builds a full std (minutes): runs in `make e2e` (ILLUMOS_RUST_E2E=1), not `make test`")
    require_debian_rust()


def custom_target_spec() -> Path:
    """``target generate`` output at a path that is stable across runs (the std cache is keyed by it)."""
    key = hashlib.sha256(f"{CUSTOM}\0{CUSTOM_SET}".encode()).hexdigest()[:12]
    spec = Path(tempfile.gettempdir()) / f"illumos-rust-test-target-{key}" / f"{CUSTOM}.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{spec.parent}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not spec.is_file():
            env = {**os.environ, "PATH": f"{DEBIAN_RUSTC.parent}:/bin", "RUSTC": str(DEBIAN_RUSTC)}
            tmp = spec.with_suffix(".tmp.json")
            argv = ["target", "generate", "--base", ILLUMOS, "--set", CUSTOM_SET, "-o", str(tmp), "--force"]
            done = cli(*argv, env=env)
            assert done.returncode == 0, done.stderr
            tmp.rename(spec)
    return spec


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: int = 1800
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def cached_build_std(target: str, *flags: str) -> tuple[Path, dict[str, object]]:
    """(sysroot dir, the JSON build-std printed), built once per inputs."""
    version = subprocess.run([str(DEBIAN_RUSTC), "-vV"], capture_output=True, text=True, check=True).stdout
    spec = Path(target).read_text() if target.endswith(".json") else ""
    # a spec is keyed by its content and by how build-std builds it (by name since that changed)
    parts = [version, str(DEBIAN_SRC), target, *flags, "v1"] + ([spec, "by-name"] if spec else [])
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
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


def objdump_prologues(binary: Path, names: list[str]) -> dict[str, bool]:
    """Independent oracle: does each function's disassembly start with push %rbp; mov %rsp,%rbp (after an
    optional endbr64), or set it up before its first call (shrink-wrapping)?"""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(binary)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    result: dict[str, bool] = {}
    for block in out.split("\n\n"):
        m = re.search(r"<([^>]+)>:\n", block)
        if not m or m.group(1) not in names:
            continue
        insns = [line.split("\t", 1)[-1].strip() for line in block.splitlines()[1:] if "\t" in line]
        before_call = []
        for ins in insns:
            if ins.startswith("call"):
                break
            before_call.append(ins)
        calls = any(i.startswith("call") for i in insns)
        has_fp = any(i.startswith("push   %rbp") for i in before_call) and any(
            re.match(r"mov\s+%rsp,%rbp", i) for i in before_call
        )
        result[m.group(1)] = has_fp or not calls
    return result


def check_std_frame_pointers(binary: Path) -> None:
    """``audit`` finds no std/core/alloc function of ``binary`` without its frame pointer, and objdump's
    disassembly agrees: every function named after ``std::`` that calls something sets up %rbp first."""
    audited = cli("audit", "--format", "json", "--fail-on", "never", str(binary))
    facts = json.loads(audited.stdout)["reports"][0]["facts"]["frame_pointers"]
    owners = {o["name"]: o for o in facts["by_owner"] if o["kind"] == "crate"}
    assert owners["std"]["FP"] > 50
    for name in ("std", "core", "alloc"):
        row = owners.get(name, {})
        assert row.get("NO_FP", 0) == 0 and row.get("RBP_CLOBBER", 0) == 0, (name, row)
    syms = subprocess.run(
        ["nm", "-C", "--defined-only", str(binary)], capture_output=True, text=True, check=True
    )
    mangled = subprocess.run(
        ["nm", "--defined-only", str(binary)], capture_output=True, text=True, check=True
    )
    std_names = [
        raw.split()[-1]
        for raw, dem in zip(mangled.stdout.splitlines(), syms.stdout.splitlines(), strict=True)
        if dem.split()[1:2] in (["t"], ["T"]) and " std::" in f" {dem.split(maxsplit=2)[-1]}"
    ]
    assert len(std_names) > 50
    judged = objdump_prologues(binary, std_names)
    without = [n for n, ok in judged.items() if not ok]
    assert len(judged) > 50 and not without, without[:5]


#: The version Debian's rustc-web packages; the channel our served tree offers.
CHANNEL = "1.96.0"
#: Variables of the calling shell that would point rustup or cargo elsewhere than the temporary home.
RUST_ENV_PREFIXES = ("RUSTUP_", "CARGO", "RUSTC", "RUSTFLAGS", "RUST_TARGET_PATH")


def built_and_verified_tree(tree: Path, sysroot: Path, target: str) -> None:
    """``dist build`` of Debian's toolchain plus the std at ``sysroot`` for ``target``; ``dist verify``."""
    r = cli("dist", "build", str(tree), "--from-debian", "--std", f"{sysroot}:{target}",
            "--gzip-level", "1", "--xz-preset", "0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    v = cli("dist", "verify", str(tree))
    assert v.returncode == 0, v.stdout + v.stderr


@contextmanager
def serving(tree: Path) -> Iterator[str]:
    """``dist serve``'s server for ``tree`` on a loopback port, for as long as the block runs: its URL."""
    server = make_server(tree)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rustup_install(url: str, home: Path, target: str, profile: str, timeout: float) -> dict[str, str]:
    """The machine's real rustup, with ``RUSTUP_HOME``/``CARGO_HOME`` under ``home``, installs
    ``CHANNEL`` from ``url`` with ``profile`` and adds ``target``: the environment that uses it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(RUST_ENV_PREFIXES)}
    env.update(RUSTUP_HOME=str(home / "rustup"), CARGO_HOME=str(home / "cargo"), RUSTUP_DIST_SERVER=url)
    env["RUSTUP_UPDATE_ROOT"] = url + "/rustup"  # never reach out for a rustup update
    install = subprocess.run(
        [str(RUSTUP), "toolchain", "install", CHANNEL, "--profile", profile, "--no-self-update"],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    add = subprocess.run([str(RUSTUP), "target", "add", "--toolchain", CHANNEL, target],
                         capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert add.returncode == 0, add.stderr
    return env
