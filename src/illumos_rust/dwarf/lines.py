"""Line number programs (``.debug_line``, DWARF 2-5 section 6.2): headers, file tables, the row matrix.

The state machine is run once per unit when its table is first asked for, and the rows are kept per
sequence, sorted, so ``LineTable.lookup(address)`` is a binary search (what a stack printer needs for every
frame). File numbering differs by version: DWARF 5 counts files from 0 (file 0 is the primary source),
DWARF 2-4 from 1; ``LineTable.file_name`` takes the number as the rows carry it.
"""

from __future__ import annotations

import posixpath
import struct
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from . import constants as DW
from .leb128 import sleb, uleb
from .sections import DwarfSection

if TYPE_CHECKING:
    from .info import DwarfInfo
    from .unit import Unit

MAX_ROWS_PER_BYTE = 64  # a hostile program cannot emit more rows than this per byte of opcodes


class LineRow(NamedTuple):
    """One row of the line matrix (DWARF 5 table 6.3; the flags nobody asks for are left out)."""

    address: int
    file: int
    line: int
    column: int
    is_stmt: bool
    end_sequence: bool
    discriminator: int = 0


@dataclass
class FileEntry:
    name: str
    directory: str
    dir_index: int


_SequenceIndex = tuple[list[int], list[list["LineRow"]], list[list[int]]]


@dataclass
class LineTable:
    """A decoded line program: the header fields users need, the file table, and the rows by sequence."""

    offset: int
    version: int
    address_size: int
    min_inst_length: int
    max_ops_per_inst: int
    default_is_stmt: bool
    line_base: int
    line_range: int
    opcode_base: int
    directories: list[str]
    files: list[FileEntry]
    sequences: list[list[LineRow]] = field(default_factory=list)

    @property
    def rows(self) -> list[LineRow]:
        """Every row in program order."""
        return [r for seq in self.sequences for r in seq]

    def file_name(self, index: int) -> str | None:
        """The path of file ``index`` as the rows number it (directory joined when the name is relative)."""
        i = index if self.version >= 5 else index - 1
        if not 0 <= i < len(self.files):
            return None
        f = self.files[i]
        return posixpath.join(f.directory, f.name) if f.directory else f.name

    @property
    def _index(self) -> _SequenceIndex:
        """Sequences sorted by start, with their row addresses: built once, for the binary searches."""
        cached: _SequenceIndex | None = self.__dict__.get("_index_cache")
        if cached is None:
            seqs = sorted((s for s in self.sequences if s), key=lambda s: s[0].address)
            cached = ([s[0].address for s in seqs], seqs, [[r.address for r in s] for s in seqs])
            self.__dict__["_index_cache"] = cached
        return cached

    def lookup(self, address: int) -> LineRow | None:
        """The row covering ``address``: the last row at or before it in the sequence that contains it."""
        starts, seqs, addresses = self._index
        i = bisect_right(starts, address) - 1
        while i >= 0:
            seq = seqs[i]
            if address < seq[-1].address:  # the end_sequence row's address is one past the sequence
                return seq[bisect_right(addresses[i], address) - 1]
            i -= 1
            if i >= 0 and seqs[i][-1].address <= address:
                return None
        return None


def line_table_for(dwarf: DwarfInfo, unit: Unit) -> LineTable | None:
    """The line table of ``unit`` (``DW_AT_stmt_list``), cached on ``dwarf``; None when it has none."""
    top = unit.top
    stmt = top.get_int(DW.DW_AT_stmt_list)
    if stmt is None:
        return None
    comp_dir = top.get_str(DW.DW_AT_comp_dir) or ""
    key = (stmt, unit.address_size)
    table = dwarf._line_tables.get(key)
    if table is None:
        table = dwarf._line_tables[key] = parse_line_program(
            dwarf, dwarf.section("line"), stmt, unit.address_size, comp_dir, top.get_str(DW.DW_AT_name) or ""
        )
    return table


def _entry_value(
    dwarf: DwarfInfo, sec: DwarfSection, form: int, pos: int, end: int, osz: int
) -> tuple[int | str | bytes, int]:
    """One field of a DWARF 5 directory/file entry (the forms §6.2.4.1 allows)."""
    buf, base = sec.buf, sec.base
    e = dwarf.endian
    if form == DW.DW_FORM_string:
        stop = buf.find(b"\0", pos, end)
        if stop < 0:
            raise sec.error(pos - base, "unterminated file name")
        return buf[pos:stop].decode("utf-8", "surrogateescape"), stop + 1
    if form in (DW.DW_FORM_line_strp, DW.DW_FORM_strp):
        if pos + osz > end:
            raise sec.error(pos - base, "truncated string offset")
        (off,) = struct.unpack_from(e + ("Q" if osz == 8 else "I"), buf, pos)
        text = dwarf.line_string(off) if form == DW.DW_FORM_line_strp else dwarf.string(off)
        return text, pos + osz
    if form in (DW.DW_FORM_udata,):
        v, nxt = uleb(buf, pos, end)
        if nxt < 0:
            raise sec.error(pos - base, "truncated entry value")
        return v, nxt
    sizes = {DW.DW_FORM_data1: 1, DW.DW_FORM_data2: 2, DW.DW_FORM_data4: 4, DW.DW_FORM_data8: 8}
    if form in sizes or form == DW.DW_FORM_data16:
        n = sizes.get(form, 16)
        if pos + n > end:
            raise sec.error(pos - base, "truncated entry value")
        raw = bytes(buf[pos : pos + n])
        return (raw if n == 16 else int.from_bytes(raw, "little" if dwarf.little else "big")), pos + n
    if form == DW.DW_FORM_block:
        n, nxt = uleb(buf, pos, end)
        if nxt < 0 or nxt + n > end:
            raise sec.error(pos - base, "truncated entry block")
        return bytes(buf[nxt : nxt + n]), nxt + n
    raise sec.error(pos - base, f"form 0x{form:x} is not allowed in a line table entry")


def parse_line_program(
    dwarf: DwarfInfo, sec: DwarfSection, offset: int, cu_address_size: int, comp_dir: str, cu_name: str
) -> LineTable:
    """Decode the line program at ``offset`` of ``.debug_line``."""
    buf, base = sec.buf, sec.base
    e = dwarf.endian
    sec.check(offset, 4, "line program length")
    (length,) = struct.unpack_from(e + "I", buf, base + offset)
    pos = offset + 4
    osz = 4
    if length == 0xFFFFFFFF:
        sec.check(pos, 8, "64-bit line program length")
        (length,) = struct.unpack_from(e + "Q", buf, base + pos)
        pos += 8
        osz = 8
    elif length >= 0xFFFFFFF0:
        raise sec.error(offset, f"reserved line program length 0x{length:x}")
    end_rel = pos + length
    if end_rel > sec.size:
        raise sec.error(offset, f"line program of {length} bytes runs past the end of the section")
    end = base + end_rel
    p = base + pos
    try:
        (version,) = struct.unpack_from(e + "H", buf, p)
        p += 2
        if not 2 <= version <= 5:
            raise sec.error(offset, f"unsupported line table version {version}")
        address_size = cu_address_size
        if version >= 5:
            address_size, seg_size = buf[p], buf[p + 1]
            p += 2
            if seg_size:
                raise sec.error(offset, "segmented addresses are not supported")
        (header_length,) = struct.unpack_from(e + ("Q" if osz == 8 else "I"), buf, p)
        p += osz
        program = p + header_length
        if program > end:
            raise sec.error(offset, "line program header is longer than the program")
        min_inst = buf[p]
        p += 1
        max_ops = 1
        if version >= 4:
            max_ops = buf[p]
            p += 1
        default_is_stmt = bool(buf[p])
        line_base = struct.unpack_from("b", buf, p + 1)[0]
        line_range, opcode_base = buf[p + 2], buf[p + 3]
        p += 4
        if line_range == 0:
            raise sec.error(offset, "line_range is 0")
        if max_ops == 0:
            raise sec.error(offset, "maximum_operations_per_instruction is 0")
        if opcode_base == 0:
            raise sec.error(offset, "opcode_base is 0")
        std_lengths = [0, *list(buf[p : p + opcode_base - 1])]
        p += opcode_base - 1
        directories: list[str] = []
        files: list[FileEntry] = []
        if version >= 5:
            p = _v5_tables(dwarf, sec, p, program, osz, directories, files)
        else:
            directories.append(comp_dir)
            while True:
                if p >= program:
                    raise sec.error(p - base, "include_directories runs past the header")
                stop = buf.find(b"\0", p, program)
                if stop < 0:
                    raise sec.error(p - base, "unterminated include directory")
                if stop == p:
                    p += 1
                    break
                directories.append(buf[p:stop].decode("utf-8", "surrogateescape"))
                p = stop + 1
            while True:
                if p >= program:
                    raise sec.error(p - base, "file_names runs past the header")
                stop = buf.find(b"\0", p, program)
                if stop < 0:
                    raise sec.error(p - base, "unterminated file name")
                if stop == p:
                    p += 1
                    break
                name = buf[p:stop].decode("utf-8", "surrogateescape")
                p = stop + 1
                d, p = _uleb3(buf, p, program, sec, base)
                files.append(_file(name, d, directories))
    except (IndexError, struct.error):
        raise sec.error(offset, "line program header is truncated") from None
    table = LineTable(
        offset,
        version,
        address_size,
        min_inst,
        max_ops,
        default_is_stmt,
        line_base,
        line_range,
        opcode_base,
        directories,
        files,
    )
    table.sequences = _run(table, sec, program, end, std_lengths, e, directories)
    return table


def _file(name: str, dir_index: int, directories: list[str]) -> FileEntry:
    directory = directories[dir_index] if 0 <= dir_index < len(directories) else ""
    return FileEntry(name, directory, dir_index)


def _uleb3(buf: object, p: int, end: int, sec: DwarfSection, base: int) -> tuple[int, int]:
    """The v2-4 file entry tail: directory index, mtime, length; returns (directory index, next)."""
    values = []
    for _ in range(3):
        v, p = uleb(buf, p, end)  # type: ignore[arg-type]
        if p < 0:
            raise sec.error(end - base, "truncated file entry")
        values.append(v)
    return values[0], p


def _v5_tables(
    dwarf: DwarfInfo,
    sec: DwarfSection,
    p: int,
    end: int,
    osz: int,
    directories: list[str],
    files: list[FileEntry],
) -> int:
    """Directory and file tables of a DWARF 5 header (§6.2.4 items 14-20)."""
    buf, base = sec.buf, sec.base
    for is_files in (False, True):
        if p >= end:
            raise sec.error(p - base, "entry format runs past the header")
        nformats = buf[p]
        p += 1
        formats: list[tuple[int, int]] = []
        for _ in range(nformats):
            ct, p = uleb(buf, p, end)
            form, p = uleb(buf, p, end) if p >= 0 else (0, -1)
            if p < 0:
                raise sec.error(end - base, "truncated entry format")
            formats.append((ct, form))
        count, p = uleb(buf, p, end)
        if p < 0:
            raise sec.error(end - base, "truncated entry count")
        if count > end - p and formats:
            raise sec.error(p - base, f"{count} entries cannot fit in the header")
        for _ in range(count):
            path: str = ""
            dir_index = 0
            for ct, form in formats:
                value, p = _entry_value(dwarf, sec, form, p, end, osz)
                if ct == DW.DW_LNCT_path and isinstance(value, str):
                    path = value
                elif ct == DW.DW_LNCT_directory_index and isinstance(value, int):
                    dir_index = value
            if is_files:
                files.append(_file(path, dir_index, directories))
            else:
                directories.append(path)
    return p


def _run(
    t: LineTable,
    sec: DwarfSection,
    p: int,
    end: int,
    std_lengths: list[int],
    e: str,
    directories: list[str],
) -> list[list[LineRow]]:
    """Run the line number state machine (§6.2.5) over ``[p, end)``."""
    buf, base = sec.buf, sec.base
    opcode_base, line_base, line_range = t.opcode_base, t.line_base, t.line_range
    min_inst, max_ops = t.min_inst_length, t.max_ops_per_inst
    asz = t.address_size
    addr_fmt = struct.Struct(e + {1: "B", 2: "H", 4: "I", 8: "Q"}.get(asz, "Q"))
    u16 = struct.Struct(e + "H")
    const_add = (255 - opcode_base) // line_range
    sequences: list[list[LineRow]] = []
    rows: list[LineRow] = []
    max_rows = MAX_ROWS_PER_BYTE * max(1, end - p)
    total = 0
    address = op_index = 0
    file, line, column, is_stmt, disc = 1, 1, 0, t.default_is_stmt, 0

    def advance(n: int) -> None:
        nonlocal address, op_index
        if max_ops == 1:
            address += min_inst * n
        else:
            address += min_inst * ((op_index + n) // max_ops)
            op_index = (op_index + n) % max_ops

    # Special opcodes (§6.2.5.1) precomputed: per opcode, the address and line advance (VLIW programs, with
    # max_ops_per_inst > 1, keep the general op_index arithmetic through ``advance``).
    special = range(opcode_base, 256)
    addr_step = [0] * opcode_base + [min_inst * ((op - opcode_base) // line_range) for op in special]
    line_step = [0] * opcode_base + [line_base + (op - opcode_base) % line_range for op in special]
    simple = max_ops == 1
    new = tuple.__new__
    add_row = rows.append
    try:
        while p < end:
            op = buf[p]
            p += 1
            if op >= opcode_base:
                if simple:
                    address += addr_step[op]
                else:
                    advance((op - opcode_base) // line_range)
                line += line_step[op]
                add_row(new(LineRow, (address, file, line, column, is_stmt, False, disc)))
                disc = 0
            elif op == 0:
                n, q = uleb(buf, p, end)
                if q < 0 or q + n > end or n == 0:
                    raise sec.error(p - base, "bad extended opcode length")
                sub = buf[q]
                if sub == DW.DW_LNE_end_sequence:
                    rows.append(LineRow(address, file, line, column, is_stmt, True, disc))
                    sequences.append(rows)
                    rows = []
                    add_row = rows.append
                    address = op_index = 0
                    file, line, column, is_stmt, disc = 1, 1, 0, t.default_is_stmt, 0
                elif sub == DW.DW_LNE_set_address:
                    if n - 1 in (1, 2, 4, 8):
                        fmt = (
                            addr_fmt
                            if n - 1 == asz
                            else struct.Struct(e + {1: "B", 2: "H", 4: "I", 8: "Q"}[n - 1])
                        )
                        (address,) = fmt.unpack_from(buf, q + 1)
                        op_index = 0
                    else:
                        raise sec.error(q - base, f"DW_LNE_set_address with a {n - 1}-byte operand")
                elif sub == DW.DW_LNE_set_discriminator:
                    disc, r = uleb(buf, q + 1, q + n)
                    if r < 0:
                        raise sec.error(q - base, "truncated discriminator")
                elif sub == DW.DW_LNE_define_file:
                    stop = buf.find(b"\0", q + 1, q + n)
                    if stop < 0:
                        raise sec.error(q - base, "unterminated DW_LNE_define_file name")
                    name = buf[q + 1 : stop].decode("utf-8", "surrogateescape")
                    d, _ = uleb(buf, stop + 1, q + n)
                    t.files.append(_file(name, d, directories))
                p = q + n
            elif op == DW.DW_LNS_copy:
                rows.append(LineRow(address, file, line, column, is_stmt, False, disc))
                disc = 0
            elif op == DW.DW_LNS_advance_pc:
                n, p = uleb(buf, p, end)
                if p < 0:
                    raise sec.error(end - base, "truncated DW_LNS_advance_pc")
                advance(n)
            elif op == DW.DW_LNS_advance_line:
                n, p = sleb(buf, p, end)
                if p < 0:
                    raise sec.error(end - base, "truncated DW_LNS_advance_line")
                line += n
            elif op == DW.DW_LNS_set_file:
                file, p = uleb(buf, p, end)
            elif op == DW.DW_LNS_set_column:
                if p < end and buf[p] < 0x80:  # one-byte ULEB128: columns below 128, nearly all of them
                    column = buf[p]
                    p += 1
                else:
                    column, p = uleb(buf, p, end)
            elif op == DW.DW_LNS_negate_stmt:
                is_stmt = not is_stmt
            elif op == DW.DW_LNS_const_add_pc:
                advance(const_add)
            elif op == DW.DW_LNS_fixed_advance_pc:
                if p + 2 > end:
                    raise sec.error(p - base, "truncated DW_LNS_fixed_advance_pc")
                address += u16.unpack_from(buf, p)[0]
                op_index = 0
                p += 2
            elif op in (DW.DW_LNS_set_basic_block, DW.DW_LNS_set_prologue_end, DW.DW_LNS_set_epilogue_begin):
                pass
            else:  # DW_LNS_set_isa and opcodes this reader does not know: skip their ULEB operands
                for _ in range(std_lengths[op]):
                    _, p = uleb(buf, p, end)
                    if p < 0:
                        break
            if p < 0:
                raise sec.error(end - base, "truncated line program operand")
            total = len(rows)
            if total > max_rows:
                raise sec.error(p - base, "line program emits more rows than it has bytes for")
    except IndexError:
        raise sec.error(end - base, "line program runs past the end of the section") from None
    if rows:  # a program that forgot its last end_sequence still describes those addresses
        sequences.append(rows)
    return sequences
