"""Rust symbol demangling that agrees byte for byte with rustc-demangle, in pure Python.

``demangle``/``try_demangle`` handle one symbol (legacy ``_ZN…E`` or v0 ``_R…``), ``demangle_text`` replaces
every Rust symbol inside arbitrary text (DTrace and mdb output, logs, ``nm`` listings) and leaves every other
byte alone. Pure Python on purpose: illumos hosts rarely have binary wheels.
"""

from __future__ import annotations

from .core import Demangled, Scheme, demangle, parse_symbol, try_demangle
from .filter import demangle_stream, demangle_text

__all__ = [
    "Demangled",
    "Scheme",
    "demangle",
    "demangle_stream",
    "demangle_text",
    "parse_symbol",
    "try_demangle",
]
