"""Optional native speed for bulk demangling: PyPI ``pyderust`` (bindings to rustc-demangle), when installed.

``pip install illumos-rust[fast]`` adds it; nothing requires it, and the pure-Python demangler stays the
reference (it agrees with rustc-demangle byte for byte, see ``tests/test_demangle_oracle.py``). Measured on
librustc_driver's 186k symbols: ~0.3 s through pyderust against ~1.5 s pure Python, which is what lets
``inspect --symbols`` keep pace with ``readelf -Ws -C``.

Per symbol, pyderust is asked only about names whose *shape* is one rustc-demangle itself accepts: a
``_ZN``/``ZN``/``__ZN`` legacy or ``_R``/``R``/``__R`` v0 prefix at the very start, and at most
``NATIVE_MAX_LENGTH`` characters (real symbols stay under 1.3k; beyond, the pure-Python demangler's own
bounds on hostile input decide). Names with anything in front, such as ``.Lswitch.table._ZN…`` or
``anon.…``, are not Rust symbols for rustc-demangle or ``try_demangle`` and are answered at once. When
pyderust says "not a valid Rust mangled symbol" that is rustc-demangle's own verdict and is kept; any other
failure (recursion limit, invalid syntax, size limit, where rustc-demangle still prints something) goes to
the pure-Python demangler. The result is the one ``try_demangle`` gives, on the whole test corpus and on
random input (``tests/test_demangle_fast.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from itertools import compress, repeat
from types import ModuleType
from typing import Final

from .core import try_demangle


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("pyderust")
    except ImportError:  # the default install: no native wheel (there is none for illumos)
        return None


_pyderust = _load()

#: Prefixes rustc-demangle's legacy and v0 front ends accept (``legacy.rs`` / ``v0.rs`` ``demangle``).
RUST_PREFIXES: Final = ("_ZN", "ZN", "__ZN", "_R", "R", "__R")
#: Longer names go to the pure-Python demangler, whose bounds on hostile input are the reference.
NATIVE_MAX_LENGTH: Final = 4096
_NOT_RUST: Final = "not a valid Rust mangled symbol"


def available() -> bool:
    """Whether the native demangler is installed."""
    return _pyderust is not None


def demangler(*, hash: bool = True, native: bool = True) -> Callable[[str], str | None]:
    """A ``try_demangle``-compatible function, native where it can be and pure Python everywhere else.

    ``hash=False`` is rustc-demangle's alternate form (``{:#}``), as for ``try_demangle``. ``native=False``
    (or no pyderust) returns the pure-Python demangler itself.
    """
    if _pyderust is None or not native:
        return lambda name: try_demangle(name, hash=hash)
    native_demangle = _pyderust.demangle
    error = _pyderust.DemangleError
    prefixes, limit = RUST_PREFIXES, NATIVE_MAX_LENGTH

    def demangle(name: str) -> str | None:
        if not name.startswith(prefixes):
            return None
        if len(name) > limit:
            return try_demangle(name, hash=hash)
        try:
            text: str = native_demangle(name, include_hash=True) if hash else native_demangle(name)
        except error as exc:
            if str(exc).startswith(_NOT_RUST):
                return None
            return try_demangle(name, hash=hash)
        except UnicodeError:  # a name that was not UTF-8 (surrogate-escaped bytes): PyO3 cannot pass it
            return try_demangle(name, hash=hash)
        return text

    return demangle


def display_demangler(*, hash: bool = True, native: bool = True) -> Callable[[str], str]:
    """Like ``demangler``, but a name that is not Rust comes back unchanged: what a listing prints."""
    if _pyderust is None or not native:
        return lambda name: try_demangle(name, hash=hash) or name
    native_demangle = _pyderust.demangle
    error = _pyderust.DemangleError
    prefixes, limit = RUST_PREFIXES, NATIVE_MAX_LENGTH

    def show(name: str) -> str:
        if not name.startswith(prefixes):
            return name
        if len(name) > limit:
            return try_demangle(name, hash=hash) or name
        try:
            # keyword arguments cost ~15 % of a call through PyO3: pass none for the default form
            text: str = native_demangle(name, include_hash=True) if hash else native_demangle(name)
        except error as exc:
            if str(exc).startswith(_NOT_RUST):
                return name
            return try_demangle(name, hash=hash) or name
        except UnicodeError:  # a name that was not UTF-8 (surrogate-escaped bytes): PyO3 cannot pass it
            return try_demangle(name, hash=hash) or name
        return text or name  # "_ZNE" demangles to nothing: show the name, as the pure path does

    return show


def display_many(*, hash: bool = True, native: bool = True) -> Callable[[list[str]], list[str]]:
    """``display_demangler`` over a list at a time, for listings of whole symbol tables.

    The v0 names (``_R…``, nearly all of a modern Rust binary's) go through pyderust in one C-level ``map``:
    a Python wrapper per name cost ~0.3 µs, a sixth of the native call, over librustc_driver's 125k v0 names.
    If any of them fails, is too long or demangles to nothing, that batch is redone name by name with the
    per-name rules above; every other name always takes the per-name path.
    """
    show = display_demangler(hash=hash, native=native)
    if _pyderust is None or not native or hash:
        return lambda names: list(map(show, names))
    native_demangle = _pyderust.demangle
    starts = str.startswith

    others = tuple(p for p in RUST_PREFIXES if p != "_R")

    def many(names: list[str]) -> list[str]:
        out = list(names)  # a name without a Rust prefix is shown as it is
        for i in compress(range(len(names)), map(starts, names, repeat(others))):
            out[i] = show(names[i])
        v0_at = list(compress(range(len(names)), map(starts, names, repeat("_R"))))
        if not v0_at:
            return out
        v0 = list(map(names.__getitem__, v0_at))
        try:
            if max(map(len, v0)) > NATIVE_MAX_LENGTH:
                raise ValueError("long name")
            shown = list(map(native_demangle, v0))
            if not all(shown):
                raise ValueError("empty result")
        except ValueError:  # DemangleError is one; redo this batch per name
            shown = list(map(show, v0))
        for i, text in zip(v0_at, shown, strict=True):
            out[i] = text
        return out

    return many
