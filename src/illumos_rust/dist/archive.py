"""Reproducible tar archives written once and compressed twice (gzip and xz) in a single pass.

Reproducibility is what lets a platform team rebuild a toolchain and check that nothing changed: entries are
sorted, every mtime is the fixed ``SOURCE_DATE_EPOCH``-style value given, uid/gid are 0 with empty owner
names, modes are reduced to 0755/0644, and the gzip header carries mtime 0 and no file name (RFC 1952 §2.3:
MTIME 0 means "no time stamp is available").
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import stat
import tarfile
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

COPY_BUFFER = 1 << 20  # tarfile copies file bodies in 16 KiB pieces by default: 64x more Python calls


@dataclass(frozen=True)
class Entry:
    """One regular file of an archive: where it is read from, its name inside, whether it is executable.
    ``data`` replaces ``source`` for the small generated files (manifest.in, components, install.sh)."""

    name: str
    source: Path | None = None
    data: bytes | None = None
    executable: bool = False


class _Tee:
    """A write-only stream that feeds every chunk to several compressors: the tar stream is built once.
    tarfile's stream mode (``w|``) only ever calls ``write`` on it."""

    def __init__(self, sinks: Sequence[IO[bytes]]) -> None:
        self.sinks = sinks

    def write(self, b: bytes) -> int:
        for sink in self.sinks:
            sink.write(b)
        return len(b)


def _dirs_of(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            seen.add("/".join(parts[:i]))
    return sorted(seen)


def write_archives(
    entries: Sequence[Entry],
    outputs: dict[str, Path],
    *,
    mtime: int,
    gzip_level: int = 6,
    xz_preset: int = 6,
) -> None:
    """Write the same tar stream to ``outputs['gz']`` and/or ``outputs['xz']``.

    Directory entries are emitted for every parent so that extracting tools that need them (rustup does not)
    see a normal tree; everything is sorted by name so the byte stream depends only on the inputs.
    """
    files = sorted(entries, key=lambda e: e.name)
    with ExitStack() as stack:
        sinks: list[IO[bytes]] = []
        if "gz" in outputs:
            gz_raw = stack.enter_context(open(outputs["gz"], "wb"))
            # filename="" keeps the output path out of the header; mtime=0 keeps the clock out.
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=gz_raw, compresslevel=gzip_level, mtime=0)
            stack.enter_context(gz)
            sinks.append(gz)  # type: ignore[arg-type]  # GzipFile is a binary stream; the stubs disagree
        if "xz" in outputs:
            xz_raw = stack.enter_context(open(outputs["xz"], "wb"))
            xz = lzma.LZMAFile(xz_raw, "wb", format=lzma.FORMAT_XZ, preset=xz_preset)  # noqa: SIM115
            sinks.append(stack.enter_context(xz))
        tee = _Tee(sinks)
        with tarfile.open(fileobj=tee, mode="w|", format=tarfile.GNU_FORMAT, bufsize=COPY_BUFFER) as tar:  # type: ignore[call-overload]
            setattr(tar, "copybufsize", COPY_BUFFER)  # noqa: B010 - runtime attribute the stubs omit
            # One global name order (a directory sorts just before its contents, GNU tar lists it as "d/").
            items: list[tuple[str, Entry | None]] = [(f"{d}/", None) for d in _dirs_of(e.name for e in files)]
            items += [(e.name, e) for e in files]
            for name, e in sorted(items, key=lambda item: item[0]):
                if e is None:
                    tar.addfile(_info(name.rstrip("/"), tarfile.DIRTYPE, 0o755, 0, mtime))
                    continue
                if e.data is not None:
                    info = _info(e.name, tarfile.REGTYPE, _mode(e.executable), len(e.data), mtime)
                    tar.addfile(info, io.BytesIO(e.data))
                    continue
                assert e.source is not None
                with open(e.source, "rb") as src:
                    size = os.fstat(src.fileno()).st_size
                    tar.addfile(_info(e.name, tarfile.REGTYPE, _mode(e.executable), size, mtime), src)


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def _info(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def is_executable(path: Path) -> bool:
    """Executable for anyone: rustup keeps the bit when it unpacks, so rustc/cargo stay runnable."""
    return bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
