"""Find and replace Rust symbols inside arbitrary text, with rustc-demangle's (and rustfilt's) scanning rule.

The rule, from rustc-demangle's ``demangle_stream``: at each ``_ZN`` or ``_R``, take the longest run of
``[A-Za-z0-9_.$]`` and replace it by its demangling if the whole run is a Rust symbol; otherwise copy it. So a
symbol glued to another (``…E_ZN…``) or followed by ``$tlv$init`` stays mangled, exactly as rustfilt leaves
it,
and ordinary words are never touched. Text is processed as ``str``; bytes that are not UTF-8 can be carried
through with ``surrogateescape`` and come out unchanged, since they never belong to a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final

from ._memo import BoundedMemo
from .core import _uncached, strip_llvm_suffix

#: A candidate symbol: ``_ZN`` or ``_R`` and everything after it that can belong to a symbol.
RUN_PATTERN: Final = re.compile(r"_(?:ZN|R)[A-Za-z0-9_.$]*")
#: Replacement text per run and form: the filter's own memo, one dict lookup for a name seen before (stack
#: traces and symbol tables repeat names).
_SEEN_CHARS: Final = 1 << 26
_RUN_CHARS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.$"
#: Longest candidate the filter demangles (4 Mi characters, far beyond any real symbol: rustc's largest are
#: tens of KB). A longer unbroken run is copied through untouched, so a hostile 400 MB run of symbol
#: characters costs the filter this much memory (plus one read), not three times the run.
MAX_RUN_CHARS: Final = 1 << 22
_CANDIDATE: Final = re.compile(r"_(?:ZN|R)")
_RUN_END: Final = re.compile(r"[^A-Za-z0-9_.$]")
_seen: tuple[BoundedMemo[str, str], BoundedMemo[str, str]] = (
    BoundedMemo(_SEEN_CHARS),
    BoundedMemo(_SEEN_CHARS),
)


def demangle_text(text: str, *, hash: bool = True) -> str:
    """``text`` with every Rust symbol demangled and every other character unchanged."""
    alternate = not hash
    seen = _seen[alternate]
    seen_get = seen.get  # bound once per call: cheaper than the attribute lookup per run

    def replace(m: re.Match[str]) -> str:
        run = m.group()
        if len(run) > MAX_RUN_CHARS:
            return run  # the stream filter passes such runs through untouched; so does the text API
        out = seen_get(run)
        if out is None:
            # Straight to the parser: this memo already plays the role of the per-symbol one.
            found = _uncached(strip_llvm_suffix(run) if ".llvm." in run else run, alternate)
            out = run if found is None else found[1]
            if len(run) <= 4096:
                seen.put(run, out, len(run) + len(out))
        return out

    return RUN_PATTERN.sub(replace, text)


def demangle_stream(chunks: Iterable[str], *, hash: bool = True) -> Iterator[str]:
    """Demangle a stream of text chunks; symbols split across chunk boundaries are reassembled.

    A run can only end at a character outside ``[A-Za-z0-9_.$]``, so everything up to the last such character
    of a chunk is safe to emit at once; the tail waits for the next chunk. The open tail is bounded by
    ``MAX_RUN_CHARS``: once a run's candidate (from its first ``_ZN``/``_R`` on) is longer, the run is copied
    through untouched to its end, as ``demangle_text`` leaves such a run; before a candidate starts, the run
    is emitted as it grows (it cannot change).
    """
    pending: list[str] = []  # pieces of a run still open; joined once, when it closes (not once per chunk)
    size = 0
    passthrough = False  # inside an over-long candidate: copy to the end of the run
    for chunk in chunks:
        if passthrough:
            end = _RUN_END.search(chunk)
            if end is None:
                yield chunk
                continue
            yield chunk[: end.start()]
            chunk = chunk[end.start() :]
            passthrough = False
        cut = len(chunk.rstrip(_RUN_CHARS))  # str.rstrip runs in C, whatever the length of the tail
        if cut:
            yield demangle_text("".join(pending) + chunk[:cut], hash=hash)
            pending, size = [chunk[cut:]], len(chunk) - cut
        else:
            pending.append(chunk)
            size += len(chunk)
        if size > MAX_RUN_CHARS:
            run = "".join(pending)
            start = _CANDIDATE.search(run)
            if start is not None and len(run) - start.start() > MAX_RUN_CHARS:
                yield run
                pending, size, passthrough = [], 0, True
            elif start is None:
                yield run[:-2]  # no candidate yet; the last two may be "_Z" waiting for its "N"
                pending, size = [run[-2:]], 2
            else:
                yield run[: start.start()]  # text before the candidate never changes
                pending, size = [run[start.start() :]], len(run) - start.start()
    tail = "".join(pending)
    if tail:
        yield demangle_text(tail, hash=hash)
