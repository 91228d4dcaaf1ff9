"""The ELF files inside binary packages, for ``survey binaries`` over a package repository.

Why: a platform team's question is about "every binary of a package repository", and a repository is a
directory of packages, not of unpacked files. Formats read: Debian ``.deb`` (an ``ar`` archive whose
``data.tar.{gz,xz,bz2}`` member holds the files; layout from deb(5)), and tar packages (pkgsrc binary
packages are gzipped tars with ``+CONTENTS``; also plain ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz``/
``.txz``, ``.tar.bz2``/``.tbz``). A ``data.tar.zst`` (newer Ubuntu) needs the ``zstandard`` module; without
it the package is a failed item that says so. IPS ``.p5p`` archives and RPMs are not read.

Everything is streamed: members are read in order, only ELF regular files are written out (one at a
time, to a private temporary directory, removed after its analysis), and a member larger than
:data:`MAX_MEMBER` is reported, not written. Nothing from a package ever lands outside that directory: the
file written is named by a counter, not by the member's path.
"""

from __future__ import annotations

import copy
import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from typing import IO, Any

#: Name endings of the packages read (lower case).
SUFFIXES = (".deb", ".tgz", ".tar.gz", ".tar", ".txz", ".tar.xz", ".tbz", ".tar.bz2", ".tar.zst", ".tzst")
#: The largest ELF member analysed (libLLVM is ~120 MB; a debug build of rustc_driver ~1 GB).
MAX_MEMBER = 4 << 30
_AR_MAGIC = b"!<arch>\n"


class BadPackage(ValueError):
    """A package whose bytes are not what its name says (a permanent failure)."""


class UnsupportedPackage(ValueError):
    """A package in a compression this installation cannot read (``zstd`` without ``zstandard``)."""


def is_package(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith(SUFFIXES)


def _zstd_reader(raw: IO[bytes]) -> IO[bytes]:
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UnsupportedPackage("zstd-compressed: install the 'zstandard' module to read it") from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(raw)
    return reader


class _Limited(io.RawIOBase):
    """The next ``size`` bytes of a file, as a stream (an ``ar`` member read in place)."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._left)
        if n <= 0:
            return 0
        data = self._fh.read(n)
        buf[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _deb_data(fh: IO[bytes]) -> tuple[str, _Limited]:
    """The ``data.tar*`` member of a ``.deb`` as (its name, a stream over its bytes). ``ar`` headers are
    60 bytes: name[16] mtime[12] uid[6] gid[6] mode[8] size[10] magic "`\\n"; data is padded to even."""
    if fh.read(8) != _AR_MAGIC:
        raise BadPackage("not a Debian package (no ar archive header)")
    while True:
        header = fh.read(60)
        if len(header) < 60:
            raise BadPackage("no data.tar member in the package")
        if header[58:60] != b"`\n":
            raise BadPackage("damaged ar member header")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise BadPackage("damaged ar member size") from None
        if name.startswith("data.tar"):
            return name, _Limited(fh, size)
        fh.seek(size + (size & 1), os.SEEK_CUR)


def _tar_stream(path: str, fh: IO[bytes]) -> tarfile.TarFile:
    try:
        return _open_stream(path, fh)
    except TypeError as exc:  # CPython's tarfile stream reads a cut gzip header with ord() of b"" (3.11)
        raise BadPackage(f"damaged compressed stream ({exc})") from None


def _open_stream(path: str, fh: IO[bytes]) -> tarfile.TarFile:
    low = path.lower()
    if low.endswith(".deb"):
        name, member = _deb_data(fh)
        raw: IO[bytes] = io.BufferedReader(member, 1 << 20)
        if name.endswith(".zst"):
            return tarfile.open(fileobj=_zstd_reader(raw), mode="r|")
        return tarfile.open(fileobj=raw, mode="r|*")
    if low.endswith((".tar.zst", ".tzst")):
        return tarfile.open(fileobj=_zstd_reader(fh), mode="r|")
    return tarfile.open(fileobj=fh, mode="r|*")


def _member_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name.lstrip("/")


def reader_of(path: str) -> str:
    """How a package is read, by its name: the same bytes named ``x.deb`` and ``x.tgz`` are read (and
    answered) differently, so this is part of its store key."""
    low = path.lower()
    if low.endswith(".deb"):
        return "deb"
    return "tar.zst" if low.endswith((".tar.zst", ".tzst")) else "tar"


def elf_members(path: str, scratch: str) -> Iterator[tuple[str, str | None, str, str]]:
    """For each ELF regular file in the package at ``path``: (its path in the package, the file it was
    written to under ``scratch`` or None, why not, ""). A hard link to such a file (tar's LNKTYPE: the
    second name of perl/perl5.36, gzip/gunzip) comes as (its path, None, "", the path it links to): the
    same bytes, one more binary, as ``audit`` sees it in the unpacked tree. Core files are skipped, as
    ``audit``'s walk skips them. The caller analyses a file before asking for the next one; it is removed
    then. A damaged package raises ``tarfile.TarError``, ``EOFError`` or :class:`BadPackage`."""
    from ..files import is_core_file

    written = os.path.join(scratch, "member")
    elf: set[str] = set()
    with open(path, "rb") as fh, _tar_stream(path, fh) as tar:
        for m in tar:
            if m.islnk():
                target = _member_name(m.linkname)
                if target in elf:
                    yield _member_name(m.name), None, "", target
                continue
            if not m.isreg() or m.size < 4:
                continue
            src = tar.extractfile(m)
            if src is None:
                continue
            head = src.read(4)
            if head != b"\x7fELF":
                continue
            name = _member_name(m.name)
            if m.size > MAX_MEMBER:
                yield name, None, f"ELF member of {m.size} bytes, over the {MAX_MEMBER >> 30} GiB bound", ""
                continue
            fd = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                shutil.copyfileobj(src, out, 1 << 20)
            try:
                if is_core_file(written):
                    continue
                elf.add(name)
                yield name, written, "", ""
            finally:
                os.unlink(written)


def audit_package(path: str, audit_one: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """``audit_one`` (the survey's per-binary task) on every ELF file of a package: one result with a
    ``members`` list, each member's own status, reason and result, findings located by package path."""
    import tempfile

    members: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    from .tasks import scratch_root

    with tempfile.TemporaryDirectory(prefix="illumos-rust-package-", dir=scratch_root()) as scratch:
        for name, file, why, link_to in elf_members(path, scratch):
            if link_to:  # a hard link: the target's analysis, under this name
                record = copy.deepcopy(by_name[link_to])
                record["member"] = name
                for f in record["result"].get("findings", []):
                    loc = f.get("location")
                    if isinstance(loc, dict) and loc.get("path") == f"{path}!/{link_to}":
                        loc["path"] = f"{path}!/{name}"
                members.append(record)
                continue
            if file is None:
                members.append({"member": name, "status": "failed", "reason": why, "result": {}})
                continue
            one = audit_one(file)
            for f in one.get("result", {}).get("findings", []):
                loc = f.get("location")
                if isinstance(loc, dict) and loc.get("path") == file:
                    loc["path"] = f"{path}!/{name}"
            reason = one.get("reason", "").replace(file, name)
            result = one.get("result", {})
            record = {"member": name, "status": one["status"], "reason": reason, "result": result}
            by_name[name] = record
            members.append(record)
    rules: dict[str, int] = {}
    for m in members:
        for rule, n in m["result"].get("rules", {}).items():
            rules[rule] = rules.get(rule, 0) + int(n)
    return {"package": True, "members": members, "rules": rules}
