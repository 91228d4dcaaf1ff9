"""Turn one crate's cfg sites into findings and patch candidates (runs in a worker process).

The question for every site is the one a port asks: *does x86_64-unknown-illumos get what
x86_64-pc-solaris gets here?* Both directions matter:

* true for solaris, false for illumos: a positive list naming solaris without illumos (the classic
  gap: users, fs2, term_size...), or a ``not(..)`` list excluding illumos but not solaris;
* true for illumos, false for solaris: illumos-only code (epoll, eventfd...), or ``not(target_os =
  "solaris")`` generic code that illumos now takes while solaris avoids it.

Whether the crate already mentions illumos anywhere separates a gap (crate never heard of illumos:
warning, patchable by "follow solaris") from a deliberate split (crate handles illumos elsewhere: info).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError
from ..files import open_regular
from ..findings import Finding, Location, Rule, Severity
from ..rust_keywords import KEYWORDS
from . import cfgexpr, modules, oslists, scanner
from .cfgexpr import AnyOf, Atom, Divergence, Evaluator, Expr
from .scanner import BuildTest, FileScan, Site
from .workspace import Crate, read_manifest

RULES = [
    Rule(
        "port/solaris-only",
        "solaris-only-cfg",
        "cfg is true for Solaris but false for illumos",
        'A positive list names target_os = "solaris" without "illumos", or a not(..) list excludes '
        "illumos but not solaris. In a crate that never mentions illumos this is a porting gap.",
        Severity.WARNING,
    ),
    Rule(
        "port/illumos-only",
        "illumos-only-cfg",
        "cfg is true for illumos but false for Solaris",
        'illumos-only code (epoll, eventfd, ...), or generic code behind not(target_os = "solaris") that '
        "illumos takes while Solaris avoids it.",
        Severity.INFO,
    ),
    Rule(
        "port/unknown-cfg-value",
        "unknown-cfg-value",
        "cfg value that no rustc target has (typo or retired target)",
        "The comparison is never true: check-cfg (`unexpected_cfgs`) warns about it too.",
        Severity.WARNING,
    ),
    Rule(
        "port/raw-syscall",
        "raw-syscall",
        "raw syscall under a solarish cfg",
        "illumos syscall numbers are not a stable ABI; an unknown number kills the process with SIGSYS.",
        Severity.ERROR,
    ),
    Rule(
        "port/ioctl-constant",
        "hard-coded-ioctl",
        "hard-coded ioctl request number under a solarish cfg",
        "Use the libc constant; a literal silently breaks if the crate is built for a target it was not "
        "checked on.",
        Severity.WARNING,
    ),
    Rule(
        "port/build-script",
        "build-script-os-test",
        "build script tests the OS string for solaris without illumos",
        'x86_64-unknown-illumos does not contain "solaris", and CARGO_CFG_TARGET_OS is "illumos".',
        Severity.WARNING,
    ),
    Rule(
        "port/not-evaluable",
        "not-evaluable",
        "cfg inside a macro template ($meta): only macro expansion can evaluate it",
        default=Severity.INFO,
    ),
    Rule("port/not-parsed", "not-parsed", "file or cfg could not be parsed", default=Severity.WARNING),
    Rule(
        "port/shared-api",
        "shared-api-branch",
        "Linux/BSD branch using an API illumos shares with Linux/BSD and Solaris lacks (accept4, pipe2, ...)",
        "illumos belongs in this branch, not next to Solaris; the table of such APIs with the libc release "
        "each reached illumos in is port/shared_apis.tsv.",
        Severity.WARNING,
    ),
    Rule(
        "port/probable-gap",
        "probable-gap",
        "a list of ELF/unix platforms that names neither Solaris nor illumos",
        "Reported when the construct is ELF-generic (confidence high, patched) or every libc item the code "
        "uses exists for illumos (medium, not patched): illumos was probably forgotten.",
        Severity.WARNING,
    ),
    Rule(
        "port/linux-branch-fits-illumos",
        "linux-branch-fits-illumos",
        "Linux/BSD-only code whose libc items all exist on illumos, including a Linux-style extension",
        "illumos has epoll, eventfd, accept4, pipe2, preadv... : such code may be the right branch for "
        "illumos, rather than a Solaris one.",
        Severity.INFO,
    ),
]

#: Linux/BSD-style extensions that illumos implements (crate-porting notes, illumos-target.md §6.1);
#: using one is what makes a Linux branch a candidate home for illumos.
EXTENSIONS = frozenset(
    {
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "eventfd",
        "accept4",
        "pipe2",
        "dup3",
        "preadv",
        "pwritev",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime",
        "pthread_attr_get_np",
        "posix_fadvise",
        "syncfs",
        "ptsname_r",
        "F_OFD_GETLK",
        "F_OFD_SETLK",
        "F_OFD_SETLKW",
    }
)

#: Target OS names retired from rustc; a cfg naming them is dead code.
RETIRED_OS = frozenset({"bitrig", "cloudabi", "nacl"})
#: Keys whose values are names, where "this is a target_os value" is a useful hint (not for numbers).
_NAMED_KEYS = frozenset(
    {"target_os", "target_env", "target_arch", "target_vendor", "target_family", "target_abi"}
)
#: OSes whose branch is the natural home for illumos when the Solaris branch cannot be copied.
LINUX_BSD = frozenset({"linux", "android", "freebsd", "dragonfly", "netbsd", "openbsd", "macos", "ios"})


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a worker needs, picklable: the two targets, the keys targets fix, the value universe."""

    base: str  # the target whose behaviour illumos should follow (x86_64-pc-solaris)
    port: str  # the target being ported to (x86_64-unknown-illumos)
    base_atoms: frozenset[tuple[str, str | None]]
    port_atoms: frozenset[tuple[str, str | None]]
    determined: frozenset[str]
    known: dict[str, frozenset[str]]
    base_os: str = "solaris"
    port_os: str = "illumos"


@dataclass(frozen=True, slots=True)
class _Cfg:
    target: str
    atoms: frozenset[tuple[str, str | None]]


def evaluators(ctx: Context) -> tuple[Evaluator, Evaluator]:
    return (
        Evaluator(_Cfg(ctx.base, ctx.base_atoms), ctx.determined),
        Evaluator(_Cfg(ctx.port, ctx.port_atoms), ctx.determined),
    )


@dataclass(slots=True)
class Edit:
    path: str
    start: int
    end: int
    new: str


@dataclass(slots=True)
class Alternative:
    """Add illumos to a sibling cfg_if branch (Linux/BSD) instead of the Solaris one."""

    label: str
    edits: list[Edit]
    needs: frozenset[str]


@dataclass(slots=True)
class Candidate:
    """A proposed edit for one finding; the main process checks ``needs`` against the libc index."""

    finding: int  # index into CrateResult.findings
    group: str
    edits: list[Edit]
    needs: frozenset[str] = frozenset()
    alternatives: list[Alternative] = field(default_factory=list)
    refused: str | None = None  # decided in the worker (syscalls, unverifiable edit)
    describe: str = ""  # what the edit does, for the finding's fix text (default: follow solaris)
    checked: str = ""  # what was checked behind the gate (raw syscalls, module files followed)
    osgroup: str = ""  # file + OS set: the sites that move together when illumos joins an OS list
    fields: frozenset[str] = frozenset()  # struct fields the guarded code touches (type comparison)
    expect: tuple[tuple[str, str, int], ...] = ()  # (libc item, type the code needs, line that says so)
    probable: bool = False  # a probable gap: confidence (and whether to patch) is decided with libc
    elf: bool = False  # the construct is ELF-generic (.init_array link section): strong evidence
    items: frozenset[str] = frozenset()  # names the gated items define (one patch per name per file)


@dataclass(slots=True)
class CrateResult:
    crate: Crate
    findings: list[Finding] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    knows_port: bool = False
    stats: dict[str, int] = field(default_factory=dict)
    hints: list[Hint] = field(default_factory=list)


@dataclass(slots=True)
class Hint:
    """Linux/BSD-only code and the libc items it uses; the parent decides, with the libc index, whether
    illumos has all of them (then illumos may belong in this branch rather than in a Solaris one)."""

    path: str  # as displayed
    line: int
    column: int
    predicate: str
    names: frozenset[str]


# ---------------------------------------------------------------------------------------------- helpers


def _rel(crate: Crate, path: str) -> str:
    rel = os.path.relpath(path, crate.root)
    return rel if crate.display == "." else os.path.join(crate.display, rel)


def _os_atom(a: Atom, os_name: str) -> bool:
    return a.key == "target_os" and a.value == os_name


def _mentions(expr: Expr | None, os_name: str) -> bool:
    return expr is not None and ("target_os", os_name) in cfgexpr.atom_keys(expr)


def _shape(expr: Expr, side_atoms: frozenset[tuple[str, str | None]], other: frozenset[Any]) -> str:
    """``positive`` if an atom only the true side has occurs un-negated; ``exclusion`` if an atom only the
    false side has occurs negated; ``vendor`` when only vendor/other atoms differ."""
    shape = "other"
    for atom, positive, _parent in cfgexpr.atoms_with_polarity(expr):
        if atom.key != "target_os":
            if atom.ident in side_atoms or atom.ident in other:
                shape = "vendor" if shape == "other" else shape
            continue
        if positive and atom.ident in side_atoms:
            return "positive"
        if not positive and atom.ident in other:
            shape = "exclusion"
    return shape


def _evidence(text: str, line: int, site: Site) -> str:
    lines = text.splitlines()
    first = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    span_lines = site.text.count("\n") + 1 if site.text else 1
    if span_lines > 1:
        first += f"  [... {span_lines} lines]"
    ev = first
    if site.kind.startswith("cfg_if") and site.effective is not None:
        ev += f"\neffective: {cfgexpr.to_str(site.effective)}"
    return ev


_SYSCALL = re.compile(
    r"\bsyscall\s*\(\s*(?:(?:::)?libc::)?(SYS_\w+|\d+)|\b(SYS_[a-z]\w*)|\basm!\s*\([^)]*\bsyscall\b"
)
_FN_DEF = re.compile(r"\bfn\s+([A-Za-z_]\w*)")
_FN_BEFORE = re.compile(r"\bfn\s+$")
_IOCTL = re.compile(
    r"\b(?:const|static)\s+((?:TIOC|FIO|SIOC|TC[GS]|I_|_IO)\w*)\s*:\s*[\w:]+\s*=\s*(0x[0-9a-fA-F_]+|\d[\d_]*)"
)
_ITEM = re.compile(
    r"\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:unsafe|async|const|extern\s+\"C\")\s+)*"
    r"(fn|struct|enum|union|type|const|static|mod|trait|impl|use|macro_rules!)\s*([^{;=(<]*)"
)
# No leading \b: a literal first lets sre skip ahead in C; `xlibc::` false hits are harmless here.
_LIBC_PATH = re.compile(r"libc\s*::\s*([A-Za-z_]\w*)")
_LIBC_USE = re.compile(
    r"use\s+(?:::)?libc\s*::\s*(?:\{([^}]*)\}|([A-Za-z_]\w*|\*)(?:\s+as\s+([A-Za-z_]\w*))?)"
)
_LIBC_ALIAS = re.compile(r"\b(?:extern\s+crate|use)\s+(?:::)?libc\s+as\s+([A-Za-z_]\w*)")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_USE_STMT = re.compile(r"\buse\s[^;]{0,2000};")
_USE_AS = re.compile(r"\b([A-Za-z_]\w*)\s+as\s+([A-Za-z_]\w*)")
#: How many call levels the raw-syscall index follows (``a`` calls ``b`` calls ``c`` -> syscall is 2).
MAX_CALL_DEPTH = 4
_LOCAL_DEF = re.compile(r"\b(?:fn|const|static|struct|enum|union|type|mod)\s+(?:mut\s+)?([A-Za-z_]\w*)")
#: Rust keywords (2021 edition, strict and reserved): never libc items, whatever a glob import says.
_FIELD = re.compile(r"\.\s*([A-Za-z_]\w*)\b(?!\s*[(:])")


def libc_imports(file_text: str) -> tuple[dict[str, str], bool]:
    """Local name -> libc item for ``use libc::X``, ``use libc::X as Y`` and ``use libc::{X, Y as Z}``,
    and whether the file glob-imports libc (``use libc::*``)."""
    imported: dict[str, str] = {}
    glob = False
    for group, single, alias in _LIBC_USE.findall(file_text):
        parts = [f"{single} as {alias}" if alias else single] if single else group.split(",")
        for part in parts:
            words = part.split()
            if not words:
                continue
            if words[0] == "*":
                glob = True
            elif words[0] != "self" and _IDENT.fullmatch(words[0]):
                local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
                imported[local] = words[0]
    return imported, glob


def libc_names(file_text: str, body: str) -> tuple[frozenset[str], bool]:
    """libc items ``body`` uses, by their libc names: ``libc::x`` paths (also through ``extern crate libc
    as c``), names the file imports from libc with their local aliases resolved (``use libc::X as Y``:
    a use of ``Y`` is a use of ``X``), and with ``use libc::*`` any identifier the file does not define
    itself (a local ``fn door_call`` shadows the glob, so it is not libc's).

    Returns the names and whether a glob import was involved (then the caller intersects with the libc
    index)."""
    names = set(_LIBC_PATH.findall(body))
    aliases, imported, glob, local = _file_libc_facts(file_text)
    for alias in aliases:
        names.update(re.findall(rf"\b{re.escape(alias)}\s*::\s*([A-Za-z_]\w*)", body))
    if not imported and not glob:
        return frozenset(names), glob
    idents = set(_IDENT.findall(body))
    names.update(imported[i] for i in idents if i in imported)
    if glob:
        names.update(i for i in idents if i not in local and i not in imported and i not in KEYWORDS)
    return frozenset(names), glob


@functools.lru_cache(maxsize=16)
def _file_libc_facts(file_text: str) -> tuple[list[str], dict[str, str], bool, frozenset[str]]:
    """Per-file facts :func:`libc_names` needs for every site of the file, computed once per file
    (a str caches its hash, so the lookup costs nothing after the first)."""
    imported, glob = libc_imports(file_text) if "libc" in file_text else ({}, False)
    local = frozenset(_LOCAL_DEF.findall(file_text)) if glob else frozenset()
    aliases = _LIBC_ALIAS.findall(file_text) if "libc" in file_text else []
    return aliases, imported, glob, local


def field_names(body: str) -> frozenset[str]:
    """Field accesses (``x.st_mtime``, not method calls) in ``body``: struct fields whose type differs
    between the targets only matter if the code touches them."""
    return frozenset(_FIELD.findall(body))


def _item_key(text: str, start: int) -> str | None:
    m = _ITEM.match(text, start)
    if not m:
        return None
    return f"{m.group(1)} {' '.join(m.group(2).split())}"


# ---------------------------------------------------------------------------------------------- edits


def _add_os_edits(site: Site, base_os: str, port_os: str, file_text: str) -> list[Edit] | None:
    """Edits that make every ``target_os = base_os`` of the site's own predicate also accept port_os.

    Inside an ``any(..)`` list the new atom is inserted after the old one with the list's own separator
    (so a one-per-line list stays one-per-line); anywhere else the atom becomes ``any(old, new)``. The new
    atom copies the old one's spelling (spaces around ``=``), only the OS name changes.
    """
    if site.expr is None:
        return None
    off = site.pred_span[0]
    edits: list[Edit] = []
    for atom, _positive, parent in cfgexpr.atoms_with_polarity(site.expr):
        if not _os_atom(atom, base_os):
            continue
        src = site.text[atom.span[0] : atom.span[1]]
        if f'"{base_os}"' not in src:
            return None  # escaped or raw-string spelling: do not guess
        new_atom = src.replace(f'"{base_os}"', f'"{port_os}"')
        if isinstance(parent, AnyOf):
            idx = next(i for i, it in enumerate(parent.items) if it.span == atom.span and it == atom)
            if len(parent.items) > 1:
                a, b = (idx, idx + 1) if idx + 1 < len(parent.items) else (idx - 1, idx)
                sep = site.text[parent.items[a].span[1] : parent.items[b].span[0]]
                if "/" in sep or "," not in sep:
                    sep = ", "
            else:
                sep = ", "
            edits.append(Edit(site.path, off + atom.span[1], off + atom.span[1], sep + new_atom))
        else:
            edits.append(Edit(site.path, off + atom.span[0], off + atom.span[1], f"any({src}, {new_atom})"))
    return edits or None


def _append_os_edit(site: Site, port_os: str) -> list[Edit] | None:
    """Add ``target_os = port_os`` to a sibling branch's predicate (top-level ``any`` or wrap)."""
    if site.expr is None:
        return None
    off = site.pred_span[0]
    expr = site.expr
    if isinstance(expr, AnyOf) and expr.items:
        last = expr.items[-1]
        sep = site.text[expr.items[-2].span[1] : expr.items[-1].span[0]] if len(expr.items) > 1 else ", "
        if "/" in sep or "," not in sep:
            sep = ", "
        return [Edit(site.path, off + last.span[1], off + last.span[1], f'{sep}target_os = "{port_os}"')]
    body = site.text.strip()
    lead = len(site.text) - len(site.text.lstrip())
    return [
        Edit(
            site.path,
            off + lead,
            off + lead + len(body),
            f'any({body}, target_os = "{port_os}")',
        )
    ]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits; an identical edit proposed twice (a site diverging in both
    directions yields two candidates) is applied once, and an overlapping one is dropped."""
    out = []
    last = 0
    done: set[tuple[int, int, str]] = set()
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if (e.start, e.end, e.new) in done or e.start < last:
            continue
        done.add((e.start, e.end, e.new))
        out.append(text[last : e.start])
        out.append(e.new)
        last = e.end
    out.append(text[last:])
    return "".join(out)


def _verify_adds_port(site: Site, edits: list[Edit], ev_a: Evaluator, ev_b: Evaluator) -> bool:
    """An edit adding the port OS to an OS list: the new predicate parses, the base target's answer is
    unchanged, and the port target's answer changes (it now follows the list's OSes)."""
    if site.expr is None:
        return False
    try:
        new = cfgexpr.parse(
            apply_edits(site.text, _relative(edits, site.pred_span[0])), multi=site.kind == "cfg_if"
        )
    except cfgexpr.CfgParseError:
        return False
    return ev_a.eval(new) == ev_a.eval(site.expr) and ev_b.eval(new) != ev_b.eval(site.expr)


def _verify_predicate(new_text: str, ev_a: Evaluator, ev_b: Evaluator, *, multi: bool) -> bool:
    try:
        expr = cfgexpr.parse(new_text, multi=multi)
    except cfgexpr.CfgParseError:
        return False
    return not cfgexpr.divergence(expr, ev_a, ev_b).any


# ---------------------------------------------------------------------------------------------- crate


NUL = b"\0"


def _read(path: str) -> tuple[str | None, str | None]:
    """Text of a source file, or why it cannot be a Rust source (rustc requires UTF-8, and NUL bytes mean
    a binary file that happens to end in .rs)."""
    try:
        with open_regular(path) as fh:  # a FIFO named *.rs would block a plain open(2) forever
            data = fh.read()
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    except FormatError as exc:
        return None, exc.what
    if NUL in data:
        return None, f"binary file (NUL byte at offset {data.index(NUL)})"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"


@dataclass(slots=True)
class _Files:
    """The crate's texts and cfg sites by path, read on demand for module files outside the scan."""

    scans: dict[str, tuple[FileScan, str]] = field(default_factory=dict)
    root: str = ""  # the crate root: module files outside it are not followed
    bodies: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # (path, offset) -> range
    _active: dict[tuple[str, str], str] = field(default_factory=dict)
    _syscall_fns: dict[str, tuple[str, int, int, str]] | None = None
    via: dict[str, str] = field(default_factory=dict)  # indexed name -> call chain to the syscall
    #: Both targets: a syscall in code neither compiles (its own cfgs are false for both) is not indexed.
    evs: tuple[Evaluator, ...] = ()

    def syscall_fns(self) -> dict[str, tuple[str, int, int, str]]:
        """Issue 16 review (3): functions of this crate whose body makes a raw syscall, by name ->
        (file, offset, line, source line of the syscall). A gate whose code *calls* (or re-exports) one of
        them admits that syscall as surely as one written inline. Built once, from files that mention
        ``syscall``/``SYS_`` at all; a name defined twice keeps its first raw-syscall body."""
        if self._syscall_fns is None:
            out: dict[str, tuple[str, int, int, str]] = {}
            for path, (_fs, text) in list(self.scans.items()):
                if not path.endswith(".rs") or ("syscall" not in text and "SYS_" not in text):
                    continue
                hits = list(_SYSCALL.finditer(text))
                if not hits:
                    continue
                found = [(m.start(), m.end(), m.group(1)) for m in _FN_DEF.finditer(text)]
                starts = [f[0] for f in found]
                ranges: dict[int, int] = {}  # fn index -> end of its item (computed on demand)
                # a syscall-making function's `{` body holds the syscall (a declaration such as
                # `extern { fn syscall(..); }` does not). A syscall in code that neither target
                # compiles (rustix's android-only `preadv64`, same name as the libc one) cannot be
                # reached from a gate port widens; one under a Solaris-only cfg can (rand#637)
                acts = [self.active(path, ev) for ev in self.evs] or [text]
                for sm in hits:
                    if all(act[sm.start()] != text[sm.start()] for act in acts):
                        continue
                    line, src = _line_of(text, sm.start())
                    if src.startswith("//"):
                        continue
                    # the fn defined last before the syscall, and the fns enclosing that one, as long
                    # as they enclose the syscall (item ranges only for these: a file's other fns cost
                    # nothing, where every fn of every syscall-mentioning file used to be measured)
                    k = bisect.bisect_right(starts, sm.start()) - 1
                    while k >= 0:
                        if k not in ranges:
                            try:
                                ranges[k] = scanner.item_range(text, found[k][0])[1]
                            except scanner.LexError:
                                ranges[k] = found[k][0]
                        if sm.start() >= ranges[k] or "{" not in text[found[k][1] : sm.start()]:
                            break
                        out.setdefault(found[k][2], (path, sm.start(), line, src))
                        k -= 1
            if out:
                self._transitive(out)
            self._syscall_fns = out
        return self._syscall_fns

    def _transitive(self, out: dict[str, tuple[str, int, int, str]]) -> None:
        """Issue 16 (2): follow calls transitively within the crate, by name and bounded
        (:data:`MAX_CALL_DEPTH` rounds): a function whose body calls an indexed one is indexed too,
        pointing at the same syscall, and ``use a::b::name as alias`` makes ``alias`` a name of it.
        ``via`` keeps the chain (``outer -> inner``) for the message. Only files that name an indexed
        function are read again, so crates without raw syscalls (nearly all) pay nothing."""
        via = self.via
        for name in out:
            via.setdefault(name, name)
        texts = [text for path, (_fs, text) in self.scans.items() if path.endswith(".rs")]
        # Per file, computed once and only for files that use an indexed name: where each fn is
        # defined, and the `use .. as ..` renames. While the index is small a regex of its names finds
        # the uses fastest (libc: 1 name, 200 files); once it is large (winit: 400 names) every
        # identifier of a file is listed once and filtered (a 400-name alternation per round cost 2 s).
        defs: dict[int, tuple[list[int], list[str]]] = {}
        renames: dict[int, list[tuple[str, str]]] = {}
        idents: dict[int, list[tuple[int, str]]] = {}
        ends: dict[tuple[int, int], int] = {}  # (text, fn offset) -> end of the fn item
        wanted: set[str] | None = None
        for _ in range(MAX_CALL_DEPTH):
            added: dict[str, tuple[str, int, int, str]] = {}
            few = None
            if len(out) <= 16:
                few = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, out))) + r")\b")
            for ti, text in enumerate(texts):
                if few is not None:
                    occ = [(m.start(), m.group()) for m in few.finditer(text)]
                else:
                    if wanted is None:  # names that can ever join the index: fns and renames
                        wanted = {n for t in texts for n in _FN_DEF.findall(t)}
                        wanted |= {a.group(2) for t in texts if " as " in t for a in _USE_AS.finditer(t)}
                    if ti not in idents:
                        idents[ti] = [
                            (m.start(), m.group()) for m in _IDENT.finditer(text) if m.group() in wanted
                        ]
                    occ = [(pos, name) for pos, name in idents[ti] if name in out]
                if not occ:
                    continue
                if ti not in renames:
                    renames[ti] = [
                        (a.group(1), a.group(2))
                        for u in _USE_STMT.finditer(text)
                        for a in _USE_AS.finditer(u.group())
                    ]
                for a, b in renames[ti]:
                    if a in out and b not in out and b not in added:
                        added[b] = out[a]
                        via[b] = f"{b} (use .. {a} as {b}) -> {via[a]}"
                if ti not in defs:
                    found = [(m.end(), m.group(1)) for m in _FN_DEF.finditer(text)]
                    defs[ti] = ([f[0] for f in found], [f[1] for f in found])
                starts, fnames = defs[ti]
                # each use of an indexed name belongs to the fn defined last before it, if it lies
                # inside that fn's item (item ranges are computed only for fns that hold such a use)
                for pos, name in occ:
                    k = bisect.bisect_right(starts, pos) - 1
                    if k < 0:
                        continue
                    fname = fnames[k]
                    if fname in out or fname in added or fname == name:
                        continue
                    end = ends.get((ti, starts[k]))
                    if end is None:
                        try:
                            end = scanner.item_range(text, starts[k])[1]
                        except scanner.LexError:
                            end = starts[k]
                        ends[(ti, starts[k])] = end
                    if pos < end:
                        added[fname] = out[name]
                        via[fname] = f"{fname} -> {via[name]}"
            if not added:
                return
            out.update(added)

    def calls_syscall_fn(self, text: str, lo: int, hi: int) -> tuple[str, tuple[str, int, int, str]] | None:
        """The first crate function with a raw syscall that ``text[lo:hi]`` calls or names (``use``),
        other than its own definitions (``fn name``)."""
        index = self.syscall_fns()
        if not index:
            return None
        for m in _IDENT.finditer(text, lo, hi):
            hit = index.get(m.group())
            if hit is None or _FN_BEFORE.search(text, max(lo, m.start() - 8), m.start()):
                continue
            if hit[0] in self.scans and lo <= hit[1] < hi and self.scans[hit[0]][1] is text:
                continue  # the syscall sits inside this range: the inline check reports it
            return m.group(), hit
        return None

    def read(self, path: str) -> str | None:
        hit = self.scans.get(path)
        if hit is not None:
            return hit[1]
        text, _why = _read(path)
        if text is not None:
            self.scans[path] = (scanner.scan_rust(path, text), text)
        return text

    def active(self, path: str, ev: Evaluator) -> str:
        """The file's text with the code ``ev``'s target does not compile blanked out (its own cfgs)."""
        key = (path, ev.cfg.target)
        if key not in self._active:
            fs, text = self.scans[path]
            chars = list(text)
            for s in fs.sites:
                expr = s.decisive
                if expr is None or s.kind not in ("cfg", "cfg_if", "cfg_if-else", "inner-cfg"):
                    continue
                if ev.eval(expr) is not False:
                    continue
                rng = _body(s, text)
                if rng is not None:
                    chars[rng[0] : rng[1]] = " " * (rng[1] - rng[0])
            self._active[key] = "".join(chars)
        return self._active[key]


@dataclass(slots=True)
class GateCheck:
    """What sits behind a gate: the first raw syscall (file, line, source) and the libc items used in
    the module files it admits, and which module files were followed."""

    syscall: tuple[str, int, str] | None
    names: frozenset[str]
    files: list[str]
    call: str | None = None  # the crate function through which the syscall is reached, if not inline

    def statement(self) -> str:
        via = f", module files followed: {', '.join(self.files)}" if self.files else ""
        return f"checked behind the gate: no raw syscall{via}"


def _gate_range(site: Site, text: str) -> tuple[int, int] | None:
    """The code a site decides about; for ``mod_use!(cfg(..), a, b)`` the macro's other arguments."""
    if site.kind == "macro-arg":
        o = scanner.enclosing_open(text, site.offset)
        if o < 0:
            return None
        try:
            return (site.attr_end, scanner.group_end(text, o) - 1)
        except scanner.LexError:
            return None
    return _body(site, text)


def _gate_modules(site: Site, text: str, files: _Files) -> list[modules.Reached]:
    rng = _gate_range(site, text)
    if rng is None:
        return []
    if site.kind == "macro-arg":
        start = modules.macro_modules(site.path, text, rng[0], rng[1])
    else:
        at = site.offset if site.kind in ("cfg", "cfg_attr") else None
        start = modules.declared(site.path, text, rng[0], rng[1], attr_at=at)
    start += [f for f in modules.included(site.path, text, rng[0], rng[1]) if f not in start]
    if not start:
        return []
    return modules.follow([(f, site.path) for f in start], files.read, files.root or None)


def _line_of(text: str, pos: int) -> tuple[int, str]:
    line = text.count("\n", 0, pos) + 1
    ls = text.rfind("\n", 0, pos) + 1
    le = text.find("\n", pos)
    return line, text[ls : le if le >= 0 else len(text)].strip()


def check_gate(crate: Crate, site: Site, text: str, files: _Files, ev: Evaluator) -> GateCheck:
    """Raw syscalls and libc items behind ``site``: in its own guarded code, then in every module file
    the gate admits (followed through ``mod`` declarations, each file's own cfgs evaluated for ``ev``)."""
    hit: tuple[str, int, str] | None = None
    rng = _gate_range(site, text)
    if rng is not None:
        for m in _SYSCALL.finditer(text, rng[0], rng[1]):
            line, src = _line_of(text, m.start())
            if not src.startswith("//"):
                hit = (_rel(crate, site.path), line, src)
                break
    names: set[str] = set()
    followed: list[str] = []
    for r in _gate_modules(site, text, files):
        followed.append(_rel(crate, r.path))
        if r.text is None:
            continue
        act = files.active(r.path, ev)
        if hit is None:
            for m in _SYSCALL.finditer(act):
                line, src = _line_of(r.text, m.start())
                if not src.startswith("//"):
                    hit = (_rel(crate, r.path), line, src)
                    break
        names.update(libc_names(act, act)[0])
        names.update(extern_fns(act))
    call: str | None = None
    if hit is None and rng is not None:
        reached = files.calls_syscall_fn(text, rng[0], rng[1])
        if reached is not None:
            call, (cpath, _off, cline, csrc) = files.via.get(reached[0], reached[0]), reached[1]
            hit = (_rel(crate, cpath), cline, csrc)
    if rng is not None:
        names.update(extern_fns(text, rng[0], rng[1]))
    return GateCheck(hit, frozenset(names), followed, call)


_EXTERN_BLOCK = re.compile(r'extern\s*(?:"C"\s*)?\{')
_EXTERN_FN = re.compile(r"\bfn\s+([A-Za-z_]\w*)")


def extern_fns(text: str, lo: int = 0, hi: int | None = None) -> set[str]:
    """Functions a crate declares itself in ``extern "C" { .. }`` blocks: declaring ``door_call`` by
    hand is still a Solaris-only item (the libc index says which names are), just not through libc."""
    out: set[str] = set()
    end = len(text) if hi is None else hi
    for m in _EXTERN_BLOCK.finditer(text, lo, end):
        try:
            close = scanner.group_end(text, m.end() - 1)
        except scanner.LexError:
            continue
        out.update(_EXTERN_FN.findall(text, m.end(), min(close, end)))
    return out


def analyze_crate(crate: Crate, ctx: Context) -> CrateResult:
    """Scan and classify one crate. Never raises for bad input: it becomes ``port/not-parsed``."""
    manifest: tuple[str, dict[str, Any] | None, str | None] | None = None
    if crate.manifest:
        mtext, why = _read(crate.manifest)
        if mtext is None:
            manifest = ("", None, why or "unreadable")
        else:
            try:
                manifest = (mtext, tomllib.loads(mtext), None)
            except tomllib.TOMLDecodeError as exc:
                manifest = (mtext, None, f"not valid TOML: {exc}")
    read_manifest(crate, manifest[1] if manifest and manifest[1] is not None else {})
    res = CrateResult(crate)
    ev_a, ev_b = evaluators(ctx)
    stats = res.stats
    scans: list[tuple[FileScan, str]] = []
    findings = res.findings
    for path in crate.files:
        text, why = _read(path)
        stats["files"] = stats.get("files", 0) + 1
        if text is None:
            findings.append(_not_parsed(crate, path, None, why or "unreadable"))
            continue
        stats["bytes"] = stats.get("bytes", 0) + len(text)
        fs = scanner.scan_rust(path, text)
        if fs.error:
            findings.append(_not_parsed(crate, path, fs.error_line, fs.error))
        scans.append((fs, text))
    if crate.manifest and manifest is not None:
        mtext, mdata, why = manifest
        if why is not None or mdata is None:
            findings.append(_not_parsed(crate, crate.manifest, None, why or "unreadable"))
        else:
            fs = scanner.scan_manifest(crate.manifest, mtext, mdata)
            scans.append((fs, mtext))
    build_tests: list[tuple[BuildTest, str]] = []
    if crate.build_script and os.path.isfile(crate.build_script):
        btext, why = _read(crate.build_script)
        if btext is not None:
            tests, err = scanner.scan_build_script(crate.build_script, btext)
            build_tests = [(t, btext) for t in tests]
            if err:
                findings.append(_not_parsed(crate, crate.build_script, None, err))

    knows = any(_mentions(s.expr, ctx.port_os) for fs, _ in scans for s in fs.sites) or any(
        ctx.port_os in t.value for t, _ in build_tests
    )
    res.knows_port = knows
    files = _Files({fs.path: (fs, text) for fs, text in scans}, crate.root)
    files.evs = (ev_a, ev_b)
    for fs, text in scans:
        for site in fs.sites:
            stats["sites"] = stats.get("sites", 0) + 1
            _site(res, crate, ctx, ev_a, ev_b, site, text, knows, files)
    _syscalls(res, crate, ctx, ev_a, ev_b, scans, files)
    _chain_alternatives(res, crate, ctx, ev_a, ev_b, scans)
    reported = oslists.scan(res, crate, ctx, ev_a, ev_b, files)
    _linux_hints(res, crate, ctx, ev_b, scans, reported)
    for test, text in build_tests:
        _build_test(res, crate, ctx, test, text, knows)
    return res


def _not_parsed(crate: Crate, path: str, line: int | None, why: str) -> Finding:
    return Finding(
        "port/not-parsed",
        Severity.WARNING,
        Location(_rel(crate, path), line),
        f"not parsed: {why}",
        properties={"crate": crate.label},
    )


def _site(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    site: Site,
    text: str,
    knows: bool,
    files: _Files,
) -> None:
    if site.error is None and (site.expr is None or not _has_bad_value(ctx, site.expr)):
        expr0 = site.decisive
        if expr0 is None or not cfgexpr.divergence(expr0, ev_a, ev_b).any:
            return  # the common case: nothing to report, so build no location or properties
    loc = Location(_rel(crate, site.path), site.line, site.column)
    props: dict[str, Any] = {"crate": crate.label, "crate_knows_illumos": knows, "site": site.kind}
    if site.error is not None:
        if site.macro:
            res.findings.append(
                Finding(
                    "port/not-evaluable",
                    Severity.INFO,
                    loc,
                    f"cfg in a macro template is not evaluable without expansion: {site.error}",
                    evidence=text.splitlines()[site.line - 1].strip()
                    if site.line <= text.count("\n") + 1
                    else "",
                    properties=props,
                )
            )
        else:
            res.findings.append(
                Finding(
                    "port/not-parsed",
                    Severity.WARNING,
                    loc,
                    f"cfg not parsed: {site.error}",
                    properties=props,
                )
            )
        return
    if site.expr is not None:
        _unknown_values(res, crate, ctx, site, text, props)
    expr = site.decisive
    if expr is None:
        return
    div = cfgexpr.divergence(expr, ev_a, ev_b)
    if not div.any:
        return
    own = (
        cfgexpr.divergence(site.expr, ev_a, ev_b) if site.expr is not None else Divergence(False, False, True)
    )
    inherited = not own.any
    loc, props = _predicate_location(crate, ctx, site, text, loc, props)
    a_only_atoms = ev_a.true_atoms - ev_b.true_atoms
    b_only_atoms = ev_b.true_atoms - ev_a.true_atoms
    props = {**props, "predicate": cfgexpr.to_str(expr), "exact": div.exact}
    for direction in ("a", "b"):
        if not (div.a_only if direction == "a" else div.b_only):
            continue
        if direction == "a":
            shape = _shape(expr, a_only_atoms, b_only_atoms)
            rule = "port/solaris-only"
            what = f"true for {ctx.base}, false for {ctx.port}"
            gap = shape == "positive"
        else:
            shape = _shape(expr, b_only_atoms, a_only_atoms)
            rule = "port/illumos-only"
            what = f"true for {ctx.port}, false for {ctx.base}"
            gap = shape == "exclusion"
        if inherited:
            how = (
                f"{ctx.port_os} reaches this cfg_if branch differently from {ctx.base_os} "
                "because of an earlier branch"
            )
        elif shape == "positive":
            names = ctx.base_os if direction == "a" else ctx.port_os
            other = ctx.port_os if direction == "a" else ctx.base_os
            how = f'lists target_os = "{names}" without "{other}"'
        elif shape == "exclusion":
            ex = ctx.port_os if direction == "a" else ctx.base_os
            other = ctx.base_os if direction == "a" else ctx.port_os
            how = f'excludes target_os = "{ex}" but not "{other}"'
        else:
            how = "differs through target_vendor or another target key"
        # per-site judgment only where illumos *loses* what Solaris gets; illumos taking generic code that
        # Solaris avoids is what crates that know illumos do on purpose (it has more APIs than Solaris)
        sibling = _port_sibling(ctx, site, files, text) if knows and direction == "a" else None
        twin = (
            _solaris_twin(ctx, ev_a, ev_b, site, files, text)
            if knows and direction == "b" and gap and not inherited
            else None
        )
        if twin is not None:
            severity = Severity.WARNING
            status = (
                f"crate handles {ctx.port_os} elsewhere, but its Solaris twin at line {twin.line} is a "
                f"porting gap: when {ctx.port_os} joins that one it must leave this one"
            )
        elif knows and (sibling is not None or not gap or inherited or direction == "b"):
            severity = Severity.INFO
            status = (
                f"deliberate: {sibling}"
                if sibling
                else f"crate already handles {ctx.port_os} elsewhere: probably deliberate"
            )
        elif knows:
            severity = Severity.WARNING
            status = (
                f"crate handles {ctx.port_os} elsewhere, but no {ctx.port_os} case sits with this site: "
                "porting gap"
            )
        elif gap and not inherited:
            severity = Severity.WARNING
            status = f"crate never mentions {ctx.port_os}: porting gap"
        else:
            severity = Severity.INFO
            status = f"crate never mentions {ctx.port_os}"
        message = f"cfg {how}: {what} ({status})"
        if crate.build_script and os.path.abspath(site.path) == os.path.abspath(crate.build_script):
            message += "; in a build script cfg describes the host, not the target: test CARGO_CFG_TARGET_OS"
        p = {**props, "direction": f"{ctx.base_os}-only" if direction == "a" else f"{ctx.port_os}-only"}
        p["shape"] = "inherited" if inherited else shape
        res.findings.append(Finding(rule, severity, loc, message, _evidence(text, site.line, site), "", p))
        if severity is Severity.WARNING and not inherited and _mentions(site.expr, ctx.base_os):
            _candidate(res, crate, ctx, ev_a, ev_b, site, text, direction == "a", files)


_MATCH_HEAD = re.compile(r"\bmatch\b[^;{}]*$")


def _arm_group(text: str, site: Site) -> tuple[int, bool] | None:
    """The bracket group enclosing the cfg at ``site`` and whether it is a list of arms (a ``match``
    body, a ``( .. )``/``[ .. ]`` list); None at item level, where a neighbouring cfg gates an
    unrelated item (issue 16 review (4))."""
    o = scanner.enclosing_open(text, site.offset)
    if o < 0:
        return None
    arms = text[o] in "([" or (text[o] == "{" and bool(_MATCH_HEAD.search(text, max(0, o - 200), o)))
    return o, arms


def _same_attr_run(text: str, site: Site, other: Site) -> bool:
    """Are both one-line ``#[cfg(..)] item`` entries of one unbroken run of such lines (termios's per-OS
    ``#[cfg(target_os = "x")] pub mod x;`` table)? Such a run is one choice, not unrelated items."""
    lo, hi = sorted((site.line, other.line))
    if hi - lo > 64:
        return False
    lines = text.splitlines()[lo - 1 : hi]
    return len(lines) == hi - lo + 1 and all(ln.lstrip().startswith("#[cfg(") for ln in lines)


def _same_arms(text: str, site: Site, other: Site) -> bool:
    """Are ``site`` and ``other`` alternatives of one choice: arms of the same match/list, or cfg'd
    statements/blocks (not named items) of the same block, like sys-info's per-OS ``{ .. }`` tails?"""
    g = _arm_group(text, site)
    if g is None or _arm_group(text, other) != g:
        return False
    if g[1]:
        return True
    return not (site.attr_end and _item_key(text, site.attr_end)) and not (
        other.attr_end and _item_key(text, other.attr_end)
    )


def _solaris_twin(
    ctx: Context, ev_a: Evaluator, ev_b: Evaluator, site: Site, files: _Files, text: str
) -> Site | None:
    """The Solaris half of a ``#[cfg(any(solaris, X))] {..} #[cfg(not(any(solaris, X)))] {..}`` pair.

    Found by the de-porting experiment (sys-info's ``cpu_num``): in a crate that knows illumos, an
    exclusion that lets illumos take the generic code is usually deliberate, but not when its twin (a
    positive list of some of the excluded OSes, in the same block or defining the same item: one arm of
    the choice this exclusion is the fallback of) is itself a Solaris-only gap
    with no illumos case of its own: patching the twin alone would give illumos both halves (two tail
    blocks, or an item defined twice)."""
    entry = files.scans.get(site.path)
    if entry is None or site.expr is None:
        return None
    oses = {a.value for a in cfgexpr.atoms(site.expr) if a.key == "target_os"}
    name = oslists.item_name(text, site)
    for s in entry[0].sites:
        if s is site or s.expr is None or s.chain is not None or _mentions(s.expr, ctx.port_os):
            continue
        if not {a.value for a in cfgexpr.atoms(s.expr) if a.key == "target_os"} <= oses:
            continue
        if not _mentions(s.expr, ctx.base_os) or not cfgexpr.divergence(s.expr, ev_a, ev_b).a_only:
            continue
        if (_same_arms(text, site, s) or (name is not None and name == oslists.item_name(text, s))) and (
            _port_sibling(ctx, s, files, text) is None
        ):
            return s
    return None


def _port_sibling(ctx: Context, site: Site, files: _Files, text: str) -> str | None:
    """Issue 16 (4): in a crate that knows illumos, a Solaris-only site is deliberate only when an
    illumos case belongs to *it*: its own predicate names illumos, a branch of the same cfg_if chain
    does, a cfg on another definition of the same item does, or an arm of the same match/list does.
    Never by mere proximity (review (4): an unrelated illumos item a few lines away hid real gaps).
    Otherwise it is a gap like any other. Returns what was found, or None."""
    port = ctx.port_os
    if _mentions(site.expr, port):
        return f"the predicate itself names {port}"
    entry = files.scans.get(site.path)
    sites = entry[0].sites if entry else []
    if site.chain is not None:
        for s in sites:
            if s.chain == site.chain and s is not site and _mentions(s.expr, port):
                return f"the cfg_if branch at line {s.line} handles {port}"
    key = _item_key(text, site.attr_end) if site.kind in ("cfg", "cfg_attr") and site.attr_end else None
    for s in sites:
        if s is site or not _mentions(s.expr, port):
            continue
        if key and s.kind in ("cfg", "cfg_attr") and s.attr_end and _item_key(text, s.attr_end) == key:
            return f"the {key} at line {s.line} is the {port} version"
        # in the same match/list, only an illumos-specific arm (illumos without solaris) is this site's
        # alternative; an any(solaris, illumos) arm says nothing about this one
        if _mentions(s.expr, ctx.base_os):
            continue
        if _same_arms(text, site, s) or _same_attr_run(text, site, s):
            return f"the cfg at line {s.line} handles {port}"
        name = oslists.item_name(text, site)
        if name is not None and name == oslists.item_name(text, s):
            return f"the cfg at line {s.line} defines `{name}` for {port}"
    return None


def _predicate_location(
    crate: Crate, ctx: Context, site: Site, text: str, loc: Location, props: dict[str, Any]
) -> tuple[Location, dict[str, Any]]:
    """Issue 16 (6): a finding points at the ``target_os`` predicate that decides, not at the first line
    of a multi-line attribute; the attribute's own line span goes into the properties."""
    if site.kind == "cargo-target" or site.expr is None or site.pred_span == (0, 0):
        return loc, props
    atoms = [a for a in cfgexpr.atoms(site.expr) if a.key == "target_os"]
    pick = next((a for a in atoms if a.value in (ctx.base_os, ctx.port_os)), atoms[0] if atoms else None)
    end = max(site.attr_end, site.pred_span[1])
    span = [site.line, text.count("\n", 0, end) + 1]
    props = {**props, "attribute_lines": span}
    if pick is None:
        return loc, props
    at = site.pred_span[0] + pick.span[0]
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return Location(loc.path, line, col), props


_BAD: dict[tuple[str, str | None], bool] = {}


def _bad_value(ctx: Context, key: str, value: str | None) -> bool:
    """Is ``key = "value"`` a comparison no target can satisfy (memoised per process)?"""
    hit = _BAD.get((key, value))
    if hit is None:
        hit = (
            value is not None and key != "target_feature" and key in ctx.known and value not in ctx.known[key]
        )
        _BAD[(key, value)] = hit
    return hit


def _has_bad_value(ctx: Context, expr: Expr) -> bool:
    return any(_bad_value(ctx, k, v) for k, v in cfgexpr.atom_keys(expr))


def _unknown_values(
    res: CrateResult, crate: Crate, ctx: Context, site: Site, text: str, props: dict[str, Any]
) -> None:
    assert site.expr is not None
    for atom in cfgexpr.atoms(site.expr):
        if atom.value is None or not _bad_value(ctx, atom.key, atom.value):
            continue
        values = ctx.known[atom.key]
        hints: list[str] = []
        if atom.key == "target_os" and atom.value in RETIRED_OS:
            hints.append("a target OS rustc no longer has")
        close = difflib.get_close_matches(atom.value, sorted(values), n=1, cutoff=0.7)
        if close:
            hints.append(f'did you mean "{close[0]}"?')
        elsewhere = sorted(
            k for k, v in ctx.known.items() if atom.value in v and k != atom.key and k in _NAMED_KEYS
        )
        if elsewhere:
            hints.append(f'"{atom.value}" is a {elsewhere[0]} value')
        hint = "; ".join(hints)
        if site.kind == "cargo-target":
            loc, evidence = Location(_rel(crate, site.path), site.line), site.text
        else:
            at = site.pred_span[0] + atom.span[0]
            line = text.count("\n", 0, at) + 1
            col = at - (text.rfind("\n", 0, at) + 1) + 1
            loc, evidence = Location(_rel(crate, site.path), line, col), text.splitlines()[line - 1].strip()
        res.findings.append(
            Finding(
                "port/unknown-cfg-value",
                Severity.WARNING,
                loc,
                f'{atom.key} = "{atom.value}" is never true: no rustc target has it'
                + (f" ({hint})" if hint else ""),
                evidence=evidence,
                properties={**props, "key": atom.key, "value": atom.value},
            )
        )


def _candidate(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    site: Site,
    text: str,
    gains: bool,
    files: _Files,
) -> None:
    """A "follow solaris" edit for this site. ``gains``: illumos newly compiles the guarded code, so the
    libc items it uses must exist for illumos."""
    finding = len(res.findings) - 1
    edits = _add_os_edits(site, ctx.base_os, ctx.port_os, text)
    if site.kind == "cargo-target":
        group = f"{site.path}:{site.line}"
        if site.pred_span == (0, 0):
            edits = None  # found through tomllib only: no exact span to rewrite
        if edits:
            new = scanner_key(apply_edits(site.text, _relative(edits, site.pred_span[0])), site, text)
            edits = [Edit(site.path, site.pred_span[0], site.pred_span[1], new)] if new is not None else None
    if not edits:
        res.candidates.append(
            Candidate(finding, f"{site.path}:{site.line}", [], refused="no safe textual edit")
        )
        return
    if site.kind != "cargo-target":
        new_pred = apply_edits(site.text, _relative(edits, site.pred_span[0]))
        if not _verify_predicate(new_pred, ev_a, ev_b, multi=site.kind == "cfg_if"):
            res.candidates.append(
                Candidate(
                    finding, f"{site.path}:{site.line}", [], refused="the edited cfg would still differ"
                )
            )
            return
    needs: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    expect: tuple[tuple[str, str, int], ...] = ()
    checked = ""
    refused = None
    if gains and site.kind != "cargo-target":
        body = _gate_range(site, text)
        if body is not None:
            needs, _glob = libc_names(text, text[body[0] : body[1]])
            fields = field_names(text[body[0] : body[1]])
        gc = check_gate(crate, site, text, files, ev_b)
        needs |= gc.names
        if body is not None:
            flag = _bitflag(text, site, body)
            if flag is not None:
                needs |= {flag[0]}
                expect = (flag,)
        checked = gc.statement()
        if gc.syscall is not None:
            where, line, src = gc.syscall
            through = f" (reached through module files {', '.join(gc.files)})" if gc.files else ""
            if gc.call is not None:
                through += f" (reached through a call to {gc.call})"
            refused = (
                f"the gate admits code that makes a raw syscall at {where}:{line} `{src}`{through}; "
                f"illumos syscall numbers are not a stable ABI: port that code to the libc wrapper by hand"
            )
    elif not gains:
        checked = (
            f"the edit narrows the gate: {ctx.port_os} stops compiling this code, nothing new is behind it"
        )
    elif site.kind == "cargo-target":
        checked = f"a Cargo.toml target table: {ctx.port_os} gets the same dependencies, no code behind it"
    if site.chain is not None:
        group = f"{site.path}#chain{site.chain}#{site.branch}"
    elif site.kind in ("cfg", "cfg_attr") and site.attr_end:
        key = _item_key(text, site.attr_end)
        group = f"{site.path}#{key}" if key else f"{site.path}:{site.line}"
    else:
        group = f"{site.path}:{site.line}"
    item = oslists.item_name(text, site)
    res.candidates.append(
        Candidate(
            finding,
            group,
            edits,
            needs,
            refused=refused,
            checked=checked,
            osgroup=_osgroup(site),
            fields=fields,
            expect=expect,
            items=frozenset([item]) if item else frozenset(),
        )
    )


_ATTRS_COMMENTS = re.compile(r"#\s*!?\s*\[[^\]]*\]|//[^\n]*")
_BARE_ITEM = re.compile(r"\s*([A-Z_][A-Z0-9_]*)\s*[;,]?\s*$")
_FLAGS_TYPE = re.compile(
    r"\b(libc_bitflags|bitflags)\s*!\s*[({][^;]*?\bstruct\s+\w+\s*:\s*(?:(?:::)?libc\s*::\s*)?(\w+)"
)


def _bitflag(text: str, site: Site, body: tuple[int, int]) -> tuple[str, str, int] | None:
    """A bare ``IFF_FOO;`` entry of nix's ``libc_bitflags!`` (which expands to ``const IFF_FOO =
    libc::IFF_FOO;`` in a set of the declared type): the libc constant must have exactly that type.
    Returns (name, the set's type, line of the set's declaration)."""
    item = _ATTRS_COMMENTS.sub(" ", text[body[0] : body[1]])
    m = _BARE_ITEM.fullmatch(item)
    if m is None:
        return None
    o = text.rfind("libc_bitflags!", 0, site.offset)
    if o < 0:
        return None
    t = _FLAGS_TYPE.match(text, o)
    if t is None or t.group(1) != "libc_bitflags":
        return None
    return m.group(1), t.group(2), text.count("\n", 0, o) + 1


def _osgroup(site: Site) -> str:
    """File and OS set of a predicate: sites sharing both are alternatives of one platform split."""
    oses = (
        sorted(a.value or "" for a in cfgexpr.atoms(site.expr) if a.key == "target_os") if site.expr else []
    )
    return f"{site.path}#os:{','.join(oses)}"


def scanner_key(new_pred: str, site: Site, text: str) -> str | None:
    """Re-render a Cargo.toml target key with its original quoting."""
    quote = text[site.pred_span[0] - 1]
    value = f"cfg({new_pred})"
    if quote == "'":
        return None if "'" in value else value
    return scanner.toml_escape(value)


def _relative(edits: list[Edit], base: int) -> list[Edit]:
    return [Edit(e.path, e.start - base, e.end - base, e.new) for e in edits]


def _body(site: Site, text: str) -> tuple[int, int] | None:
    if site.body is not None:
        return site.body
    if site.kind == "inner-cfg":
        return (site.attr_end, len(text))
    if site.kind in ("cfg", "cfg_attr") and site.attr_end:
        try:
            return scanner.item_range(text, site.attr_end)
        except scanner.LexError:
            return None
    return None


def _syscalls(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    scans: list[tuple[FileScan, str]],
    files: _Files,
) -> None:
    """Raw syscalls and literal ioctl numbers in code only a solarish target compiles, including module
    files such a gate admits (``#[cfg(target_os = "solaris")] mod imp;``, ``mod_use!(cfg(..), imp)``)."""
    in_modules: set[tuple[str, int]] = set()
    first = len(res.findings)
    _syscall_sites(res, crate, ctx, ev_a, ev_b, scans, files, in_modules)
    # one raw-syscall finding per line, however many gates (inline, module, call) reach it
    kept: set[tuple[str, int | None]] = set()
    out = res.findings[:first]
    for f in res.findings[first:]:
        key = (f.location.path, f.location.line)
        if f.rule == "port/raw-syscall" and key in kept:
            continue
        if f.rule == "port/raw-syscall":
            kept.add(key)
        out.append(f)
    res.findings[:] = out


def _syscall_sites(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    scans: list[tuple[FileScan, str]],
    files: _Files,
    in_modules: set[tuple[str, int]],
) -> None:
    for fs, text in scans:
        seen: set[int] = set()
        for site in fs.sites:
            expr = site.decisive
            if expr is None or site.kind in ("cargo-target", "cfg_attr", "cfg!"):
                continue
            if not (_mentions(expr, ctx.base_os) or _mentions(expr, ctx.port_os)):
                continue
            if ev_a.eval(expr) is False and ev_b.eval(expr) is False:
                continue
            _module_syscalls(
                res, crate, ev_a if ev_a.eval(expr) is not False else ev_b, site, text, files, in_modules
            )
            if site.kind == "macro-arg":
                continue
            body = _body(site, text)
            if body is None:
                continue
            _called_syscall(res, crate, site, text, body, files, in_modules)
            for rx, rule in ((_SYSCALL, "port/raw-syscall"), (_IOCTL, "port/ioctl-constant")):
                for m in rx.finditer(text, body[0], body[1]):
                    if m.start() in seen:
                        continue
                    seen.add(m.start())
                    inner = _innermost(fs.sites, text, body[0], m.start())
                    guard = expr
                    if inner is not None and inner.decisive is not None:
                        ie = guard = inner.decisive
                        if ev_a.eval(ie) is False and ev_b.eval(ie) is False:
                            continue  # a nested cfg for other OSes (the Linux value next to the Solaris one)
                    line = text.count("\n", 0, m.start()) + 1
                    src = text.splitlines()[line - 1].strip()
                    if src.startswith("//"):
                        continue
                    if rule == "port/raw-syscall":
                        msg = (
                            f"raw syscall under cfg({cfgexpr.to_str(guard)}): syscall numbers are private to "
                            "illumos and differ from Solaris; call the libc wrapper instead"
                        )
                        sev = Severity.ERROR
                    else:
                        msg = (
                            f"hard-coded ioctl request {m.group(1)} = {m.group(2)} under "
                            f"cfg({cfgexpr.to_str(guard)}); prefer libc::{m.group(1)}"
                        )
                        sev = Severity.WARNING
                    res.findings.append(
                        Finding(
                            rule,
                            sev,
                            Location(_rel(crate, fs.path), line),
                            msg,
                            evidence=src,
                            properties={
                                "crate": crate.label,
                                "crate_knows_illumos": res.knows_port,
                                "cfg_line": site.line,
                            },
                        )
                    )


def _called_syscall(
    res: CrateResult,
    crate: Crate,
    site: Site,
    text: str,
    body: tuple[int, int],
    files: _Files,
    seen: set[tuple[str, int]],
) -> None:
    """Issue 16 review (3): a raw syscall in a crate function the solarish-gated code calls (even when
    that function itself is ungated) is reported where it is, once."""
    reached = files.calls_syscall_fn(text, body[0], body[1])
    if reached is None:
        return
    name, (path, off, line, src) = reached
    if (path, off) in seen:
        return
    seen.add((path, off))
    gate = cfgexpr.to_str(site.decisive) if site.decisive is not None else "?"
    chain = files.via.get(name, name)
    res.findings.append(
        Finding(
            "port/raw-syscall",
            Severity.ERROR,
            Location(_rel(crate, path), line),
            f"raw syscall in {chain}, which code under cfg({gate}) at {_rel(crate, site.path)}:{site.line} "
            "calls: syscall numbers are private to illumos and differ from Solaris; call the libc wrapper "
            "instead",
            evidence=src,
            properties={
                "crate": crate.label,
                "crate_knows_illumos": res.knows_port,
                "cfg_line": site.line,
                "via_call": name,
            },
        )
    )


def _module_syscalls(
    res: CrateResult,
    crate: Crate,
    ev: Evaluator,
    site: Site,
    text: str,
    files: _Files,
    seen: set[tuple[str, int]],
) -> None:
    """Raw syscalls in the module files a solarish gate admits, reported where they are."""
    for r in _gate_modules(site, text, files):
        if r.text is None:
            continue
        act = files.active(r.path, ev)
        for m in _SYSCALL.finditer(act):
            if (r.path, m.start()) in seen:
                continue
            seen.add((r.path, m.start()))
            line, src = _line_of(r.text, m.start())
            if src.startswith("//"):
                continue
            gate = cfgexpr.to_str(site.decisive) if site.decisive is not None else "?"
            res.findings.append(
                Finding(
                    "port/raw-syscall",
                    Severity.ERROR,
                    Location(_rel(crate, r.path), line),
                    f"raw syscall in a module admitted by cfg({gate}) at "
                    f"{_rel(crate, site.path)}:{site.line}: "
                    "syscall numbers are private to illumos and differ from Solaris; call the libc wrapper "
                    "instead",
                    evidence=src,
                    properties={
                        "crate": crate.label,
                        "crate_knows_illumos": res.knows_port,
                        "cfg_line": site.line,
                        "via": _rel(crate, r.via),
                    },
                )
            )


#: Names libc declares for illumos but not Solaris (crate-porting notes, libc 0.2.139), used only to pick
#: which files are worth a closer look; the parent re-checks every hint against the real libc index.
_ILLUMOS_ONLY_HINTS = (
    "eventfd",
    "EFD_",
    "preadv",
    "pwritev",
    "F_OFD_",
    "F_FLOCK",
    "MADV_PURGE",
    "TCP_CONGESTION",
)
_EXT_NAMES = EXTENSIONS | {h for h in _ILLUMOS_ONLY_HINTS if not h.endswith("_")}
_EXT_PREFIXES = tuple(h for h in _ILLUMOS_ONLY_HINTS if h.endswith("_"))


def _extension_uses(text: str) -> list[int]:
    """Offsets where the file uses a Linux-style extension through libc: ``libc::eventfd`` paths, and the
    bare name when the file imports it from libc. Found from ``libc::`` hits (fast) rather than by
    searching every identifier."""
    if "libc" not in text:
        return []
    ext = _EXT_NAMES
    uses = [
        m.start()
        for m in _LIBC_PATH.finditer(text)
        if m.group(1) in ext or m.group(1).startswith(_EXT_PREFIXES)
    ]
    imported = {
        local for local, n in libc_imports(text)[0].items() if n in ext or n.startswith(_EXT_PREFIXES)
    }
    if imported:
        rx = re.compile(r"\b(?:" + "|".join(sorted(imported)) + r")\b")
        uses.extend(m.start() for m in rx.finditer(text))
        uses.sort()
    return uses


def _linux_hints(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_b: Evaluator,
    scans: list[tuple[FileScan, str]],
    reported: set[tuple[str, int]],
) -> None:
    """Code guarded by a positive Linux/BSD list that leaves illumos out and uses a Linux-style extension:
    each use is attributed to the innermost such cfg, which is reported with the libc items it uses."""
    linuxish = {("target_os", o) for o in LINUX_BSD}
    for fs, text in scans:
        uses = _extension_uses(text)
        if not uses:
            continue
        owner: dict[int, tuple[Site, tuple[int, int]]] = {}
        for site in fs.sites:
            expr = site.decisive
            if expr is None or site.kind not in ("cfg", "cfg_if", "inner-cfg"):
                continue
            start = site.body[0] if site.body is not None else site.attr_end
            if start > uses[-1]:
                continue
            keys = cfgexpr.atom_keys(expr)
            if keys.isdisjoint(linuxish) or ("target_os", ctx.port_os) in keys:
                continue
            if ev_b.eval(expr) is not False:
                continue
            if not any(p and a.ident in linuxish for a, p, _ in cfgexpr.atoms_with_polarity(expr)):
                continue
            body = _body(site, text)
            if body is None:
                continue
            for pos in uses[bisect.bisect_left(uses, body[0]) : bisect.bisect_left(uses, body[1])]:
                if pos not in owner or owner[pos][0].offset < site.offset:
                    owner[pos] = (site, body)
        for site, body in owner.values():
            if (site.path, site.offset) in reported:
                continue
            reported.add((site.path, site.offset))
            names, _glob = libc_names(text, text[body[0] : body[1]])
            if names and site.decisive is not None:
                res.hints.append(
                    Hint(_rel(crate, site.path), site.line, site.column, cfgexpr.to_str(site.decisive), names)
                )


def _innermost(sites: list[Site], text: str, lo: int, pos: int) -> Site | None:
    """The last cfg site between ``lo`` and ``pos`` whose guarded code contains ``pos``."""
    best: Site | None = None
    for s in sites:
        if not lo <= s.offset < pos or s.kind not in ("cfg", "cfg_if", "cfg_if-else", "inner-cfg"):
            continue
        rng = _body(s, text)
        if rng is not None and rng[0] <= pos < rng[1]:
            best = s
    return best


def _chain_alternatives(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    scans: list[tuple[FileScan, str]],
) -> None:
    """For every Solaris cfg_if branch candidate, the Linux/BSD sibling branches illumos could join instead
    (checked in the main process against libc if the Solaris branch itself fails the libc check)."""
    by_chain: dict[tuple[str, int], list[Site]] = {}
    texts: dict[str, str] = {}
    for fs, text in scans:
        texts[fs.path] = text
        for s in fs.sites:
            if s.chain is not None:
                by_chain.setdefault((fs.path, s.chain), []).append(s)
    for cand in res.candidates:
        if "#chain" not in cand.group or not cand.needs:
            continue
        path, rest = cand.group.split("#chain", 1)
        chain, branch = (int(x) for x in rest.split("#"))
        sites = by_chain.get((path, chain), [])
        text = texts[path]
        for sib in sites:
            if sib.branch == branch or sib.expr is None or sib.kind != "cfg_if":
                continue
            oses = {a.value for a in cfgexpr.atoms(sib.expr) if a.key == "target_os"}
            if not oses & LINUX_BSD or ctx.base_os in oses:
                continue
            edits = _append_os_edit(sib, ctx.port_os)
            if not edits:
                continue
            # illumos must actually land in the sibling once it is edited: every earlier branch false
            new_text = apply_edits(sib.text, _relative(edits, sib.pred_span[0]))
            try:
                new_expr = cfgexpr.parse(new_text, multi=True)
            except cfgexpr.CfgParseError:
                continue
            earlier = [s for s in sites if s.branch < sib.branch and s.expr is not None]
            if ev_b.eval(new_expr) is not True or any(
                ev_b.eval(e.expr) is not False for e in earlier if e.expr
            ):
                continue
            body = sib.body or (0, 0)
            needs, _ = libc_names(text, text[body[0] : body[1]])
            label = f"{_rel(crate, path)}:{sib.line} cfg({' '.join(sib.text.split())})"
            cand.alternatives.append(Alternative(label, edits, needs))


_CONTAINS = re.compile(
    r"((?:[A-Za-z_]\w*)(?:\s*\.\s*[A-Za-z_]\w*(?:\(\))?)*)\s*\.\s*(contains|starts_with|ends_with)\s*\(\s*$"
)
_EQ_LEFT = re.compile(r"((?:[A-Za-z_]\w*)(?:\s*\.\s*[A-Za-z_]\w*(?:\(\))?)*)\s*==\s*$")


def _build_test(
    res: CrateResult, crate: Crate, ctx: Context, test: BuildTest, text: str, knows: bool
) -> None:
    """A string naming solaris in build.rs, with no illumos test next to it."""
    if ctx.base_os not in test.value or ctx.port_os in test.value:
        return
    lo = text.rfind("\n", 0, max(0, test.offset - 1))
    for _ in range(3):
        lo = text.rfind("\n", 0, max(0, lo))
    hi = test.end
    for _ in range(4):
        nxt = text.find("\n", hi + 1)
        hi = len(text) if nxt < 0 else nxt
    if ctx.port_os in text[max(0, lo) : hi]:
        return
    loc = Location(_rel(crate, test.path), test.line, test.column)
    before = text[max(0, test.offset - 200) : test.offset]
    after = text[test.end : test.end + 40]
    edit: Edit | None = None
    kind = "string"
    m = _CONTAINS.search(before)
    if m and test.value in (ctx.base_os, f"-{ctx.base_os}") and after.lstrip().startswith(")"):
        recv = m.group(1)
        start = test.offset - (len(before) - m.start())
        close = test.end + after.index(")") + 1
        old = text[start:close]
        new = f'{old} || {recv}.{m.group(2)}("{test.value.replace(ctx.base_os, ctx.port_os)}")'
        if not (re.search(r"\bif\s*$", text[:start]) and re.match(r"\s*\{", text[close:])):
            new = f"({new})"  # keep precedence inside a larger expression
        edit, kind = Edit(test.path, start, close, new), "triple-test"
    elif test.value == ctx.base_os and re.match(r"\s*(=>|\|)", after):
        edit, kind = Edit(test.path, test.end, test.end, f' | "{ctx.port_os}"'), "match-arm"
    elif test.value == ctx.base_os and (m2 := _EQ_LEFT.search(before)):
        start = test.offset - (len(before) - m2.start())
        old = text[start : test.end]
        edit, kind = (
            Edit(test.path, start, test.end, f'({old} || {m2.group(1)} == "{ctx.port_os}")'),
            "comparison",
        )
    msg = (
        f'build script tests for "{test.value}" with no {ctx.port_os} case nearby: the {ctx.port} triple '
        f'does not contain "{ctx.base_os}" and CARGO_CFG_TARGET_OS is "{ctx.port_os}"'
    )
    res.findings.append(
        Finding(
            "port/build-script",
            Severity.WARNING if not knows else Severity.INFO,
            loc,
            msg,
            evidence=test.context.strip(),
            properties={"crate": crate.label, "crate_knows_illumos": knows, "shape": kind},
        )
    )
    idx = len(res.findings) - 1
    if edit is not None and not knows:
        what = (
            f"also accept {ctx.port_os}: `{edit.new.strip()}` (see --patch); a build-script string test: "
            "it gates build steps (link flags), no Rust code sits behind it"
        )
        res.candidates.append(Candidate(idx, f"{test.path}:{test.line}", [edit], describe=what))


__all__ = [
    "EXTENSIONS",
    "RULES",
    "Alternative",
    "Candidate",
    "Context",
    "CrateResult",
    "Edit",
    "Hint",
    "analyze_crate",
    "apply_edits",
    "evaluators",
    "libc_names",
]
