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
        entries: dict[int | None, list[tuple[int, int, int, int]]] = {}
        self._tables: list[tuple[Section, int, int]] = []
        for t, sec in enumerate(tables[:2]):
            if sec.sh_type == C.SHT_NOBITS or sec.sh_size == 0:
                continue
            fmt = elf.sym_struct
            if (sec.sh_entsize or fmt.size) != fmt.size:
                raise elf.error(sec.header_offset, f"{sec.name}: symbol entry size {sec.sh_entsize}")
            elf.check_range(sec.sh_offset, sec.sh_size, f"symbol table {sec.name}")
            str_off, str_end = elf._linked_strtab(sec)
            self._tables.append((sec, str_off, str_end))
            view = memoryview(elf.buf)[sec.sh_offset : sec.sh_offset + sec.sh_size // fmt.size * fmt.size]
            with paused_gc():
                if elf.is64:  # name, info, other, shndx, value, size
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
                entries.setdefault(shndx if by_section else None, []).append((value, size, name, t))
        self._sorted: dict[int | None, tuple[list[int], list[tuple[int, int, int, int]]]] = {}
        for key, rows in entries.items():
            rows.sort()
            self._sorted[key] = ([r[0] for r in rows], rows)

    def _name(self, table: int, offset: int) -> str:
        _sec, str_off, str_end = self._tables[table]
        return self._elf.cstring(str_off + offset, str_end, "symbol name")

    def lookup(self, addr: int, section: int | None = None) -> tuple[str, int] | None:
        """(name, start) of the sized function containing ``addr``, or None."""
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

