"""One exception tree for the whole toolkit, so the CLI can map each kind of failure to an exit code.

Readers never let ``struct.error``, ``IndexError`` or ``RecursionError`` escape: they raise ``FormatError``
naming the file, the offset and what was expected, which is what a user needs to judge a damaged file.
"""

from __future__ import annotations


class IllumosRustError(Exception):
    """Base of every error the toolkit raises on purpose."""


class FormatError(IllumosRustError):
    """The input is not what its format promises (truncated, malformed, hostile)."""

    def __init__(self, path: str, offset: int | None, what: str) -> None:
        self.path = path
        self.offset = offset
        self.what = what
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (offset 0x{self.offset:x})" if self.offset is not None else ""
        return f"{self.path}: {self.what}{where}"


class UnsafeEditError(IllumosRustError):
    """An edit was refused because it could not be done without risking the file; nothing was written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UsageError(IllumosRustError):
    """The command line or a policy file asks for something that makes no sense."""


class FileError(IllumosRustError):
    """A file could not be read or written (permissions, a full disk, a missing directory, a lock held by
    another editor). Raised with the path and what was being done, so the one line the CLI prints says which
    file and why, e.g. ``lib/libfoo.so: cannot create a temporary copy in lib: Permission denied``."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(f"{path}: {what}")

    @classmethod
    def from_os(cls, path: str, doing: str, exc: OSError) -> FileError:
        return cls(path, f"{doing}: {exc.strerror or exc}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP turned into an exception (as Python does for SIGINT), so every ``finally`` and
    ``except BaseException`` cleanup runs: no temporary file is left behind. ``signum`` gives the exit
    status 128 + signum, as a shell reports a process killed by that signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signum)
