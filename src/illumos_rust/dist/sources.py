"""Where component files come from: a rustup toolchain directory, a Debian install, or a built std.

Each source yields ``Component`` objects whose files are laid out relative to a toolchain root exactly as
rustup installs them (``bin/rustc``, ``lib/librustc_driver-*.so``, ``lib/rustlib/<target>/lib/*.rlib``).
rustc finds its sysroot from the directory of ``librustc_driver`` (its parent when that is ``lib/``), and
rustup puts ``<toolchain>/lib`` on ``LD_LIBRARY_PATH`` when it runs a tool, so this layout is self-contained.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileError, UsageError
from .archive import is_executable
from .installer import Component

HOST_PKGS = ("rustc", "cargo", "rust-std")


@dataclass(frozen=True)
class RustcVersion:
    """``rustc -vV``: the release (1.96.0), the commit and its date, and the host triple."""

    release: str
    commit: str
    date: str
    host: str

    @property
    def long(self) -> str:
        """``1.96.0 (ac68faa20 2026-05-25)``: the form ``pkg.<name>.version`` carries in real manifests."""
        return f"{self.release} ({self.commit[:9]} {self.date})"


def rustc_version(rustc: Path | str, env: dict[str, str] | None = None) -> RustcVersion:
    """Ask the compiler itself; refuses a binary that is not a rustc."""
    try:
        out = subprocess.run([str(rustc), "-vV"], capture_output=True, text=True, check=True, env=env).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UsageError(f"{rustc}: cannot run `rustc -vV` ({exc})") from None
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    if "release" not in fields or "host" not in fields:
        raise UsageError(f"{rustc}: `-vV` printed no release/host, not a rustc")
    return RustcVersion(
        fields["release"],
        fields.get("commit-hash", "unknown"),
        fields.get("commit-date", "unknown"),
        fields["host"],
    )


def _walk(root: Path, rel: str) -> list[tuple[Path, str, bool]]:
    base = root / rel
    if base.is_file():
        return [(base, rel, is_executable(base))]
    out = []
    for p in sorted(base.rglob("*")):
        if p.is_file():
            out.append((p, p.relative_to(root).as_posix(), is_executable(p)))
    return out


def from_rustup(toolchain: Path, pkgs: tuple[str, ...] = HOST_PKGS) -> tuple[RustcVersion, list[Component]]:
    """A toolchain rustup installed (``~/.rustup/toolchains/stable-<host>``): rustup left one
    ``lib/rustlib/manifest-<component>`` per component listing its files (``file:``/``dir:`` lines)."""
    rustc = toolchain / "bin" / "rustc"
    if not rustc.is_file():
        raise UsageError(f"{toolchain}: no bin/rustc, not a rustup toolchain directory")
    version = rustc_version(rustc, env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(toolchain / "lib")})
    comps = []
    for pkg in pkgs:
        name = f"{pkg}-{version.host}" if pkg == "rust-std" else pkg
        listing = toolchain / "lib" / "rustlib" / f"manifest-{name}-{version.host}"
        if not listing.is_file():
            listing = toolchain / "lib" / "rustlib" / f"manifest-{pkg}-{version.host}"
        try:
            lines = listing.read_text().splitlines()
        except OSError as exc:
            raise FileError.from_os(str(listing), f"cannot read the file list of {pkg}", exc) from None
        comp = Component(pkg, version.host)
        for line in lines:
            kind, _, rel = line.partition(":")
            if kind not in ("file", "dir") or not rel or rel.startswith("/") or ".." in rel.split("/"):
                raise UsageError(f"{listing}: unexpected line {line!r}")
            comp.files += _walk(toolchain, rel)
        comps.append(comp)
    return version, comps


_MULTIARCH = re.compile(r"^lib/[a-z0-9_]+-linux-gnu[a-z0-9]*/")


def _dpkg_owner(path: Path) -> str:
    out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise UsageError(f"{path}: not installed by a Debian package (dpkg -S: {out.stderr.strip()})")
    return out.stdout.split(":", 1)[0].strip()


def _dpkg_files(package: str) -> list[Path]:
    out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    if out.returncode != 0:
        raise UsageError(f"dpkg -L {package}: {out.stderr.strip()}")
    return [Path(line) for line in out.stdout.splitlines() if line.startswith("/usr/")]


def from_debian(prefix: Path = Path("/usr")) -> tuple[RustcVersion, list[Component]]:
    """Debian's ``rustc``/``rustc-web`` install: the packages owning ``bin/rustc``, ``librustc_driver``,
    ``bin/cargo`` and the host std, mapped from ``/usr`` to a toolchain root (``lib/<multiarch>/`` becomes
    ``lib/`` so rustc's sysroot is the toolchain root). Docs, man pages and lintian overrides stay behind."""
    version = rustc_version(prefix / "bin" / "rustc")
    host = version.host
    drivers = sorted(prefix.glob("lib/*/librustc_driver-*.so"))
    if not drivers:
        raise UsageError(f"{prefix}: no lib/*/librustc_driver-*.so, not a Debian rustc install")
    owners = {
        "rustc": {_dpkg_owner(prefix / "bin" / "rustc"), _dpkg_owner(drivers[0])},
        "cargo": {_dpkg_owner(prefix / "bin" / "cargo")},
        "rust-std": {_dpkg_owner(prefix / "lib" / "rustlib" / host / "lib")},
    }
    comps = []
    for pkg, packages in owners.items():
        comp = Component(pkg, host)
        for package in sorted(packages):
            for path in _dpkg_files(package):
                rel = path.relative_to(prefix).as_posix()
                if rel.startswith("share/") or not path.is_file() or path.is_symlink():
                    continue
                rel = _MULTIARCH.sub("lib/", rel)
                comp.files.append((path, rel, is_executable(path)))
        comps.append(comp)
    return version, comps


def from_std(std_dir: Path, target: str) -> Component:
    """The sysroot ``toolchain build-std --out`` wrote: ``lib/rustlib/<target>/`` (rlibs, target spec)."""
    root = std_dir / "lib" / "rustlib" / target
    if not root.is_dir():
        raise UsageError(
            f"{std_dir}: no lib/rustlib/{target}/ (run `illumos-rust toolchain build-std --out {std_dir}`)"
        )
    comp = Component("rust-std", target)
    comp.files = _walk(std_dir, f"lib/rustlib/{target}")
    if not any(rel.endswith(".rlib") for _, rel, _ in comp.files):
        raise UsageError(f"{root}: no .rlib files")
    return comp
