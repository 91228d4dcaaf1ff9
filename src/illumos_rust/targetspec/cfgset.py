"""The cfg set of a target, exactly as ``rustc --print cfg --target T`` reports it.

This is the API the ``port`` scanner evaluates ``#[cfg(...)]`` expressions against: ``cfg_set`` for one
target, ``all_cfg_sets``/``known_values`` for "does *any* target have ``target_os = "fuschia"``?" (a typo
no target has is a bug, not a portability question). Sets come from the *stable* ``--print cfg`` (no
``RUSTC_BOOTSTRAP``), because that is what a stable build evaluates cfgs against; nightly-only keys such as
``target_thread_local`` appear only when the toolchain itself is nightly.

Results are cached on disk per rustc commit (see ``rustc.py``); a cold fill of every target runs the
rustc calls on a thread pool, since each call is a separate process and mostly start-up latency.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError, UsageError
from . import rustc
from .rustc import Toolchain

Atom = tuple[str, str | None]


@dataclass(frozen=True)
class CfgSet:
    """The cfg atoms that are true for ``target``: ``("unix", None)``, ``("target_os", "illumos")``..."""

    target: str
    atoms: frozenset[Atom]

    def values(self, key: str) -> frozenset[str]:
        """Every value of a key-value cfg, e.g. ``values("target_feature")``; empty if the key is unset."""
        return frozenset(v for k, v in self.atoms if k == key and v is not None)

    def has(self, key: str, value: str | None = None) -> bool:
        """``has("unix")`` for a name cfg, ``has("target_os", "illumos")`` for a key-value cfg."""
        return (key, value) in self.atoms

    def keys(self) -> frozenset[str]:
        return frozenset(k for k, _ in self.atoms)

    def lines(self) -> list[str]:
        """Back in rustc's ``--print cfg`` syntax, sorted the way rustc sorts them."""
        return sorted(k if v is None else f'{k}="{_escape(v)}"' for k, v in self.atoms)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse_cfg(text: str, source: str = "<rustc --print cfg>") -> frozenset[Atom]:
    """Parse ``--print cfg`` output: one ``name`` or ``name="value"`` per line.

    rustc quotes values with Rust string escapes; only ``\\\\`` and ``\\"`` can occur in practice.
    Anything else is reported as a ``FormatError`` naming the line, since a silently mis-read cfg set
    would make every later answer about it wrong.
    """
    atoms: set[Atom] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        name, eq, rest = line.partition("=")
        if not _is_ident(name):
            raise FormatError(source, None, f"line {number}: not a cfg name: {line!r}")
        if not eq:
            atoms.add((name, None))
            continue
        if len(rest) < 2 or rest[0] != '"' or rest[-1] != '"':
            raise FormatError(source, None, f"line {number}: cfg value is not a quoted string: {line!r}")
        body = rest[1:-1]
        # almost every value has neither escape nor quote: taken as it is, not rebuilt character by character
        plain = "\\" not in body and '"' not in body
        atoms.add((name, body if plain else _unescape(body, source, number)))
    return frozenset(atoms)


def _is_ident(name: str) -> bool:
    """A Rust identifier (XID_Start or ``_``, then XID_Continue: the Reference's "Identifiers"), which is
    Python's own identifier rule (PEP 3131). ``known_values`` parses 300-odd cached sets per process, and
    the check per character was two thirds of its time."""
    return name.isidentifier()


def _unescape(body: str, source: str, number: int) -> str:
    out: list[str] = []
    chars = iter(body)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            if nxt not in ('"', "\\"):
                raise FormatError(source, None, f"line {number}: unsupported escape \\{nxt}")
            out.append(nxt)
        elif c == '"':
            raise FormatError(source, None, f"line {number}: unescaped quote inside cfg value")
        else:
            out.append(c)
    return "".join(out)


def default_jobs() -> int:
    """Twice the CPU count. Each rustc call is ~25 ms of CPU, so the cores are the limit; a second
    thread per core hides the fork/exec and pipe gaps between calls (``benchmarks/bench_target.py``:
    2.77 s with 4 threads vs 3.19 s with 2 and 8.0 s with 1, for 320 targets on 2 CPUs)."""
    return 2 * (os.cpu_count() or 1)


def target_list(*, toolchain: Toolchain | None = None) -> list[str]:
    """Every built-in target of the installed rustc (``--print target-list``), sorted."""
    tc = toolchain or rustc.toolchain()
    cached = rustc.load_cache(tc).get("targets")
    if isinstance(cached, list) and cached:
        return [str(t) for t in cached]
    proc = rustc.run([*tc.command, "--print", "target-list"])
    if proc.returncode != 0:
        raise UsageError(f"rustc --print target-list failed: {_first_error(proc.stderr)}")
    targets = sorted(t.strip() for t in proc.stdout.splitlines() if t.strip())
    rustc.update_cache(tc, targets=targets)
    return targets


def is_spec_path(target: str) -> bool:
    """A custom target is named by its JSON file, as rustc's ``--target`` accepts."""
    return target.endswith(".json") or os.sep in target


def check_target(target: str, *, toolchain: Toolchain | None = None) -> None:
    """Refuse an unknown target name with one line that names it and suggests the closest real ones."""
    if is_spec_path(target):
        if not Path(target).is_file():  # a FIFO would block rustc reading it
            what = "not a regular file" if Path(target).exists() else "no such target spec file"
            raise UsageError(f"{target}: {what}")
        return
    known = target_list(toolchain=toolchain)
    if target not in known:
        close = suggest(target, known)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see `rustc --print target-list`)"
        raise UsageError(f"unknown target {target!r}{hint}")


def suggest(name: str, known: Sequence[str], n: int = 3) -> list[str]:
    """Closest real targets: most triple components in common first (a wrong vendor, as in
    ``x86_64-unknown-solaris`` for ``x86_64-pc-solaris``, keeps arch and os), then spelling."""
    parts = name.split("-")

    def score(candidate: str) -> tuple[int, float]:
        other = candidate.split("-")
        # Arch (first) and OS/env (last) say more than a vendor such as "unknown", so they weigh double.
        shared = 2 * (parts[0] == other[0]) + 2 * (parts[-1] == other[-1])
        shared += len(set(parts[1:-1]) & set(other[1:-1]))
        return shared, difflib.SequenceMatcher(None, name, candidate).ratio()

    if "-" not in name:  # a bare OS or arch name: the targets that have it as a component
        return [c for c in known if name in c.split("-")][: n + 2]
    ranked = sorted(known, key=score, reverse=True)
    return [c for c in ranked[:n] if score(c)[1] >= 0.6 or score(c)[0] >= 3]


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("error"):
            return line
    return (stderr.strip().splitlines() or ["no output"])[0]


def _query(tc: Toolchain, target: str, *, bootstrap: bool = False) -> list[str]:
    """One ``rustc --print cfg`` call. Custom JSON targets need ``-Z unstable-options`` since 1.9x, which
    a stable rustc only takes under ``RUSTC_BOOTSTRAP=1``."""
    cmd = [*tc.command, "--print", "cfg", "--target", target]
    custom = is_spec_path(target)
    if custom:
        cmd += ["-Z", "unstable-options"]
    proc = rustc.run(cmd, bootstrap=(bootstrap or custom) and not tc.is_nightly)
    if proc.returncode != 0:
        raise UsageError(f"{target}: rustc --print cfg failed: {_first_error(proc.stderr)}")
    return [line for line in proc.stdout.splitlines() if line.strip()]


def cfg_set(target: str, *, toolchain: Toolchain | None = None) -> CfgSet:
    """The cfg set of one target (a built-in name, or a path to a custom target JSON, which is not cached)."""
    tc = toolchain or rustc.toolchain()
    if is_spec_path(target):
        check_target(target, toolchain=tc)
        atoms = parse_cfg("\n".join(_query(tc, target)), target)
        return CfgSet(target, strip_nightly_only(atoms, toolchain=tc))
    memo_key = (str(rustc.cache_path(tc)), target)
    memo = _parsed.get(memo_key)
    if memo is not None:
        return memo
    cached = rustc.load_cache(tc).get("cfg", {})
    lines = cached.get(target) if isinstance(cached, dict) else None
    if not isinstance(lines, list):
        check_target(target, toolchain=tc)  # only on a miss: a cached target is known to exist
        lines = _query(tc, target)
        rustc.update_cache(tc, cfg={target: lines})
    result = CfgSet(target, parse_cfg("\n".join(lines), f"cache entry for {target}"))
    _parsed[memo_key] = result
    return result


_parsed: dict[tuple[str, str], CfgSet] = {}
"""Built-in targets' parsed sets per cache file (so per rustc); immutable, so safe to share."""


def fill_cfg_cache(
    targets: Iterable[str] | None = None, *, toolchain: Toolchain | None = None, jobs: int | None = None
) -> dict[str, list[str]]:
    """Ask rustc for every target not yet cached, ``jobs`` calls at a time, and store them in one write."""
    tc = toolchain or rustc.toolchain()
    wanted = list(targets) if targets is not None else target_list(toolchain=tc)
    cached = rustc.load_cache(tc).get("cfg", {})
    have: dict[str, list[str]] = dict(cached) if isinstance(cached, dict) else {}
    missing = [t for t in wanted if not isinstance(have.get(t), list)]
    if len(missing) > 1:
        with rustc.fill_lock(tc):
            # Another process may have filled the cache while we waited for the lock.
            cached = rustc.load_cache(tc).get("cfg", {})
            have.update(cached if isinstance(cached, dict) else {})
            missing = [t for t in wanted if not isinstance(have.get(t), list)]
            have.update(_fetch(tc, missing, jobs))
    elif missing:
        have.update(_fetch(tc, missing, jobs))
    return {t: have[t] for t in wanted}


def _fetch(tc: Toolchain, missing: list[str], jobs: int | None) -> dict[str, list[str]]:
    if not missing:
        return {}
    workers = max(1, min(jobs or default_jobs(), len(missing)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        fresh = dict(zip(missing, pool.map(lambda t: _query(tc, t), missing), strict=True))
    rustc.update_cache(tc, cfg=fresh)
    return fresh


def all_cfg_sets(*, toolchain: Toolchain | None = None, jobs: int | None = None) -> dict[str, CfgSet]:
    """Every built-in target's cfg set, filled in parallel on a cold cache."""
    tc = toolchain or rustc.toolchain()
    raw = fill_cfg_cache(toolchain=tc, jobs=jobs)
    where = str(rustc.cache_path(tc))
    out = {}
    for t, lines in raw.items():
        parsed = _parsed.get((where, t))
        if parsed is None:
            parsed = _parsed[(where, t)] = CfgSet(t, parse_cfg("\n".join(lines), f"cache entry for {t}"))
        out[t] = parsed
    return out


def known_values(*, toolchain: Toolchain | None = None) -> dict[str, frozenset[str]]:
    """For each cfg key, every value some target has. Name-only cfgs (``unix``) map to an empty set.

    Derived from every target's set, and kept in the cache once all of them are there (the sets of one
    rustc never change): every ``port`` run needs this, and parsing 300-odd sets was ~10 ms of it."""
    tc = toolchain or rustc.toolchain()
    targets = target_list(toolchain=tc)
    cache = rustc.load_cache(tc)
    stored, cfg = cache.get("known"), cache.get("cfg")
    if (
        isinstance(stored, dict)
        and stored.get("targets") == len(targets)
        and isinstance(stored.get("values"), dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in stored["values"].values())
        and isinstance(cfg, dict)
        and all(t in cfg for t in targets)
    ):
        return {str(k): frozenset(str(x) for x in v) for k, v in sorted(stored["values"].items())}
    found: dict[str, set[str]] = {}
    for cs in all_cfg_sets(toolchain=tc).values():
        for key, value in cs.atoms:
            bucket = found.setdefault(key, set())
            if value is not None:
                bucket.add(value)
    known = {k: frozenset(v) for k, v in sorted(found.items())}
    values = {k: sorted(v) for k, v in known.items()}
    rustc.update_cache(tc, known={"targets": len(targets), "values": values})
    return known


def cfg_sets(targets: Sequence[str], *, toolchain: Toolchain | None = None) -> dict[str, CfgSet]:
    """Several built-in targets at once (parallel on a cold cache), e.g. the illumos/solaris pair."""
    tc = toolchain or rustc.toolchain()
    for t in targets:
        check_target(t, toolchain=tc)
    raw = fill_cfg_cache([t for t in targets if not is_spec_path(t)], toolchain=tc)
    return {
        t: cfg_set(t, toolchain=tc)
        if is_spec_path(t)
        else CfgSet(t, parse_cfg("\n".join(raw[t]), f"cache entry for {t}"))
        for t in targets
    }


def bootstrap_cfg(target: str, *, toolchain: Toolchain | None = None) -> CfgSet:
    """The cfg set as a nightly (or ``RUSTC_BOOTSTRAP=1``) rustc prints it, nightly-only cfgs included.

    Used to compare a custom spec with its base on equal terms: both sides then carry the same
    nightly-only atoms, so the difference is only what the spec change did.
    """
    tc = toolchain or rustc.toolchain()
    check_target(target, toolchain=tc)
    return CfgSet(target, parse_cfg("\n".join(_query(tc, target, bootstrap=True)), target))


def strip_nightly_only(atoms: frozenset[Atom], *, toolchain: Toolchain | None = None) -> frozenset[Atom]:
    """Drop the cfgs only a nightly-mode rustc prints (``ub_checks``, ``fmt_debug``...).

    A custom JSON target can only be loaded in nightly mode, which makes rustc also print unstable cfgs
    a stable build never sees. They are recognised by comparing the host target's stable and
    nightly-mode output (cached per rustc): keys absent from stable, and name-only atoms such as the
    bare ``target_has_atomic``. Unstable *values* of stable keys (``target_feature="x87"``) cannot be
    told apart this way and are kept. On a nightly toolchain nothing is stripped: that is what it sees.
    """
    tc = toolchain or rustc.toolchain()
    if tc.is_nightly:
        return atoms
    cache = rustc.load_cache(tc)
    extra = cache.get("nightly_only")
    if not isinstance(extra, dict):
        stable = cfg_set(tc.host, toolchain=tc).atoms
        nightly = parse_cfg("\n".join(_query(tc, tc.host, bootstrap=True)), tc.host)
        stable_keys = {k for k, _ in stable}
        extra = {
            "keys": sorted({k for k, _ in nightly} - stable_keys),
            "names": sorted(k for k, v in nightly - stable if v is None),
        }
        rustc.update_cache(tc, nightly_only=extra)
    keys, names = set(extra.get("keys", [])), set(extra.get("names", []))
    return frozenset(a for a in atoms if a[0] not in keys and not (a[1] is None and a[0] in names))
