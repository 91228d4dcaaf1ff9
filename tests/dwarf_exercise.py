"""Drive every part of ``dwarf/`` over one file, so a fuzz case reaches every decoder the API exposes."""

from __future__ import annotations

from contextlib import suppress

from illumos_rust.dwarf import DwarfInfo
from illumos_rust.dwarf import constants as DW
from illumos_rust.dwarf.ranges import die_ranges, location_list
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError

MAX_ADDRESSES = 40


def exercise(elf: ElfFile) -> int:
    """Read everything; returns a count so callers can check that an intact file yields something."""
    dwarf = DwarfInfo(elf)
    count = 0
    for die in dwarf.iter_dies():
        with suppress(FormatError):  # the compiled decoder; then the value-by-value one must fail
            count += len(die.values)  # the same clean way, or read the DIE
        count += len(die.attributes)
        die.ref(DW.DW_AT_type)
        die_ranges(die)
        a = die.attribute(DW.DW_AT_location)
        if a is not None and not isinstance(a.value, bytes | str | bool) and a.form != DW.DW_FORM_exprloc:
            location_list(die.unit, a.value, a.form == DW.DW_FORM_loclistx)
    for unit in dwarf.type_units:
        unit.type_die()
        count += unit.die_count
    graph = dwarf.types
    for t in graph.types():
        count += len(t.members) + len(t.enumerators)
    addresses: list[int] = []
    for s in graph.subprograms():
        count += len(s.params)
        if s.low_pc is not None and len(addresses) < MAX_ADDRESSES:
            addresses.append(s.low_pc)
    for _v in graph.variables():
        count += 1
    for unit in dwarf.compile_units:
        table = dwarf.line_table(unit)
        if table is not None:
            count += len(table.rows)
            for r in table.rows[:MAX_ADDRESSES]:
                table.file_name(r.file)
                table.lookup(r.address)
    for address in addresses:
        count += len(dwarf.inlines.frames(address))
    return count
