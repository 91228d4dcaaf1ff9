"""Per-file state shared by the checks: the ELF reader, the function list, cheap crate attribution.

Checks run in one process over one mmap; anything two checks need (the sized function symbols, the target
guess, imports) is computed once here so that the whole audit of a 150 MB library stays within a few
seconds (``benchmarks/bench_audit.py``).
"""

from __future__ import annotations

import contextlib
import mmap
import re
from bisect import bisect_right, insort
from collections.abc import Iterator
from functools import cached_property
from operator import attrgetter
from typing import NamedTuple

from ..elf import constants as C
from ..elf.dynamic import DynamicSection, dynamic
from ..elf.reader import ElfFile, Section
from .policy import Policy

# GCC's hot/cold splitting (``-freorder-blocks-and-partition``) names the cold part ``foo.cold`` (``.cold.N``
# when several): it has no prologue of its own. ``.part.N`` (partial inlining), ``.isra.N``, ``.constprop.N``
# are complete clones with their own prologue and get verdicts like any function.
FRAGMENT = re.compile(r"\.cold(?:\.\d+)?$")
_V0_CRATE = re.compile(r"C(?:s[0-9A-Za-z]*_)?(\d+)(_?)")
_LEGACY_FIRST = re.compile(r"_ZN(\d+)")
# rustc's legacy mangling ends every path with ``17h<16 hex>E`` (the crate hash); Itanium C++ names never
# end that way, which is the only reliable way to tell the two ``_ZN`` manglings apart.
_LEGACY_HASH = re.compile(r"17h[0-9a-f]{16}E(?:\.[0-9A-Za-z_.$]*)?$")
_CXX_FIRST = re.compile(r"_ZN(?:[rVKO]|St)*(\d+)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Function(NamedTuple):
    """One STT_FUNC symbol in an executable section (aliases at the same address merged).

    A tuple, not a dataclass: 100k of them live through the whole audit of a big library. ``bounded`` marks
    a symbol whose size was 0 in the table (assembly without ``.size``, musl's stubs): its extent runs to
    the next symbol or the section's end.
    """

    name: str
    addr: int
    size: int
    local: bool
    file: str | None  # STT_FILE in effect for a local symbol (the C object or Rust codegen unit)
    bounded: bool = False


def _has_legacy_hash(name: str) -> bool:
    """``…17h<16 hex>E`` at the end, or before a ``.llvm.N``-style suffix (string ops, not a regex search:
    this runs for every one of 100k names)."""
    i = name.rfind("17h")
    if i < 0 or len(name) < i + 20 or name[i + 19] != "E":
        return False
    rest = name[i + 20 :]
    return (not rest or rest[0] == ".") and _LEGACY_HASH.fullmatch(name, i) is not None


def is_rust_symbol(name: str) -> bool:
    """v0 (``_R``) or legacy ``_ZN…17h<hash>E``: the only two shapes rustc emits."""
    return name.startswith("_R") or (name.startswith("_ZN") and _has_legacy_hash(name))


def _legacy_segment(component: str) -> str | None:
    """The crate named by a legacy path component: itself, or for ``<Type as Trait>`` / ``<Type>`` the
    self type's first path segment, else the trait's (a blanket impl ``impl<T> Trait for T`` or an impl
    for a primitive lives in the trait's crate: the orphan rule allows nowhere else)."""
    if not (component.startswith("_$LT$") or component.startswith("$LT$")):
        return component or None
    inner = component.split("$LT$", 1)[1]
    self_ty, _, trait = inner.partition("$u20$as$u20$")
    for part in (self_ty, trait):
        # strip references, pointers, mut/dyn/const and slices: &mut dyn core::Any -> core::Any
        while True:
            for pre in ("$RF$", "$BP$", "mut$u20$", "dyn$u20$", "const$u20$", "$u5b$", "_"):
                if part.startswith(pre):
                    part = part[len(pre) :]
                    break
            else:
                break
        m = _IDENT.match(part)
        if m and part[m.end() : m.end() + 2] == "..":
            return m.group()
    return None


def crate_of(name: str) -> str | None:
    """The crate of a Rust-mangled symbol, read from the mangled form (no full demangle: 106k names).

    Only Rust shapes count (``is_rust_symbol``): ``_ZN4llvm…`` is C++. v0 (``_R``): the first crate root
    ``C[s<disambiguator>_]<len><ident>``; for impl paths this is the crate of the impl's parent module,
    which is where the code was written. Legacy (``_ZN``): the first path component, resolved through
    ``<Type as Trait>`` (``_legacy_segment``); generic parameters (``T``) and primitives (``str``) never
    name a crate.
    """
    if name.startswith("_R"):
        m = _V0_CRATE.search(name, 2)
        if not m:
            return None
        n = int(m.group(1))
        start = m.end()
        ident = name[start : start + n]
        return ident or None
    if name.startswith("_ZN") and _has_legacy_hash(name):
        m = _LEGACY_FIRST.match(name)
        if not m:
            return None
        n = int(m.group(1))
        return _legacy_segment(name[m.end() : m.end() + n])
    return None


def cxx_namespace(name: str) -> str | None:
    """The outermost namespace (or class) of an Itanium C++ nested name, ``std`` for ``_ZNSt…``."""
    if not name.startswith("_ZN") or is_rust_symbol(name):
        return None
    m = _CXX_FIRST.match(name)
    if m is None:
        return "std" if name.startswith(("_ZNSt", "_ZNKSt")) else None
    if "St" in name[3 : m.start(1)]:
        return "std"
    n = int(m.group(1))
    first = name[m.end() : m.end() + n]
    return first or None


# gcc's crtbegin/crtend (libgcc/crtstuff.c) define these functions and no others.
_CRT_FILES = frozenset({"crtstuff.c"})
_CRT_FUNCTIONS = frozenset(
    {
        "deregister_tm_clones",
        "register_tm_clones",
        "__do_global_dtors_aux",
        "frame_dummy",
        "__do_global_ctors_aux",
        "__do_init",
        "__do_fini",
    }
)
_CGU = re.compile(r"^([A-Za-z0-9_]+)\.[0-9a-f]{16}-cgu\.\d+$")
SCAN_WINDOW = 16 << 20
NEIGHBOUR_GAP = 64  # alignment padding between functions of one object


def _infer_objects(funcs: list[Function]) -> list[Function]:
    """Give unmangled global functions the object of an adjacent local function.

    Globals come after every STT_FILE group in the symbol table, so they carry no file; but a linker lays
    out each input object's text contiguously, so the nearest function (within ``NEIGHBOUR_GAP`` bytes)
    that does carry a file is, in practice, from the same object: how a gcc object's exported function
    is attributed to ``foo.c``.
    """
    out = list(funcs)
    if not any(f.file for f in out):
        return out

    def eligible(f: Function) -> bool:
        return not f.file and not f.bounded and not f.name.startswith(("_R", "_ZN"))

    # Forward, then backward: a run of exported functions after (or before) an object's local one is
    # attributed link by link, each within NEIGHBOUR_GAP of the previous.
    prev: Function | None = None
    for i, f in enumerate(out):
        if (
            prev is not None
            and prev.file
            and not prev.bounded
            and 0 <= f.addr - (prev.addr + prev.size) <= NEIGHBOUR_GAP
            and eligible(f)
        ):
            f = out[i] = f._replace(file=prev.file)
        prev = f
    nxt: Function | None = None
    for i in range(len(out) - 1, -1, -1):
        f = out[i]
        if (
            nxt is not None
            and nxt.file
            and not nxt.bounded
            and 0 <= nxt.addr - (f.addr + f.size) <= NEIGHBOUR_GAP
            and eligible(f)
        ):
            f = out[i] = f._replace(file=nxt.file)
        nxt = f
    return out


def _bound_unsized(
    funcs: list[Function], unsized: list[tuple[int, int, str, bool, str | None]], section_end: dict[int, int]
) -> list[Function]:
    """Give each zero-size symbol the extent up to the next symbol (or its section's end) and add it,
    unless it is a label inside a sized function (which already covers those bytes).

    Where two unsized names share an address, a global one wins (the exported name is the one a person
    knows), as for sized aliases.
    """
    starts = [f.addr for f in funcs]
    chosen: dict[int, tuple[int, int, str, bool, str | None]] = {}
    for item in unsized:
        addr = item[0]
        i = bisect_right(starts, addr) - 1
        if i >= 0 and addr < funcs[i].addr + funcs[i].size:
            continue
        old = chosen.get(addr)
        if old is None or (old[3] and not item[3]):
            chosen[addr] = item
    if not chosen:
        return funcs
    others = sorted(chosen)
    added = []
    for addr, (_, shndx, name, local, file) in chosen.items():
        end = section_end.get(shndx, addr)
        j = bisect_right(starts, addr)  # the next sized function
        if j < len(starts):
            end = min(end, starts[j])
        k = bisect_right(others, addr)  # the next unsized one
        if k < len(others):
            end = min(end, others[k])
        if end > addr:
            added.append(Function(name, addr, end - addr, local, file, True))
    out = list(funcs)
    for fn in added:  # a handful in practice: insert in place instead of sorting 100k functions again
        insort(out, fn, key=attrgetter("addr"))
    return out


def object_name(file: str) -> tuple[str, str]:
    """A Rust codegen unit (``std.<hash>-cgu.0``) names its crate; anything else is an object file."""
    m = _CGU.match(file)
    if m:
        return "crate", m.group(1)
    return "object", file


def display(name: str) -> str:
    """A readable name (demangled without hash); the demangler is another module that may be absent."""
    try:
        from ..demangle import try_demangle
    except ImportError:  # pragma: no cover - the demangler ships with the package
        return name
    return try_demangle(name, hash=False) or name


class Context:
    def __init__(self, elf: ElfFile, policy: Policy) -> None:
        self.elf = elf
        self.path = elf.path
        self.policy = policy
        self.machine = elf.header.e_machine

    @cached_property
    def dyn(self) -> DynamicSection:
        return dynamic(self.elf)

    @cached_property
    def symbol_names(self) -> frozenset[str]:
        """Every symbol name in .symtab, .dynsym and .SUNW_ldynsym (presence tests)."""
        return (
            frozenset(self.elf.symtab.names)
            | frozenset(self.elf.dynsym.names)
            | frozenset(self.elf.ldynsym.names)
        )

    @cached_property
    def imports(self) -> frozenset[str]:
        """Undefined dynamic symbols, version suffix removed."""
        out = set()
        for s in self.elf.dynsym:
            if s.shndx == C.SHN_UNDEF and s.name:
                out.add(s.name.split("@", 1)[0])
        return frozenset(out)

    @cached_property
    def defined_names(self) -> frozenset[str]:
        self._symbol_pass()
        return self._defined

    @cached_property
    def tls_symbols(self) -> int:
        self._symbol_pass()
        return self._tls

    @cached_property
    def exec_ranges(self) -> list[tuple[int, int, str]]:
        return [
            (s.sh_addr, s.sh_addr + s.sh_size, s.name)
            for s in self.elf.sections
            if s.is_exec and s.sh_type != C.SHT_NOBITS and s.sh_size
        ]

    @cached_property
    def functions(self) -> list[Function]:
        """Sized functions in executable sections, from .symtab (else .SUNW_ldynsym + .dynsym), by address.

        Locals are attributed to the STT_FILE symbol that precedes them: the gABI puts a file's locals after
        its STT_FILE entry, which is how a C object linked into a Rust binary is named.
        """
        self._symbol_pass()
        return self._functions

    def _symbol_pass(self) -> None:
        """One walk over the symbol tables for every per-symbol fact the checks need, after which the
        unpacked entries are dropped (165k tuples, ~30 MB on librustc_driver)."""
        if hasattr(self, "_functions"):
            return
        elf = self.elf
        tables = [elf.symtab] if len(elf.symtab) else [elf.ldynsym, elf.dynsym]
        exec_secs = {s.index for s in elf.sections if s.is_exec}
        by_addr: dict[int, Function] = {}
        defined: set[str] = set()
        tls = 0
        is64 = elf.is64
        unsized: list[tuple[int, int, str, bool, str | None]] = []
        for table in {id(t): t for t in (*tables, elf.symtab, elf.dynsym)}.values():
            names = table.names
            collect = any(table is t for t in tables)
            current_file: str | None = None
            for i, r in enumerate(table.raws):
                if is64:
                    info, shndx, value, size = r[1], r[3], r[4], r[5]
                else:
                    value, size, info, shndx = r[1], r[2], r[3], r[5]
                typ = info & 0xF
                if shndx != C.SHN_UNDEF and names[i]:
                    defined.add(names[i])
                if typ == C.STT_TLS:
                    tls += 1
                if not collect:
                    continue
                if typ == C.STT_FILE:
                    current_file = names[i] or None
                    continue
                if shndx not in exec_secs or typ not in (C.STT_FUNC, C.STT_GNU_IFUNC, C.STT_NOTYPE):
                    continue
                local = (info >> 4) == C.STB_LOCAL
                file = current_file if local else None
                if file in _CRT_FILES and names[i] not in _CRT_FUNCTIONS:
                    # lld writes no STT_FILE for an input that has none (assembly): its locals then follow
                    # crtend's "crtstuff.c", which defines no function. Not crtstuff's: unattributed.
                    file = None
                if not size:
                    name = names[i]
                    # assembly stubs without ``.size`` (musl's syscall wrappers, hand-written entry points)
                    # are still code; mapping symbols ($x, $d) and empty names are not
                    if name and not name.startswith("$"):
                        unsized.append((value, shndx, name, local, file))
                    continue
                if typ == C.STT_NOTYPE:
                    continue
                old = by_addr.get(value)
                if old is None or (old.local and not local) or (old.size < size):
                    by_addr[value] = Function(names[i], value, size, local, file)
            table.__dict__.pop("raws", None)
        self._defined = frozenset(defined)
        self._tls = tls
        if not len(elf.symtab) and elf.header.e_type != C.ET_REL:
            # Stripped: .eh_frame still delimits every function that has CFI, so each FDE not covered by
            # an exported symbol becomes an anonymous function and the coverage stays complete.
            from ..elf.eh_frame import eh_frame

            eh = eh_frame(elf)
            for fde in eh.fdes if eh is not None else []:
                if fde.pc_begin not in by_addr and fde.pc_end > fde.pc_begin:
                    name = f"(no symbol)@0x{fde.pc_begin:x}"
                    by_addr[fde.pc_begin] = Function(
                        name, fde.pc_begin, fde.pc_end - fde.pc_begin, True, None
                    )
        funcs = sorted(by_addr.values(), key=lambda f: f.addr)
        if unsized:
            funcs = _bound_unsized(funcs, unsized, {s.index: s.sh_addr + s.sh_size for s in elf.sections})
        self._functions = _infer_objects(funcs)

    def release_pages(self) -> None:
        """Drop the file's mapped pages from our resident set (they stay in the page cache).

        Each check scans up to the whole text (97 MB in librustc_driver); without this, every page any
        check touched stays resident until the end and pushes peak RSS past 300 MiB. Re-reading a page
        later is a minor fault from the page cache.
        """
        buf = self.elf.buf
        if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):
                buf.madvise(mmap.MADV_DONTNEED)

    def windows(self, overlap: int = 16) -> Iterator[tuple[Section, memoryview, int, int, int]]:
        """(section, its data, start, end, stop) for every executable section in 16 MiB windows whose pages
        are released once the caller has scanned them: a 97 MB text then costs 16 MB of resident set.

        Scan ``data[start:end]`` (``end`` includes ``overlap`` bytes of the next window, enough for the
        longest match) and keep only matches that start before ``stop``, so each is found once.
        """
        for sec in self.elf.sections:
            if not sec.is_exec or sec.sh_type == C.SHT_NOBITS or not sec.sh_size:
                continue
            data = self.elf.section_data(sec)
            n = len(data)
            for cs in range(0, n, SCAN_WINDOW):
                ce = min(cs + SCAN_WINDOW, n)
                yield sec, data, cs, min(ce + overlap, n), ce
                self._release_range(sec.sh_offset + cs, ce - cs)

    def scan(self, pattern: re.Pattern[bytes], overlap: int = 16) -> Iterator[tuple[int, re.Match[bytes]]]:
        """(address, match) of ``pattern`` in every executable section, through ``windows``."""
        for sec, data, start, end, stop in self.windows(overlap):
            for m in pattern.finditer(data, start, end):
                if m.start() < stop:
                    yield sec.sh_addr + m.start(), m

    def _release_range(self, offset: int, length: int) -> None:
        buf = self.elf.buf
        if not isinstance(buf, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = offset - offset % mmap.PAGESIZE
        end = (offset + length) - (offset + length) % mmap.PAGESIZE
        if end > start:
            with contextlib.suppress(OSError, ValueError):
                buf.madvise(mmap.MADV_DONTNEED, start, end - start)

    def bytes_at(self, addr: int, size: int) -> bytes:
        off = self.elf.vaddr_to_offset(addr)
        if off is None:
            return b""
        end = min(off + size, self.elf.size)
        return bytes(self.elf.buf[off:end])

    @cached_property
    def owners(self) -> dict[int, tuple[str, str]]:
        """``owner`` of every function, by address (computed once: two checks need it)."""
        return {fn.addr: self.owner(fn) for fn in self.functions}

    def owner(self, fn: Function) -> tuple[str, str]:
        """(kind, name): ``("crate", "std")`` for Rust code, ``("object", "foo.c")`` for a C object named by
        STT_FILE, ``("c++", "llvm")`` for a C++ namespace (Itanium ``_ZN`` without rustc's hash), else
        ``("object", "(unattributed)")``."""
        crate = crate_of(fn.name)
        if crate:
            return "crate", crate
        if fn.file:
            return object_name(fn.file)
        ns = cxx_namespace(fn.name)
        if ns:
            return "c++", ns
        return "object", "(unattributed)"
