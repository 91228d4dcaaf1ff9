"""Address → ``module`symbol+off``, both Rust manglings demangled, and the crate the function belongs to."""

from __future__ import annotations

import re

from ..demangle import try_demangle
from .objects import ObjectMap

_STD_CRATES = {"std", "core", "alloc", "panic_abort", "panic_unwind", "__rustc", "proc_macro", "test"}
_CRATE = re.compile(r"^[<&*\s]*(?:(?:impl|dyn|mut|const)\s+)*([A-Za-z_][A-Za-z0-9_]*)::")


def demangle_name(mangled: str) -> str:
    """The rustc-demangle alternate form (no hash, no crate disambiguator), as gdb and backtraces show."""
    return try_demangle(mangled, hash=False) or mangled


def crate_of(mangled: str, demangled: str) -> str | None:
    """The crate a Rust function comes from (the first path segment), ``std`` for the standard library."""
    if mangled == demangled:
        return None
    m = _CRATE.match(demangled)
    if m is None:
        return None
    crate = m.group(1)
    return "std" if crate in _STD_CRATES else crate


class Symbolizer:
    def __init__(self, objects: ObjectMap) -> None:
        self.objects = objects
        self._cache: dict[int, tuple[str | None, str | None, str | None, int, str | None]] = {}

    def __call__(self, pc: int) -> tuple[str | None, str | None, str | None, int, str | None]:
        """(module or None for the executable, demangled, mangled, offset, crate) of ``pc``."""
        hit = self._cache.get(pc)
        if hit is not None:
            return hit
        obj = self.objects.at(pc)
        result: tuple[str | None, str | None, str | None, int, str | None]
        if obj is None:
            result = (None, None, None, 0, None)
        else:
            module = None if obj.is_main else obj.name
            found = obj.lookup(pc)
            if found is None:
                result = (module or obj.name, None, None, pc - obj.bias, None)
            else:
                mangled, off = found
                name = demangle_name(mangled)
                result = (module, name, mangled, off, crate_of(mangled, name))
        if len(self._cache) < 1 << 16:
            self._cache[pc] = result
        return result
