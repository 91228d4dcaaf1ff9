"""``DwarfInfo``: the entry point over one ELF file's DWARF, with the caches every other view shares.

Unit headers are read on first access (cheap: one header per unit), DIE trees per unit on first use,
abbreviation tables once per (offset, unit shape). String, string-offset and address tables are read
straight from the sections with bounds checks (``.debug_str_offsets``/``.debug_addr`` DWARF 5 §7.26/§7.27).
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

from ..elf.reader import ElfFile
from .abbrev import Abbrev, RawAbbrev, Shape, parse_table, plan_for
from .sections import DwarfSection, empty_section, load_sections
from .unit import DIE, Unit

if TYPE_CHECKING:
    from .inline import InlineIndex
    from .lines import LineTable
    from .types import TypeGraph

MAX_UNITS = 1 << 22
DW_AT_GNU_dwo_id = 0x2131  # GNU split DWARF for version 4 (gcc -gdwarf-4 -gsplit-dwarf)


class DwarfInfo:
    """The DWARF of one ELF file: ``DwarfInfo(elf)`` over an open ``ElfFile``, or ``DwarfInfo.open(path)``."""

    def __init__(self, elf: ElfFile) -> None:
        self.elf = elf
        self.path = elf.path
        self.endian = elf.endian
        self.little = elf.little
        self.sections: dict[str, DwarfSection] = load_sections(elf)
        self._abbrev_tables: dict[int, dict[int, RawAbbrev]] = {}
        self._plans: dict[tuple[int, Shape], dict[int, Abbrev]] = {}
        self._u32 = struct.Struct(self.endian + "I")
        self._u64 = struct.Struct(self.endian + "Q")
        self._line_tables: dict[tuple[int, int], LineTable] = {}
        self._strings: dict[int, str] = {}
        self._skeleton: DwarfInfo | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> DwarfInfo:
        """Open ``path`` and read its DWARF; ``close()`` releases the mapping."""
        return cls(ElfFile(path))

    def close(self) -> None:
        self.elf.close()

    def __enter__(self) -> DwarfInfo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def section(self, short: str) -> DwarfSection:
        """``.debug_<short>``, or an empty section (reads of it then fail with a clear error)."""
        return self.sections.get(short) or empty_section(f".debug_{short}", self.path)

    @property
    def has_dwarf(self) -> bool:
        return "info" in self.sections or "types" in self.sections

    # -- units -----------------------------------------------------------------------------------------------
    def _read_units(self, short: str) -> list[Unit]:
        sec = self.sections.get(short)
        if sec is None:
            return []
        out: list[Unit] = []
        pos = 0
        while pos < sec.size:
            unit = Unit(self, sec, pos, in_types_section=short == "types")
            out.append(unit)
            if len(out) > MAX_UNITS:
                raise sec.error(pos, "too many units")
            pos = unit.end
        return out

    @cached_property
    def units(self) -> list[Unit]:
        """Every unit of ``.debug_info`` (compile, partial, and DWARF 5 type/skeleton units), in order."""
        return self._read_units("info")

    @cached_property
    def compile_units(self) -> list[Unit]:
        """The units of ``.debug_info`` that are not type units."""
        return [u for u in self.units if not u.is_type_unit]

    @cached_property
    def type_units(self) -> list[Unit]:
        """DWARF 4 ``.debug_types`` units and DWARF 5 ``DW_UT_type`` units."""
        return [u for u in self.units if u.is_type_unit] + self._read_units("types")

    @cached_property
    def _unit_starts(self) -> dict[bool, tuple[list[int], list[Unit]]]:
        info = self.units
        types = [u for u in self.type_units if u.in_types_section]
        return {False: ([u.offset for u in info], info), True: ([u.offset for u in types], types)}

    def unit_at(self, offset: int, types: bool = False) -> Unit | None:
        """The unit containing section offset ``offset`` (``types``: of ``.debug_types``)."""
        starts, units = self._unit_starts[types]
        i = bisect_right(starts, offset) - 1
        if i >= 0 and offset < units[i].end:
            return units[i]
        return None

    def die_at(self, offset: int, types: bool = False) -> DIE | None:
        """The DIE at ``offset`` of ``.debug_info`` (or ``.debug_types``), None if no DIE starts there."""
        unit = self.unit_at(offset, types)
        return None if unit is None else unit.die_at(offset)

    @cached_property
    def _signatures(self) -> dict[int, Unit]:
        return {u.type_signature: u for u in self.type_units if u.type_signature is not None}

    def type_unit_die(self, signature: int) -> DIE | None:
        """The type DIE of the type unit with ``signature`` (``DW_FORM_ref_sig8``)."""
        unit = self._signatures.get(signature)
        return None if unit is None else unit.type_die()

    def iter_dies(self) -> Iterator[DIE]:
        """Every DIE of every unit (``.debug_info`` then ``.debug_types``), pre-order."""
        for unit in self.units:
            yield from unit.dies()
        for unit in self.type_units:
            if unit.in_types_section:
                yield from unit.dies()

    # -- shared tables ---------------------------------------------------------------------------------------
    def abbreviations(self, offset: int, shape: Shape) -> dict[int, Abbrev]:
        """The abbreviation table at ``offset`` of ``.debug_abbrev``, planned for units of ``shape``."""
        key = (offset, shape)
        plan = self._plans.get(key)
        if plan is None:
            table = self._abbrev_tables.get(offset)
            if table is None:
                table = self._abbrev_tables[offset] = parse_table(self.section("abbrev"), offset)
            plan = self._plans[key] = plan_for(table, shape)
        return plan

    def string(self, offset: int) -> str:
        """The ``.debug_str`` string at ``offset`` (``DW_FORM_strp``); memoised, names repeat a lot."""
        s = self._strings.get(offset)
        if s is None:
            s = self._strings[offset] = self.section("str").cstring(offset, "DW_FORM_strp string")
        return s

    def line_string(self, offset: int) -> str:
        """The ``.debug_line_str`` string at ``offset`` (``DW_FORM_line_strp``)."""
        return self.section("line_str").cstring(offset, "DW_FORM_line_strp string")

    def _offset_entry(self, sec: DwarfSection, offset: int, size: int, what: str) -> int:
        sec.check(offset, size, what)
        fmt = self._u64 if size == 8 else self._u32
        value: int = fmt.unpack_from(sec.buf, sec.base + offset)[0]
        return value

    def indexed_string(self, unit: Unit, index: int) -> str:
        """String number ``index`` of the unit's ``.debug_str_offsets`` contribution (``DW_FORM_strx*``)."""
        osz = unit.offset_size
        where = unit.bases[0] + index * osz
        off = self._offset_entry(self.section("str_offsets"), where, osz, f"string offset {index}")
        return self.string(off)

    def attach_skeleton(self, skeleton: DwarfInfo) -> None:
        """For a split-DWARF ``.dwo``: take addresses from the skeleton object that names it (DWARF 5 §3.1.3:
        a split unit's ``DW_FORM_addrx`` values index the skeleton's ``.debug_addr``, at its ``addr_base``).
        """
        self._skeleton = skeleton

    def _skeleton_unit(self, unit: Unit) -> Unit | None:
        if self._skeleton is None:
            return None
        dwo_id = unit.dwo_id if unit.dwo_id is not None else unit.top.get_int(DW_AT_GNU_dwo_id)
        for sk in self._skeleton.units:
            sk_id = sk.dwo_id if sk.dwo_id is not None else sk.top.get_int(DW_AT_GNU_dwo_id)
            if sk_id is not None and sk_id == dwo_id:
                return sk
        return None

    def indexed_address(self, unit: Unit, index: int) -> int:
        """Address number ``index`` of the unit's ``.debug_addr`` contribution (``DW_FORM_addrx*``)."""
        if "addr" not in self.sections and self._skeleton is not None:
            sk = self._skeleton_unit(unit)
            if sk is None:
                raise self.section("addr").error(0, f"no skeleton unit has the DWO id of {unit!r}")
            return self._skeleton.indexed_address(sk, index)
        sec = self.section("addr")
        asz = unit.address_size
        where = unit.bases[1] + index * asz
        sec.check(where, asz, f"address {index}")
        return int.from_bytes(
            sec.buf[sec.base + where : sec.base + where + asz], "little" if self.little else "big"
        )

    # -- views -----------------------------------------------------------------------------------------------
    @cached_property
    def types(self) -> TypeGraph:
        """The type-graph view (types, members, variants, subprogram signatures)."""
        from .types import TypeGraph

        return TypeGraph(self)

    def line_table(self, unit: Unit) -> LineTable | None:
        """The decoded line program of ``unit`` (its ``DW_AT_stmt_list``), or None when it has none."""
        from .lines import line_table_for

        return line_table_for(self, unit)

    @cached_property
    def inlines(self) -> InlineIndex:
        """``address -> [frames]`` through inlined subroutines, with file:line from the line tables."""
        from .inline import InlineIndex

        return InlineIndex(self)
