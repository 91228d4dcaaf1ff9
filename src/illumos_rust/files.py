"""Opening inputs safely: only regular files are read, so a FIFO or a device never blocks or floods a run.

``open(2)`` of a FIFO with ``O_RDONLY`` waits until a writer appears, and reading ``/dev/zero`` never ends;
opening with ``O_NONBLOCK`` returns at once for every kind of file (POSIX ``open``, "O_NONBLOCK ... for a
FIFO, an open() for reading-only returns without delay"), after which ``fstat`` tells what it is. Regular
files ignore ``O_NONBLOCK``; it is cleared anyway so later reads behave as usual.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import FormatError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What ``ls -l``'s first letter says, in words: "a FIFO", "a directory", ... or "a regular file"."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def not_regular(path: str, mode: int) -> FormatError:
    return FormatError(path, None, f"not a regular file ({file_kind(mode)}); refusing to read it")


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; raise ``FormatError`` if it is anything
    else (FIFO, device, socket, directory). ``OSError`` (missing, unreadable) is left to the caller, which
    knows how to word it."""
    name = os.fspath(path)
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(name, st.st_mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path: str | os.PathLike[str]) -> bool:
    """``path`` itself (not a symbolic link's target) is a regular file; False when it cannot be seen."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def looks_like_elf(path: str | os.PathLike[str]) -> bool:
    """Starts with the ELF magic. A file that cannot be read counts as one, so the tree walks of ``audit``
    and ``edit`` report it (with the reason) instead of skipping it silently (issue 12)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return True


def is_core_file(path: str | os.PathLike[str]) -> bool:
    """An ELF file whose ``e_type`` is ``ET_CORE`` (gABI: the 2-byte field at offset 16, in the byte order
    ``e_ident[EI_DATA]`` names). Audits skip cores in a tree: their findings would describe a memory
    image (no symbols, no target), not a program."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
    except OSError:
        return False
    if len(head) < 18 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return False
    return int.from_bytes(head[16:18], "little" if head[5] == 1 else "big") == 4
