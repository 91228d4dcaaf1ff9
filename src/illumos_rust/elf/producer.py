"""Who built this file: rustc version, link-editor (illumos/Solaris ld, GNU ld, gold, lld, mold, Go).

Evidence, strongest first: ``.comment`` strings (rustc writes ``rustc version X``; lld ``Linker: LLD``; the
Solaris link-editor ``ld: ... Solaris Link Editors``), then structural fingerprints: ``DT_SUNW_STRPAD`` and
``DT_SUNW_LDMACH`` are written only by the illumos/Solaris ld (libld ``update.c``), ``.note.go.buildid``
only by the Go linker, ``.note.gnu.gold-version`` only by gold. GNU ld leaves no signature, so it is
inferred last.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from itertools import compress, repeat

from ..bulk import paused_gc
from . import constants as C
from .dynamic import dynamic
from .reader import ElfFile

_RUSTC = re.compile(r"rustc version (\S+)(?: \(([0-9a-f]{7,40})[^)]*\))?")
_RUSTC_PATH = re.compile(rb"/rustc/([0-9a-f]{40})/")
_LEGACY = re.compile(r"^_ZN.*17h[0-9a-f]{16}E(\.[0-9A-Za-z_.$]*)?$")
# A v0 symbol is ``_R`` then an uppercase tag or a decimal (the encoding version) (RFC 2603, "Syntax").
_V0_STARTS = tuple("_R" + c for c in string.ascii_uppercase + string.digits)
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
    }
)


@dataclass(frozen=True)
class Producer:
    linker: str  # "illumos/Solaris ld", "GNU ld", "gold", "lld", "mold", "Go", "unknown"
    linker_evidence: str
    rustc: str | None  # version, e.g. "1.95.0"
    rustc_commit: str | None
    compilers: list[str] = field(default_factory=list)
    is_rust: bool = False
    rust_evidence: str = ""
    mangling: dict[str, int] = field(default_factory=dict)  # "v0", "legacy", "c++" -> symbol count


def mangling_counts(names: list[str]) -> dict[str, int]:
    """Symbols per mangling scheme: ``v0`` (``_R`` + an uppercase tag or digit), Rust ``legacy`` (``_ZN`` with
    the ``17h<16 hex>E`` hash rustc appends, optionally a ``.suffix``), and Itanium ``c++`` (every other
    ``_Z``): a ``_ZN`` name without that hash is C++, as LLVM's are inside librustc_driver.

    Prefix filters through C-level ``map``/``compress``, so that librustc_driver's 186k names cost ~50 ms
    instead of ~150 ms in a Python loop; only the few ``_ZN`` names meet the regular expression.
    """
    starts = str.startswith
    with paused_gc():
        rs = list(compress(names, map(starts, names, repeat("_R"))))
        v0 = sum(map(starts, rs, repeat(_V0_STARTS)))
        zs = list(compress(names, map(starts, names, repeat("_Z"))))
        legacy = sum(1 for n in compress(zs, map(starts, zs, repeat("_ZN"))) if _LEGACY.match(n))
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
    if commit is None or len(commit) < 40:
        ro = elf.section(".rodata")
        if ro is not None and ro.sh_type != C.SHT_NOBITS:
            m2 = _RUSTC_PATH.search(elf.section_data(ro))
            if m2:
                commit = m2.group(1).decode()

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

    compilers = [c.strip() for c in comments if c.startswith(("GCC:", "acomp:", "clang version", "cg:"))]
    compilers += [c.strip() for c in comments if "clang version" in c and c.strip() not in compilers]

    names = elf.symtab.names or elf.dynsym.names + elf.ldynsym.names
    mangling = mangling_counts(names)
    is_rust, why = False, ""
    if rustc:
        is_rust, why = True, f".comment names rustc {rustc}"
    elif ".rustc" in section_names:
        is_rust, why = True, ".rustc metadata section (a Rust dylib)"
    else:
        markers = RUST_MARKERS.intersection(names)
        if markers:
            is_rust, why = True, "Rust runtime symbols: " + ", ".join(sorted(markers)[:3])
        elif mangling.get("v0") or mangling.get("legacy"):
            is_rust, why = True, "Rust-mangled symbols"
    return Producer(linker, evidence, rustc, commit, compilers, is_rust, why, mangling)
