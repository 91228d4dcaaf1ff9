"""``port`` end to end: discover crates, scan them on every core, check libc, decide patches.

Crates are the unit of parallel work: "does this crate already know illumos?" is a whole-crate question,
and 500 crates of very different sizes balance well over a process pool when the largest go first. The
libc check runs afterwards in the parent, once per libc version, because it needs a different crate's
source (the libc the scanned crate resolves to).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnsafeEditError, UsageError
from ..findings import Finding, Location, Severity
from . import libcindex, patch, shared_apis
from . import oslists as shared_oslists
from .analysis import EXTENSIONS, Candidate, Context, CrateResult, Edit, analyze_crate, evaluators
from .cfgexpr import FLAG_DEPENDENT
from .libcdirs import default_libc_dirs, libc_sources
from .libcindex import LibcIndex
from .workspace import Crate, cargo_workspace, discover, parse_version, satisfies

DEFAULT_BASE = "x86_64-pc-solaris"
DEFAULT_PORT = "x86_64-unknown-illumos"


@dataclass(slots=True)
class PatchOutcome:
    path: str  # absolute
    rel: str  # as shown in the diff
    old: str
    new: str
    writable: bool = True  # False: in the diff (to send upstream), but --apply leaves it alone


@dataclass(slots=True)
class Report:
    """What ``port`` found: every finding (sorted by location), the per-crate results, the verified
    patched files, and what could not be patched."""

    findings: list[Finding]
    crates: list[CrateResult]
    patches: list[PatchOutcome] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) for --apply/--patch
    root: str = ""
    base: str = ""
    target: str = ""
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds of discover/scan/decide

    def diff(self) -> str:
        """One unified diff for ``patch -p1`` run in :attr:`root`."""
        return "".join(patch.unified_diff(p.rel, p.old, p.new) for p in self.patches)

    def summary(self) -> dict[str, Any]:
        return {
            "crates": len(self.crates),
            "crates_knowing_illumos": sum(r.knows_port for r in self.crates),
            "files": sum(r.stats.get("files", 0) for r in self.crates),
            "bytes": sum(r.stats.get("bytes", 0) for r in self.crates),
            "cfg_sites": sum(r.stats.get("sites", 0) for r in self.crates),
            "findings": len(self.findings),
            "patched_files": len(self.patches),
            "seconds": round(self.seconds, 3),
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "base": self.base,
            "target": self.target,
        }

    def apply(self) -> list[str]:
        """Write every writable patched file (atomically) and keep vendored checksums valid; returns what
        changed. Files outside a cargo workspace (the shared registry cache) are skipped: editing them
        would silently change every other project that uses the same crate version."""
        done = []
        writes: list[tuple[str, str]] = []
        checksums: dict[str, dict[str, Any]] = {}
        for p in self.patches:
            if not p.writable:
                continue
            writes.append((p.path, p.new))
            done.append(p.rel)
            known = len(checksums)
            checksum = patch.pending_checksum(p.path, p.new, checksums)
            if checksum and len(checksums) > known:
                done.append(os.path.relpath(checksum, self.root) if self.root else checksum)
        for checksum, data in checksums.items():
            writes.append((checksum, json.dumps(data, separators=(",", ":"))))
        patch.write_all(writes)  # all or none: a failure part-way puts the originals back
        return done


def run_port(
    paths: list[str] | None = None,
    *,
    cargo: bool = False,
    base: str = DEFAULT_BASE,
    target: str = DEFAULT_PORT,
    jobs: int | None = None,
    libc_dirs: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """The whole ``port`` analysis as a library call: discover (paths, or the cargo workspace of the
    current directory and its dependencies), scan in parallel, check libc, decide and verify patches."""
    started = time.perf_counter()
    if jobs is not None and jobs < 1:
        raise UsageError("jobs must be at least 1")
    ctx = make_context(base, target)
    if cargo:
        root, crates = cargo_workspace()
    else:
        root, crates = discover(paths or ["."])
    if not crates:
        raise UsageError(f"no Rust sources under {', '.join(paths or ['.'])}")

    def rel(path: str) -> str:
        r = os.path.relpath(path, root)
        if r.startswith(".."):
            owner = next((c for c in crates if path.startswith(c.root + os.sep)), None)
            if owner is not None:
                return os.path.join(os.path.basename(owner.root), os.path.relpath(path, owner.root))
        return r

    def writable(path: str) -> bool:
        # in cargo mode the dependencies live in the shared registry cache: never edit those in place
        return not cargo or not os.path.relpath(path, root).startswith("..")

    t_scan = time.perf_counter()
    resolver = LibcResolver(ctx, [*(libc_dirs or []), *default_libc_dirs()])
    results = scan(crates, ctx, jobs=jobs, progress=progress, meanwhile=lambda: resolver.prewarm(crates))
    resolver.add_crates([r.crate for r in results])  # the workers read the manifests: names are here
    t_decide = time.perf_counter()
    report = decide(results, ctx, resolver, rel, writable=writable)
    report.root, report.base, report.target = root, ctx.base, ctx.port
    done = time.perf_counter()
    report.seconds = done - started
    report.phases = {"setup": t_scan - started, "scan": t_decide - t_scan, "decide": done - t_decide}
    return report


def make_context(base: str = DEFAULT_BASE, port: str = DEFAULT_PORT) -> Context:
    """Cfg sets and the value universe from ``illumos_rust.targetspec`` (the installed rustc, cached)."""
    from ..targetspec import cfg_sets, known_values

    sets = cfg_sets([base, port])
    known = known_values()
    a, b = sets[base], sets[port]
    base_os = next(iter(a.values("target_os")), "")
    port_os = next(iter(b.values("target_os")), "")
    return Context(
        base,
        port,
        a.atoms,
        b.atoms,
        frozenset(known) - FLAG_DEPENDENT,
        dict(known),
        base_os,
        port_os,
    )


_CTX: Context | None = None


def _init(ctx: Context) -> None:
    global _CTX
    _CTX = ctx


def _work(crate: Crate) -> CrateResult:
    assert _CTX is not None
    return _safe_analyze(crate, _CTX)


def _safe_analyze(crate: Crate, ctx: Context) -> CrateResult:
    """One crate's analysis; an unexpected failure (a bug, not bad input, which analyze_crate already
    reports) costs that crate a finding with the traceback, not the whole scan of 500 crates."""
    try:
        return analyze_crate(crate, ctx)
    except Exception as exc:  # deliberately broad: reported below, with the traceback
        res = CrateResult(crate)
        res.findings.append(
            Finding(
                "port/not-parsed",
                Severity.ERROR,
                Location(crate.display),
                f"internal error while analysing {crate.label}: {type(exc).__name__}: {exc}",
                evidence=traceback.format_exc(limit=6),
            )
        )
        return res


def scan(
    crates: list[Crate],
    ctx: Context,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[CrateResult]:
    """Analyse crates, largest first, over ``jobs`` processes (default: every core).

    ``meanwhile`` runs in this process while the workers scan (the libc index build): the parent would
    otherwise sit idle waiting for results."""
    order = sorted(crates, key=lambda c: c.size, reverse=True)
    n = jobs or os.cpu_count() or 1
    results: list[CrateResult] = []
    if n <= 1 or len(order) <= 1:
        if meanwhile:
            meanwhile()
        for i, c in enumerate(order):
            results.append(_safe_analyze(c, ctx))
            if progress:
                progress(i + 1, len(order))
    else:
        from concurrent.futures import ProcessPoolExecutor  # only a parallel scan pays for multiprocessing

        with ProcessPoolExecutor(max_workers=n, initializer=_init, initargs=(ctx,)) as pool:
            pending = pool.map(_work, order, chunksize=1)
            if meanwhile:
                meanwhile()
            for i, r in enumerate(pending):
                results.append(r)
                if progress:
                    progress(i + 1, len(order))
    results.sort(key=lambda r: r.crate.display)
    return results


# ---------------------------------------------------------------------------------------------- libc


class LibcResolver:
    """Finds the libc source a crate resolves to and indexes each version once."""

    def __init__(
        self, ctx: Context, extra_dirs: list[str] | None = None, index_cache: str | None = None
    ) -> None:
        self.ctx = ctx
        #: a directory where built indexes are kept between processes (``libcindex.build_cached``)
        self.index_cache = index_cache
        self.cache: dict[str, LibcIndex] = {}
        self.available: list[tuple[tuple[int, int, int], str, str]] = []
        self._seen: set[str] = set()
        for version, path in libc_sources(extra_dirs or []):
            self._add(version, path)

    def _add(self, version: str, root: str) -> None:
        v = parse_version(version)
        if v and root not in self._seen:
            self._seen.add(root)
            self.available.append((v, version, root))
            self.available.sort(reverse=True)

    def add_crates(self, crates: list[Crate]) -> None:
        """Scanned crates named libc (names are known once the workers have read the manifests)."""
        for c in crates:
            if c.name == "libc":
                self._add(c.version, c.root)

    def prewarm(self, crates: list[Crate]) -> None:
        """Index, ahead of need, the libc sources that are part of the scan itself (a directory called
        ``libc``/``libc-X.Y.Z``, or what cargo metadata resolved): run while the workers scan."""
        roots = {c.libc_root for c in crates if c.libc_root}
        for c in crates:
            base = os.path.basename(c.root)
            if (base == "libc" or base.startswith("libc-")) and os.path.isfile(
                os.path.join(c.root, "src", "lib.rs")
            ):
                roots.add(c.root)
                if base.startswith("libc-"):
                    self._add(base[5:], c.root)
        for root in sorted(r for r in roots if r):
            version = next((text for _v, text, path in self.available if path == root), "")
            self._index(root, version)

    def _index(self, root: str, version: str) -> LibcIndex:
        if root not in self.cache:
            a, b = evaluators(self.ctx)
            evs = {self.ctx.base: a, self.ctx.port: b}
            self.cache[root] = (
                libcindex.build(root, version, evs)
                if self.index_cache is None
                else libcindex.build_cached(root, version, evs, self.index_cache)
            )
        elif version and not self.cache[root].version:
            self.cache[root].version = version
        return self.cache[root]

    def for_crate(self, crate: Crate) -> LibcIndex | None:
        if crate.libc_root is not None:
            version = crate.libc_req.lstrip("=") if crate.libc_req else ""
            return self._index(crate.libc_root, version)
        req = crate.libc_req or "*"
        # the lowest version the requirement admits: a patch must compile with every libc it allows
        for v, text, path in reversed(self.available):
            if satisfies(v, req):
                return self._index(path, text)
        return None

    def newer(self, index: LibcIndex) -> list[LibcIndex]:
        """Semver-compatible libc versions above ``index`` (lowest first): candidates for a bump."""
        have = parse_version(index.version)
        if have is None:
            return []
        compat = have[:2] if have[0] == 0 else have[:1]
        out = []
        for v, text, path in reversed(self.available):
            if v > have and (v[:2] if v[0] == 0 else v[:1]) == compat:
                out.append(self._index(path, text))
        return out


# ---------------------------------------------------------------------------------------------- decisions


def decide(
    results: list[CrateResult],
    ctx: Context,
    resolver: LibcResolver,
    rel: Callable[[str], str],
    *,
    writable: Callable[[str], bool] = lambda _p: True,
) -> Report:
    """Accept or refuse every candidate edit, build the patched files, and annotate the findings."""
    findings_out: list[Finding] = []
    accepted: dict[str, list[Edit]] = {}
    refused_files: list[tuple[str, str]] = []
    for res in results:
        fixes: dict[int, tuple[str, str]] = {}  # finding index -> (patch status, fix text)
        group_refusal: dict[str, str] = {}
        decisions: list[tuple[Candidate, list[Edit], str, str]] = []
        index = None
        drop: set[int] = set()
        demote: set[int] = set()  # findings that become info: illumos takes another branch of the item
        for cand in res.candidates:
            if cand.probable:
                # issue 16 (3): confidence from the libc check; only strong evidence gets a patch
                if index is None:
                    index = resolver.for_crate(res.crate)
                used = sorted(n for n in cand.needs if index is not None and n in index.anywhere)
                missing = index.missing(cand.needs, ctx.port) if index is not None else used
                confidence = shared_oslists.decide_confidence(cand, missing, used)
                props = res.findings[cand.finding].properties
                props["confidence"] = confidence
                if confidence == "low":
                    drop.add(cand.finding)
                    continue
                if confidence != "high" and not cand.refused:
                    lib = f"libc {index.version}" if index is not None else "libc"
                    decisions.append(
                        (
                            cand,
                            [],
                            "not proposed",
                            f"probable gap, confidence {confidence}: {lib} declares every libc item "
                            f"this code uses for {ctx.port_os} ({', '.join(used[:6])}), but nothing here is "
                            f"specific enough to add {ctx.port_os} automatically: decide by hand",
                        )
                    )
                    continue
            if cand.refused:
                group_refusal.setdefault(cand.group, cand.refused)
                decisions.append((cand, [], "refused", f"no automatic patch: {cand.refused}"))
                continue
            if not cand.needs:
                decisions.append((cand, cand.edits, "proposed", _describe(cand, ctx)))
                continue
            if index is None:
                index = resolver.for_crate(res.crate)
            if index is None and "#oslist:" in cand.group:
                # a Linux/BSD list gains illumos only on libc's word (memfd_create is in the table, but
                # no libc 0.2 release declares it for illumos)
                decisions.append(
                    (cand, [], "refused", "no automatic patch: " + _no_libc_source(res.crate, cand, ctx))
                )
                continue
            if index is None:
                decisions.append(
                    (
                        cand,
                        cand.edits,
                        "proposed",
                        _describe(cand, ctx) + " (libc source not found: unchecked)",
                    )
                )
                continue
            missing = index.missing(cand.needs, ctx.port)
            if not missing:
                diffs = index.type_differences(cand.needs, ctx.base, ctx.port, cand.fields)
                for name, want, line in cand.expect:
                    have = index.types.get(ctx.port, {}).get(name)
                    if have is not None and have != want:
                        diffs.append(
                            f"{name} is `{have}` for {ctx.port_os} but the libc_bitflags! set declared at "
                            f"line {line} holds `{want}`"
                        )
                if diffs:
                    text = (
                        "no automatic patch: the guarded code uses libc items whose types do not carry over "
                        f"to {ctx.port_os} in libc {index.version}: {'; '.join(diffs[:3])}. "
                        "Check that code by hand"
                    )
                    decisions.append((cand, [], "refused", text))
                    group_refusal.setdefault(cand.group, text.removeprefix("no automatic patch: "))
                    continue
                decisions.append(
                    (
                        cand,
                        cand.edits,
                        "proposed",
                        _describe(cand, ctx) + f" (libc {index.version} checked)",
                    )
                )
                continue
            why = _missing_text(index, missing, ctx)
            choice = _choose(cand, index, resolver, ctx)
            if choice is not None:
                label, edits, newer = choice
                if newer is None:
                    decisions.append(
                        (
                            cand,
                            edits,
                            "alternative",
                            f"{why}; instead add {ctx.port_os} to the sibling branch {label} "
                            f"(its libc items are declared for {ctx.port_os} in libc {index.version})",
                        )
                    )
                else:
                    bump = _bump_edit(res.crate, newer.version)
                    if bump is None:
                        decisions.append(
                            (
                                cand,
                                [],
                                "refused",
                                f"no automatic patch: {why}; libc {newer.version} declares them for "
                                f"{ctx.port_os} but the Cargo.toml libc requirement could not be edited",
                            )
                        )
                        continue
                    where = "here" if label == "" else f"to the sibling branch {label}"
                    decisions.append(
                        (
                            cand,
                            [*edits, *bump],
                            "alternative" if label else "proposed",
                            f"{why}; add {ctx.port_os} {where} and raise the libc requirement to "
                            f"{newer.version}, the first available libc that declares them for {ctx.port_os} "
                            "(the Cargo.toml edit is in the same patch)",
                        )
                    )
                continue
            alts = "; ".join(
                f"sibling {a.label} needs {', '.join(index.missing(a.needs, ctx.port))}"
                for a in cand.alternatives
            )
            tail = f"; {alts}, also not declared for {ctx.port_os}" if alts else ""
            later = _table_versions(index, [*missing, *(n for a in cand.alternatives for n in a.needs)], ctx)
            text = f"no automatic patch: {why}{tail}{later}. Upgrade libc or port the branch by hand"
            decisions.append((cand, [], "refused", text))
            if "#chain" not in cand.group:
                group_refusal.setdefault(cand.group, why)
        decisions = _one_patch_per_item(res, decisions, ctx, demote)
        for cand, edits, status, text in decisions:
            if status != "refused" and cand.group in group_refusal and "#chain" not in cand.group:
                status, edits = (
                    "refused",
                    [],
                )
                text = (
                    f"no automatic patch: the other cfg alternatives of the same item cannot be patched "
                    f"({group_refusal[cand.group]})"
                )
            if status not in ("refused", "not proposed") and cand.checked:
                checked = cand.checked
                if "no raw syscall" in checked:
                    if not cand.needs:
                        lib = "no libc item used"
                    elif index is not None:
                        lib = f"no Solaris-only libc item (libc {index.version})"
                    else:
                        lib = "libc items unchecked (no libc source found)"
                    checked = checked.replace("no raw syscall", f"no raw syscall, {lib}", 1)
                text += f"; {checked}"
            fixes[cand.finding] = (status, text)
            for e in edits:
                accepted.setdefault(e.path, []).append(e)
        findings_out.extend(_hint_findings(res, ctx, resolver))
        for i, f in enumerate(res.findings):
            if i in drop:
                continue
            if i in fixes:
                status, text = fixes[i]
                f = dataclasses.replace(f, fix=text, properties={**f.properties, "patch": status})
            if i in demote:
                f = dataclasses.replace(f, severity=Severity.INFO)
            cls = _finding_class(f)
            if cls:
                f = dataclasses.replace(f, properties={**f.properties, "class": cls})
            findings_out.append(f)
    findings_out.sort(key=lambda f: (f.location.path, f.location.line or 0, f.location.column or 0, f.rule))
    patches: list[PatchOutcome] = []
    for path in sorted(accepted):
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                old = fh.read()
            new = patch.patched_text(path, old, accepted[path])
        except (OSError, UnicodeDecodeError, UnsafeEditError) as exc:
            refused_files.append((rel(path), str(exc)))
            continue
        if new != old:
            ok = writable(path)
            patches.append(PatchOutcome(path, rel(path), old, new, ok))
            if not ok:
                refused_files.append(
                    (
                        rel(path),
                        "outside the workspace: in the diff, not edited in place (vendor the crate to edit)",
                    )
                )
    return Report(findings_out, results, patches, refused_files)


_Decision = tuple[Candidate, list[Edit], str, str]


def _no_libc_source(crate: Crate, cand: Candidate, ctx: Context) -> str:
    """Why an OS-list patch cannot be checked without a libc source. Review (6): when the shared-API
    table (shared_apis.tsv) knows the first libc release declaring an item for illumos and the crate's
    requirement excludes it (``libc = "=0.2.60"`` + accept4, first in 0.2.69), say that version."""
    table = shared_apis.by_name()
    firsts = sorted(
        ((v, n) for n in cand.needs if n in table and (v := parse_version(table[n].libc)) is not None),
        reverse=True,
    )
    req = crate.libc_req
    if firsts and req:
        (ver, name) = firsts[0]
        if not satisfies(ver, req):
            want = ".".join(map(str, ver))
            return (
                f"{name} is declared for {ctx.port_os} from libc {want} (shared-API table), but this crate "
                f'requires libc "{req}", which excludes it: raise the libc requirement to {want} or later, '
                "then re-run with that libc source (--libc-dir)"
            )
    return "no libc source found to check the code's libc items against (give one with --libc-dir)"


def _one_patch_per_item(
    res: CrateResult, decisions: list[_Decision], ctx: Context, demote: set[int]
) -> list[_Decision]:
    """Issue 16 review (2): when illumos joins the Linux/BSD branch of an item (``fn pipe`` with
    pipe2), it must not also join a Solaris sibling defining the same name in the same file, or the
    patched crate defines it twice (rustc E0428). The shared-API/OS-list branch wins; the other site
    becomes info saying which branch illumos takes."""
    decisions = _one_oslist_per_item(res, decisions, ctx)
    taken: dict[tuple[str, str], Candidate] = {}
    for cand, edits, status, _text in decisions:
        if edits and "#oslist:" in cand.group and status in ("proposed", "alternative"):
            for name in cand.items:
                taken.setdefault((edits[0].path, name), cand)
    if not taken:
        return decisions
    out: list[_Decision] = []
    for cand, edits, status, text in decisions:
        other = None
        if edits and "#oslist:" not in cand.group:
            other = next((taken[k] for n in sorted(cand.items) if (k := (edits[0].path, n)) in taken), None)
        if other is None:
            out.append((cand, edits, status, text))
            continue
        f = res.findings[other.finding]
        name = next(n for n in sorted(cand.items) if (edits[0].path, n) in taken)
        demote.add(cand.finding)
        out.append(
            (
                cand,
                [],
                "not proposed",
                f"{ctx.port_os} takes the {f.properties.get('predicate', 'Linux/BSD')} branch of `{name}` "
                f"(line {f.location.line}, patched there); adding it here too would define `{name}` twice",
            )
        )
    return out


def _one_oslist_per_item(res: CrateResult, decisions: list[_Decision], ctx: Context) -> list[_Decision]:
    """Two OS-list groups of one file that would each give illumos the same item (de-ported mio:
    ``eventfd::Waker`` for Linux and ``pipe::Waker`` for the BSDs, both using APIs illumos shares) are
    both refused: either edit alone is plausible, both together define the item twice (rustc E0252/
    E0428), and which implementation illumos should use is the porter's choice."""
    groups: dict[tuple[str, str], set[str]] = {}
    for cand, edits, status, _text in decisions:
        if edits and "#oslist:" in cand.group and status in ("proposed", "alternative"):
            for name in cand.items:
                groups.setdefault((edits[0].path, name), set()).add(cand.group)
    clash = {k: g for k, g in groups.items() if len(g) > 1}
    if not clash:
        return decisions
    out: list[_Decision] = []
    for cand, edits, status, text in decisions:
        hit = next(
            (
                (name, g)
                for name in sorted(cand.items)
                if edits and (g := clash.get((edits[0].path, name))) and cand.group in g
            ),
            None,
        )
        if hit is None:
            out.append((cand, edits, status, text))
            continue
        name = hit[0]
        lines = sorted(
            res.findings[c.finding].location.line or 0
            for c, e, st, _t in decisions
            if e and c.group in hit[1] and st in ("proposed", "alternative")
        )
        out.append(
            (
                cand,
                [],
                "refused",
                f"no automatic patch: the OS lists at lines {', '.join(map(str, lines))} would each give "
                f"{ctx.port_os} `{name}` (both use APIs {ctx.port_os} has); adding it to both defines "
                f"`{name}` twice: choose one implementation by hand",
            )
        )
    return out


_PORTING_RULES = frozenset(
    {"port/solaris-only", "port/illumos-only", "port/shared-api", "port/probable-gap", "port/build-script"}
)


def _finding_class(f: Finding) -> str | None:
    """The README's four classes for the porting rules: a refused patch is a *refusal* (an explanation
    of why illumos must not simply be added), otherwise *probable gap*, *gap* (warning) or *info*."""
    if f.rule not in _PORTING_RULES:
        return None
    if f.properties.get("patch") == "refused":
        return "refusal"
    if f.rule == "port/probable-gap":
        return "probable gap"
    return "gap" if f.severity >= Severity.WARNING else "info"


def _choose(
    cand: Candidate, index: LibcIndex, resolver: LibcResolver, ctx: Context
) -> tuple[str, list[Edit], LibcIndex | None] | None:
    """The first option (the edit itself, then each Linux/BSD sibling) whose libc items the crate's libc
    declares for the port target; else the lowest newer libc in which one of them works (a bump).
    Returns (sibling label or "" for the edit itself, edits, the newer libc or None)."""
    options = [("", cand.edits, cand.needs), *((a.label, a.edits, a.needs) for a in cand.alternatives)]
    for label, edits, needs in options[1:]:
        if not index.missing(needs, ctx.port) and not index.type_differences(needs, ctx.base, ctx.port):
            return label, edits, None
    for newer in resolver.newer(index):
        for label, edits, needs in options:
            if not newer.missing(needs, ctx.port) and not newer.type_differences(
                needs, ctx.base, ctx.port, cand.fields
            ):
                return label, edits, newer
    return None


def _bump_edit(crate: Crate, version: str) -> list[Edit] | None:
    """Raise the crate's libc requirement to ``version`` in its Cargo.toml (see :func:`patch.libc_bump`)."""
    if not crate.manifest:
        return None
    try:
        with open(crate.manifest, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return None
    return patch.libc_bump(crate.manifest, text, version)


def _table_versions(index: LibcIndex, names: list[str], ctx: Context) -> str:
    """What the shared-API table knows about when the missing items reached illumos in libc."""
    known = []
    for n in sorted(set(names)):
        api = shared_apis.by_name().get(n)
        if api is not None and api.libc and index.missing([n], ctx.port):
            known.append(f"{n} reached {ctx.port_os} in libc {api.libc}")
    if not known:
        return ""
    return f" ({'; '.join(known)}: give that libc source with --libc-dir to get the bump proposed)"


def _hint_findings(res: CrateResult, ctx: Context, resolver: LibcResolver) -> list[Finding]:
    """Linux/BSD-only code that illumos could take: every libc item it uses is declared for illumos,
    and at least one is a Linux-style extension illumos has (or one libc declares for illumos only)."""
    if not res.hints:
        return []
    index = resolver.for_crate(res.crate)
    if index is None:
        return []
    port_has = index.declared.get(ctx.port, set())
    base_has = index.declared.get(ctx.base, set())
    out = []
    for h in res.hints:
        used = sorted(n for n in h.names if n in index.anywhere)
        if not used or index.missing(used, ctx.port):
            continue
        ext = [n for n in used if n in EXTENSIONS or (n in port_has and n not in base_has)]
        if not ext:
            continue
        out.append(
            Finding(
                "port/linux-branch-fits-illumos",
                Severity.INFO,
                Location(h.path, h.line, h.column),
                f"cfg({h.predicate}) leaves {ctx.port_os} out, but libc {index.version} declares every libc "
                f"item this code uses for {ctx.port_os}, including {', '.join(ext[:4])}: {ctx.port_os} may "
                "belong in this branch",
                evidence="libc items: " + ", ".join(used[:12]) + (" ..." if len(used) > 12 else ""),
                properties={"crate": res.crate.label, "crate_knows_illumos": res.knows_port, "libc": used},
            )
        )
    return out


def _describe(cand: Candidate, ctx: Context) -> str:
    if cand.describe:
        return cand.describe
    return (
        f'add target_os = "{ctx.port_os}" next to "{ctx.base_os}" so {ctx.port_os} follows {ctx.base_os} '
        "here (see --patch)"
    )


def _missing_text(index: LibcIndex, missing: list[str], ctx: Context) -> str:
    parts = []
    for name in missing[:4]:
        where = index.where(name)
        parts.append(f"{name}" + (f" ({where})" if where else ""))
    more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
    return (
        f"the guarded code uses {', '.join(parts)}{more}, which libc {index.version} does not declare for "
        f"{ctx.port_os}"
    )
