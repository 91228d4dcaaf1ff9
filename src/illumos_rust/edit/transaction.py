"""Writing a planned edit as a transaction: temp file, patch, verify by re-reading, rename over the original.

The original is never opened for writing. A crash at any point leaves either the untouched original or the
complete, verified new file under its name (``rename(2)`` is atomic within a directory). SIGINT, SIGTERM
and SIGHUP remove the temporary copy (the CLI turns them into exceptions); after a SIGKILL the copy
``.illumos-rust-edit-<pid>-<name>-*.tmp`` stays until the next edit of that file removes it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass

from ..elf import constants as C
from ..elf.dynamic import dynamic
from ..elf.editor import layout_problems
from ..elf.reader import ElfFile
from ..elf.versions import verneed
from ..errors import FileError, FormatError, IllumosRustError, UnsafeEditError
from ..files import open_regular
from .plan import Plan

TEMP_PREFIX = ".illumos-rust-edit-"
_CLEANUP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
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


@dataclass
class Staged:
    """A verified edited copy waiting next to its original, to be renamed over it by ``commit``."""

    plan: Plan
    path: str  # the real path (symbolic links followed)
    tmp: str


def temp_prefix(path: str) -> str:
    """``.illumos-rust-edit-<pid>-<name>-``: recognisable, and the pid tells a later edit whether the
    process that made it is gone (see ``remove_stale``)."""
    return f"{TEMP_PREFIX}{os.getpid()}-{os.path.basename(path)}-"


def remove_stale(path: str) -> list[str]:
    """Delete temp files of ``path`` left by editors that died (SIGKILL, power loss); returns their names.

    Only files named for this very file and a pid that no longer exists are touched, so a concurrent
    editor's copy (its pid is alive) and other files' copies are left alone.
    """
    directory, base = os.path.split(path)
    removed: list[str] = []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid, sep, rest = name[len(TEMP_PREFIX) :].partition("-")
        # mkstemp's suffix is "<random>.tmp" with no "-": the name must be exactly <base>-<random>.tmp, so
        # a copy of "a-b" ("a-b-x.tmp") is never taken for one of "a".
        owner, dash, tail = rest.rpartition("-")
        if not (sep and dash and pid.isdigit() and owner == base and "-" not in tail) or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def write(plan: Plan, *, backup: str | None = None, force: bool = False) -> None:
    """Apply ``plan`` atomically, keeping mode, owner and extended attributes; optionally keep the original
    as a backup.

    A symbolic link is followed: the file it names is replaced and the link stays a link. A file with more
    than one hard link is refused, because the rename would leave the other names on the old contents.
    """
    staged = stage(plan, force=force)
    if staged is not None:
        commit([staged], backup=backup)


def stage(plan: Plan, *, force: bool = False) -> Staged | None:
    """Write and verify the edited copy next to the original; nothing is renamed yet. None: no change.

    Any failure (a read-only directory, a full disk, SIGTERM) removes the copy and raises ``FileError``
    (``UnsafeEditError`` for a refusal, ``Interrupted``/``KeyboardInterrupt`` for a signal).
    """
    if not plan.changed:
        return None
    path = os.path.realpath(plan.path)
    try:
        src = open_regular(path)
    except OSError as exc:
        raise FileError.from_os(plan.path, "cannot read", exc) from None
    with src:
        st = os.fstat(src.fileno())
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != plan.identity:
            raise UnsafeEditError(plan.path, "the file changed since the edit was planned")
        if st.st_nlink > 1:
            raise UnsafeEditError(
                plan.path,
                f"the file has {st.st_nlink} hard links; replacing it would leave "
                f"the other names on the old contents",
            )
        remove_stale(path)
        directory = os.path.dirname(path)
        # Signals are held back from creating the file until the cleanup below is armed, so no signal can
        # leave a copy nobody knows about (a SIGKILL still can: remove_stale takes care of that one).
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _CLEANUP_SIGNALS)
        try:
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=directory)
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            doing = f"cannot create a temporary copy in {directory}"
            raise FileError.from_os(plan.path, doing, exc) from None
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
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
            except OSError as exc:
                raise FileError.from_os(plan.path, f"cannot write the temporary copy {tmp}", exc) from None
            _keep_identity(tmp, st, plan.path)
            _keep_xattrs(src.fileno(), tmp, plan, force)
            _pause_for_tests()
            verify(tmp, plan)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return Staged(plan, path, tmp)


def commit(staged: list[Staged], *, backup: str | None = None) -> None:
    """Rename every staged copy over its original: all of them, or (on any failure) none.

    With more than one file, each original is first hard-linked to a rollback name, so a failure after some
    renames puts those originals back. Backups made on the way are removed again on a rollback.
    """
    done: list[tuple[Staged, str | None]] = []
    backups: list[str] = []
    try:
        for s in staged:
            if backup is not None:
                target = s.path + backup
                if os.path.lexists(target):
                    raise UnsafeEditError(s.plan.path, f"backup {target} already exists")
                try:
                    try:
                        os.link(s.path, target)
                    except OSError:
                        shutil.copy2(s.path, target)
                except OSError as exc:
                    raise FileError.from_os(s.plan.path, f"cannot make the backup {target}", exc) from None
                backups.append(target)
            rollback = None
            if len(staged) > 1:
                rollback = s.tmp + ".orig"
                try:
                    os.link(s.path, rollback)
                except OSError:
                    rollback = None
            try:
                os.replace(s.tmp, s.path)
            except OSError as exc:
                if rollback:
                    with contextlib.suppress(OSError):
                        os.unlink(rollback)
                raise FileError.from_os(s.plan.path, "cannot rename the edited copy over it", exc) from None
            done.append((s, rollback))
    except BaseException as exc:
        lost = _roll_back(done, backups, staged)
        if lost and isinstance(exc, IllumosRustError):
            raise FileError(
                staged[0].plan.path, f"{exc}; could not restore the original of {', '.join(lost)}"
            ) from None
        raise
    for _s, rollback in done:
        if rollback:
            with contextlib.suppress(OSError):
                os.unlink(rollback)
    for directory in sorted({os.path.dirname(s.path) for s in staged}):
        _fsync_dir(directory)


def _roll_back(done: list[tuple[Staged, str | None]], backups: list[str], staged: list[Staged]) -> list[str]:
    """Undo a partial ``commit``; returns the files whose original could not be put back."""
    lost = []
    for s, rollback in reversed(done):
        try:
            if rollback is None:
                raise OSError("no rollback link")
            os.replace(rollback, s.path)
        except OSError:
            lost.append(s.plan.path)
    for name in backups:
        with contextlib.suppress(OSError):
            os.unlink(name)
    for s in staged:
        with contextlib.suppress(OSError):
            os.unlink(s.tmp)
    return lost


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


def _keep_xattrs(src: int, tmp: str, plan: Plan, force: bool) -> None:
    """Copy every extended attribute: file capabilities (``security.capability``), POSIX ACLs
    (``system.posix_acl_access``), SELinux labels, ``user.*``. A rename would otherwise drop them silently
    (a ``ping`` that loses ``cap_net_raw`` stops working). One that cannot be set is a refusal, unless
    ``force``, which drops it and says so in the plan's notes. Set after chown, which clears capabilities.
    """
    try:
        names = os.listxattr(src)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise FileError.from_os(plan.path, "cannot list extended attributes", exc) from None
    for name in names:
        try:
            os.setxattr(tmp, name, os.getxattr(src, name))
        except OSError as exc:
            if not force:
                raise UnsafeEditError(
                    plan.path,
                    f"cannot keep extended attribute {name} on the edited copy ({exc.strerror}); "
                    "--force edits anyway and drops it",
                ) from None
            plan.notes.append(f"extended attribute {name} dropped (--force): {exc.strerror}")


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
