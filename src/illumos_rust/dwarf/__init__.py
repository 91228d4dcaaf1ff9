"""``dwarf/``: a fast, strict DWARF 2-5 reader over ``elf.ElfFile`` (foundation layer, no printing).

API overview (stable; everything else is internal)::

    from illumos_rust.dwarf import DwarfInfo, constants as DW

    with DwarfInfo.open(path) as dwarf:             # or DwarfInfo(elf) over an open ElfFile
        dwarf.units                                   # .debug_info units (headers read, trees lazy)
        dwarf.compile_units, dwarf.type_units         # type units: .debug_types (v4) and DW_UT_type (v5)
        unit.version, unit.address_size, unit.offset_size, unit.unit_type, unit.language, unit.top,
        unit.dies(), unit.die_count, unit.die_at(offset), unit.type_die()
        dwarf.iter_dies()                             # every DIE, pre-order
        dwarf.attach_skeleton(skeleton_dwarf)         # a split .dwo: addresses from its skeleton
        dwarf.die_at(offset)                          # lazy access by .debug_info offset
        die.tag, die.offset, die.name, die.values     # {DW_AT_x: decoded value} (the fast path)
        die.attributes, die.attribute(DW.DW_AT_x)     # Attribute(name, form, value, raw), made on demand
        die.form_of(DW.DW_AT_x)                       # the form (DW_FORM_indirect resolved)
        die.get(DW.DW_AT_byte_size), die.get_int(..), die.get_str(..), die.flag(..), die.signed(..)
        die.ref(DW.DW_AT_type)                        # the DIE a reference points to (ref_sig8 included)
        die.parent, die.children(), die.descendants()

        graph = dwarf.types                           # TypeGraph: flat, keyed by TypeKey (an int)
        graph.types(), graph[key], graph.type_of(die) # Type: kind, name, qualified_name, byte_size,
                                                      #  target, members (offset, bit_size, bit_offset),
                                                      #  variant_part (Rust enums: discr + variants with
                                                      #  discr_value), enumerators, dimensions, params,
                                                      #  varargs, template_params
        graph.subprograms()                           # Subprogram: name, linkage_name, low_pc, high_pc,
                                                      #  return_type, params, varargs
        graph.variables()                             # statics with their addresses

        table = dwarf.line_table(unit)                # LineTable: rows (address, file, line, column,
        table.lookup(address)                         #  is_stmt, end_sequence), file names
        dwarf.inlines.frames(address)                 # [Frame]: innermost inlined call first, with
                                                      #  call_file/call_line, then the real function
        dwarf.inlines.function_at(address)            # the concrete DW_TAG_subprogram DIE
        ranges.die_ranges(die), ranges.location_list(unit, offset_or_index, is_index)
        expr.constant_offset(block), expr.static_address(block, address_size, little)

Attribute values are decoded: strings (``strp``/``line_strp``/``strx*``/``string``) resolved, unit-relative
references made section-absolute, ``addrx*`` looked up in ``.debug_addr``, flags as ``bool``; ``raw`` keeps
what was stored. Malformed data raises ``errors.FormatError`` naming the section and offset.
Relocatable (``ET_REL``) objects have their x86-64/AArch64 relocations applied to private copies of the
debug sections; ``SHF_COMPRESSED`` (zlib) sections are inflated (``elf.compressed``).
"""

from __future__ import annotations

from . import constants
from .info import DwarfInfo
from .inline import Frame, InlineIndex
from .lines import FileEntry, LineRow, LineTable
from .ranges import pc_range
from .types import (
    Enumerator,
    Member,
    Parameter,
    Subprogram,
    Subrange,
    TemplateParam,
    Type,
    TypeGraph,
    TypeKey,
    Variable,
    Variant,
    VariantPart,
    key_of,
)
from .unit import DIE, Attribute, Unit

__all__ = [
    "DIE",
    "Attribute",
    "DwarfInfo",
    "Enumerator",
    "FileEntry",
    "Frame",
    "InlineIndex",
    "LineRow",
    "LineTable",
    "Member",
    "Parameter",
    "Subprogram",
    "Subrange",
    "TemplateParam",
    "Type",
    "TypeGraph",
    "TypeKey",
    "Unit",
    "Variable",
    "Variant",
    "VariantPart",
    "constants",
    "key_of",
    "pc_range",
]
