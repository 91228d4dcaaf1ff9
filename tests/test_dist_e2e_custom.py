"""End to end with a custom target JSON: ``target generate`` -> ``toolchain build-std`` -> ``dist build`` ->
stock rustup (``--profile default``) -> ``cargo build --target NAME`` of a fresh crate.

How a custom target is found, as checked here (rustc/cargo 1.96, rustup 1.29):

* rustc resolves ``--target NAME`` that is not built in from ``RUST_TARGET_PATH``, then from
  ``<sysroot>/lib/rustlib/NAME/target.json``. ``build-std`` writes the spec there and ``dist build`` ships it
  inside ``rust-std-NAME``, so after ``rustup target add NAME`` no ``RUST_TARGET_PATH`` is needed.
* Since Rust 1.95 a target spec JSON is unstable (rust-lang/rust#150151): rustc refuses it without
  ``-Zunstable-options``, so a stable toolchain needs ``RUSTC_BOOTSTRAP=1``. The test shows the refusal, then
  the build.
* ``--target FILE.json`` (cargo ``-Zjson-target-spec``, rust-lang/cargo#16557) is a different target to rustc
  (it records "<stem>-<hash of the JSON>" in the rlibs), so the std ``build-std`` made by name is refused
  there with E0461; the test shows that too.
* rustup knows a target only by the name in the channel manifest: ``rustup target add NAME`` works because
  our manifest lists ``rust-std`` for NAME; rustup never reads the JSON.

Runs in ``make e2e`` (one full std build, cached by its inputs).
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
    CUSTOM,
    RUSTUP,
    built_and_verified_tree,
    cached_build_std,
    check_std_frame_pointers,
    custom_target_spec,
    require_full_std,
    rustup_install,
    serving,
)


@pytest.fixture(scope="module")
def custom_std() -> tuple[Path, Path, dict[str, object]]:
    """(spec JSON, sysroot, build-std's JSON report)."""
    require_full_std()
    spec = custom_target_spec()
    sysroot, report = cached_build_std(str(spec), "--frame-pointers")
    return spec, sysroot, report


@pytest.fixture(scope="module")
def rustup_env(
    custom_std: tuple[Path, Path, dict[str, object]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    if not RUSTUP.is_file():
        pytest.fail(f"{RUSTUP}: no rustup binary on this machine")
    _, sysroot, _ = custom_std
    tree = tmp_path_factory.mktemp("dist-custom") / "tree"
    built_and_verified_tree(tree, sysroot, CUSTOM)
    with serving(tree) as url:
        # --profile default: rustup resolves the profile's members through the aggregate `rust` package's
        # component list, which our manifest carries although that package has no tarball (available=false).
        yield rustup_install(url, tmp_path_factory.mktemp("rustup-custom"), CUSTOM, "default", timeout=900)


def _run(env: dict[str, str], *cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUSTUP), "run", CHANNEL, *cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=900
    )


def test_build_std_for_the_custom_spec(custom_std: tuple[Path, Path, dict[str, object]]) -> None:
    """build-std took the JSON: the sysroot is named after the spec, carries it as target.json, and every
    crate keeps its frame pointers (audit's per-crate table)."""
    spec, sysroot, report = custom_std
    assert report["target"] == CUSTOM
    lib = sysroot / "lib" / "rustlib" / CUSTOM
    assert (lib / "target.json").read_bytes() == spec.read_bytes()
    assert list((lib / "lib").glob("libstd-*.rlib"))
    rows = {row["crate"]: row for row in report["coverage"]}  # type: ignore[attr-defined]
    assert {"core", "alloc", "std", "proc_macro", "test", "panic_unwind"} <= set(rows)
    for crate, row in rows.items():
        assert row.get("NO_FP", 0) + row.get("RBP_CLOBBER", 0) + row.get("UNKNOWN", 0) == 0, (crate, row)
    assert rows["std"]["FP"] > 500


def test_rustup_installs_the_custom_std_and_cargo_builds_with_it(
    rustup_env: dict[str, str], custom_std: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    """One test on purpose (xdist would give each worker its own rustup install)."""
    spec, _, _ = custom_std
    # rustup: the default profile and the custom target's std, from our server into the temporary home
    sysroot = Path(_run(rustup_env, "rustc", "--print", "sysroot").stdout.strip())
    assert str(sysroot).startswith(rustup_env["RUSTUP_HOME"])
    installed = (sysroot / "lib" / "rustlib" / CUSTOM / "target.json").read_bytes()
    assert installed == spec.read_bytes()
    cmd = [str(RUSTUP), "component", "list", "--installed", "--toolchain", CHANNEL]
    listed = subprocess.run(cmd, capture_output=True, text=True, env=rustup_env, check=True).stdout.split()
    host = "-x86_64-unknown-linux-gnu"
    assert {"rustc", "cargo", f"rust-std-{CUSTOM}"} <= {c.removesuffix(host) for c in listed}

    done = _run(rustup_env, "cargo", "new", "--vcs", "none", "fresh", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "fresh"
    (project / "src" / "main.rs").write_text(
        "use std::collections::BTreeMap;\nfn main() {\n    let mut m = BTreeMap::new();\n"
        '    for (i, a) in std::env::args().enumerate() { m.insert(a, i); }\n    println!("{:?}", m);\n}\n'
    )
    tools = SHARED / "fixtures" / "illumos-rust" / "tools"
    lld = glob.glob(os.path.expanduser("~/.rustup/toolchains/*/lib/rustlib/*/bin/rust-lld"))
    if not lld or not (tools / "illumos-cc").is_file():
        pytest.fail(
            "no rust-lld or no shared/fixtures/illumos-rust/tools/illumos-cc to link an illumos binary"
        )
    env = dict(rustup_env)
    env["ILLUMOS_STUB_SYSROOT"] = str(tmp_path / "stubs")
    env["CARGO_PROFILE_RELEASE_STRIP"] = "false"  # see test_dist_e2e: no rust-objcopy in a Debian toolchain
    linker = f"-Clinker={tools / 'illumos-cc'}"

    # A stable toolchain refuses the custom target as it is: rustc's own message.
    refused = _run({**env, "RUSTFLAGS": linker}, "cargo", "build", "--offline", "--release",
                   "--target", CUSTOM, cwd=project)  # fmt: skip
    assert refused.returncode != 0
    assert "custom targets are unstable and require `-Zunstable-options`" in refused.stderr

    unstable = {**env, "RUSTC_BOOTSTRAP": "1", "RUSTFLAGS": f"-Zunstable-options {linker}"}
    # By name: rustc finds <sysroot>/lib/rustlib/<name>/target.json, which rustup installed with the std.
    target_dir = tmp_path / "target"
    done = _run(unstable, "cargo", "build", "--offline", "--release", "--target-dir", str(target_dir),
                "--target", CUSTOM, cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    binary = target_dir / CUSTOM / "release" / "fresh"
    head = subprocess.run(["readelf", "-h", "-l", str(binary)], capture_output=True, text=True).stdout
    assert "X86-64" in head and "EXEC" in head and "/usr/lib/amd64/ld.so.1" in head
    check_std_frame_pointers(binary)

    # By path the same spec is another target to rustc: it names a JSON-path target "<stem>-<hash of the
    # JSON>" and refuses a std built by name (E0461). What a user of this std must type is the name.
    by_path = _run(unstable, "cargo", "build", "--offline", "--release", "--target-dir", str(tmp_path / "p"),
                   "-Zjson-target-spec", "--target", str(spec), cwd=project)  # fmt: skip
    assert by_path.returncode != 0 and "E0461" in by_path.stderr, by_path.stderr[-2000:]
