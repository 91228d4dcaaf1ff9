"""``dist build``: component tarballs + channel manifest in a temporary directory, renamed into place.

A reader of ``OUT`` (a web server, rustup mid-download) must never see half a tree, and a build killed with
``kill -9`` must not leave one where a complete tree is expected: everything is written to
``.OUT.partial-<pid>`` next to ``OUT`` and renamed at the end (rename(2) is atomic within a file system).
Partial directories of processes that no longer exist are removed by the next build.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import FileError, UsageError
from .archive import write_archives
from .installer import Component, entries, tarball_stem
from .manifest import DEFAULT_ROOT, Artefact, Channel, render
from .sources import RustcVersion

FORMATS = ("gz", "xz")
HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_sha256(path: Path, digest: str | None = None) -> str:
    """``<hex>  <name>`` like sha256sum(1) and static.rust-lang.org's ``.sha256`` files."""
    digest = digest or sha256_file(path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> list[Path]:
    """Remove ``.OUT.partial-<pid>`` left by a build that was killed (its pid no longer runs)."""
    removed: list[Path] = []
    prefix = f".{out.name}.partial-"
    if not out.parent.is_dir():
        return removed
    for p in out.parent.iterdir():
        pid = p.name[len(prefix) :]
        if p.name.startswith(prefix) and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def default_mtime(version: RustcVersion) -> int:
    """``SOURCE_DATE_EPOCH`` when set (reproducible-builds.org convention), else the compiler's commit date:
    either way the archives do not depend on when they were built."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    try:
        return calendar.timegm(time.strptime(version.date, "%Y-%m-%d"))
    except ValueError:
        return 0


def build_tree(
    out: Path,
    channel: str,
    version: RustcVersion,
    components: Sequence[Component],
    *,
    formats: Sequence[str] = FORMATS,
    gzip_level: int = 6,
    xz_preset: int = 6,
    mtime: int | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> Path:
    """Write the whole tree and return ``out``; nothing appears at ``out`` unless every file was written."""
    if not components:
        raise UsageError("no components to package")
    if not formats or any(f not in FORMATS for f in formats):
        raise UsageError(f"formats must be some of {', '.join(FORMATS)}")
    if out.exists() and not (out.is_dir() and (out / "dist").is_dir()):
        raise UsageError(f"{out}: exists and is not a dist tree; refusing to replace it")
    mtime = default_mtime(version) if mtime is None else mtime
    date = time.strftime("%Y-%m-%d", time.gmtime(mtime))
    clean_stale(out)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "dist" / date).mkdir(parents=True)
        ch = Channel(date=date, host=version.host)
        seen: set[tuple[str, str]] = set()
        for comp in components:
            if (comp.pkg, comp.target) in seen:
                raise UsageError(f"{comp.pkg} for {comp.target} given twice")
            seen.add((comp.pkg, comp.target))

        def package(comp: Component) -> Artefact:
            stem = tarball_stem(comp.pkg, version.release, comp.target)
            if progress:
                progress(f"packaging {stem} ({len(comp.files)} files)")
            paths = {fmt: tmp / "dist" / date / f"{stem}.tar.{fmt}" for fmt in formats}
            write_archives(
                entries(comp, version.release), paths, mtime=mtime, gzip_level=gzip_level, xz_preset=xz_preset
            )
            art = Artefact()
            base = f"{DEFAULT_ROOT}/dist/{date}"
            if "gz" in paths:
                art.url, art.hash = f"{base}/{paths['gz'].name}", write_sha256(paths["gz"])
            if "xz" in paths:
                art.xz_url, art.xz_hash = f"{base}/{paths['xz'].name}", write_sha256(paths["xz"])
            return art

        # zlib, lzma and hashlib release the GIL on large buffers: components compress in parallel threads,
        # biggest first so the longest one (rustc) starts at once. The output does not depend on the order.
        order = sorted(components, key=lambda c: -sum(_size(src) for src, _, _ in c.files))
        with ThreadPoolExecutor(max_workers=max(1, min(jobs or (os.cpu_count() or 1), len(order)))) as pool:
            arts = list(pool.map(package, order))
        for comp, art in zip(order, arts, strict=True):
            ch.artefacts[(comp.pkg, comp.target)] = art
            ch.versions[comp.pkg] = version.long
        manifest = tmp / "dist" / f"channel-rust-{channel}.toml"
        manifest.write_text(render(ch))
        write_sha256(manifest)
        _replace(tmp, out)
    except OSError as exc:
        raise FileError.from_os(str(out), "cannot write the dist tree", exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished tree into place; an older tree is moved aside first and removed after."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
