"""The objects a dumped process had mapped, opened from disk (or from the core itself on illumos).

Each object is found by the path the core names (``NT_FILE`` on Linux, the link map or the core's section
headers on illumos), rewritten by ``--sysroot`` / ``--search`` or replaced by the binary the user gave. The
load bias comes from the mapping of file offset 0 (``ET_DYN``) and is 0 for ``ET_EXEC``. A build-id that
differs between the copy in the core's memory (Linux dumps the first page of every ELF mapping:
``coredump_filter`` bit 4) and the file on disk is reported, because symbols from the wrong file lie.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from dataclasses import dataclass, field

from ..dwarf.info import DwarfInfo
from ..dwarf.inline import Frame as SourceFrame
from ..elf import constants as C
from ..elf.core_memory import FileBacking
from ..elf.core_model import CoreImage
from ..elf.eh_frame import CfaRow, EhFrame, eh_frame
from ..elf.reader import ElfFile, SymbolIndex
from ..errors import FormatError
from ..files import looks_like_elf
from .core_ctf import ObjectCtf
from .debugfile import find_debug_file, wants_debug_file

DWARF_LIMIT = 16 << 20
LOAD_GAP = 2 << 20  # largest hole between two segments of one load (max-page-size alignment)
HEADER_COMPARE = 4096  # Linux dumps one page of each ELF mapping
_EHDR64 = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR64 = struct.Struct("<IIQQQQQQ")


@dataclass
class LoadedObject:
    """One mapped object: its address range in the process, its file, symbols and CFI."""

    path: str  # as the core names it
    start: int
    end: int
    bias: int = 0
    disk_path: str | None = None
    elf: ElfFile | None = None
    symbols: SymbolIndex | None = None
    symbol_bias: int = 0  # added to symbol values to get process addresses
    problems: list[str] = field(default_factory=list)
    is_main: bool = False
    load_ranges: list[FileBacking] = field(default_factory=list)  # its segments' NT_FILE ranges
    _cfi: EhFrame | bool | None = False
    _dwarf: DwarfInfo | bool | None = False
    debug_elf: ElfFile | None = None  # the separate debug file (``debugfile``), when the object is stripped
    debug_note: str = ""  # where its symbols and DWARF came from, for the report
    debug_dwarf: bool = False  # whether file:line may come from the debug file's DWARF
    mismatch: bool = False  # the file on disk is not the one the process ran (build-id, header, layout)
    ctf: ObjectCtf | None = None  # from the core's own .SUNW_ctf for this object (illumos, coreadm ``ctf``)
    dwarf_limit: int = DWARF_LIMIT  # bytes of .debug_info beyond which DWARF is not decoded (0: no limit)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def cfi_row(self, pc: int) -> CfaRow | None:
        """The ``.eh_frame`` row in force at process address ``pc`` (None: no CFI covers it)."""
        if self._cfi is False:
            self._cfi = None
            if self.elf is not None:
                try:
                    self._cfi = eh_frame(self.elf)
                except FormatError as exc:
                    self.problems.append(f"unusable .eh_frame: {exc}")
        cfi = self._cfi
        if not isinstance(cfi, EhFrame):
            return None
        rel = pc - self.bias
        fde = cfi.fde_for(rel)
        if fde is None:
            return None
        try:
            rows = fde.rows()
        except FormatError:
            return None
        found = None
        for row in rows:
            if row.loc > rel:
                break
            found = row
        if found is None:
            return None
        return found

    def source_frames(self, pc: int) -> list[SourceFrame]:
        """Source frames at process address ``pc`` from DWARF (inlined calls first), [] without DWARF."""
        if self._dwarf is False:
            self._dwarf = None
            source = self.elf
            if (
                source is not None
                and source.section(".debug_info") is None
                and self.debug_elf is not None
                and self.debug_dwarf
            ):
                source = self.debug_elf  # a stripped object: its DWARF is in the separate debug file
            info = source.section(".debug_info") if source is not None else None
            if info is not None and self.dwarf_limit and info.sh_size > self.dwarf_limit:
                # indexing functions and inlined calls runs at ~6 MB/s of .debug_info here: past the limit
                # one object would blow the whole analysis' time, so say so instead
                self.problems.append(
                    f"{self.name}: DWARF not used for file:line ({info.sh_size >> 20} MiB of .debug_info, "
                    f"over the {self.dwarf_limit >> 20} MiB limit; --dwarf-limit 0 lifts it)"
                )
            elif info is not None and source is not None:
                try:
                    self._dwarf = DwarfInfo(source)
                except FormatError as exc:
                    self.problems.append(f"unusable DWARF: {exc}")
        dwarf = self._dwarf
        if not isinstance(dwarf, DwarfInfo):
            return []
        try:
            return dwarf.inlines.frames(pc - self.bias)
        except (FormatError, RecursionError) as exc:
            self.problems.append(f"unusable DWARF, no file:line from it: {exc}")
            self._dwarf = None
            return []

    def lookup(self, pc: int) -> tuple[str, int] | None:
        if self.symbols is None:
            return None
        hit = self.symbols.lookup(pc - self.symbol_bias)
        if hit is None:
            return None
        return hit[0].name, hit[1]


class ObjectResolver:
    """Maps a path named by the core to a file on this machine (binary override, sysroot, search dirs)."""

    def __init__(
        self, binary: str | None = None, sysroot: str | None = None, search: tuple[str, ...] = ()
    ) -> None:
        self.binary = binary
        self.sysroot = sysroot
        self.search = search
        self.main_path: str | None = None

    def __call__(self, path: str) -> str | None:
        if self.binary and (
            path == self.main_path or os.path.basename(path) == os.path.basename(self.binary)
        ):
            return self.binary
        candidates = []
        if self.sysroot:
            candidates.append(os.path.join(self.sysroot, path.lstrip("/")))
        candidates += [os.path.join(d, os.path.basename(path)) for d in self.search]
        if not self.sysroot:
            candidates.append(path)
        for c in candidates:
            if os.path.isfile(c):
                return c
        return None


class ObjectMap:
    """All loaded objects of a core, looked up by address."""

    def __init__(self, objects: list[LoadedObject]) -> None:
        self.objects = sorted(objects, key=lambda o: o.start)
        self._starts = [o.start for o in self.objects]

    def at(self, addr: int) -> LoadedObject | None:
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.objects[i].end:
            return self.objects[i]
        return None

    @property
    def main(self) -> LoadedObject | None:
        return next((o for o in self.objects if o.is_main), None)

    def close(self) -> None:
        for o in self.objects:
            if o.elf is not None:
                o.elf.close()
            if o.debug_elf is not None:
                o.debug_elf.close()


def linux_objects(image: CoreImage, resolver: ObjectResolver) -> ObjectMap:
    """One object per distinct ``NT_FILE`` path; the executable holds ``AT_ENTRY`` (or ``AT_PHDR``)."""
    by_path: dict[str, list[FileBacking]] = {}
    for b in image.files:
        by_path.setdefault(b.path, []).append(b)
    entry = image.auxv.get(9) or image.auxv.get(3)  # AT_ENTRY, AT_PHDR
    loads = {path: load_ranges(bs, entry) for path, bs in by_path.items()}
    holds_entry = [
        p for p, bs in loads.items() if any(entry is not None and b.start <= entry < b.end for b in bs)
    ]
    main_path = holds_entry[0] if holds_entry else None
    if main_path is None and image.files:
        main_path = image.files[0].path
    resolver.main_path = main_path
    image.memory.resolve = resolver
    objects = []
    # mappings with PF_X (flags bit 0): a missing file only matters when code ran from it
    code = {m.path for m in image.mappings if m.path is not None and m.flags & 1}
    for path, bs in loads.items():
        start, end = bs[0].start, max(b.end for b in bs)
        base = next((b.start for b in bs if b.file_offset == 0), start)
        obj = LoadedObject(path, start, end, is_main=path == main_path)
        obj.load_ranges = bs
        _open(obj, image, resolver, base, path in code or path == main_path)
        objects.append(obj)
    return ObjectMap(objects)


def load_ranges(backings: list[FileBacking], entry: int | None = None) -> list[FileBacking]:
    """The ``NT_FILE`` ranges of one path that are its *load* (its segments), not other mappings of it.

    A file can be mapped more than once: std's backtrace code maps the whole executable (and glibc's debug
    file) read-only to read DWARF when a panic prints a backtrace. The loaded image is a run of adjacent
    ranges with rising file offsets (ld.so fills the gaps between segments with ``PROT_NONE`` mappings of
    the same file); the run holding ``entry``, else the one with most ranges, is the load."""
    runs: list[list[FileBacking]] = []
    for b in sorted(backings, key=lambda b: b.start):
        last = runs[-1][-1] if runs else None
        if last is not None and b.start - last.end <= LOAD_GAP and b.file_offset > last.file_offset:
            runs[-1].append(b)
        else:
            runs.append([b])
    if entry is not None:
        for run in runs:
            if any(b.start <= entry < b.end for b in run):
                return run
    return max(runs, key=len)


def _open(
    obj: LoadedObject, image: CoreImage, resolver: ObjectResolver, base: int, code: bool = True
) -> None:
    """Load ``obj``'s ELF file. Data mappings (locale archives, /dev/zero, fonts …) are normal in
    ``NT_FILE``: only a missing file with code mapped executable, or an ELF file that cannot be read, is a
    problem worth a warning."""
    disk = resolver(obj.path)
    if disk is None:
        obj.bias = obj.symbol_bias = unopened_bias(image, base)
        if code:
            obj.problems.append(f"{obj.path}: not found on this machine (use BINARY, --sysroot or --search)")
        return
    if not looks_like_elf(disk):
        obj.bias = obj.symbol_bias = unopened_bias(image, base)
        return
    try:
        elf = ElfFile(disk)
        elf.segments  # noqa: B018 - parse now so a broken file is reported here
    except FormatError as exc:
        obj.bias = obj.symbol_bias = unopened_bias(image, base)
        obj.problems.append(f"{disk}: unusable ({exc.what})")
        return
    obj.disk_path, obj.elf = disk, elf
    loads = elf.segments_of_type(C.PT_LOAD)
    if elf.header.e_type == C.ET_DYN and loads:
        first = min(loads, key=lambda p: p.p_offset)
        obj.bias = base - ((first.p_vaddr - first.p_offset) & ~0xFFF)
    obj.symbol_bias = obj.bias
    try:
        obj.symbols = elf.symbol_index
        if elf.header.e_machine in (C.EM_AARCH64, 40):  # 40: EM_ARM
            # ARM ELF §5.5.5 mapping symbols ($x code, $d data) mark instruction-set changes, not functions
            table = elf.symtab if len(elf.symtab) else elf.dynsym
            obj.symbols = SymbolIndex([s for s in table if not s.name.startswith("$")])
    except FormatError as exc:
        obj.problems.append(f"{disk}: symbols unreadable ({exc.what})")
    if code:
        try:
            if wants_debug_file(elf):
                _attach_debug_file(obj, elf, disk, resolver.sysroot)
        except FormatError:  # a file cut short has no usable section table: the checks below say so
            pass
    if _check_build_id(obj, image, base, elf) is None:
        # no build-id to settle it (none in the file, or no copy of the header in the core): compare what
        # the core does hold — one message per file, not three for the same mismatch
        _check_header(obj, image, base, elf)
        if code:  # a file mapped only as data (a debug file read by std's backtrace code) has no layout
            _check_layout(obj, image, elf)
    _check_mtime(obj, image)


def _attach_debug_file(obj: LoadedObject, elf: ElfFile, disk: str, sysroot: str | None) -> None:
    """Use a stripped object's separate debug file: its ``.symtab`` when the object has only ``.dynsym``
    (glibc's internal functions, ``__pthread_kill_implementation``, are not exported), its DWARF for
    file:line. CFI stays the object's own (``.eh_frame`` is allocated, a debug file holds it as NOBITS)."""
    debug, note = find_debug_file(elf, disk, sysroot)
    if debug is None:
        return
    obj.debug_elf, obj.debug_note = debug, note
    # file:line from the debug file's DWARF for the program itself (or an object split by hand, found by
    # its debuglink); a distribution's library debug file (glibc's: ~30 MB of DWARF) gives symbols only,
    # so that indexing it cannot eat the time budget the program's own frames need for their file:line
    obj.debug_dwarf = obj.is_main or "(debuglink)" in note
    if not len(elf.symtab):
        try:
            if len(debug.symtab):
                table = debug.symtab
                if debug.header.e_machine in (C.EM_AARCH64, 40):  # mapping symbols, as above
                    obj.symbols = SymbolIndex([s for s in table if not s.name.startswith("$")])
                else:
                    obj.symbols = debug.symbol_index
        except FormatError as exc:
            obj.problems.append(f"{note}: symbols unreadable ({exc.what})")


def unopened_bias(image: CoreImage, base: int) -> int:
    """The load bias of an object whose file could not be opened, so that its frames print as offsets
    into the module (``module`+0x4630a``, what ``addr2line -e`` takes), never as absolute addresses: the
    address of its file-offset-0 mapping (``NT_FILE``, the link map), or 0 when the core's copy of its ELF
    header says ``ET_EXEC`` (addresses are link-time addresses; ``e_type`` at offset 16, gABI)."""
    head = image.memory.read(base, 18, files=False)
    if head is not None and head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 16)[0] == C.ET_EXEC:
        return 0
    return base


def _check_build_id(obj: LoadedObject, image: CoreImage, base: int, elf: ElfFile) -> bool | None:
    """True: same build-id as the core's copy; False: different (reported); None: not comparable."""
    try:
        on_disk = elf.build_id
    except FormatError:
        on_disk = None
    in_core = core_build_id(image, base)
    if in_core is not None and on_disk is not None:
        if in_core != on_disk:
            obj.mismatch = True
            obj.problems.append(
                f"{obj.disk_path}: build-id {on_disk} differs from the one in the core ({in_core}): "
                "this is not the file the process ran, its symbols and frames may be wrong"
            )
        return in_core == on_disk
    if in_core is None and on_disk is not None:
        obj.problems.append(f"{obj.disk_path}: the core holds no copy of its ELF header to compare build-ids")
    return None


def _check_header(obj: LoadedObject, image: CoreImage, base: int, elf: ElfFile) -> None:
    """The ELF header page the core holds at ``base`` must be the file's first page.

    Linux dumps the first page of every ELF mapping (``coredump_filter`` bit 4) and illumos cores hold text
    by default; nothing writes to that page at run time (``ehdr``, ``phdrs``, notes, ``.interp``), so any
    difference means another file — and catches a rebuilt binary that has no build-id to compare."""
    seg = image.memory.segment_at(base)
    if seg is None or seg.vaddr != base:
        return
    size = min(HEADER_COMPARE, seg.filesz, elf.size)
    held = image.memory.read(base, size, files=False) if size >= 64 else None
    if held is None or held[:4] != b"\x7fELF":
        return
    on_disk = bytes(elf.buf[:size])
    if held != on_disk:
        at = next(i for i in range(size) if held[i] != on_disk[i])
        obj.mismatch = True
        obj.problems.append(
            f"{obj.disk_path}: its first {size} bytes differ from the copy in the core (first difference at "
            f"file offset 0x{at:x}): this is not the file the process ran"
        )


def _check_layout(obj: LoadedObject, image: CoreImage, elf: ElfFile) -> None:
    """Each ``NT_FILE`` range of this object must fit the file: inside its size, and at the address its
    ``PT_LOAD`` puts that file offset (a rebuilt binary whose code grew or shrank moves its segments).

    The kernel and ld.so map each loadable segment's file part from ``page_down(p_offset)`` to
    ``page_up(p_vaddr + p_filesz)`` (``fs/binfmt_elf.c`` ``elf_map``, glibc ``_dl_map_segments``);
    ``PROT_NONE`` gaps that ld.so leaves between segments are file-backed too and are skipped."""
    ranges = obj.load_ranges
    if not ranges or obj.disk_path is None:
        return
    size = elf.size
    page = 4096
    segs = []
    for p in elf.segments_of_type(C.PT_LOAD):
        if p.p_filesz:
            start = (obj.bias + p.p_vaddr) & ~(page - 1)
            end = (obj.bias + p.p_vaddr + p.p_filesz + page - 1) & ~(page - 1)
            segs.append((start, end, p.p_offset & ~(page - 1)))
    for b in ranges:
        m = image.mapping_at(b.start)
        if m is not None and m.flags & 7 == 0:
            continue
        if b.file_offset >= ((size + page - 1) & ~(page - 1)):
            obj.mismatch = True
            obj.problems.append(
                f"{obj.disk_path}: the core maps it from file offset 0x{b.file_offset:x}, but the file is "
                f"only {size} bytes: its size differs from the file the process ran"
            )
            return
        seg = next((s for s in segs if s[0] <= b.start < s[1]), None)
        if seg is None or b.file_offset - seg[2] != b.start - seg[0] or b.end > seg[1]:
            obj.mismatch = True
            obj.problems.append(
                f"{obj.disk_path}: the core maps 0x{b.start:x}-0x{b.end:x} from file offset "
                f"0x{b.file_offset:x}, which its program headers do not: its size/layout differs from the "
                "file the process ran"
            )
            return


def _check_mtime(obj: LoadedObject, image: CoreImage) -> None:
    """A file modified after the process started (illumos ``psinfo_t`` ``pr_start``) is suspect. Linux
    cores record no time at all, so there is nothing to compare with there."""
    if image.start_time is None or obj.disk_path is None:
        return
    try:
        mtime = os.stat(obj.disk_path).st_mtime
    except OSError:
        return
    if mtime > image.start_time + 1:
        obj.problems.append(
            f"{obj.disk_path}: modified {mtime - image.start_time:.0f} s after the process started "
            "(psinfo pr_start): it may not be the file the process ran"
        )


def core_build_id(image: CoreImage, base: int) -> str | None:
    """The GNU build-id of the ELF image whose header the core holds at ``base`` (core bytes only)."""
    mem = image.memory
    head = mem.read(base, _EHDR64.size, files=False)
    if head is None or head[:4] != b"\x7fELF" or head[4] != 2:
        return None
    fields = _EHDR64.unpack(head)
    e_type, phoff, phentsize, phnum = fields[1], fields[5], fields[9], fields[10]
    if phentsize != _PHDR64.size or phnum > 64:
        return None
    raw = mem.read(base + phoff, phnum * phentsize, files=False)
    if raw is None:
        return None
    phdrs = [_PHDR64.unpack_from(raw, i * phentsize) for i in range(phnum)]
    loads = [p for p in phdrs if p[0] == C.PT_LOAD]
    bias = base - (min(p[3] for p in loads) & ~0xFFF) if loads and e_type == C.ET_DYN else 0
    for p in phdrs:
        if p[0] != C.PT_NOTE or p[5] > 4096:
            continue
        notes = mem.read(bias + p[3], p[5], files=False)
        pos = 0
        while notes is not None and pos + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<3I", notes, pos)
            name_end = pos + 12 + ((namesz + 3) & ~3)
            if notes[pos + 12 : pos + 12 + namesz].rstrip(b"\0") == b"GNU" and ntype == C.NT_GNU_BUILD_ID:
                return notes[name_end : name_end + descsz].hex()
            pos = name_end + ((descsz + 3) & ~3)
    return None
