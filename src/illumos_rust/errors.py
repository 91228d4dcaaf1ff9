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
