"""The edit operations a user can ask for, independent of how they are carried out.

Kept as plain data so one policy (``--runpath '$ORIGIN/../lib' --drop-runpath-prefix /opt/local``) can be
planned against every file of a tree, and so tests can generate random sequences of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..elf import constants as C
from ..errors import UsageError

OpKind = Literal[
    "runpath",  # elfedit dyn:runpath: update DT_RPATH and DT_RUNPATH where present, else add DT_RUNPATH
    "set-runpath",
    "delete-runpath",
    "set-rpath",
    "delete-rpath",
    "drop-runpath-prefix",
    "replace-needed",
    "remove-needed",
    "add-needed",
    "set-soname",
    "set-flags-1",
    "clear-flags-1",
]

STRING_OPS = frozenset(
    {
        "runpath",
        "set-runpath",
        "set-rpath",
        "add-needed",
        "remove-needed",
        "set-soname",
        "drop-runpath-prefix",
    }
)


@dataclass(frozen=True)
class Op:
    kind: OpKind
    value: str = ""
    new: str = ""  # replace-needed: the new name (value is the old one)

    def describe(self) -> str:
        if self.kind == "replace-needed":
            return f"{self.kind} {self.value}={self.new}"
        return f"{self.kind} {self.value}".rstrip()


def parse_replace(text: str) -> Op:
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise UsageError(f"--replace-needed wants OLD=NEW, got {text!r}")
    check_string(old)
    check_string(new)
    return Op("replace-needed", old, new)


def check_string(text: str) -> str:
    """Dynamic strings are NUL-terminated bytes: reject what cannot be stored faithfully."""
    if not text:
        raise UsageError("empty string: use the matching --delete-* option instead")
    if "\0" in text:
        raise UsageError(f"{text!r} contains a NUL byte")
    return text


def parse_flags_1(text: str) -> int:
    """``NOW,NODELETE`` or ``0x800``: names as readelf/elfdump print them (``DF_1_`` prefix optional)."""
    by_name = {name: bit for bit, name in C.DF_1.items()}
    value = 0
    for part in filter(None, (p.strip() for p in text.split(","))):
        key = part.upper().removeprefix("DF_1_")
        if key in by_name:
            value |= by_name[key]
            continue
        try:
            bits = int(part, 0)
        except ValueError:
            raise UsageError(
                f"unknown DT_FLAGS_1 flag {part!r} (known: {', '.join(sorted(by_name))})"
            ) from None
        if not 0 <= bits <= 0xFFFF_FFFF:
            # DF_1_* flags are a 32-bit mask (illumos sys/link.h); d_val is only 32 bits in ELFCLASS32.
            raise UsageError(f"DT_FLAGS_1 value {part!r} is out of range (0 to 0xffffffff)")
        value |= bits
    if not value:
        raise UsageError(f"no DT_FLAGS_1 flags in {text!r}")
    return value
