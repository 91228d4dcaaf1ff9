"""One component in rust-installer format (version 3), the format rustup unpacks.

Layout, as in the official ``<pkg>-<version>-<target>.tar.gz`` (rust-lang/rust-installer, read for the
facts): a top directory ``<pkg>-<version>-<target>/`` holding ``rust-installer-version`` (``3``),
``components`` (one component name per line), ``install.sh``, and per component a directory with
``manifest.in`` (``file:REL`` lines) next to the files themselves. rustup strips the top directory, checks the
version, and accepts the component under its full name (``rust-std-x86_64-unknown-illumos``) or its short
name (``rustc``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .archive import Entry

INSTALLER_VERSION = "3"

# A small POSIX installer for people without rustup: copies each component's files under --prefix.
INSTALL_SH = """#!/bin/sh
# Installs the components of this rust-installer (format 3) tarball under --prefix (default /usr/local).
# Written by illumos-rust dist; rustup does not run it (it reads components and manifest.in itself).
set -eu
prefix=/usr/local
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix=${arg#--prefix=} ;;
    *) echo "install.sh: unknown option $arg (only --prefix=DIR)" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
test "$(cat "$here/rust-installer-version")" = 3 || { echo "install.sh: not installer format 3" >&2; exit 2; }
while read -r comp; do
  while IFS= read -r line; do
    rel=${line#file:}
    mkdir -p "$prefix/$(dirname "$rel")"
    cp -p "$here/$comp/$rel" "$prefix/$rel"
  done < "$here/$comp/manifest.in"
  echo "install.sh: installed $comp"
done < "$here/components"
"""


@dataclass
class Component:
    """A package of the channel (``rustc``, ``cargo``, ``rust-std``) for one target, and its files as
    (path on this machine, path relative to the toolchain root, executable)."""

    pkg: str
    target: str
    files: list[tuple[Path, str, bool]] = field(default_factory=list)

    @property
    def component_name(self) -> str:
        """rust-std is per target in the tarball (``rust-std-<target>``), the others are not."""
        return f"{self.pkg}-{self.target}" if self.pkg == "rust-std" else self.pkg


def tarball_stem(pkg: str, version: str, target: str) -> str:
    """``rustc-1.96.0-x86_64-unknown-linux-gnu``, the name static.rust-lang.org uses."""
    return f"{pkg}-{version}-{target}"


def entries(comp: Component, version: str) -> list[Entry]:
    """Everything inside the tarball of ``comp``."""
    top = tarball_stem(comp.pkg, version, comp.target)
    name = comp.component_name
    rels = sorted(rel for _, rel, _ in comp.files)
    manifest_in = "".join(f"file:{rel}\n" for rel in rels).encode()
    out = [
        Entry(f"{top}/rust-installer-version", data=f"{INSTALLER_VERSION}\n".encode()),
        Entry(f"{top}/components", data=f"{name}\n".encode()),
        Entry(f"{top}/install.sh", data=INSTALL_SH.encode(), executable=True),
        Entry(f"{top}/{name}/manifest.in", data=manifest_in),
    ]
    out += [Entry(f"{top}/{name}/{rel}", source=src, executable=exe) for src, rel, exe in comp.files]
    return out
