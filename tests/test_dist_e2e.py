"""End to end: our std for x86_64-unknown-illumos, served to the real rustup, used by cargo.

One full ``-Zbuild-std`` per session (cached on disk by its inputs, see ``dist_helpers``), one dist tree per
module. rustup runs with ``RUSTUP_HOME``/``CARGO_HOME`` in a temporary directory and ``RUSTUP_DIST_SERVER`` on
127.0.0.1. The illumos binary is linked the way the fixtures are (``shared/fixtures/illumos-rust/tools/
illumos-cc``: rust-lld against stub libraries); frame pointers are judged by ``audit`` and, independently, by
objdump(1)'s disassembly of each std function's first instructions.
"""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SHARED
from dist_helpers import (
    CHANNEL,
    ILLUMOS,
    RUSTUP,
    built_and_verified_tree,
    cached_build_std,
    check_std_frame_pointers,
    require_debian_rust,
    require_full_std,
    rustup_install,
    serving,
)


@pytest.fixture(scope="module")
def illumos_std() -> tuple[Path, dict[str, object]]:
    require_full_std()
    return cached_build_std(ILLUMOS, "--frame-pointers")


@pytest.fixture(scope="module")
def served(
    illumos_std: tuple[Path, dict[str, object]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if not RUSTUP.is_file():
        pytest.fail(f"{RUSTUP}: no rustup binary on this machine")
    sysroot, _ = illumos_std
    tree = tmp_path_factory.mktemp("dist") / "tree"
    built_and_verified_tree(tree, sysroot, ILLUMOS)
    with serving(tree) as url:
        yield url


@pytest.fixture(scope="module")
def rustup_env(served: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return rustup_install(served, tmp_path_factory.mktemp("rustup"), ILLUMOS, "minimal", timeout=600)


def _run(env: dict[str, str], *cmd: str, cwd: Path | None = None) -> str:
    r = subprocess.run(
        [str(RUSTUP), "run", CHANNEL, *cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=900
    )
    assert r.returncode == 0, f"{cmd}: {r.stderr[-3000:]}"
    return r.stdout


def test_build_std_coverage_every_crate_keeps_frame_pointers(
    illumos_std: tuple[Path, dict[str, object]],
) -> None:
    sysroot, report = illumos_std
    rows = {row["crate"]: row for row in report["coverage"]}  # type: ignore[attr-defined]
    assert {"core", "alloc", "std", "proc_macro", "test", "panic_unwind"} <= set(rows)
    for crate, row in rows.items():
        missing = row.get("NO_FP", 0) + row.get("RBP_CLOBBER", 0) + row.get("UNKNOWN", 0)
        assert missing == 0, (crate, row)
    assert rows["std"]["FP"] > 500
    assert list((sysroot / "lib" / "rustlib" / ILLUMOS / "lib").glob("libstd-*.rlib"))


def _check_install(rustup_env: dict[str, str]) -> None:
    """rustup installed 1.96.0 from our server, into the temporary RUSTUP_HOME, with our illumos std."""
    vv = _run(rustup_env, "rustc", "-vV")
    assert "release: 1.96.0" in vv
    sysroot = _run(rustup_env, "rustc", "--print", "sysroot").strip()
    assert sysroot.startswith(rustup_env["RUSTUP_HOME"])
    assert list(Path(sysroot, "lib", "rustlib", ILLUMOS, "lib").glob("libstd-*.rlib"))
    cmd = [str(RUSTUP), "target", "list", "--installed", "--toolchain", CHANNEL]
    listed = subprocess.run(cmd, capture_output=True, text=True, env=rustup_env, check=True).stdout.split()
    assert ILLUMOS in listed


def test_cargo_build_for_illumos_with_our_std(rustup_env: dict[str, str], tmp_path: Path) -> None:
    """A fresh project builds for illumos with the std rustup installed from our server; every non-leaf std
    function linked in keeps its frame pointer (audit, cross-checked with objdump).

    One test on purpose: pytest-xdist spreads tests over workers, and each worker would otherwise build its
    own tree and rustup install."""
    _check_install(rustup_env)
    _run(rustup_env, "cargo", "new", "--vcs", "none", "fresh", cwd=tmp_path)
    project = tmp_path / "fresh"
    (project / "src" / "main.rs").write_text(
        "use std::collections::HashMap;\nfn main() {\n    let mut m = HashMap::new();\n"
        '    for (i, a) in std::env::args().enumerate() { m.insert(a, i); }\n    println!("{:?}", m);\n}\n'
    )
    lld = sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/lib/rustlib/*/bin/rust-lld")))
    tools = SHARED / "fixtures" / "illumos-rust" / "tools"
    env = dict(rustup_env)
    if lld and (tools / "illumos-cc").is_file():
        # illumos-cc finds rustup's rust-lld itself (and runs it with -flavor gnu)
        env["ILLUMOS_STUB_SYSROOT"] = str(tmp_path / "stubs")
        env["CARGO_TARGET_X86_64_UNKNOWN_ILLUMOS_LINKER"] = str(tools / "illumos-cc")
        # release strips debuginfo by default, and for illumos rustc runs rust-objcopy from the sysroot,
        # which Debian's rustc-web does not ship (rustup's rustc component does): keep the symbols.
        env["CARGO_PROFILE_RELEASE_STRIP"] = "false"
        _run(env, "cargo", "build", "--offline", "--release", "--target", ILLUMOS, cwd=project)
        binary = project / "target" / ILLUMOS / "release" / "fresh"
    else:  # no linker for illumos here: compile to an object, which is what cargo proves works
        _run(
            env,
            "cargo",
            "rustc",
            "--offline",
            "--release",
            "--target",
            ILLUMOS,
            "--",
            "--emit",
            "obj",
            cwd=project,
        )
        pytest.fail("no rust-lld or no ../shared fixtures to link an illumos binary; compiled an object only")
    head = subprocess.run(["readelf", "-h", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "X86-64" in head and "EXEC" in head
    interp = subprocess.run(["readelf", "-l", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "/usr/lib/amd64/ld.so.1" in interp
    check_std_frame_pointers(binary)


def test_linux_gnu_without_frame_pointers_shows_the_gap() -> None:
    """The shipped default for x86_64-unknown-linux-gnu omits frame pointers: the table shows NO_FP rows
    (a core+alloc build keeps this quick; the same code is what std is built from)."""
    require_debian_rust()
    _, report = cached_build_std("x86_64-unknown-linux-gnu", "--crates", "core,alloc")
    rows = {row["crate"]: row for row in report["coverage"]}  # type: ignore[attr-defined]
    assert rows["core"].get("NO_FP", 0) > 100, rows["core"]
    assert rows["alloc"].get("NO_FP", 0) > 10, rows["alloc"]
