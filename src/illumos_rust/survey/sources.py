"""What a survey analyses: crates (registry/vendor directories, one crate, ``.crate`` archives) and binaries
(trees of ELF files), each with the content hash the store keys it by.

The hash is of the *content*, not of names or mtimes: a Debian registry's ``.cargo-checksum.json`` is the
same before and after someone edits a file, and a ``touch`` must not cost a re-analysis. A crate directory's
digest covers every file's relative path and bytes (build output and VCS metadata excluded, as ``port``
excludes them); a ``.crate`` archive's and a binary's is the sha256 of the file.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..port.workspace import SKIP_DIRS

_CHUNK = 1 << 20


@dataclass(slots=True)
class Source:
    """One item to analyse: ``kind`` 'crate' or 'binary', where it is, how to hash it ('tree' or 'file'),
    a cheap stat signature (sizes and mtimes: unchanged signature, unchanged digest, no need to read the
    bytes again), its size in bytes (to balance the work), and the content digest once computed. ``error``
    is set when the item could not even be read (it is stored as a failed item)."""

    kind: str
    path: str
    how: str
    signature: str = ""
    size: int = 0
    digest: str = ""
    error: str = ""


def _files(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        out.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return out


def stat_signature(src: Source) -> None:
    """Fill ``signature`` and ``size`` from ``stat`` alone (no file is read)."""
    h = hashlib.sha256()
    size = 0
    try:
        for full in _files(src.path) if src.how == "tree" else [src.path]:
            st = os.lstat(full)
            h.update(
                f"{full}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode("utf-8", "surrogateescape")
            )
            size += st.st_size
    except OSError as exc:
        src.error = str(exc)
    src.signature, src.size = h.hexdigest(), size


def file_digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def tree_digest(root: str) -> str:
    """sha256 over (relative path, size, bytes) of every regular file under ``root``, in sorted order."""
    h = hashlib.sha256()
    for full in _files(root):
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        rel = os.path.relpath(full, root)
        with open(full, "rb") as fh:
            data = fh.read()
        h.update(f"{rel}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        h.update(data)
    return h.hexdigest()


def content_digest(src: Source) -> None:
    """Fill ``digest``; an unreadable item gets a digest naming its path (so it is retried next run) and
    the reason in ``error``."""
    try:
        src.digest = tree_digest(src.path) if src.how == "tree" else file_digest(src.path)
    except OSError as exc:
        src.error = str(exc)
    if src.error:
        src.digest = "unreadable:" + hashlib.sha256(src.path.encode("utf-8", "surrogateescape")).hexdigest()


def crate_sources(paths: list[str]) -> list[Source]:
    """A path is a crate (has ``Cargo.toml``), a ``.crate`` archive, or a directory of those (a Debian
    registry, ``cargo vendor`` output, a download cache): its direct children are the items."""
    out: list[Source] = []
    for given in paths:
        p = Path(given)
        if not p.exists():
            raise UsageError(f"{given}: no such file or directory")
        if p.is_file():
            out.append(Source("crate", str(p.resolve()), "file"))
        elif (p / "Cargo.toml").is_file():
            out.append(Source("crate", str(p.resolve()), "tree"))
        else:
            for child in sorted(p.iterdir()):
                if child.is_dir() and (child / "Cargo.toml").is_file():
                    out.append(Source("crate", str(child.resolve()), "tree"))
                elif child.is_file() and child.name.endswith(".crate"):
                    out.append(Source("crate", str(child.resolve()), "file"))
    return out


def binary_sources(paths: list[str]) -> list[Source]:
    """ELF files named or found in the trees (``audit``'s own walk, so both see the same files)."""
    from ..audit import expand  # here: `survey crates` need not pay for importing audit

    for given in paths:
        if not Path(given).exists():
            raise UsageError(f"{given}: no such file or directory")
    return [Source("binary", str(f.resolve()), "file") for f in expand(paths)]


def unpack_crate(archive: str, into: str) -> str:
    """Extract a ``.crate`` (a gzipped tar with one top directory) under ``into``; returns the crate root.
    Members that would land outside ``into`` (absolute paths, ``..``, links) are refused by tarfile's
    ``data`` filter; a corrupt archive raises ``tarfile.TarError``/``OSError`` for the caller to record."""
    os.makedirs(into, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")
    tops = [d for d in os.listdir(into) if os.path.isfile(os.path.join(into, d, "Cargo.toml"))]
    if len(tops) != 1:
        raise tarfile.TarError(f"expected one crate directory with a Cargo.toml, found {len(tops)}")
    return os.path.join(into, tops[0])
