"""``toolchain build-std``: ``cargo -Zbuild-std`` for a target, into a sysroot-shaped ``--out`` directory.

The wrapped invocation is the one ``shared/fixtures/illumos-rust/regen.sh`` uses (cargo's
``-Zbuild-std`` with ``RUSTC_BOOTSTRAP=1``, std's own dependencies from the ``library/vendor`` directory a
Debian ``rust-web-src`` ships, ``--offline``), around an empty ``#![no_std]`` crate whose only purpose is to
make cargo build the std crates. The rlibs are then copied into ``OUT/lib/rustlib/<target>/lib`` (plus
``target.json`` for a custom target, where rustc looks for it in a sysroot), written to a temporary directory
first and renamed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..dist.sources import RustcVersion, rustc_version
from ..errors import FileError, UsageError
from .rust_src import check_matches

STD_CRATES = "std,panic_abort,panic_unwind,proc_macro,test"
PROBE = "illumos_rust_std_probe"


@dataclass
class BuildStdOptions:
    target: str
    out: Path
    rustc: str = "rustc"
    cargo: str | None = None
    rust_src: Path | None = None
    frame_pointers: bool = False
    panic: str = "unwind"
    profile: str = "release"
    jobs: int | None = None
    work_dir: Path | None = None  # cargo's target dir; a temporary one when None
    extra_rustflags: list[str] = field(default_factory=list)
    crates: str = STD_CRATES  # -Zbuild-std=<crates>; "core,alloc" is a quick partial build


@dataclass
class BuildStdResult:
    target: str
    out: Path
    version: RustcVersion
    rlibs: list[Path]
    command: list[str]
    env: dict[str, str]


def _resolve(tool: str) -> str:
    found = shutil.which(tool) if os.sep not in tool else tool
    if not found or not Path(found).is_file():
        raise UsageError(f"{tool}: not found")
    return str(Path(found).resolve()) if os.sep in tool else found


def check_target(rustc: str, target: str) -> tuple[str, Path | None]:
    """(target name, custom spec path or None); refuses a triple the compiler does not know."""
    spec = None
    if target.endswith(".json"):
        spec = Path(target)
        if not spec.is_file():
            raise UsageError(f"{target}: no such target spec file")
        # Ask rustc itself before a long build, the way the build runs it (by name, see plan()): it is the
        # only authority on what a spec may contain. The format is unstable, hence -Zunstable-options.
        env = {**os.environ, "RUSTC_BOOTSTRAP": "1", "RUST_TARGET_PATH": str(spec.resolve().parent)}
        probe = [rustc, "-Zunstable-options", "--print", "cfg", "--target", spec.stem]
        checked = subprocess.run(probe, capture_output=True, text=True, env=env)
        if checked.returncode != 0:
            why = next((ln for ln in checked.stderr.splitlines() if ln.startswith("error")), "rejected")
            raise UsageError(f"{target}: {rustc} does not accept this target spec ({why})")
    listing = subprocess.run([rustc, "--print", "target-list"], capture_output=True, text=True)
    if listing.returncode != 0:
        raise UsageError(f"{rustc} --print target-list failed: {listing.stderr.strip()}")
    if spec is not None:
        if spec.stem in listing.stdout.split():
            # rustc resolves a built-in name before any JSON, so the std would silently be the built-in one
            raise UsageError(
                f"{target}: {spec.stem} is a built-in target of {rustc}; give the spec its own name"
            )
        return spec.stem, spec.resolve()
    if target not in listing.stdout.split():
        raise UsageError(
            f"unknown target {target!r}: {rustc} does not know it (see `rustc --print target-list`)"
        )
    return target, None


def plan(opts: BuildStdOptions) -> tuple[list[str], dict[str, str], Path, RustcVersion, str, Path | None]:
    """Validate everything; return the exact cargo command and environment (the benchmark runs the same)."""
    if opts.panic not in ("abort", "unwind"):
        raise UsageError(f"--panic {opts.panic}: must be abort or unwind")
    rustc = _resolve(opts.rustc)
    version = rustc_version(rustc)
    sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    src = opts.rust_src or Path(sysroot, "lib", "rustlib", "src", "rust")
    if not src.exists():
        raise UsageError(f"{src}: no rust-src for {rustc} (install rust-src/rust-web-src or pass --rust-src)")
    lib = check_matches(src, version.release, rustc)
    name, spec = check_target(rustc, opts.target)
    sibling = Path(rustc).with_name("cargo")  # the cargo shipped with this rustc, else the one on PATH
    cargo = _resolve(opts.cargo or (str(sibling) if sibling.is_file() else "cargo"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "RUSTFLAGS", "RUSTUP_TOOLCHAIN"))
    }
    env.update(RUSTC=rustc, RUSTC_BOOTSTRAP="1", CARGO_TERM_COLOR="never", CARGO_TERM_PROGRESS_WHEN="never")
    # cargo's build-std reads std's source from the compiler's sysroot; this (test-named) variable is its
    # only override, needed when --rust-src points elsewhere (e.g. Debian's /usr/src/rustc-<ver>).
    env["__CARGO_TESTS_ONLY_SRC_ROOT"] = str(lib)
    flags = [f"--remap-path-prefix={lib.parent}=/rustc/{version.commit}", *opts.extra_rustflags]
    if opts.frame_pointers:
        flags.append("-Cforce-frame-pointers=yes")
    if spec is not None:
        # A custom target is built *by name*, found through RUST_TARGET_PATH, not as `--target FILE.json`:
        # rustc records a JSON-path target in the rlibs as "<stem>-<hash of the JSON>" and then accepts them
        # only from the same path form (E0461 otherwise), while the name is what a rustup user types
        # (`rustup target add NAME`; rustc then finds <sysroot>/lib/rustlib/NAME/target.json, see _install).
        # The spec format is unstable since Rust 1.95 (rust-lang/rust#150151): -Zunstable-options.
        env["RUST_TARGET_PATH"] = str(spec.parent)
        flags.insert(0, "-Zunstable-options")
    else:
        env.pop("RUST_TARGET_PATH", None)
    env["RUSTFLAGS"] = " ".join(flags)
    cmd = [cargo, "build", "--offline", f"-Zbuild-std={opts.crates}", "--target", name]
    cmd += ["--profile", opts.profile]
    if opts.jobs:
        cmd += ["-j", str(opts.jobs)]
    return cmd, env, lib, version, name, spec


def write_probe(project: Path, lib: Path, panic: str, cargo_home: Path) -> None:
    """The empty crate cargo needs to have something to build std for, and a CARGO_HOME that replaces
    crates.io with the vendored sources next to ``library/`` (nothing is downloaded)."""
    (project / "src").mkdir(parents=True, exist_ok=True)
    (project / "src" / "lib.rs").write_text("#![no_std]\n")
    (project / "Cargo.toml").write_text(
        f'[package]\nname = "{PROBE}"\nversion = "0.0.0"\nedition = "2021"\n\n'
        f'[profile.release]\npanic = "{panic}"\n[profile.dev]\npanic = "{panic}"\n'
    )
    cargo_home.mkdir(parents=True, exist_ok=True)
    vendor = lib / "vendor"
    if vendor.is_dir():
        (cargo_home / "config.toml").write_text(
            '[source.crates-io]\nreplace-with = "rust-src-vendor"\n'
            f'[source.rust-src-vendor]\ndirectory = "{vendor}"\n'
        )


def build_std(opts: BuildStdOptions, progress: Callable[[str], None] | None = None) -> BuildStdResult:
    cmd, env, lib, version, name, spec = plan(opts)
    out = opts.out
    if out.exists() and not (out / "lib" / "rustlib").is_dir():
        raise UsageError(f"{out}: exists and is not a sysroot written by build-std; refusing to replace it")
    with tempfile.TemporaryDirectory(prefix="illumos-rust-build-std-") as tmp:
        project = Path(tmp, "probe")
        env["CARGO_HOME"] = str(Path(tmp, "cargo-home"))
        write_probe(project, lib, opts.panic, Path(env["CARGO_HOME"]))
        target_dir = opts.work_dir or Path(tmp, "target")
        full = [*cmd, "--target-dir", str(target_dir)]
        if progress:
            progress("running " + " ".join(full))
        proc = subprocess.Popen(
            full, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        tail: list[str] = []
        for line in proc.stderr:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            if progress and line.strip().startswith(("Compiling", "Finished")):
                progress(line.strip())
        if proc.wait() != 0:
            raise UsageError(f"cargo -Zbuild-std for {name} failed: {' | '.join(tail[-3:])}")
        profile_dir = "debug" if opts.profile == "dev" else opts.profile
        deps = target_dir / name / profile_dir / "deps"
        rlibs = sorted(p for p in deps.glob("lib*.rlib") if not p.name.startswith(f"lib{PROBE}-"))
        if not rlibs:
            raise UsageError(f"{deps}: cargo produced no rlibs")
        installed = _install(out, name, rlibs, spec)
    return BuildStdResult(name, out, version, installed, full, env)


def _install(out: Path, name: str, rlibs: list[Path], spec: Path | None) -> list[Path]:
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        dest = tmp / "lib" / "rustlib" / name / "lib"
        dest.mkdir(parents=True)
        for rlib in rlibs:
            shutil.copy2(rlib, dest / rlib.name)
        if spec is not None:
            shutil.copy2(spec, tmp / "lib" / "rustlib" / name / "target.json")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise FileError.from_os(str(out), "cannot write the std", exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted((out / "lib" / "rustlib" / name / "lib").glob("*.rlib"))
