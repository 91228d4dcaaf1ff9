"""The front end rustc-demangle puts before both schemes: ``.llvm.`` stripping, the suffix rule, the size cap.

Kept separate from the scheme parsers because these rules decide *whether* something is a Rust symbol at all,
and they are where most implementations drift from rustc-demangle (see the research note in
``shared/notes/demangle.md``): ``.llvm.<HEX>`` is cut before anything else, legacy is tried before v0,
whatever follows the parsed symbol must be a ``.``-led run of ASCII punctuation/alphanumerics and is then
printed verbatim in both forms, and output is capped at 1,000,000 bytes followed by ``{size limit reached}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from . import _v0_exact, legacy, v0
from ._memo import BoundedMemo, clear_all

Scheme = Literal["legacy", "v0"]

_LLVM_TAIL: Final = re.compile(r"[0-9A-F@]*")
_SUFFIX: Final = re.compile(r"\.[!-~]*")
MAX_SIZE: Final = _v0_exact.MAX_SIZE
#: v0 symbols longer than this are not demangled (rustc-demangle has no such limit). A Python parser needs
#: up to ~0.4 µs per character to reject a crafted symbol that fails only at its end, so a megabyte would take
#: 400 ms; at this bound the worst such input takes ~30 ms and anything longer is refused at once. Real v0
#: symbols are far shorter (1,222 bytes at most among librustc_driver's 186k), as backrefs keep them compact;
#: legacy symbols, whose one ``<impl …>`` element can be long, are bounded by element count instead
#: (``legacy.MAX_ELEMENTS``), not by length.
MAX_V0_LENGTH: Final = 1 << 16
SIZE_LIMIT: Final = "{size limit reached}"
#: Results for inputs up to this length are memoised: symbol tables and stack traces repeat names a lot
#: (``.dynsym`` repeats ``.symtab``, a hot frame appears in every stack). Dicts emptied when they would hold
#: more than 64 M characters (``_memo``): cheaper per hit than an LRU, and the whole 186k-name symbol table of
#: librustc_driver fits.
_CACHE_INPUT_LIMIT: Final = 4096
_CACHE_CHARS: Final = 1 << 26
_MISSING: Final = object()
_caches: tuple[BoundedMemo[str, tuple[Scheme, str] | None], BoundedMemo[str, tuple[Scheme, str] | None]] = (
    BoundedMemo(_CACHE_CHARS),
    BoundedMemo(_CACHE_CHARS),
)
#: Bound ``get`` methods: cheaper than looking ``get`` up on the dict subclass at every call.
_cache_gets: Final = (_caches[0].get, _caches[1].get)


@dataclass(frozen=True)
class Demangled:
    """One recognised Rust symbol in both of rustc-demangle's output forms.

    ``full`` is ``{}`` (legacy hash element and v0 crate disambiguators kept, integer consts typed);
    ``alternate`` is ``{:#}`` (neither), the form rustfilt prints by default.
    """

    mangled: str
    scheme: Scheme
    full: str
    alternate: str

    def text(self, *, hash: bool = True) -> str:
        return self.full if hash else self.alternate


def strip_llvm_suffix(symbol: str) -> str:
    """Cut a ThinLTO ``.llvm.<digits/A-F/@>`` tail at its first occurrence, rustc-demangle's first step."""
    i = symbol.find(".llvm.")
    if i >= 0 and _LLVM_TAIL.fullmatch(symbol, i + 6):
        return symbol[:i]
    return symbol


def _join_capped(writes: list[str], cut: bool) -> str:
    """Join writes, keeping whole writes within MAX_SIZE bytes, then the size-limit marker if any was lost.

    ``cut`` says the writer already stopped at the cap (the v0 printer does); legacy writes are checked here.
    """
    text = "".join(writes)
    if cut:
        return text + SIZE_LIMIT
    if len(text) * 4 <= MAX_SIZE or len(text.encode("utf-8", "surrogatepass")) <= MAX_SIZE:
        return text
    kept: list[str] = []
    remaining = MAX_SIZE
    for piece in writes:
        remaining -= _v0_exact.utf8_len(piece)
        if remaining < 0:
            cut = True
            break
        kept.append(piece)
    return "".join(kept) + SIZE_LIMIT if cut else "".join(kept)


def _v0_inner(symbol: str) -> str | None:
    if symbol.startswith("_R"):
        inner = symbol[2:]
    elif symbol.startswith("R"):
        inner = symbol[1:]
    elif symbol.startswith("__R"):
        inner = symbol[3:]
    else:
        return None
    if not inner or not ("A" <= inner[0] <= "Z") or len(inner) > MAX_V0_LENGTH or not inner.isascii():
        return None
    return inner


def _cached(symbol: str, alternate: bool) -> tuple[Scheme, str] | None:
    # Not try/except: a miss is the common case, and raising is costly.
    found = _cache_gets[alternate](symbol, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    found = _uncached(symbol, alternate)
    _caches[alternate].put(symbol, found, len(symbol) + (len(found[1]) if found else 0))
    return found


def clear_cache() -> None:
    """Forget memoised results (benchmarks use this to measure cold throughput)."""
    clear_all()
    v0.clear_memo()


def _uncached(symbol: str, alternate: bool, *, exact: bool = False) -> tuple[Scheme, str] | None:
    """The demangled text of an already ``.llvm.``-stripped symbol in one form, or None if it is not Rust."""
    # The two schemes' prefixes are disjoint, so trying v0 first for ``_R`` changes nothing but saves calls.
    if not symbol.startswith("_R"):
        parsed = legacy.parse(symbol)
        if parsed is not None:
            elements, suffix = parsed
            if suffix and not _SUFFIX.fullmatch(suffix):
                return None
            return "legacy", _join_capped(legacy.render(elements, alternate), False) + suffix
    inner = _v0_inner(symbol)
    if inner is None:
        return None
    if not exact:
        fast = v0.demangle_fast(inner, alternate)
        if fast is v0.INVALID:
            return None
        if fast is not None:
            text, end = fast
            suffix = inner[end:]
            if suffix and not _SUFFIX.fullmatch(suffix):
                return None
            if text is not None:
                return "v0", text + suffix
            writes, cut = _v0_exact.render(inner, alternate)
            return "v0", _join_capped(writes, cut) + suffix
    valid_end = _v0_exact.validate(inner)
    if valid_end is None:
        return None
    suffix = inner[valid_end:]
    if suffix and not _SUFFIX.fullmatch(suffix):
        return None
    writes, cut = _v0_exact.render(inner, alternate)
    return "v0", _join_capped(writes, cut) + suffix


def _lookup(symbol: str, alternate: bool) -> tuple[Scheme, str] | None:
    symbol = strip_llvm_suffix(symbol)
    if len(symbol) <= _CACHE_INPUT_LIMIT:
        return _cached(symbol, alternate)
    return _uncached(symbol, alternate)


def try_demangle(symbol: str, *, hash: bool = True) -> str | None:
    """The demangled form of ``symbol``, or None when rustc-demangle would not call it a Rust symbol.

    ``hash=False`` selects rustc-demangle's alternate form (``{:#}``): no legacy hash, no v0 crate
    disambiguators, no type suffixes on integer consts. Never raises for any ``str``.
    """
    found = _lookup(symbol, not hash)
    return None if found is None else found[1]


def demangle(symbol: str, *, hash: bool = True) -> str:
    """Like rustc-demangle's ``demangle(..).to_string()``: the demangled form, or the input if it is not Rust.

    As in rustc-demangle, a ``.llvm.<HEX>`` tail is removed even from a name that is not Rust.
    """
    symbol = strip_llvm_suffix(symbol)
    found = _cached(symbol, not hash) if len(symbol) <= _CACHE_INPUT_LIMIT else _uncached(symbol, not hash)
    return symbol if found is None else found[1]


def parse_symbol(symbol: str) -> Demangled | None:
    """Both forms and the scheme of one symbol, or None if it is not a Rust symbol."""
    full = _lookup(symbol, False)
    if full is None:
        return None
    alternate = _lookup(symbol, True)
    assert alternate is not None
    return Demangled(symbol, full[0], full[1], alternate[1])


def demangle_exact(symbol: str, *, hash: bool = True) -> str | None:
    """``try_demangle`` through the reference-faithful slow path only; the tests compare both paths."""
    found = _uncached(strip_llvm_suffix(symbol), not hash, exact=True)
    return None if found is None else found[1]
