"""``dist verify``: every URL of the channel manifest resolves to a file in the tree whose SHA-256 matches,
every ``.sha256`` sidecar agrees, and every component a profile or a rename names exists for the host.

rustup checks the hash of each download against the manifest and aborts on a mismatch; finding that before
publishing is the point of this command.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import FileError, FormatError
from .build import sha256_file


def _sidecar(path: Path, digest: str, problems: list[str]) -> None:
    side = path.with_name(path.name + ".sha256")
    if not side.is_file():
        problems.append(f"{side}: missing")
        return
    words = side.read_text(errors="replace").split()
    if not words or words[0] != digest:
        problems.append(f"{side}: says {words[0] if words else '(empty)'}, the file hashes to {digest}")


def _load(manifest: Path) -> dict[str, Any]:
    try:
        data = manifest.read_bytes()
    except OSError as exc:
        raise FileError.from_os(str(manifest), "cannot read", exc) from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FormatError(str(manifest), None, f"not a TOML channel manifest ({exc})") from None
    if doc.get("manifest-version") != "2":
        raise FormatError(
            str(manifest), None, f'manifest-version {doc.get("manifest-version")!r}, expected "2"'
        )
    if not isinstance(doc.get("pkg"), dict):
        raise FormatError(str(manifest), None, "no [pkg] tables")
    return doc


def manifests(tree: Path) -> list[Path]:
    found = sorted((tree / "dist").glob("channel-rust-*.toml"))
    if not found:
        raise FormatError(str(tree), None, "no dist/channel-rust-*.toml (not a dist tree)")
    return found


def verify_tree(tree: Path) -> tuple[int, list[str]]:
    """(number of files checked, problems). Raises ``FormatError`` when a manifest cannot be parsed."""
    problems: list[str] = []
    checked = 0
    for manifest in manifests(tree):
        _sidecar(manifest, sha256_file(manifest), problems)
        doc = _load(manifest)
        try:
            checked += _check(tree, manifest, doc, problems)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            # A table where a string should be, a number where a list should be: say so, in one line.
            raise FormatError(
                str(manifest), None, f"malformed manifest ({type(exc).__name__}: {exc})"
            ) from None
    return checked, problems


def _check(tree: Path, manifest: Path, doc: dict[str, Any], problems: list[str]) -> int:
    checked = 0
    available: dict[str, set[str]] = {}
    for pkg, body in doc["pkg"].items():
        targets = body.get("target", {}) if isinstance(body, dict) else {}
        if not isinstance(targets, dict):
            raise FormatError(str(manifest), None, f"pkg.{pkg}.target is not a table")
        for target, t in targets.items():
            if not isinstance(t, dict) or not t.get("available"):
                continue
            available.setdefault(pkg, set()).add(target)
            for url_key, hash_key in (("url", "hash"), ("xz_url", "xz_hash")):
                url, want = t.get(url_key), t.get(hash_key)
                if url is None:
                    continue
                if not isinstance(url, str) or not isinstance(want, str):
                    problems.append(
                        f"{manifest}: pkg.{pkg}.target.{target}.{url_key}/{hash_key} are not strings"
                    )
                    continue
                rel = urlparse(url).path.lstrip("/")
                path = tree / rel
                if ".." in rel.split("/") or not path.is_file():
                    problems.append(f"{manifest}: pkg.{pkg}.target.{target}: {url} not in the tree ({path})")
                    continue
                got = sha256_file(path)
                checked += 1
                if got != want:
                    where = f"pkg.{pkg}.target.{target}.{hash_key}"
                    problems.append(f"{path}: sha256 {got}, the manifest says {want} ({where})")
                _sidecar(path, got, problems)
    hosts = set(doc["pkg"].get("rust", {}).get("target", {}))
    for profile, members in (doc.get("profiles") or {}).items():
        for member in members:
            for host in sorted(hosts):
                if host not in available.get(member, set()):
                    problems.append(f"{manifest}: profile {profile} names {member}, not available for {host}")
    for old, body in (doc.get("renames") or {}).items():
        new = body.get("to") if isinstance(body, dict) else None
        if new not in doc["pkg"]:
            problems.append(f"{manifest}: renames.{old} points to {new}, which is not a package")
    return checked
