"""One editor per file at a time: an exclusive ``flock(2)`` on the target, held from reading to renaming.

Without it two ``edit --write`` runs on one file both read the old bytes, and the second rename silently
throws away the first edit. The lock is on the file's inode, and an edit replaces the inode (rename over
the name), so after acquiring it the holder checks that the name still points to the inode it locked;
if not, another editor finished in the meantime and the lock is taken again on the new file, whose bytes
(with the other edit) are what gets planned. A second editor waits up to ``wait`` seconds, then fails with
a message naming the file, instead of waiting forever or overwriting.

``flock`` locks are advisory and per open file description: they bind every ``illumos-rust edit`` (and
anything else that flocks, e.g. ``flock(1)``), not programs that ignore locks. The kernel drops the lock
when the process dies, so a killed editor never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from ..errors import FileError
from ..files import open_regular

DEFAULT_WAIT = 5.0
_POLL = 0.05


@contextlib.contextmanager
def locked(path: str, wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` names (symbolic links followed) for the ``with`` body."""
    real = os.path.realpath(path)
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fh = open_regular(real)
        except OSError as exc:
            raise FileError.from_os(path, "cannot open to lock it", exc) from None
        try:
            _acquire(fh.fileno(), path, deadline, wait)
            try:
                now = os.stat(real)
            except OSError:
                now = None
            held = os.fstat(fh.fileno())
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                break
        except BaseException:
            fh.close()
            raise
        fh.close()  # replaced while we waited: lock the new file
    try:
        yield
    finally:
        fh.close()  # closing the descriptor releases the flock


def _acquire(fd: int, path: str, deadline: float, wait: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise FileError(
                    path,
                    f"another process is editing it (still locked after {wait:g} s; "
                    "--wait SECONDS waits longer)",
                ) from None
            time.sleep(_POLL)
        except OSError as exc:
            raise FileError.from_os(path, "cannot lock", exc) from None
