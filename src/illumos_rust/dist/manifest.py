"""The v2 channel manifest rustup reads (``dist/channel-rust-<channel>.toml``).

Shape taken from the official manifests (e.g. the ``multirust-channel-manifest.toml`` rustup keeps in every
toolchain it installs): ``manifest-version = "2"``, ``date``, ``[pkg.<name>] version``, one
``[pkg.<name>.target.<triple>]`` table with ``available``/``url``/``hash``/``xz_url``/``xz_hash`` and
``components``/``extensions`` arrays per target, ``[renames.<old>] to = <new>`` and ``[profiles]``.

The aggregate ``rust`` package lists, per host, the components a toolchain is made of and the extensions
``rustup target add`` may install (rustup refuses a ``rust-std`` that is not listed there). We do not build
the combined ``rust-<version>-<host>`` tarball (rustup's v2 installs never download it), so that entry is
``available = false`` and carries no URL rather than a URL to a file that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DEFAULT_ROOT = "https://static.rust-lang.org"  # rustup replaces it with RUSTUP_DIST_SERVER when that is set
# Official renames of the preview-named packages; written only for a package the tree really has.
RENAMES = {"clippy": "clippy-preview", "rustfmt": "rustfmt-preview", "llvm-tools": "llvm-tools-preview"}
PROFILE_ORDER = ("rustc", "cargo", "rust-std", "rust-docs", "rustfmt-preview", "clippy-preview", "rust-src")
MINIMAL = ("rustc", "cargo", "rust-std")


@dataclass
class Artefact:
    """One published component tarball: its URLs (under the dist root) and SHA-256 of each format."""

    url: str | None = None
    hash: str | None = None
    xz_url: str | None = None
    xz_hash: str | None = None


@dataclass
class Channel:
    """Everything the manifest says, in the order it is written."""

    date: str
    versions: dict[str, str] = field(default_factory=dict)  # pkg -> "1.96.0 (ac68faa20 2026-05-25)"
    artefacts: dict[tuple[str, str], Artefact] = field(default_factory=dict)  # (pkg, target) -> files
    host: str = ""

    def profiles(self) -> dict[str, list[str]]:
        pkgs = {pkg for pkg, target in self.artefacts if target == self.host}
        minimal = [p for p in PROFILE_ORDER if p in MINIMAL and p in pkgs]
        everything = [p for p in PROFILE_ORDER if p in pkgs] + sorted(pkgs - set(PROFILE_ORDER))
        return {"minimal": minimal, "default": everything, "complete": everything}


def _q(s: str) -> str:
    return json.dumps(s)  # a TOML basic string is a JSON string for the characters we write


def render(ch: Channel) -> str:
    """The manifest text: deterministic (sorted packages and targets), so the tree is reproducible."""
    out = ['manifest-version = "2"', f"date = {_q(ch.date)}", ""]
    pkgs = sorted({pkg for pkg, _ in ch.artefacts} | {"rust"})
    for pkg in pkgs:
        version = ch.versions.get(pkg, ch.versions.get("rustc", ""))
        out += [f"[pkg.{pkg}]", f"version = {_q(version)}", ""]
        if pkg == "rust":
            out += _rust_pkg(ch)
            continue
        for (p, target), art in sorted(ch.artefacts.items()):
            if p != pkg:
                continue
            out += [f"[pkg.{pkg}.target.{target}]", "available = true"]
            if art.url:
                out += [f"url = {_q(art.url)}", f"hash = {_q(art.hash or '')}"]
            if art.xz_url:
                out += [f"xz_url = {_q(art.xz_url)}", f"xz_hash = {_q(art.xz_hash or '')}"]
            out += ["components = []", "extensions = []", ""]
    present = {pkg for pkg, _ in ch.artefacts}
    renames = {old: new for old, new in sorted(RENAMES.items()) if new in present}
    if renames:
        for old, new in renames.items():
            out += [f"[renames.{old}]", f"to = {_q(new)}", ""]
    else:
        out += ["[renames]", ""]
    out.append("[profiles]")
    for name, members in ch.profiles().items():
        out.append(f"{name} = [{', '.join(_q(m) for m in members)}]")
    return "\n".join(out) + "\n"


def _rust_pkg(ch: Channel) -> list[str]:
    host = ch.host
    out = [f"[pkg.rust.target.{host}]", "available = false", ""]
    for pkg, target in sorted(ch.artefacts):
        if target != host:
            continue
        out += [f"[[pkg.rust.target.{host}.components]]", f"pkg = {_q(pkg)}", f"target = {_q(target)}"]
        out += ["is_extension = false", ""]
    for pkg, target in sorted(ch.artefacts):
        if target == host:
            continue
        out += [f"[[pkg.rust.target.{host}.extensions]]", f"pkg = {_q(pkg)}", f"target = {_q(target)}"]
        out += ["is_extension = true", ""]
    return out
