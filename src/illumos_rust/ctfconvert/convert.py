"""DWARF → CTF v2 for a whole ELF file (Rust and C units), and ``.SUNW_ctf`` added to it as a transaction.

Steps: walk every compile unit's top level (descending only into namespaces, never into function bodies —
most DIEs of a Rust binary are subprogram and inlined-subroutine trees CTF does not need); convert the types
the symbol table's data objects and functions use, then every other type DIE, into a node graph (``graph``);
merge structurally identical nodes across units (``dedup``); take types in that priority order under the
32,767-type budget (``budget``); pair the object and function sections with the symbol table the section
will link to (``.symtab``, else ``.dynsym`` of a stripped file, libproc ``Pbuild_file_ctf``); write the
container, append it with ``elf.add_section``, re-read the temporary file and compare, rename.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ctf.constants import CTF_MAX_PTYPE
from ..ctf.load import CTF_SECTION, load_ctf
from ..ctf.model import Container, FunctionInfo, trim_functions, trim_objects
from ..ctf.symbols import ctf_symbols
from ..ctf.writer import write_container
from ..dwarf import constants as DW
from ..dwarf.expr import static_address
from ..dwarf.info import DwarfInfo
from ..dwarf.unit import DIE, Unit
from ..elf.add_section import add_section, write_atomically
from ..elf.constants import ET_REL, SHT_DYNSYM, SHT_SYMTAB
from ..elf.reader import ElfFile
from ..errors import FormatError, UnsafeEditError
from .budget import select
from .dedup import partition
from .graph import TYPE_TAGS, GraphBuilder, Node

_WALK_INTO = {DW.DW_TAG_namespace, DW.DW_TAG_module}


@dataclass
class ConvertReport:
    """What a conversion did, for the CLI and for tests."""

    path: str
    output: str | None = None
    units: int = 0
    rust_units: int = 0
    c_units: int = 0
    nodes: int = 0
    unique_types: int = 0
    types: int = 0
    stand_ins: list[str] = field(default_factory=list)
    dropped: int = 0
    dropped_names: list[str] = field(default_factory=list)
    lowered_enums: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    symtab: str | None = None
    functions: int = 0
    functions_typed: int = 0
    # function symbols whose DWARF unit carries no type information at all (-C debuginfo=1, line tables
    # only, gcc -g1, std's prebuilt units): left as "no information", never a made-up ``void f(void)``
    functions_untyped_unit: int = 0
    # skeleton units whose types live in split DWARF (.dwo) files, which are not followed
    split_units: int = 0
    split_dwo_names: list[str] = field(default_factory=list)
    objects: int = 0
    objects_typed: int = 0
    functions_over_budget: int = 0
    objects_over_budget: int = 0
    section_bytes: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Index:
    subprograms_by_name: dict[str, DIE] = field(default_factory=dict)
    subprograms_by_addr: dict[int, DIE] = field(default_factory=dict)
    variables_by_name: dict[str, DIE] = field(default_factory=dict)
    variables_by_addr: dict[int, DIE] = field(default_factory=dict)
    type_dies: list[DIE] = field(default_factory=list)
    typed_units: set[int] = field(default_factory=set)  # offsets of units with at least one type DIE


def _origin(die: DIE) -> DIE:
    """The DIE holding a subprogram's or variable's name and signature (through abstract_origin and
    specification), bounded against hostile loops."""
    for _ in range(8):
        nxt = die.ref(DW.DW_AT_abstract_origin) or die.ref(DW.DW_AT_specification)
        if nxt is None:
            return die
        die = nxt
    return die


def _names(die: DIE) -> list[str]:
    src = _origin(die)
    out = []
    for attr in (DW.DW_AT_linkage_name, DW.DW_AT_MIPS_linkage_name):
        v = die.get_str(attr) or src.get_str(attr)
        if v:
            out.append(v)
    name = die.name or src.name
    if name:
        out.append(name)
    return out


Progress = Callable[[str, int, int], None]


def _index(dwarf: DwarfInfo, report: ConvertReport, progress: Progress | None = None) -> _Index:
    idx = _Index()
    units = dwarf.compile_units
    for done, unit in enumerate(units):
        if progress is not None:
            progress("reading DWARF units", done, len(units))
        top = unit.top
        report.units += 1
        if unit.unit_type == DW.DW_UT_split_compile:
            raise FormatError(dwarf.path, None, _DWO_ALONE)
        dwo = _dwo_name(top)
        if unit.unit_type == DW.DW_UT_skeleton or dwo:
            report.split_units += 1
            if dwo:
                report.split_dwo_names.append(dwo)
        lang = top.get_int(DW.DW_AT_language)
        if lang == DW.DW_LANG_Rust:
            report.rust_units += 1
        elif lang in (DW.DW_LANG_C89, DW.DW_LANG_C, DW.DW_LANG_C99, DW.DW_LANG_C11):
            report.c_units += 1
        stack = [top]
        while stack:
            scope = stack.pop()
            for die in scope.children():
                tag = die.tag
                if tag in TYPE_TAGS:
                    idx.type_dies.append(die)
                    idx.typed_units.add(unit.offset)
                    if tag in (DW.DW_TAG_structure_type, DW.DW_TAG_union_type, DW.DW_TAG_class_type):
                        stack.append(die)  # nested types (Rust enum variants, C++ members) and methods
                elif tag in _WALK_INTO:
                    stack.append(die)
                elif tag == DW.DW_TAG_subprogram:
                    if die.flag(DW.DW_AT_declaration):
                        continue
                    low = die.get_int(DW.DW_AT_low_pc)
                    if low is None and not die.has(DW.DW_AT_ranges):
                        continue  # abstract instance only (inlined everywhere): no symbol of its own
                    for n in _names(die):
                        idx.subprograms_by_name.setdefault(n, die)
                    if low is not None:
                        idx.subprograms_by_addr.setdefault(low, die)
                elif tag == DW.DW_TAG_variable:
                    loc = die.get(DW.DW_AT_location)
                    if not isinstance(loc, bytes):
                        continue
                    where = static_address(loc, unit.address_size, dwarf.little)
                    if where is None:
                        continue
                    kind, value = where
                    addr = dwarf.indexed_address(unit, value) if kind == "addrx" else value
                    for n in _names(die):
                        idx.variables_by_name.setdefault(n, die)
                    idx.variables_by_addr.setdefault(addr, die)
    return idx


def build(
    path: str, *, limit: int = CTF_MAX_PTYPE, progress: Progress | None = None
) -> tuple[Container, ConvertReport, int]:
    """The CTF container for ``path`` and the index of the symbol table it is keyed to (0: none).
    ``progress(phase, done, total)`` is called as units are read, types converted, deduplicated and selected
    (for a progress bar)."""
    start = time.monotonic()
    report = ConvertReport(path)
    with ElfFile(path) as elf:
        dwarf = DwarfInfo(elf)
        if not dwarf.has_dwarf:
            raise FormatError(path, None, "no DWARF debug information to convert (build with -g)")
        pointer_size = 8 if elf.is64 else 4
        sections = elf.sections
        symtab = next((s for s in sections if s.sh_type == SHT_SYMTAB), None)
        if symtab is None:
            symtab = next((s for s in sections if s.sh_type == SHT_DYNSYM), None)
        symbols = list(elf.symbols(symtab)) if symtab is not None else []
        report.symtab = symtab.name if symtab is not None else None
        relocatable = elf.header.e_type == ET_REL
        names = {s.name for s in sections}
        if not names & {".debug_info", ".zdebug_info"} and names & {".debug_info.dwo", ".zdebug_info.dwo"}:
            raise FormatError(path, None, _DWO_ALONE)  # a GNU v4 .dwo has no DW_UT_split_compile to tell
        idx = _index(dwarf, report, progress)
        builder = GraphBuilder(pointer_size)
        roots: list[int] = []
        objects: list[int | None] = []  # node index of each data object's type, None: unknown
        functions: list[tuple[int, list[int], bool] | None] = []
        for _i, sym, is_func in ctf_symbols(symbols):
            if is_func:
                report.functions += 1
                die = idx.subprograms_by_name.get(sym.name)
                if die is None and not relocatable:
                    die = idx.subprograms_by_addr.get(sym.value)
                if die is None:
                    functions.append(None)
                    continue
                sig = _signature_die(die)
                if not _has_types(sig, die, idx.typed_units):
                    report.functions_untyped_unit += 1
                    functions.append(None)
                    continue
                ret, args, varargs = builder.signature(sig)
                functions.append((ret, args, varargs))
                roots += [ret, *args]
                report.functions_typed += 1
            else:
                report.objects += 1
                die = idx.variables_by_name.get(sym.name)
                if die is None and not relocatable:
                    die = idx.variables_by_addr.get(sym.value)
                typed = None
                if die is not None:
                    tdie = die.ref(DW.DW_AT_type) or _origin(die).ref(DW.DW_AT_type)
                    if tdie is not None:
                        typed = builder.node_for(tdie)
                        roots.append(typed)
                        report.objects_typed += 1
                objects.append(typed)
        object_roots = [o for o in objects if o is not None]
        first = set(object_roots)
        roots = object_roots + [r for r in roots if r not in first]
        for die in idx.type_dies:
            builder.node_for(die)
        builder.drain(progress)
        builder.separate_chars()
        symtab_index = symtab.index if symtab is not None else 0
        graph = builder.graph
        report.nodes = len(graph.nodes)
        if progress is not None:
            progress("deduplicating types", 0, 1)
        classes = partition(graph.nodes, _UnitPrivate(dwarf, graph.nodes))
    report.unique_types = len(set(classes))
    if progress is not None:
        progress("selecting types", 0, 1)
    sel = select(graph.nodes, classes, roots, limit=limit, pointer_size=pointer_size)
    report.types = len(sel.types)
    report.stand_ins, report.dropped, report.dropped_names = sel.stand_ins, sel.dropped, sel.dropped_names
    report.lowered_enums = sorted(set(graph.lowered_enums))
    report.truncated = sel.truncated

    def tid(node: int) -> int:
        return sel.id_of.get(classes[node], 0)

    entries: list[FunctionInfo | None] = []
    for f in functions:
        if f is None:
            entries.append(None)
            continue
        ids = [tid(n) for n in (f[0], *f[1][:1022])]
        if not all(ids):  # a type left out by the budget: "no information" beats a wrong signature
            report.functions_over_budget += 1
            report.functions_typed -= 1
            entries.append(None)
            continue
        entries.append(FunctionInfo(ids[0], tuple(ids[1:]), f[2]))
    objects_ids = tuple(0 if o is None else tid(o) for o in objects)
    report.objects_over_budget = sum(
        1 for o, i in zip(objects, objects_ids, strict=True) if o is not None and not i
    )
    report.objects_typed -= report.objects_over_budget
    container = Container(
        types=tuple(sel.types),
        objects=trim_objects(objects_ids),
        functions=trim_functions(tuple(entries)),
    )
    report.seconds = time.monotonic() - start
    return container, report, symtab_index


class _UnitPrivate:
    """Whether a node's definition is declared in its compile unit's own source file rather than a header
    (``DW_AT_decl_file`` names the unit's ``DW_AT_name``): such a type is visible to that unit alone, so a
    forward declaration elsewhere cannot mean it (used by ``dedup`` only for ambiguous names)."""

    def __init__(self, dwarf: DwarfInfo, nodes: list[Node]) -> None:
        self.dwarf = dwarf
        self.nodes = nodes
        self._main: dict[int, str | None] = {}  # unit offset -> normalised path of its main source file

    def __call__(self, index: int) -> bool:
        node = self.nodes[index]
        die = self.dwarf.die_at(node.die) if node.die >= 0 else None
        if die is None or die.name != node.name or die.flag(DW.DW_AT_declaration):
            return False  # (a name that differs: a type-unit offset or a Rust path, never "private")
        file_index = die.get_int(DW.DW_AT_decl_file)
        if file_index is None:
            return False
        try:
            table = self.dwarf.line_table(die.unit)
        except FormatError:
            return False  # no usable line table: treat the type as visible everywhere
        if table is None:
            return False
        # DWARF 5 §6.2.4: file entries count from 0 (v4: from 1); directory 0 is the compilation
        # directory itself, any other relative directory is relative to it.
        i = file_index if table.version >= 5 else file_index - 1
        if not 0 <= i < len(table.files):
            return False
        entry = table.files[i]
        directory = "" if entry.dir_index == 0 else entry.directory
        main = self._main_file(die.unit)
        return main is not None and _normal(die.unit, posixpath.join(directory, entry.name)) == main

    def _main_file(self, unit: Unit) -> str | None:
        if unit.offset not in self._main:
            name = unit.top.get_str(DW.DW_AT_name)
            self._main[unit.offset] = _normal(unit, name) if name else None
        return self._main[unit.offset]


def _normal(unit: Unit, path: str) -> str:
    """``path`` made absolute against the unit's ``DW_AT_comp_dir`` and normalised, for comparison."""
    return posixpath.normpath(posixpath.join(unit.top.get_str(DW.DW_AT_comp_dir) or "/", path))


# DWARF 5 §3.1.3 (and the GNU v4 extension): a split unit's addresses are indexed through its skeleton's
# DW_AT_addr_base in the skeleton file's .debug_addr, which a .dwo does not carry.
_DWO_ALONE = (
    "a split DWARF (.dwo) file: its addresses and symbols are in the skeleton object that names it; "
    "convert that executable or object instead"
)


def _dwo_name(top: DIE) -> str | None:
    """The ``.dwo`` file a skeleton unit names (DWARF 5 ``DW_AT_dwo_name``, GNU v4 ``DW_AT_GNU_dwo_name``)."""
    return top.get_str(DW.DW_AT_dwo_name) or top.get_str(DW.DW_AT_GNU_dwo_name)


def _has_types(sig: DIE, die: DIE, typed_units: set[int]) -> bool:
    """Whether a subprogram's signature is known rather than merely absent.

    A unit built without type information (rustc ``-C debuginfo=1``/line tables only, ``gcc -g1``, std's
    prebuilt units in a ``-g`` build) still has subprogram DIEs, with neither ``DW_AT_type`` nor formal
    parameters: read literally that is ``void f(void)``, a signature nobody wrote. Such a function is only
    trusted when the subprogram itself says something (a return type or a parameter) or its unit (or its
    origin's unit) has type DIEs, so an absent ``DW_AT_type`` there really means ``void``."""
    if sig.has(DW.DW_AT_type) or any(c.tag == DW.DW_TAG_formal_parameter for c in sig.children()):
        return True
    return sig.unit.offset in typed_units or die.unit.offset in typed_units


def _signature_die(die: DIE) -> DIE:
    """The DIE whose children are the formal parameters with types: a concrete out-of-line instance's
    parameters point at the abstract ones through ``DW_AT_abstract_origin``, so use the origin."""
    origin = _origin(die)
    if origin is not die and not any(
        c.tag == DW.DW_TAG_formal_parameter and c.has(DW.DW_AT_type) for c in die.children()
    ):
        return origin
    return die


def convert(
    path: str, output: str | None = None, *, limit: int = CTF_MAX_PTYPE, progress: Progress | None = None
) -> ConvertReport:
    """Add ``.SUNW_ctf`` to ``path`` (or write the result to ``output``); verified before the rename."""
    if output is None:
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise FormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
        if (
            not mode & 0o222
        ):  # even root should not rewrite a file nobody may write (shared fixtures, packages)
            raise UnsafeEditError(path, "the file is read-only; write the result elsewhere with -o OUT")
    container, report, symtab_index = build(path, limit=limit, progress=progress)
    start = time.monotonic()
    with ElfFile(path) as elf:
        data = write_container(container, compress=True, byte_order=elf.endian)
        image = add_section(elf, CTF_SECTION, data, sh_link=symtab_index)
    report.section_bytes = len(data)

    def verify(tmp: str) -> None:
        got = load_ctf(tmp)
        if got.container != container:
            raise UnsafeEditError(path, "the written .SUNW_ctf does not read back as what was converted")
        with ElfFile(tmp) as check:
            sec = check.section(CTF_SECTION)
            if sec is None or sec.sh_link != symtab_index:
                raise UnsafeEditError(path, f"{CTF_SECTION} missing or not linked to the symbol table")

    write_atomically(path, image, verify, output=output)
    report.output = os.path.realpath(output or path)
    report.seconds += time.monotonic() - start
    return report
