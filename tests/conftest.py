"""Shared test helpers: where ``../shared`` is, and building real Rust programs with the installed rustc."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

# A test run started in the background by a non-interactive shell (`make test &`, nohup) ignores SIGINT,
# and every process it starts inherits that: the tests that press Ctrl-C on a child (test_cli_hardening)
# then waited 60 s for a child that could not hear it. The ordinary handler here gives children the default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ILLUMOS_RUST_SHARED", REPO.parent / "shared"))
BUILD_CACHE = REPO / ".cache" / "rustc-builds"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when a user's clone has no shared/."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (tests on real illumos/Solaris fixtures need ../shared)")
    return path


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} not installed (make sysdeps installs it)")
    return found


def build_rust(
    source: str,
    name: str,
    *flags: str,
    crate_type: str = "bin",
    toolchain: str | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    """Compile ``source`` with the real rustc and return the artefact, cached by content for fast reruns."""
    rustc = ["rustc"] if toolchain is None else ["rustup", "run", toolchain, "rustc"]
    key = hashlib.sha256(
        "\0".join([source, name, crate_type, *flags, *rustc, repr(sorted((env or {}).items()))]).encode()
    ).hexdigest()[:16]
    out_dir = BUILD_CACHE / f"{name}-{key}"
    suffix = {"bin": "", "cdylib": ".so", "dylib": ".so", "staticlib": ".a", "rlib": ".rlib"}[crate_type]
    prefix = "" if crate_type == "bin" else "lib"
    out = out_dir / f"{prefix}{name}{suffix}"
    if out.exists():
        return out
    tmp_dir = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    src = tmp_dir / f"{name}.rs"
    src.write_text(source)
    cmd = [
        *rustc,
        "--edition=2021",
        "--crate-type",
        crate_type,
        "--crate-name",
        name,
        *flags,
        "-o",
        str(tmp_dir / out.name),
        str(src),
    ]
    subprocess.run(cmd, check=True, cwd=tmp_dir, env={**os.environ, **(env or {})}, capture_output=True)
    try:
        tmp_dir.rename(out_dir)
    except OSError:
        shutil.rmtree(tmp_dir, ignore_errors=True)  # another worker won the race; its result is identical
    return out
