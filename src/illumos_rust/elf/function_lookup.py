"""Address -> containing function, without decoding every symbol name.

The probe lister needs the function of a few hundred or thousand sites; ``ElfFile.symbol_index`` decodes
all names and builds a ``Symbol`` per entry (seconds on librustc_driver's 186k symbols on a loaded
machine). Here the table is unpacked once with a precompiled ``struct.Struct``, only sized ``STT_FUNC``/
``STT_GNU_IFUNC`` entries are kept as (start, size, index) triples, and a name is read from the string table
only for a hit (gABI "Symbol Table": ``Elf64_Sym`` is ``st_name, st_info, st_other, st_shndx, st_value,
st_size``; ``Elf32_Sym`` is ``st_name, st_value, st_size, st_info, st_other, st_shndx``).
"""

from __future__ import annotations

from bisect import bisect_right

from ..bulk import paused_gc
from . import constants as C
from .reader import ElfFile, Section

_FUNC_TYPES = (C.STT_FUNC, C.STT_GNU_IFUNC)


class FunctionLookup:
    """Functions of one symbol table (``.symtab``, else ``.SUNW_ldynsym`` + ``.dynsym``), by address.

    With ``by_section`` (object files, whose symbol values are section-relative) lookups take the section.
    """

    def __init__(self, elf: ElfFile, *, by_section: bool = False) -> None:
        self._elf = elf
        tables = elf.sections_of_type(C.SHT_SYMTAB) or [
            *elf.sections_of_type(C.SHT_SUNW_LDYNSYM),
            *elf.sections_of_type(C.SHT_DYNSYM),
        ]
        self._by_section = by_section
        self._tables: list[tuple[Section, int, int]] = []
        self._views: list[memoryview] = []
        for sec in tables[:2]:
            if sec.sh_type == C.SHT_NOBITS or sec.sh_size == 0:
                continue
            fmt = elf.sym_struct
            if (sec.sh_entsize or fmt.size) != fmt.size:
                raise elf.error(sec.header_offset, f"{sec.name}: symbol entry size {sec.sh_entsize}")
            elf.check_range(sec.sh_offset, sec.sh_size, f"symbol table {sec.name}")
            str_off, str_end = elf._linked_strtab(sec)
            self._tables.append((sec, str_off, str_end))
            count = sec.sh_size // fmt.size
            self._views.append(memoryview(elf.buf)[sec.sh_offset : sec.sh_offset + count * fmt.size])
        self._columns: list[tuple[list[int], list[int], bytes]] | None = None
        self._sorted: dict[int | None, tuple[list[int], list[tuple[int, int, int, int]]]] | None = None
        self._queries = 0

    # A few lookups (a C program's handful of SDT notes in a 186k-symbol library) scan columns at C speed;
    # many lookups sort the function entries once and bisect.
    QUICK_LOOKUPS = 32

    def _build_sorted(self) -> dict[int | None, tuple[list[int], list[tuple[int, int, int, int]]]]:
        entries: dict[int | None, list[tuple[int, int, int, int]]] = {}
        fmt = self._elf.sym_struct
        for t, view in enumerate(self._views):
            with paused_gc():
                if self._elf.is64:  # name, info, other, shndx, value, size
                    rows = [
                        (r[4], r[5], r[0], r[3])
                        for r in fmt.iter_unpack(view)
                        if r[5] and (r[1] & 0xF) in _FUNC_TYPES and r[3] != C.SHN_UNDEF
                    ]
                else:  # name, value, size, info, other, shndx
                    rows = [
                        (r[1], r[2], r[0], r[5])
                        for r in fmt.iter_unpack(view)
                        if r[2] and (r[3] & 0xF) in _FUNC_TYPES and r[5] != C.SHN_UNDEF
                    ]
            for value, size, name, shndx in rows:
                entries.setdefault(shndx if self._by_section else None, []).append((value, size, name, t))
        out = {}
        for key, found in entries.items():
            found.sort()
            out[key] = ([r[0] for r in found], found)
        return out

    def _build_columns(self) -> list[tuple[list[int], list[int], bytes]] | None:
        """st_value, st_size and st_info of every entry, sliced out in C; None when the file's byte order
        is not the host's (``memoryview.cast`` reads native order)."""
        import sys

        if (self._elf.endian == "<") != (sys.byteorder == "little"):
            return None
        cols = []
        for view in self._views:
            if self._elf.is64:  # Elf64_Sym: 24 bytes = 3 u64: (name|info|other|shndx), value, size
                words = view.cast("B").cast("Q")
                cols.append((words[1::3].tolist(), words[2::3].tolist(), bytes(view[4::24])))
            else:  # Elf32_Sym: 16 bytes = 4 u32: name, value, size, (info|other|shndx)
                words = view.cast("B").cast("I")
                cols.append((words[1::4].tolist(), words[2::4].tolist(), bytes(view[12::16])))
        return cols

    def _quick(self, addr: int) -> tuple[str, int] | bool | None:
        """The containing function by scanning columns, or False when the quick rule cannot decide."""
        if self._columns is None:
            self._columns = self._build_columns() or []
        if not self._columns:
            return False
        best: tuple[int, int, int] | None = None  # (start, table, index)
        for t, (values, sizes, infos) in enumerate(self._columns):
            start = max(filter(addr.__ge__, values), default=None)
            if start is None:
                continue
            i = values.index(start)
            while True:
                if sizes[i] and (infos[i] & 0xF) in _FUNC_TYPES and start + sizes[i] > addr:
                    if best is None or start > best[0]:
                        best = (start, t, i)
                    break
                try:
                    i = values.index(start, i + 1)
                except ValueError:
                    return False  # the nearest start is not a covering function: let the index decide
        if best is None:
            return None
        start, t, i = best
        name_off = int.from_bytes(
            self._views[t][i * self._elf.sym_struct.size : i * self._elf.sym_struct.size + 4],
            "little" if self._elf.endian == "<" else "big",
        )
        return self._name(t, name_off), start

    def _name(self, table: int, offset: int) -> str:
        _sec, str_off, str_end = self._tables[table]
        return self._elf.cstring(str_off + offset, str_end, "symbol name")

    def lookup(self, addr: int, section: int | None = None) -> tuple[str, int] | None:
        """(name, start) of the sized function containing ``addr``, or None."""
        self._queries += 1
        if self._sorted is None and not self._by_section and self._queries <= self.QUICK_LOOKUPS:
            quick = self._quick(addr)
            if quick is not False:
                return quick  # type: ignore[return-value]
        if self._sorted is None:
            self._sorted = self._build_sorted()
        found = self._sorted.get(section)
        if found is None:
            return None
        starts, rows = found
        i = bisect_right(starts, addr) - 1
        for _ in range(16):  # aliases and nested entries: a few neighbours back
            if i < 0:
                break
            value, size, name, table = rows[i]
            if value <= addr < value + size:
                return self._name(table, name), value
            i -= 1
        return None
