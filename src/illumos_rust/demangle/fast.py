"""Optional native speed for bulk demangling: PyPI ``pyderust`` (bindings to rustc-demangle), when installed.

``pip install illumos-rust[fast]`` adds it; nothing requires it, and the pure-Python demangler stays the
reference (it agrees with rustc-demangle byte for byte, see ``tests/test_demangle_oracle.py``). Measured on
librustc_driver's 186k symbols: ~0.3 s through pyderust against ~1.5 s pure Python, which is what lets
``inspect --symbols`` keep pace with ``readelf -Ws -C``.

Per symbol, pyderust is asked only about names whose *shape* is one rustc-demangle itself accepts (a
``_ZN``/``ZN``/``__ZN`` legacy or ``_R``/``R``/``__R`` v0 prefix at the very start): names with anything in
front, such as ``.Lswitch.table._ZN…`` or ``anon.…``, and every name pyderust rejects, go to the pure-Python
demangler, so the answer is always the one ``try_demangle`` would give on the whole test corpus (checked by
``tests/test_demangle_fast.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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
    prefixes = RUST_PREFIXES

    def demangle(name: str) -> str | None:
        if name.startswith(prefixes):
            try:
                text: str = native_demangle(name, include_hash=hash)
            except error:
                pass
            else:
                return text
        return try_demangle(name, hash=hash)

    return demangle


def display_demangler(*, hash: bool = True, native: bool = True) -> Callable[[str], str]:
    """Like ``demangler``, but a name that is not Rust comes back unchanged: what a listing prints.

    A name without a Rust prefix is returned without asking either demangler: neither rustc-demangle nor
    ``try_demangle`` accepts one (``tests/test_demangle_fast.py`` checks that on the whole corpus).
    """
    if _pyderust is None or not native:
        return lambda name: try_demangle(name, hash=hash) or name
    native_demangle = _pyderust.demangle
    error = _pyderust.DemangleError
    prefixes = RUST_PREFIXES

    def show(name: str) -> str:
        if not name.startswith(prefixes):
            return name
        try:
            text: str = native_demangle(name, include_hash=hash)
        except error:
            return try_demangle(name, hash=hash) or name
        return text

    return show
