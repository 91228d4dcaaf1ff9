"""Who built this file: rustc version, link-editor (illumos/Solaris ld, GNU ld, gold, lld, mold, Go).

Evidence, strongest first: ``.comment`` strings (rustc writes ``rustc version X``; lld ``Linker: LLD``; the
Solaris link-editor ``ld: ... Solaris Link Editors``), then structural fingerprints: ``DT_SUNW_STRPAD`` and
``DT_SUNW_LDMACH`` are written only by the illumos/Solaris ld (libld ``update.c``), ``.note.go.buildid``
only by the Go linker, ``.note.gnu.gold-version`` only by gold. GNU ld leaves no signature, so it is
inferred last.

Rust, strongest first (issue 11: stripped third-party binaries such as Debian's ripgrep or orjson's Python
extension must be recognised): rustc's ``.comment`` line, the ``.rustc`` metadata section of dylibs, the
producer string in ``.debug_str`` (``clang LLVM (rustc version …)``), the std sources' panic-location paths
in ``.rodata`` (``/rustc/<commit>/library/core/src/…`` from rustup builds, ``/usr/src/rustc-<version>/…``
from distribution builds, ``…/toolchains/<toolchain>/lib/rustlib/src/rust/library/…`` from local ones),
``.debug_gdb_scripts`` loading ``gdb_load_rust_pretty_printers.py``, the runtime's symbols (``rust_panic``,
``rust_begin_unwind``, ``rust_eh_personality``, ``__rust_*``), then the share of Rust-mangled symbols (v0, or
legacy with rustc's ``17h<16 hex>E`` hash: a bare ``_ZN`` name is Itanium C++). Go binaries report their
version and GOOS/GOARCH from ``.go.buildinfo`` (``go_buildinfo.py``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from itertools import compress, repeat

from ..bulk import paused_gc
from . import constants as C
from .dynamic import dynamic
from .reader import ElfFile, Section

_RUSTC = re.compile(r"rustc version (\S+)(?: \(([0-9a-f]{7,40})[^)]*\))?")
_RUSTC_PATH = re.compile(rb"/rustc/([0-9a-f]{40})/")
_LEGACY = re.compile(r"^_ZN.*17h[0-9a-f]{16}E(\.[0-9A-Za-z_.$]*)?$")
# A v0 symbol is ``_R``, an optional decimal (the encoding version), then a path, whose first tag is one of
# C M X Y N I B (RFC 2603, "Syntax of mangled names"): ``_Rb_tree…`` or ``_Rfoo`` are not Rust.
_V0_TAGS = frozenset("CMXYNIB" + string.digits)
_THIRD = slice(2, 3)
# Panic locations of the Rust standard library, compiled into every binary that can panic. Group 1: the
# rustc commit (rustup's remapped prefix), 2: the version (distribution builds from a source tarball),
# 3: a rustup toolchain directory (sources not remapped, e.g. builds against a local toolchain).
_STD_PATH = re.compile(
    rb"(?:/rustc/([0-9a-f]{40})/|/rustc-(\d+\.\d+\.\d+)(?:-src)?/|/toolchains/([\w.+-]{1,100})/lib/rustlib/src/"
    rb"rust/)library/(?:core|std|alloc)/src/"
)
_STD_TAIL = b"library/"
_GDB_RUST = b"gdb_load_rust_pretty_printers.py"
_RUNTIME_PREFIX = "__rust_"
_GO_SECTIONS = frozenset({".note.go.buildid", ".go.buildinfo", ".gopclntab", ".go.module", ".go.fipsinfo"})
RUST_MARKERS = frozenset(
    {
        "rust_eh_personality",
        "__rust_alloc",
        "__rust_dealloc",
        "rust_begin_unwind",
        "__rust_probestack",
        "__rdl_alloc",
        "__rg_alloc",
        "__rust_alloc_error_handler",
        "rust_panic",
    }
)


@dataclass(frozen=True)
class Producer:
    linker: str  # "illumos/Solaris ld", "GNU ld", "gold", "lld", "mold", "Go", "unknown"
    linker_evidence: str
    rustc: str | None  # version, e.g. "1.95.0"
    rustc_commit: str | None  # whole (40 hex digits) when some evidence has it, else .comment's abbreviation
    compilers: list[str] = field(default_factory=list)
    is_rust: bool = False
    rust_evidence: str = ""  # every piece of evidence found, "; "-separated, strongest first
    mangling: dict[str, int] = field(default_factory=dict)  # "v0", "legacy", "c++" -> symbol count
    rust_toolchain: str | None = None  # e.g. "nightly-2022-11-20-x86_64-unknown-linux-gnu", from std paths
    go_version: str | None = None  # e.g. "go1.19.8", from .go.buildinfo
    goos: str | None = None  # GOOS from .go.buildinfo, e.g. "illumos"
    goarch: str | None = None  # GOARCH from .go.buildinfo, e.g. "amd64"

    @property
    def rust_share(self) -> float | None:
        """Rust-mangled symbols as a share of all mangled ones (None when there are none)."""
        rust = self.mangling.get("v0", 0) + self.mangling.get("legacy", 0)
        total = rust + self.mangling.get("c++", 0)
        return rust / total if total else None


def mangling_counts(names: list[str]) -> dict[str, int]:
    """Symbols per mangling scheme: ``v0`` (``_R`` + a path tag or digit), Rust ``legacy`` (``_ZN`` with
    the ``17h<16 hex>E`` hash rustc appends, optionally a ``.suffix``), and Itanium ``c++`` (every other
    ``_Z``): a ``_ZN`` name without that hash is C++, as LLVM's are inside librustc_driver.

    Prefix filters through C-level ``map``/``compress``, so that librustc_driver's 186k names cost ~50 ms
    instead of ~150 ms in a Python loop; only the ``_ZN`` names holding ``17h`` meet the regular expression
    (librustc_driver's ~40k C++ ``_ZN`` names from LLVM do not).
    """
    starts = str.startswith
    with paused_gc():
        rs = list(compress(names, map(starts, names, repeat("_R"))))
        v0 = sum(map(_V0_TAGS.__contains__, map(str.__getitem__, rs, repeat(_THIRD))))
        zs = list(compress(names, map(starts, names, repeat("_Z"))))
        zn = list(compress(zs, map(starts, zs, repeat("_ZN"))))
        # the hash's "17h" must be in the name: a C-level substring test leaves the regex a few names
        hashed = compress(zn, map(str.__contains__, zn, repeat("17h")))
        legacy = sum(1 for n in hashed if _LEGACY.match(n))
    counts = {"v0": v0, "legacy": legacy, "c++": len(zs) - legacy}
    return {k: v for k, v in counts.items() if v}


def identify(elf: ElfFile) -> Producer:
    comments = elf.comment
    section_names = {s.name for s in elf.sections}
    dyn = dynamic(elf)
    tags = {e.tag for e in dyn.entries}

    rustc = commit = None
    for c in comments:
        m = _RUSTC.search(c)
        if m:
            rustc, commit = m.group(1), m.group(2)
    debug_rustc = _debug_producer(elf)
    std = _std_paths(elf)
    if std.commit and (commit is None or std.commit.startswith(commit)):
        commit = std.commit
    if rustc is None and debug_rustc is not None:
        rustc, commit = debug_rustc[0], commit or debug_rustc[1]
    if rustc is None and std.version:
        rustc = std.version

    linker, evidence = _linker(elf, comments, section_names, tags)
    compilers = [c.strip() for c in comments if c.startswith(("GCC:", "acomp:", "clang version", "cg:"))]
    compilers += [c.strip() for c in comments if "clang version" in c and c.strip() not in compilers]

    names = elf.symtab.names or elf.dynsym.names + elf.ldynsym.names
    mangling = mangling_counts(names)
    why = _rust_evidence(elf, comments, section_names, names, mangling, debug_rustc, std)
    go = None
    if section_names & _GO_SECTIONS:
        from .go_buildinfo import go_buildinfo  # only Go binaries pay for its import (a regex, a dataclass)

        go = go_buildinfo(elf)
    return Producer(
        linker,
        evidence,
        rustc,
        commit,
        compilers,
        bool(why),
        "; ".join(why),
        mangling,
        std.toolchain,
        (go.version or None) if go else None,
        go.goos if go else None,
        go.goarch if go else None,
    )


def _linker(elf: ElfFile, comments: list[str], section_names: set[str], tags: set[int]) -> tuple[str, str]:
    linker, evidence = "unknown", "no linker signature"
    for c in comments:
        if "Solaris Link Editors" in c or ("illumos" in c and c.startswith("ld")):
            linker, evidence = "illumos/Solaris ld", f".comment: {c.strip()}"
        elif c.startswith("Linker: LLD"):
            linker, evidence = "lld", f".comment: {c.strip()}"
        elif c.startswith("mold "):
            linker, evidence = "mold", f".comment: {c.strip()}"
    if linker == "unknown":
        if C.DT_SUNW_STRPAD in tags or C.DT_SUNW_LDMACH in tags:
            linker, evidence = "illumos/Solaris ld", "DT_SUNW_STRPAD/DT_SUNW_LDMACH present"
        elif section_names & _GO_SECTIONS:
            found = ", ".join(sorted(section_names & _GO_SECTIONS))
            linker, evidence = "Go", f"Go linker sections: {found}"
        elif ".note.gnu.gold-version" in section_names:
            linker, evidence = "gold", ".note.gnu.gold-version"
        elif elf.header.e_type != C.ET_REL and (
            section_names & {".gnu.version_r", ".gnu.hash", ".note.gnu.build-id", ".note.gnu.property"}
        ):
            linker, evidence = "GNU ld", "GNU sections and no other linker's signature (inferred)"
    return linker, evidence


def _rust_evidence(
    elf: ElfFile,
    comments: list[str],
    section_names: set[str],
    names: list[str],
    mangling: dict[str, int],
    debug_rustc: tuple[str, str | None] | None,
    std: _StdPaths,
) -> list[str]:
    """Every sign of Rust in the file, strongest first (empty: not Rust)."""
    why: list[str] = []
    for c in comments:
        m = _RUSTC.search(c)
        if m:
            why.append(f".comment names rustc {m.group(1)}")
            break
    if ".rustc" in section_names:
        why.append(".rustc metadata section (a Rust dylib)")
    if debug_rustc is not None:
        why.append(f".debug_str producer: rustc {debug_rustc[0]}")
    if std.example:
        why.append(f"Rust standard library paths in read-only data ({std.example})")
    gdb = elf.section(".debug_gdb_scripts")
    if gdb is not None and gdb.file_size and _find(elf, _GDB_RUST, gdb) >= 0:
        why.append(".debug_gdb_scripts loads gdb_load_rust_pretty_printers.py")
    # One C-level prefix pass (every marker starts with "rust_" or "__r"), then exact tests on the few left.
    candidates = set(compress(names, map(str.startswith, names, repeat(("rust_", "__r")))))
    markers = sorted({n for n in candidates if n.startswith(_RUNTIME_PREFIX)} | (RUST_MARKERS & candidates))
    if markers:
        why.append("Rust runtime symbols: " + ", ".join(markers[:3]) + (" …" if len(markers) > 3 else ""))
    rust = mangling.get("v0", 0) + mangling.get("legacy", 0)
    if rust:
        total = rust + mangling.get("c++", 0)
        why.append(
            f"{rust} Rust-mangled symbols (v0 {mangling.get('v0', 0)}, legacy {mangling.get('legacy', 0)}), "
            f"{100 * rust / total:.1f} % of mangled names"
        )
    return why


def _debug_producer(elf: ElfFile) -> tuple[str, str | None] | None:
    """rustc's version (and short commit) from a DW_AT_producer string in ``.debug_str``, if uncompressed."""
    for name in (".debug_str", ".debug_line_str"):
        sec = elf.section(name)
        if sec is None or not sec.file_size or sec.sh_flags & C.SHF_COMPRESSED:
            continue
        i = _find(elf, b"(rustc version ", sec)
        if i >= 0:
            text = bytes(elf.buf[i : min(i + 200, sec.sh_offset + sec.sh_size)]).split(b"\0", 1)[0]
            m = _RUSTC.search(text.decode("utf-8", "replace"))
            if m:
                return m.group(1), m.group(2)
    return None


@dataclass(frozen=True)
class _StdPaths:
    commit: str | None = None
    version: str | None = None
    toolchain: str | None = None
    example: str | None = None  # the matched path, as evidence


def _std_paths(elf: ElfFile) -> _StdPaths:
    """Facts from the standard library's source paths in the read-only data (first few hits)."""
    commit = version = toolchain = example = None
    for sec in _rodata(elf):
        start, end = sec.sh_offset, sec.sh_offset + sec.sh_size
        buf = elf.buf
        pos, seen = start, 0
        while seen < 32:
            hit = buf.find(_STD_TAIL + b"core/src/", pos, end)
            if hit < 0:
                hit = buf.find(_STD_TAIL + b"std/src/", pos, end)
            if hit < 0:
                break
            seen += 1
            window = bytes(buf[max(start, hit - 160) : hit + 32])
            matches = list(_STD_PATH.finditer(window))
            if matches:
                m = matches[-1]
                commit = commit or (m.group(1).decode() if m.group(1) else None)
                version = version or (m.group(2).decode() if m.group(2) else None)
                toolchain = toolchain or (m.group(3).decode() if m.group(3) else None)
                example = example or f"{sec.name}: {m.group(0).decode('utf-8', 'replace')}"
                if commit or version or toolchain:
                    break
            pos = hit + 1
        if example:
            break
    return _StdPaths(commit, version, toolchain, example)


def _find(elf: ElfFile, needle: bytes, sec: Section) -> int:
    """File offset of ``needle`` inside ``sec`` (-1 if absent), searched in place in the mapping."""
    end = sec.sh_offset + sec.sh_size
    if end > elf.size:
        return -1
    return elf.buf.find(needle, sec.sh_offset, end)


def _rodata(elf: ElfFile) -> list[Section]:
    """Read-only data sections: allocated, neither writable nor executable, with file bytes. Not only
    ``.rodata``: BOLT-optimised binaries (librustc_driver) keep their strings in ``.bolt.org.rodata``."""
    return [
        s
        for s in elf.sections
        if s.sh_type == C.SHT_PROGBITS
        and s.is_alloc
        and not s.is_exec
        and not s.sh_flags & C.SHF_WRITE
        and s.file_size
        and s.sh_offset + s.sh_size <= elf.size
    ]
