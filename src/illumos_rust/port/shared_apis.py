"""The table of APIs illumos shares with Linux/BSD but Solaris lacks or got late (``shared_apis.tsv``).

Kept as data, next to this module, because it is a list of facts with sources (the libc release each
item reached illumos in, bisected over rust-lang/libc's tags), not logic. Used to (1) recognise
Linux/BSD branches whose code illumos can take (``accept4``, ``pipe2``, ``epoll_*`` ... also when called
through ``syscall!(accept4(..))``-style wrapper macros) and (2) say which libc version a patch needs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("shared_apis.tsv")


@dataclass(frozen=True, slots=True)
class SharedApi:
    name: str
    kind: str  # fn | const
    libc: str  # first libc 0.2.x declaring it for illumos, "" when none
    file: str
    illumos: str
    solaris: str
    wrapper: bool
    strong: bool
    source: str


@functools.cache
def load() -> tuple[SharedApi, ...]:
    out = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", "name\t")):
            continue
        name, kind, libc, file, illumos, solaris, wrapper, signal, source = line.split("\t")
        out.append(
            SharedApi(
                name,
                kind,
                "" if libc == "-" else libc,
                file,
                illumos,
                solaris,
                wrapper == "1",
                signal == "strong",
                source,
            )
        )
    return tuple(out)


@functools.cache
def by_name() -> dict[str, SharedApi]:
    return {a.name: a for a in load()}


@functools.cache
def _wrapper_call() -> re.Pattern[str]:
    names = "|".join(sorted((a.name for a in load() if a.wrapper), key=len, reverse=True))
    # `syscall!(accept4(` / `cvt!(libc::pipe2(` / `syscall!(libc::epoll_wait(`
    return re.compile(rf"\b[a-z_]\w*!\s*[(\[{{]\s*(?:(?:::)?libc\s*::\s*)?({names})\s*\(")


def wrapper_uses(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, str]]:
    """(offset, name) of table APIs called through a wrapper macro in ``text[lo:hi]``."""
    rx = _wrapper_call()
    return [(m.start(1), m.group(1)) for m in rx.finditer(text, lo, len(text) if hi is None else hi)]
