"""Sites that name *neither* solarish OS: Linux/BSD branches and long unix OS lists (issue 16, 2 and 3).

Human porters change two kinds of such sites:

* a Linux/BSD branch whose code uses an API illumos shares with Linux/BSD but Solaris lacks (``accept4``,
  ``pipe2``, ``epoll_*``, ... the table in ``shared_apis.tsv``), also through wrapper macros such as
  ``syscall!(accept4(..))``: illumos belongs *in that branch* (and out of the Solaris fallback), not next
  to Solaris (``port/shared-api``, a gap);
* a list of ELF/unix platforms (``any(linux, android, freebsd, netbsd, ...)``) guarding code that is
  ELF-generic (``.init_array`` link sections) or whose libc items illumos has: illumos was probably just
  forgotten (``port/probable-gap``, with a confidence).

In both cases the edit adds ``target_os = "illumos"`` next to an OS of the list, in *every* site of the
file with the same OS list (positive and ``not(..)``), so the split stays consistent: the items that move
together are defined once. The parent checks libc, raw syscalls and module files behind every positive
site before proposing it (see ``engine.decide``).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from ..findings import Finding, Location, Severity
from . import cfgexpr, shared_apis
from .cfgexpr import Evaluator

if TYPE_CHECKING:
    from .analysis import Candidate, Context, CrateResult, Edit, _Files
    from .scanner import Site
    from .workspace import Crate

#: unix-like target_os values whose lists are "the ELF/unix platforms" (rustc --print target-list, 1.95).
UNIX_OSES = frozenset(
    {
        "linux",
        "android",
        "freebsd",
        "dragonfly",
        "netbsd",
        "openbsd",
        "macos",
        "ios",
        "tvos",
        "watchos",
        "visionos",
        "haiku",
        "fuchsia",
        "emscripten",
        "redox",
        "hurd",
        "aix",
        "nto",
        "horizon",
        "vita",
        "espidf",
        "l4re",
        "cygwin",
        "nuttx",
    }
)
BSD = frozenset({"freebsd", "dragonfly", "netbsd", "openbsd"})
#: Sections whose meaning is the ELF gABI's, so an item placed there works the same on illumos.
_ELF_SECTION = re.compile(r"""link_section\s*=\s*"\.(init_array|fini_array|preinit_array|ctors|dtors)""")
_COMPILE_ERROR = re.compile(r"\s*compile_error\s*!")
_ATTRS = re.compile(r"(?:\s*#\s*\[[^\]]*\])*")
# errno location functions per libc: glibc/musl `__errno_location`, FreeBSD/macOS `__error`, Net/OpenBSD
# and Android `__errno`; illumos and Solaris have `___errno` (libc src/unix/solarish/mod.rs)
_ERRNO_FN = re.compile(r"\b(__errno_location|__error|__errno)\b")


def _errno_table(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_b: Evaluator,
    by_set: dict[frozenset[str], list[Site]],
    text: str,
    done: set[tuple[str, int]],
) -> None:
    """Review (5): per-OS arms naming the errno location function, none for solaris/illumos (no
    ``___errno`` in the file): illumos cannot get errno through this code. A probable gap with high
    confidence, but no patch: none of the existing arms' functions exists on illumos, it needs its own
    arm calling ``___errno``."""
    from .analysis import _gate_range, _predicate_location, _rel

    if "___errno" in text or "__err" not in text:
        return
    arms: list[tuple[Site, str]] = []
    for group in by_set.values():
        for site in group:
            if site.decisive is None or ev_b.eval(site.decisive) is not False:
                continue
            rng = _gate_range(site, text)
            m = _ERRNO_FN.search(text, rng[0], rng[1]) if rng is not None else None
            if m is not None:
                arms.append((site, m.group(1)))
    union = frozenset().union(*(os_set(t) for t, _ in arms)) if arms else frozenset()
    if len(union & UNIX_OSES) < 3 or not union & (BSD | {"macos", "ios"}):
        return  # a Linux/Android-only pair (parking_lot's linux.rs): a Linux module, not a unix table
    arms.sort(key=lambda a: a[0].offset)
    site = arms[0][0]
    for t, _ in arms:
        done.add((site.path, t.offset))
    fns = sorted({fn for _, fn in arms})
    loc = Location(_rel(crate, site.path), site.line, site.column)
    props: dict[str, Any] = {
        "crate": crate.label,
        "crate_knows_illumos": res.knows_port,
        "site": site.kind,
        "predicate": cfgexpr.to_str(site.decisive) if site.decisive is not None else "",
        "same_list_sites": [t.line for t, _ in arms],
        "class": "probable gap",
        "confidence": "high",
        "construct": "errno location table",
        "patch": "not proposed",
    }
    loc, props = _predicate_location(crate, ctx, site, text, loc, props)
    res.findings.append(
        Finding(
            "port/probable-gap",
            Severity.WARNING,
            loc,
            f"errno location table with arms for {', '.join(fns)} (lines "
            f"{', '.join(str(t.line) for t, _ in arms)}) but none for {ctx.base_os} or {ctx.port_os}: "
            f"{ctx.port_os} was probably left out",
            text.splitlines()[site.line - 1].strip() if site.line <= text.count("\n") + 1 else "",
            f"no automatic patch: none of {', '.join(fns)} exists on {ctx.port_os}; add an arm for "
            f'target_os = "{ctx.port_os}" (and "{ctx.base_os}") calling ___errno '
            "(libc src/unix/solarish/mod.rs)",
            props,
        )
    )


def os_atoms(expr: cfgexpr.Expr) -> list[tuple[cfgexpr.Atom, bool]]:
    return [(a, pos) for a, pos, _p in cfgexpr.atoms_with_polarity(expr) if a.key == "target_os"]


def os_set(site: Site) -> frozenset[str]:
    if site.expr is None:
        return frozenset()
    return frozenset(v or "" for k, v in cfgexpr.atom_keys(site.expr) if k == "target_os")


def scan(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_a: Evaluator,
    ev_b: Evaluator,
    files: _Files,
) -> set[tuple[str, int]]:
    """Add ``port/shared-api`` and ``port/probable-gap`` findings with their candidates; returns the
    offsets of the sites reported (so the weaker Linux-branch hint is not given twice)."""
    from .analysis import (
        Candidate,
        _add_os_edits,
        _bitflag,
        _gate_range,
        _port_sibling,
        _predicate_location,
        _rel,
        _verify_adds_port,
        check_gate,
        libc_names,
    )

    done: set[tuple[str, int]] = set()
    elf_done: dict[str, list[Site]] = {}  # ELF link-section sites reported, per file
    for path, (fs, text) in list(files.scans.items()):
        if path.endswith(".toml") or "target_os" not in text:
            continue
        by_set: dict[frozenset[str], list[Site]] = {}
        for s in fs.sites:
            if s.expr is not None and s.kind in ("cfg", "cfg_attr", "cfg_if", "inner-cfg"):
                oses = os_set(s)
                if oses and ctx.base_os not in oses and ctx.port_os not in oses:
                    by_set.setdefault(oses, []).append(s)
        _errno_table(res, crate, ctx, ev_b, by_set, text, done)
        for oses, group in by_set.items():
            if not oses & (UNIX_OSES - {"macos", "ios"}):
                continue
            for site in group:
                if _guard(res, crate, ctx, ev_b, site, text, oses, group, files):
                    done.add((path, site.offset))
                    continue
                if (
                    (path, site.offset) in done
                    or site.decisive is None
                    or ev_b.eval(site.decisive) is not False
                ):
                    continue
                positives = [a.value for a, pos in os_atoms(site.expr) if pos] if site.expr else []
                if not positives:
                    continue
                elf = site.kind == "cfg_attr" and bool(
                    _ELF_SECTION.search(text, site.pred_span[1], site.attr_end)
                )
                if site.kind == "cfg" and site.attr_end:
                    # review (5): #[cfg(list)] #[link_section = ".init_array"] static: the same evidence
                    attrs = _ATTRS.match(text, site.attr_end)
                    elf = attrs is not None and bool(_ELF_SECTION.search(text, site.attr_end, attrs.end()))
                if site.kind == "cfg_attr" and not elf:
                    continue  # cfg_attr(.., doc = ..) and the like gate no code
                if elf and any(_attr_run(text, site, other) for other in elf_done.get(path, [])):
                    # ctor's one-OS-per-line `#[cfg_attr(target_os = "x", link_section = ".init_array")]`
                    # run: illumos joins one line of it, not every line (duplicate attributes)
                    done.add((path, site.offset))
                    continue
                apis = _apis_used(text, site) or _module_apis(text, site, files)
                broad = len(oses & UNIX_OSES) >= 3 and bool(oses & BSD)
                if not apis and not elf and not broad:
                    continue
                if res.knows_port and _port_sibling(ctx, site, files, text) is not None:
                    continue
                if _enclosed_off(files, path, text, site, ev_b):
                    continue  # inside code illumos never compiles (net2's Socket::new): nothing to add
                anchor = _anchor(site, ctx)
                if anchor is None:
                    continue
                # every same-list site of the file moves together: positives gain illumos, not(..) lose it
                edits: list[Edit] = []
                needs: set[str] = set(apis)
                checked: list[str] = []
                refused: str | None = None
                gaining = [t for t in group if t.decisive is not None and ev_b.eval(t.decisive) is False]
                if len(gaining) > MAX_GROUP:
                    shown = ", ".join(str(t.line) for t in gaining[:8]) + (
                        ", ..." if len(gaining) > 8 else ""
                    )
                    refused = (
                        f"{len(gaining)} sites of this file share this OS list (lines {shown}): "
                        f"which of them {ctx.port_os} should join is a porter's decision"
                    )
                clash = None if refused else _clash(text, fs.sites, group, ev_b)
                if clash is not None:
                    refused = clash
                for twin in group if refused is None else []:
                    e = _add_os_edits(twin, anchor, ctx.port_os, text)
                    if not e or not _verify_adds_port(twin, e, ev_a, ev_b):
                        refused = f"the same OS list at line {twin.line} cannot be edited safely"
                        break
                    edits.extend(e)
                    if twin.decisive is None or ev_b.eval(twin.decisive) is not False:
                        continue  # illumos reaches this code today (a not(..) twin): it only loses it
                    rng = _gate_range(twin, text)
                    if rng is not None:
                        needs |= libc_names(text, text[rng[0] : rng[1]])[0]
                        # a bare `libc_bitflags!` entry is a libc item too (nix's MSG_CMSG_CLOEXEC
                        # shares SOCK_NONBLOCK's OS list but is not declared for illumos)
                        flag = _bitflag(text, twin, rng) if twin.kind == "cfg" else None
                        if flag is not None:
                            needs.add(flag[0])
                    gc = check_gate(crate, twin, text, files, ev_b)
                    needs |= gc.names
                    checked.extend(gc.files)
                    if gc.syscall is not None:
                        where, line, src = gc.syscall
                        refused = (
                            f"the code behind this OS list makes a raw syscall at {where}:{line} `{src}`; "
                            "illumos syscall numbers are not a stable ABI"
                        )
                        break
                for twin in group:
                    done.add((path, twin.offset))
                loc = Location(_rel(crate, site.path), site.line, site.column)
                props = {
                    "crate": crate.label,
                    "crate_knows_illumos": res.knows_port,
                    "site": site.kind,
                    "predicate": cfgexpr.to_str(site.decisive),
                    "same_list_sites": [t.line for t in group],
                }
                loc, props = _predicate_location(crate, ctx, site, text, loc, props)
                evidence = (
                    text.splitlines()[site.line - 1].strip() if site.line <= text.count("\n") + 1 else ""
                )
                if apis:
                    facts = []
                    for n in apis:
                        api = shared_apis.by_name()[n]
                        since = f"libc {api.libc}" if api.libc else "no libc release yet"
                        facts.append(f"{n} (illumos: {api.illumos}; {since}; Solaris: {api.solaris})")
                    rule = "port/shared-api"
                    message = (
                        f"cfg({cfgexpr.to_str(site.decisive)}) leaves {ctx.port_os} out, but the code uses "
                        f"{', '.join(facts)}: an API {ctx.port_os} shares with Linux/BSD and Solaris lacks "
                        f"or got late, so {ctx.port_os} belongs in this branch (and out of the fallback)"
                    )
                    props["apis"] = apis
                    props["class"] = "gap"
                    confidence = "high"
                else:
                    rule = "port/probable-gap"
                    what = "an ELF-generic link section" if elf else "code"
                    message = (
                        f"cfg({cfgexpr.to_str(site.decisive)}) lists {len(oses)} unix platforms but neither "
                        f"{ctx.base_os} nor {ctx.port_os}, around {what}: {ctx.port_os} was probably left out"
                    )
                    props["class"] = "probable gap"
                    confidence = "high" if elf else "pending"  # medium/low once libc is checked
                    if _COMPILE_ERROR.match(text, site.attr_end or 0):
                        props["construct"] = "compile_error! guard"
                props["confidence"] = confidence
                res.findings.append(Finding(rule, Severity.WARNING, loc, message, evidence, "", props))
                if elf and refused is None:
                    elf_done.setdefault(path, []).append(site)
                lines = ", ".join(str(t.line) for t in group)
                res.candidates.append(
                    Candidate(
                        len(res.findings) - 1,
                        f"{path}#oslist:{','.join(sorted(oses))}",
                        edits if refused is None else [],
                        frozenset(needs),
                        refused=refused,
                        describe=(
                            f'add target_os = "{ctx.port_os}" next to "{anchor}" in the {len(group)} '
                            f"site(s) of this file with this OS list (lines {lines})"
                        ),
                        checked="checked behind the gate: no raw syscall"
                        + (f", module files followed: {', '.join(sorted(set(checked)))}" if checked else ""),
                        probable=rule == "port/probable-gap",
                        elf=elf,
                        items=frozenset(
                            item
                            for t in group
                            if t.decisive is not None
                            and ev_b.eval(t.decisive) is False
                            and (item := item_name(text, t)) is not None
                        ),
                    )
                )
    return done


def _attr_run(text: str, site: Site, other: Site) -> bool:
    """Are both attributes of one unbroken run of attribute lines (the same item's attributes)?"""
    lo, hi = sorted((site.line, other.line))
    if hi - lo > 32:
        return False
    lines = text.splitlines()[lo - 1 : hi]
    return len(lines) == hi - lo + 1 and all(ln.lstrip().startswith("#") for ln in lines)


#: More same-list sites than this in one file is a platform layer, not a forgotten OS: no patch.
MAX_GROUP = 4
_ITEM_NAME = re.compile(
    r"(?:\s*(?:#\s*\[[^\]]*\]|///?[^\n]*))*\s*(?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:unsafe|const|async|extern\s+\"C\")\s+)*"
    r"(?:fn|struct|enum|union|type|const|static|mod|trait)\s+([A-Za-z_]\w*)"
    r"|(?:\s*(?:#\s*\[[^\]]*\]|///?[^\n]*))*\s*(?:pub(?:\s*\([^)]*\))?\s+)?use\s+[\w:]*?(\w+)"
    r"(?:\s+as\s+(\w+))?\s*;"
)


def item_name(text: str, site: Site) -> str | None:
    """The name an attribute-gated item defines (``fn f`` -> f, ``pub use self::pipe::Waker;`` ->
    Waker, ``pub use self::solaris as target;`` -> target); None for anything else."""
    if site.kind not in ("cfg", "cfg_attr") or not site.attr_end:
        return None
    m = _ITEM_NAME.match(text, site.attr_end)
    if m is None:
        return None
    return m.group(1) or m.group(3) or m.group(2)


def _clash(text: str, sites: list[Site], group: list[Site], ev_b: Evaluator) -> str | None:
    """Would the edit give illumos a second definition? An item the group's sites define that another
    cfg already gives illumos (mio's ``pub use self::pipe::Waker`` for illumos next to the eventfd one)
    means the porter has to pick one: refuse and say where."""
    names = {n: t for t in group if (n := item_name(text, t)) is not None}
    if not names:
        return None
    ids = {id(t) for t in group}
    for s in sites:
        if id(s) in ids or s.decisive is None or ev_b.eval(s.decisive) is False:
            continue
        n = item_name(text, s)
        if n is not None and n in names:
            return (
                f"illumos already gets `{n}` from the cfg at line {s.line} "
                f"({cfgexpr.to_str(s.decisive)}); adding it here would define `{n}` twice: "
                "choose one implementation by hand"
            )
    return None


def _enclosed_off(files: _Files, path: str, text: str, site: Site, ev_b: Evaluator) -> bool:
    """Is ``site`` inside an item whose own cfg is false for illumos (and does not name this site's
    OSes, so the edit would not change it)? Then illumos cannot reach the site whatever its predicate."""
    from .analysis import _body

    entry = files.scans.get(path)
    if entry is None:
        return False
    for s in entry[0].sites:
        if s.offset >= site.offset or s.decisive is None:
            continue
        if s.kind not in ("cfg", "inner-cfg", "cfg_if", "cfg_if-else") or ev_b.eval(s.decisive) is not False:
            continue
        rng = files.bodies.get((path, s.offset))
        if rng is None:
            rng = _body(s, text) or (0, 0)
            files.bodies[(path, s.offset)] = rng
        if rng[0] <= site.offset < rng[1] and os_set(s) != os_set(site):
            return True
    return False


def _guard(
    res: CrateResult,
    crate: Crate,
    ctx: Context,
    ev_b: Evaluator,
    site: Site,
    text: str,
    oses: frozenset[str],
    group: list[Site],
    files: _Files,
) -> bool:
    """``#[cfg(not(any(linux, android, freebsd, ..)))] compile_error!(..)``: the crate refuses every
    platform outside its list, illumos included. A probable gap of medium confidence when the file has
    no positive site with the same list (then the group edit covers the guard): whether the crate's code
    works on illumos is exactly what the guard does not know. Reported without a patch."""
    from .analysis import _predicate_location, _rel

    if site.kind != "cfg" or not site.attr_end or not _COMPILE_ERROR.match(text, site.attr_end):
        return False
    if site.decisive is None or ev_b.eval(site.decisive) is not True or len(oses & UNIX_OSES) < 3:
        return False
    if any(t is not site and ev_b.eval(t.decisive) is False for t in group if t.decisive is not None):
        return False
    if _enclosed_off(files, site.path, text, site, ev_b):
        return False
    loc, props = _predicate_location(
        crate,
        ctx,
        site,
        text,
        Location(_rel(crate, site.path), site.line, site.column),
        {
            "crate": crate.label,
            "crate_knows_illumos": res.knows_port,
            "site": site.kind,
            "predicate": cfgexpr.to_str(site.decisive),
            "construct": "compile_error! guard",
            "confidence": "medium",
            "patch": "not proposed",
        },
    )
    res.findings.append(
        Finding(
            "port/probable-gap",
            Severity.WARNING,
            loc,
            f"compile_error! guard cfg({cfgexpr.to_str(site.decisive)}) rejects {ctx.port_os}: it lists "
            f"{len(oses)} unix platforms but neither {ctx.base_os} nor {ctx.port_os}",
            text.splitlines()[site.line - 1].strip(),
            f"probable gap, confidence medium: add {ctx.port_os} to this list once the crate's code is "
            f"known to work there (nothing else in this file names the list): decide by hand",
            props,
        )
    )
    return True


def _apis_used(text: str, site: Site) -> list[str]:
    from .analysis import _bitflag, _gate_range, extern_fns, libc_names

    if not _mentions_api(text):
        return []
    rng = _gate_range(site, text)
    if rng is None:
        return []
    table = shared_apis.by_name()
    names = set(libc_names(text, text[rng[0] : rng[1]])[0])
    # a bare `SOCK_NONBLOCK;` entry of nix's `libc_bitflags!` is `libc::SOCK_NONBLOCK` (de-ported nix
    # `SockFlag`): the macro expands it to that constant
    flag = _bitflag(text, site, rng) if site.kind == "cfg" else None
    if flag is not None:
        names.add(flag[0])
    names.update(n for _o, n in shared_apis.wrapper_uses(text, rng[0], rng[1]))
    names.update(extern_fns(text, rng[0], rng[1]))  # `extern "C" { fn accept4(..); }` of the crate's own
    return sorted(n for n in names if n in table and table[n].strong)


def _module_apis(text: str, site: Site, files: _Files) -> list[str]:
    """Shared APIs used in the module files a ``#[cfg(list)] mod x;`` admits (de-ported mio:
    ``#[cfg(any(android, linux, redox))] mod epoll;``, whose ``epoll.rs`` calls ``epoll_create1``). The
    gate decides that whole file, so its APIs are the gate's evidence as much as inline code is."""
    from .analysis import _gate_modules, extern_fns, libc_names

    if site.kind != "cfg" or "mod" not in text[site.attr_end : site.attr_end + 200]:
        return []
    table = shared_apis.by_name()
    names: set[str] = set()
    for r in _gate_modules(site, text, files):
        if r.text is None or not _mentions_api(r.text):
            continue
        names.update(libc_names(r.text, r.text)[0])
        names.update(n for _o, n in shared_apis.wrapper_uses(r.text))
        names.update(extern_fns(r.text))
    return sorted(n for n in names if n in table and table[n].strong)


@functools.lru_cache(maxsize=16)
def _mentions_api(text: str) -> bool:
    """Cheap per-file pre-check: does any strong table API name occur in the file at all?"""
    return any(a.name in text for a in shared_apis.load() if a.strong)


def _anchor(site: Site, ctx: Context) -> str | None:
    """The OS next to which illumos goes: a BSD when the list has one (illumos shares their userland
    conventions more than Linux's), else the last OS of the list."""
    if site.expr is None:
        return None
    values = [a.value for a, _pos in os_atoms(site.expr) if a.value]
    for v in reversed(values):
        if v in BSD:
            return v
    return values[-1] if values else None


def decide_confidence(cand: Candidate, missing: list[str], used: list[str]) -> str:
    """Confidence of a probable gap once libc has been checked: high for an ELF-generic construct,
    medium when every libc item the guarded code uses is declared for illumos, low otherwise."""
    if cand.elf:
        return "high"
    if used and not missing:
        return "medium"
    return "low"
