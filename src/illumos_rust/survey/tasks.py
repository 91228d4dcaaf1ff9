"""The work one Dask task does: ``port`` on one crate, ``audit`` on one binary, as a plain JSON-able dict.

Both call the capabilities' library functions (``port.engine.scan``/``decide``, the same steps
``run_port`` composes; ``audit.audit``), so a survey finds exactly what ``port``/``audit`` find item by
item. A task never raises for a bad item: whatever goes wrong becomes ``{"status": "failed", "reason": ...}``
and the survey carries on. What a task returns is small: a binary without frame pointers has tens of
thousands of ``fp-missing`` findings, so per rule only the first :data:`KEEP_PER_RULE` are kept, with the
count.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import UsageError
from .sources import Source, content_digest, unpack_crate

if TYPE_CHECKING:
    from ..port.engine import LibcResolver

TOOL = __version__
KEEP_PER_RULE = 50
#: Fault injection for tests: a task whose path contains this text raises before analysing (the survey
#: must record it as failed and finish); with the prefix "exit:", the task ends its process instead, as a
#: crash in a library would; with "hang:", it sleeps ten minutes (a run to kill while it works). Unset in
#: normal use.
FAULT_ENV = "ILLUMOS_RUST_SURVEY_FAULT"
#: The directory a run makes its tasks' temporary files in (unpacked crates, package members), set by
#: ``run_survey`` for the processes it forks (inline children, local workers) and removed when the run
#: ends, interrupted or not: a task killed mid-way (Ctrl-C kills an inline child) cannot clean up itself.
SCRATCH_ENV = "ILLUMOS_RUST_SURVEY_SCRATCH"


def scratch_root() -> str | None:
    """The run's scratch directory when this process has one (a remote worker has not: the system's)."""
    root = os.environ.get(SCRATCH_ENV)
    return root if root and os.path.isdir(root) else None


_PORT_STATE: dict[tuple[str, str], tuple[Any, LibcResolver]] = {}
_PORT_TOOL: list[str] = []  # the crate_tool() that _PORT_STATE was built under
#: Where libc indexes are kept between runs (beside the store; set by ``run_survey`` before any worker
#: starts, so forked workers inherit it). None: indexes live only as long as the process.
INDEX_CACHE: str | None = None


def _port_state(base: str, target: str) -> tuple[Any, LibcResolver]:
    """Context and libc resolver, once per worker process: indexing a libc source costs ~0.3 s, and a
    registry's crates share a handful of libc versions."""
    key = (base, target)
    if key not in _PORT_STATE:
        # port is imported here, not with this module: ~50 ms that a survey of binaries, and a rerun in
        # which nothing changed, never need
        from ..port.engine import LibcResolver, make_context
        from ..port.libcdirs import default_libc_dirs

        ctx = make_context(base, target)
        _PORT_STATE[key] = (ctx, LibcResolver(ctx, default_libc_dirs(), index_cache=INDEX_CACHE))
    return _PORT_STATE[key]


def crate_tool() -> str:
    """The store's key for crate analyses made now: this version, plus a digest of what ``port`` reads
    beside the crate: the rustc that gives the cfg sets and target list (``rustc -vV``), and the libc
    sources a crate's libc resolves to (versions, paths, every source file's size, mtime and ctime).
    When either changes (a rustc upgrade, a new or edited libc), port's verdicts can change on crates
    whose own files did not, so every crate is analysed again; before, such a run answered "unchanged"
    with findings checked against a libc that was gone. On a remote cluster the workers are assumed to
    see the same rustc and libc sources as this process."""
    from ..port.libcdirs import default_libc_dirs, libc_sources, tree_stamp
    from ..targetspec import rustc

    h = hashlib.sha256(b"results 2\0")  # 2: dependency edges carry their version requirement
    try:
        tc = rustc.toolchain()
        h.update(f"{tc.version_line}\0{tc.commit}\0{tc.host}\0".encode())
    except UsageError:  # no rustc: every analysis fails and says so; the key says it too
        h.update(b"no rustc\0")
    for version, root in libc_sources(default_libc_dirs()):
        h.update(f"{version}\0{root}\0{tree_stamp(root)}\0".encode("utf-8", "surrogateescape"))
    tool = f"{TOOL}+{h.hexdigest()[:12]}"
    if _PORT_TOOL and _PORT_TOOL[0] != tool:  # built for another rustc or libc set: built again when needed
        _PORT_STATE.clear()
    _PORT_TOOL[:] = [tool]
    return tool


def warm_context(base: str = "x86_64-pc-solaris", target: str = "x86_64-unknown-illumos") -> None:
    """Import port and build its context now, if it can be: a rerun does this beside the stat phase's
    forked child. A failure (no rustc) is not raised here: the analysis that needs the context reports it."""
    with contextlib.suppress(Exception):
        _port_state(base, target)


def prewarm(base: str = "x86_64-pc-solaris", target: str = "x86_64-unknown-illumos") -> None:
    """Build the port context and index the registry's libc sources now (in the process that forks the
    workers), so that every forked worker starts with them."""
    from ..port.workspace import Crate

    _ctx, resolver = _port_state(base, target)
    # port's own prewarm indexes the libc-X.Y.Z directories among the crates it is given
    resolver.prewarm([Crate(root, "") for _v, _text, root in resolver.available])


def _inject_fault(path: str) -> None:
    marker = os.environ.get(FAULT_ENV)
    if marker and marker.startswith("exit:") and marker[5:] in path:
        os._exit(70)
    if marker and marker.startswith("hang:") and marker[5:] in path:
        time.sleep(600)  # a task still running when a test kills the survey
        return
    if marker and marker in path:
        raise RuntimeError(f"injected fault ({FAULT_ENV}={marker})")


def _failed(reason: str, started: float) -> dict[str, Any]:
    return {"status": "failed", "reason": reason, "seconds": time.perf_counter() - started, "result": {}}


#: The keys of a TOML table header: bare keys, "basic" and 'literal' quoted keys (TOML 1.0, section 2.1).
_HEADER_KEYS = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^.\s"\'\[\]]+')
_DEPENDENCY_TABLES = frozenset({"dependencies", "build-dependencies"})


def _is_dependency_header(line: str) -> bool:
    """``[dependencies...]``, ``[build-dependencies...]``, ``[target.SPEC.dependencies...]`` or
    ``[target.SPEC.build-dependencies...]`` (``line`` starts with one ``[``)."""
    keys = [k.strip("\"'") for k in _HEADER_KEYS.findall(line, 1, line.rfind("]"))]
    if keys and keys[0] in _DEPENDENCY_TABLES:
        return True
    return len(keys) >= 3 and keys[0] == "target" and keys[2] in _DEPENDENCY_TABLES


def _dependency_tables(text: str) -> dict[str, Any]:
    """The dependency tables of a manifest, parsed from those sections only.

    A ``cargo package``-normalised ``Cargo.toml`` (every registry crate's) puts each dependency under its
    own ``[dependencies.NAME]``-style header, and the rest (``[package]`` with its long description,
    features, badges) is most of the text: TOML-parsing only the dependency sections costs a fifth of
    the whole file. Whenever "dependencies" appears anywhere but in a header line or a comment (dotted
    keys, an inline table, a string), the whole file is parsed instead, as it is when the extract does not
    parse."""
    import tomllib  # here, as the other imports of a task's own work: a rerun imports this module first

    lines = text.splitlines()
    for ln in lines:
        if "dependencies" in ln and not ln.lstrip().startswith(("[", "#")):
            return tomllib.loads(text)
    kept: list[str] = []
    keep = False
    for ln in lines:
        stripped = ln.lstrip()
        if stripped.startswith("["):
            keep = not stripped.startswith("[[") and _is_dependency_header(stripped)
        if keep:
            kept.append(ln)
    try:
        return tomllib.loads("\n".join(kept))
    except tomllib.TOMLDecodeError:
        return tomllib.loads(text)


def requirements(manifest: str) -> list[list[str]]:
    """``[package name, version requirement]`` for each dependency (normal, build and target-specific;
    dev-dependencies are not edges a user of the crate inherits), resolving ``package = "..."`` renames;
    ``*`` where no version is given (a path or git dependency)."""
    import tomllib

    try:
        with open(manifest, "rb") as fh:
            data = _dependency_tables(fh.read().decode("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    tables: list[object] = [data.get("dependencies"), data.get("build-dependencies")]
    targets = data.get("target")
    if isinstance(targets, dict):
        for t in targets.values():
            if isinstance(t, dict):
                tables += [t.get("dependencies"), t.get("build-dependencies")]
    pairs: set[tuple[str, str]] = set()
    for table in tables:
        if isinstance(table, dict):
            for key, spec in table.items():
                if isinstance(spec, dict):
                    pkg, req = spec.get("package", key), spec.get("version", "*")
                else:
                    pkg, req = key, spec
                pairs.add((str(pkg), req if isinstance(req, str) else "*"))
    return [list(p) for p in sorted(pairs)]


def dependencies(manifest: str) -> list[str]:
    """Package names this crate depends on (see :func:`requirements`)."""
    return sorted({name for name, _req in requirements(manifest)})


def port_crate(
    path: str, base: str = "x86_64-pc-solaris", target: str = "x86_64-unknown-illumos"
) -> dict[str, Any]:
    """``port`` on one crate directory or ``.crate`` archive."""
    started = time.perf_counter()
    tmp = None
    try:
        _inject_fault(path)
        root = path
        if os.path.isfile(path):
            import tempfile

            tmp = tempfile.mkdtemp(prefix="illumos-rust-survey-", dir=scratch_root())
            root = unpack_crate(path, tmp)
        ctx, resolver = _port_state(base, target)
        from ..port.engine import decide, scan
        from ..port.workspace import discover

        top, crates = discover([root])
        if not crates:
            return _failed("no Rust sources", started)
        results = scan(crates, ctx, jobs=1)
        resolver.add_crates([r.crate for r in results])

        def rel(p: str) -> str:
            return os.path.relpath(p, top)

        report = decide(results, ctx, resolver, rel)
        main = next((r.crate for r in results if r.crate.root == os.path.abspath(root)), results[0].crate)
        manifest = os.path.join(root, "Cargo.toml")
        rules = Counter(f.rule for f in report.findings)
        return {
            "status": "ok",
            "reason": "",
            "seconds": time.perf_counter() - started,
            "result": {
                "crate": main.name,
                "version": main.version,
                "knows_illumos": any(r.knows_port for r in report.crates),
                "findings": [f.to_dict() for f in report.findings],
                "rules": dict(rules),
                "patch": report.diff(),
                "refused": [list(r) for r in report.refused],
                "requires": (requires := requirements(manifest)),
                "dependencies": sorted({name for name, _req in requires}),
                "summary": report.summary(),
            },
        }
    except Exception as exc:  # deliberately broad: one bad crate is a failed item, not a failed survey
        return _failed(f"{type(exc).__name__}: {exc}" + _where(), started)
    finally:
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def audit_binary(path: str) -> dict[str, Any]:
    """``audit`` (platform profile) on one ELF file, or on every ELF file of a package."""
    from .packages import audit_package, is_package

    if not is_package(path):
        return _audit_elf(path)
    started = time.perf_counter()
    try:
        _inject_fault(path)
        result = audit_package(path, _audit_elf)
    except Exception as exc:  # a damaged package is a failed item; its members' failures are theirs
        return _failed(f"{type(exc).__name__}: {exc}", started)
    return {"status": "ok", "reason": "", "seconds": time.perf_counter() - started, "result": result}


def _audit_elf(path: str) -> dict[str, Any]:
    from ..audit import audit  # here: `survey crates` need not pay for importing audit (~0.3 s)

    started = time.perf_counter()
    try:
        _inject_fault(path)
        report = audit(path)
        rules = Counter(f.rule for f in report.findings)
        kept: list[dict[str, Any]] = []
        per_rule: Counter[str] = Counter()
        for f in report.findings:
            per_rule[f.rule] += 1
            if per_rule[f.rule] <= KEEP_PER_RULE:
                kept.append(f.to_dict())
        facts = report.facts
        fp = facts.get("frame_pointers", {})
        deps = facts.get("dependencies", {})
        return {
            "status": "ok",
            "reason": "",
            "seconds": time.perf_counter() - started,
            "result": {
                "findings": kept,
                "rules": dict(rules),
                "target": facts.get("target", {}),
                "frame_pointers": {
                    k: fp.get(k) for k in ("method", "functions", "totals", "coverage_percent", "by_owner")
                },
                "dependencies": deps,
            },
        }
    except Exception as exc:  # FormatError for malformed files; anything else is recorded the same way
        return _failed(f"{type(exc).__name__}: {exc}", started)


def run_chunk(
    kind: str, items: list[tuple[str, str, str]], known: frozenset[str] | set[str]
) -> list[dict[str, Any]]:
    """Several items ``(path, how, digest)`` in one Dask task: per-task overhead (scheduling, transfer) is
    paid once per chunk rather than per small crate. An item without a digest is hashed here first (the
    workers share the reading of a whole corpus) and skipped, as ``{"status": "known"}``, when the store
    already has that content."""
    fn = port_crate if kind == "crate" else audit_binary
    out: list[dict[str, Any]] = []
    for path, how, digest in items:
        if not digest:
            src = Source(kind, path, how)
            content_digest(src)
            digest = src.digest
            if src.error:
                out.append({"status": "failed", "reason": src.error, "digest": digest, "result": {}})
                continue
            if digest in known:
                out.append({"status": "known", "digest": digest})
                continue
        result = fn(path)
        result["digest"] = digest
        out.append(result)
    return out


def _where() -> str:
    import traceback

    tb = traceback.extract_tb(sys.exc_info()[2])
    return f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
