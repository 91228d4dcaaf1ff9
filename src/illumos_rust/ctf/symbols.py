"""Which symbols own a data-object or function entry: the symbol-table walk of illumos libctf.

``common/ctf/ctf_open.c`` (``init_symtab``) gives a symbol no entry when its name is empty, it is undefined,
its name is ``_START_`` or ``_END_``, or it is an ``STT_OBJECT`` in ``SHN_ABS`` with value 0; other symbol
types are ignored. Remaining ``STT_OBJECT``s take the next object entry and ``STT_FUNC``s the next function
entry, in symbol-index order. The writer and the converter use the same walk so the two sides agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from ..elf.constants import SHN_ABS, SHN_UNDEF, STT_FUNC, STT_OBJECT
from .model import Container, FunctionInfo


class SymbolLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    @property
    def info(self) -> int: ...
    @property
    def shndx(self) -> int: ...


def ctf_symbols(symbols: Iterable[SymbolLike]) -> Iterator[tuple[int, SymbolLike, bool]]:
    """(symbol index, symbol, is_function) for each symbol that owns a CTF entry, in table order."""
    for index, sym in enumerate(symbols):
        stype = sym.info & 0xF
        if stype not in (STT_OBJECT, STT_FUNC):
            continue
        if not sym.name or sym.shndx == SHN_UNDEF or sym.name in ("_START_", "_END_"):
            continue
        if stype == STT_OBJECT and sym.shndx == SHN_ABS and sym.value == 0:
            continue
        yield index, sym, stype == STT_FUNC


def associate(
    container: Container, symbols: Sequence[SymbolLike]
) -> tuple[list[tuple[int, str, int]], list[tuple[int, str, FunctionInfo | None]]]:
    """Pair the object and function sections with their symbols: ``(symidx, name, type)`` and
    ``(symidx, name, info)``. Entries stop where their section ends, as in libctf."""
    objects: list[tuple[int, str, int]] = []
    functions: list[tuple[int, str, FunctionInfo | None]] = []
    nobj, nfunc = len(container.objects), len(container.functions)
    for index, sym, is_func in ctf_symbols(symbols):
        if is_func:
            if len(functions) < nfunc:
                functions.append((index, sym.name, container.functions[len(functions)]))
        elif len(objects) < nobj:
            objects.append((index, sym.name, container.objects[len(objects)]))
        if len(objects) >= nobj and len(functions) >= nfunc:
            break
    return objects, functions
