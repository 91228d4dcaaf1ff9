"""Find a ``rust-src`` tree and its version, and refuse one that does not match the compiler.

std must be compiled by exactly the compiler that will use it (rustc rejects rlibs from another version with
E0514), and std's source uses that compiler's unstable features, so a mismatch is refused up front, naming
both versions, instead of failing in the middle of a ten-minute build.

Where the version is written (first found wins): ``version`` at the root of the official source tarball
(``1.96.0 (ac68faa20 2026-05-25)``); the first ``Version X.Y.Z`` heading of ``RELEASES.md``; a directory named
``rustc-X.Y.Z`` (Debian's ``/usr/src/rustc-1.96.0`` from ``rust-web-src``/``rust-src``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError

_VERSION = re.compile(r"(\d+\.\d+\.\d+(?:-[a-z]+(?:\.\d+)?)?)")


def library_dir(src: Path) -> Path:
    """Accept the source root, its ``library/`` directory, or a rustup sysroot's ``lib/rustlib/src/rust``."""
    for cand in (src / "library", src, src / "lib" / "rustlib" / "src" / "rust" / "library"):
        cand = cand.resolve()  # one spelling of the path, so --remap-path-prefix and caches agree
        if (cand / "std" / "Cargo.toml").is_file() and (cand / "core" / "Cargo.toml").is_file():
            return cand
    raise UsageError(f"{src}: no library/std and library/core, not a rust-src tree")


def source_version(src: Path) -> str | None:
    """The release the tree is the source of, or None when nothing in it says."""
    lib = library_dir(src)
    root = lib.parent
    version_file = root / "version"
    if version_file.is_file():
        m = _VERSION.match(version_file.read_text(errors="replace").strip())
        if m:
            return m.group(1)
    releases = root / "RELEASES.md"
    if releases.is_file():
        with open(releases, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Version "):
                    m = _VERSION.search(line)
                    return m.group(1) if m else None
    for part in (root.resolve(), *root.resolve().parents):
        m = re.fullmatch(r"rustc-" + _VERSION.pattern + r"(?:-src)?", part.name)
        if m:
            return m.group(1)
    return None


def check_matches(src: Path, rustc_release: str, rustc: str) -> Path:
    """The ``library/`` directory of ``src``; raises ``UsageError`` naming both versions on a mismatch."""
    lib = library_dir(src)
    found = source_version(src)
    if found is None:
        raise UsageError(f"{src}: cannot tell which Rust release this rust-src is (no version, RELEASES.md)")
    if found.split("-")[0] != rustc_release.split("-")[0]:
        raise UsageError(
            f"{src} is the source of Rust {found} but {rustc} is rustc {rustc_release}: they must match"
        )
    return lib
