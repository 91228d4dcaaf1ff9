"""dist: reproducible rust-installer archives, the manifest, verify, kill -9 safety, build-std refusals.

Oracles: GNU tar(1) and gzip's header bytes (RFC 1952) for the archives, sha256sum(1) for hashes, Python's
tomllib for the manifest, and the versions printed by the real compilers for the refusals.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from dist_helpers import CLI, DEBIAN_RUSTC, DEBIAN_SRC, cli, require_debian_rust
from illumos_rust.dist.archive import write_archives
from illumos_rust.dist.build import build_tree, clean_stale
from illumos_rust.dist.installer import Component
from illumos_rust.dist.sources import RustcVersion
from illumos_rust.toolchain.build_std import BuildStdOptions, plan

HOST_STD = Path("/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib")
VERSION = RustcVersion(
    "1.96.0", "ac68faa20c58cbccd01ee7208bf3b6e93a7d7f96", "2026-05-25", "x86_64-unknown-linux-gnu"
)


def _small_component(target: str = "x86_64-unknown-linux-gnu") -> Component:
    """A few real rlibs of Debian's host std, under the path rustup installs them to."""
    rlibs = sorted(HOST_STD.glob("lib*.rlib"))[:4] if HOST_STD.is_dir() else []
    if len(rlibs) < 2:
        pytest.skip(f"{HOST_STD}: Debian's host std (libstd-rust-web-dev) is not installed")
    comp = Component("rust-std", target)
    comp.files = [(p, f"lib/rustlib/{target}/lib/{p.name}", False) for p in rlibs]
    return comp


def test_archives_are_reproducible_and_normalised(tmp_path: Path) -> None:
    comp = _small_component()
    from illumos_rust.dist.installer import entries

    outs = []
    for run in ("a", "b"):
        d = tmp_path / run
        d.mkdir()
        paths = {"gz": d / "x.tar.gz", "xz": d / "x.tar.xz"}
        write_archives(entries(comp, "1.96.0"), paths, mtime=1_700_000_000, gzip_level=1, xz_preset=0)
        outs.append(paths)
    for fmt in ("gz", "xz"):
        assert outs[0][fmt].read_bytes() == outs[1][fmt].read_bytes(), fmt
    gz = outs[0]["gz"].read_bytes()
    assert gz[:2] == b"\x1f\x8b" and gz[4:8] == b"\0\0\0\0", "gzip MTIME must be 0 (RFC 1952 2.3.1)"
    assert not gz[3] & 0x08, "no FNAME field: the output path stays out of the header"
    listing = subprocess.run(
        ["tar", "--numeric-owner", "--full-time", "-tvzf", str(outs[0]["gz"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    names = [line.split()[-1] for line in listing]
    assert names == sorted(names)
    assert all(" 0/0 " in line for line in listing), listing[:3]
    assert all("2023-11-14" in line for line in listing), listing[
        :3
    ]  # 1_700_000_000 = 2023-11-14 22:13:20 UTC
    top = "rust-std-1.96.0-x86_64-unknown-linux-gnu"
    assert f"{top}/rust-installer-version" in names and f"{top}/install.sh" in names
    assert f"{top}/rust-std-x86_64-unknown-linux-gnu/manifest.in" in names
    xz_names = subprocess.run(
        ["tar", "-tJf", str(outs[0]["xz"])], capture_output=True, text=True, check=True
    ).stdout
    assert xz_names.split() == names


def test_tree_manifest_and_verify(tmp_path: Path) -> None:
    comp = _small_component()
    out = build_tree(tmp_path / "tree", "1.96.0", VERSION, [comp], gzip_level=1, xz_preset=0)
    manifest = out / "dist" / "channel-rust-1.96.0.toml"
    doc = tomllib.loads(manifest.read_text())
    t = doc["pkg"]["rust-std"]["target"]["x86_64-unknown-linux-gnu"]
    gz = out / "dist" / "2026-05-25" / "rust-std-1.96.0-x86_64-unknown-linux-gnu.tar.gz"
    assert t["available"] is True and t["url"].endswith("/dist/2026-05-25/" + gz.name)
    assert t["hash"] == hashlib.sha256(gz.read_bytes()).hexdigest()
    sidecar = subprocess.run(
        ["sha256sum", "-c", gz.name + ".sha256"], cwd=gz.parent, capture_output=True, text=True
    )
    assert sidecar.returncode == 0, sidecar.stdout + sidecar.stderr
    assert doc["profiles"]["minimal"] == ["rust-std"]
    assert "renames" in doc
    ok = cli("dist", "verify", str(out))
    assert ok.returncode == 0 and "every hash matches" in ok.stdout, ok.stderr

    # A wrong hash in an otherwise consistent manifest (its own .sha256 rewritten to match).
    text = manifest.read_text().replace(t["hash"], "0" * 64)
    manifest.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (manifest.parent / (manifest.name + ".sha256")).write_text(f"{digest}  {manifest.name}\n")
    bad = cli("dist", "verify", str(out))
    assert bad.returncode == 2
    err = bad.stderr.strip().splitlines()
    assert len(err) == 1 and "problem" in err[0] and "0" * 64 in err[0], bad.stderr


def test_verify_rejects_a_non_tree_and_garbage(tmp_path: Path) -> None:
    r = cli("dist", "verify", str(tmp_path))
    assert r.returncode == 2 and "not a dist tree" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "channel-rust-x.toml").write_bytes(b"\xff\x00[[[")
    r = cli("dist", "verify", str(tmp_path))
    assert r.returncode == 2 and "not a TOML channel manifest" in r.stderr and "Traceback" not in r.stderr


def test_kill_9_leaves_no_tree(tmp_path: Path) -> None:
    """A dist build killed mid-way leaves nothing at OUT; the next build removes its partial directory."""
    require_debian_rust()
    out = tmp_path / "tree"
    proc = subprocess.Popen(
        [*CLI, "dist", "build", str(out), "--from-debian", "--formats", "gz,xz"], stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    partial = tmp_path / f".tree.partial-{proc.pid}"
    while time.monotonic() < deadline and not any(partial.glob("dist/*/*.tar.*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "a half-written tree where the complete one is expected"
    assert partial.is_dir()
    assert clean_stale(out) == [partial] and not partial.exists()


def test_build_std_refuses_other_rust_src_version(tmp_path: Path) -> None:
    """Debian's rust-src 1.96.0 with rustup's stable rustc: both versions named, nothing written."""
    require_debian_rust()
    stable = Path(os.path.expanduser("~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc"))
    if not stable.is_file():
        pytest.skip("no rustup stable toolchain")
    env = {**os.environ, "LD_LIBRARY_PATH": str(stable.parent.parent / "lib")}
    stable_release = subprocess.run(
        [str(stable), "-vV"], capture_output=True, text=True, env=env, check=True
    ).stdout
    release = next(
        line.split(": ")[1] for line in stable_release.splitlines() if line.startswith("release: ")
    )
    assert release != "1.96.0"
    out = tmp_path / "std"
    r = cli("toolchain", "build-std", "--target", "x86_64-unknown-illumos", "--rustc", str(stable),
            "--rust-src", str(DEBIAN_SRC), "--out", str(out), env=env)  # fmt: skip
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()
    assert len(line) == 1 and "1.96.0" in line[0] and release in line[0], r.stderr
    assert not out.exists()


def test_build_std_refuses_unknown_target(tmp_path: Path) -> None:
    require_debian_rust()
    r = cli("toolchain", "build-std", "--target", "x86_64-unknown-nonesuch", "--rustc", str(DEBIAN_RUSTC),
            "--rust-src", str(DEBIAN_SRC), "--out", str(tmp_path / "std"))  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown target 'x86_64-unknown-nonesuch'" in r.stderr, r.stderr
    assert not (tmp_path / "std").exists()


def test_build_std_plan_for_a_custom_target_json(tmp_path: Path) -> None:
    """A spec from `target generate` is built by its file stem, found through RUST_TARGET_PATH (the form a
    rustup user types later), with -Zunstable-options (target specs are unstable since 1.95)."""
    require_debian_rust()
    spec = tmp_path / "x86_64-platform-illumos.json"
    gen = cli("target", "generate", "--base", "x86_64-unknown-illumos", "-o", str(spec),
              env={**os.environ, "PATH": f"{DEBIAN_RUSTC.parent}:/bin"})  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    cmd, env, _, _, name, resolved = plan(
        BuildStdOptions(target=str(spec), out=tmp_path / "std", rustc=str(DEBIAN_RUSTC), rust_src=DEBIAN_SRC)
    )
    assert name == "x86_64-platform-illumos" and resolved == spec.resolve()
    assert cmd[cmd.index("--target") + 1] == "x86_64-platform-illumos"
    assert env["RUST_TARGET_PATH"] == str(tmp_path.resolve())
    assert "-Zunstable-options" in env["RUSTFLAGS"].split() and env["RUSTC_BOOTSTRAP"] == "1"
    # the same command really resolves the name: rustc (the oracle) prints the spec's cfg under it
    cfg = subprocess.run([str(DEBIAN_RUSTC), "-Zunstable-options", "--print", "cfg", "--target", name],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert cfg.returncode == 0 and 'target_os="illumos"' in cfg.stdout, cfg.stderr


def test_build_std_refuses_a_spec_named_like_a_builtin(tmp_path: Path) -> None:
    require_debian_rust()
    spec = tmp_path / "x86_64-unknown-illumos.json"
    gen = cli("target", "generate", "--base", "x86_64-unknown-illumos", "-o", str(spec),
              env={**os.environ, "PATH": f"{DEBIAN_RUSTC.parent}:/bin"})  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    r = cli("toolchain", "build-std", "--target", str(spec), "--rustc", str(DEBIAN_RUSTC),
            "--rust-src", str(DEBIAN_SRC), "--out", str(tmp_path / "std"))  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is a built-in target" in r.stderr, r.stderr
    assert not (tmp_path / "std").exists()


def test_build_std_refuses_a_spec_rustc_rejects(tmp_path: Path) -> None:
    """rustc is asked about the spec before anything is built: its error, one line, exit 2."""
    require_debian_rust()
    spec = tmp_path / "broken.json"
    spec.write_text('{"arch": "x86_64", "llvm-target": "x86_64-pc-solaris"}\n')  # no data-layout, no width
    r = cli("toolchain", "build-std", "--target", str(spec), "--rustc", str(DEBIAN_RUSTC),
            "--rust-src", str(DEBIAN_SRC), "--out", str(tmp_path / "std"))  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "does not accept this target spec" in r.stderr, r.stderr
    assert not (tmp_path / "std").exists()


def test_rust_src_that_is_not_one(tmp_path: Path) -> None:
    require_debian_rust()
    r = cli("toolchain", "build-std", "--target", "x86_64-unknown-illumos", "--rustc", str(DEBIAN_RUSTC),
            "--rust-src", str(tmp_path), "--out", str(tmp_path / "std"))  # fmt: skip
    assert r.returncode == 2 and "not a rust-src tree" in r.stderr, r.stderr


def test_ar_reader_against_ar_t(tmp_path: Path) -> None:
    """Member names of a real rlib equal what binutils' ar(1) lists; a truncated copy is a FormatError."""
    from illumos_rust.errors import FormatError
    from illumos_rust.toolchain.ar_archive import members

    rlib = next(iter(sorted(HOST_STD.glob("libstd-*.rlib"))), None) if HOST_STD.is_dir() else None
    if rlib is None:
        pytest.skip("no Debian host std")
    want = subprocess.run(["ar", "t", str(rlib)], capture_output=True, text=True, check=True).stdout.split()
    assert [n for n, _ in members(rlib)] == want
    cut = tmp_path / "cut.rlib"
    cut.write_bytes(rlib.read_bytes()[: rlib.stat().st_size // 2])
    with pytest.raises(FormatError, match=r"runs past the end|truncated"):
        list(members(cut))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
