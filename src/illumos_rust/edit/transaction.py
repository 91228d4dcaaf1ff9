"""Writing a planned edit as a transaction: temp file, patch, verify by re-reading, rename over the original.

The original is never opened for writing. A crash at any point leaves either the untouched original or the
complete, verified new file under its name (``rename(2)`` is atomic within a directory); at worst a stray
``.<name>.illumos-rust-edit-*`` temp file remains next to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time

from ..elf import constants as C
from ..elf.dynamic import dynamic
from ..elf.editor import layout_problems
from ..elf.reader import ElfFile
from ..elf.versions import verneed
from ..errors import FormatError, UnsafeEditError
from .plan import Plan

TEMP_PREFIX = ".illumos-rust-edit-"
# Test hook: pause (after the temp file is complete, before it is verified and renamed) so a test can kill
# the process mid-transaction and prove the original survives. Value: a path to create when paused.
_PAUSE_ENV = "ILLUMOS_RUST_EDIT_TEST_PAUSE"


def verify(path: str, plan: Plan) -> None:
    """Re-read ``path`` and check it is exactly what ``plan`` promised; raise ``UnsafeEditError`` if not."""
    try:
        with ElfFile(path) as elf:
            problems = _mismatches(elf, plan)
    except FormatError as exc:
        problems = [f"the edited file does not parse: {exc.what}"]
    if problems:
        raise UnsafeEditError(plan.path, f"verification of the edited copy failed: {problems[0]}")


def _mismatches(elf: ElfFile, plan: Plan) -> list[str]:
    out: list[str] = []
    if elf.size != plan.size_after:
        out.append(f"size {elf.size}, expected {plan.size_after}")
    for off, raw in plan.patches:
        if bytes(elf.buf[off : off + len(raw)]) != raw:
            out.append(f"bytes at 0x{off:x} differ from the plan")
    dyn = dynamic(elf)
    got = [(e.tag, e.value) for e in dyn.entries if e.tag != C.DT_NULL]
    if got != plan.expected_entries:
        out.append("dynamic entries differ from the plan")
    strings = [e.string if e.tag in C.DT_STRING_TAGS else None for e in dyn.entries if e.tag != C.DT_NULL]
    if plan.expected_strings and strings != plan.expected_strings:
        out.append(f"dynamic strings differ from the plan: {strings} != {plan.expected_strings}")
    if plan.expected_verneed and [n.file for n in verneed(elf)] != plan.expected_verneed:
        out.append("version need file names differ from the plan")
    if list(elf.dynsym.names) != plan.dynsym_names:
        out.append("dynamic symbol names changed")
    new = [p for p in layout_problems(elf) if p not in plan.layout_before]
    if new:
        out.append(f"loader invariant broken: {new[0]}")
    return out


def write(plan: Plan, *, backup: str | None = None) -> None:
    """Apply ``plan`` atomically, keeping mode and owner; optionally keep the original as a backup.

    A symbolic link is followed: the file it names is replaced and the link stays a link. A file with more
    than one hard link is refused, because the rename would leave the other names on the old contents.
    """
    if not plan.changed:
        return
    path = os.path.realpath(plan.path)
    with open(path, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeEditError(plan.path, "not a regular file")
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != plan.identity:
            raise UnsafeEditError(plan.path, "the file changed since the edit was planned")
        if st.st_nlink > 1:
            raise UnsafeEditError(
                plan.path,
                f"the file has {st.st_nlink} hard links; replacing it would leave "
                f"the other names on the old contents",
            )
        if backup is not None and os.path.lexists(path + backup):
            raise UnsafeEditError(plan.path, f"backup {path + backup} already exists")
        directory = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
        try:
            with os.fdopen(fd, "r+b") as out:
                _copy(src.fileno(), out.fileno(), st.st_size)
                for off, raw in plan.patches:
                    out.seek(off)
                    out.write(raw)
                if plan.append:
                    out.seek(plan.size_before)
                    out.write(plan.append)
                out.flush()
                os.fsync(out.fileno())
            _keep_identity(tmp, st, plan.path)
            _pause_for_tests()
            verify(tmp, plan)
            if backup is not None:
                try:
                    os.link(path, path + backup)
                except OSError:
                    shutil.copy2(path, path + backup)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    _fsync_dir(directory)


def _copy(src: int, dst: int, size: int) -> None:
    """Kernel-side copy (``copy_file_range`` can share extents on CoW file systems), else a plain loop."""
    done = 0
    try:
        while done < size:
            n = os.copy_file_range(src, dst, size - done, done, done)
            if n == 0:
                break
            done += n
    except OSError:
        pass
    if done < size:
        os.lseek(src, done, os.SEEK_SET)
        os.lseek(dst, done, os.SEEK_SET)
        while chunk := os.read(src, 1 << 20):
            os.write(dst, chunk)
    os.lseek(dst, 0, os.SEEK_SET)


def _keep_identity(tmp: str, st: os.stat_result, path: str) -> None:
    """The new file takes the original's permission bits and owner; refuse rather than change the owner."""
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            raise UnsafeEditError(
                path, f"cannot keep owner {st.st_uid}:{st.st_gid} (not permitted); run as the owner or root"
            ) from None
    os.chmod(tmp, stat.S_IMODE(st.st_mode))


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pause_for_tests() -> None:
    marker = os.environ.get(_PAUSE_ENV)
    if marker:
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(60)
