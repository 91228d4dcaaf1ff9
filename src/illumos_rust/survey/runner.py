"""Fan ``port``/``audit`` out over Dask and keep every result in the store.

Dask (``distributed``) is the engine: a ``LocalCluster`` with one single-threaded worker process per core by
default, or any scheduler given as ``tcp://HOST:PORT``. Dask reschedules the tasks of a worker that dies;
after ``allowed-failures`` deaths a task's future raises ``KilledWorker``, which is recorded as a failed item.
The client is the only writer of the store and commits each result as it arrives, so an interrupted run
resumes where it stopped: a rerun skips every digest already stored for this tool version.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from . import tasks
from .sources import (
    Source,
    binary_sources,
    content_digest,
    crate_sources,
    stat_listed_many,
    stat_signature,
    use_listed,
)
from .store import Item, Store
from .tasks import TOOL, crate_tool, prewarm, run_chunk

#: Fewer items than this to analyse (and no --scheduler): analyse them in this process. Starting a local
#: cluster costs seconds, which dwarfs re-analysing the one crate that changed since the last run.
INLINE_BELOW = 4
#: Items per Dask task at most (see :func:`chunks`); a failed chunk is retried item by item.
CHUNK_MAX = 16


@dataclass(slots=True)
class RunSummary:
    """What one ``survey crates``/``survey binaries`` run did."""

    kind: str
    found: int = 0
    tool: str = TOOL  # the store's key for this run's analyses: the version, and for crates what port reads
    analysed: int = 0
    reused: int = 0
    failed: int = 0
    standing: int = 0  # reused items whose stored analysis failed (by their bytes): still failed
    seconds: float = 0.0
    dashboard: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds: signatures, cluster wait, analyse
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tool": self.tool,
            "found": self.found,
            "analysed": self.analysed,
            "reused": self.reused,
            "failed": self.failed,
            "standing": self.standing,
            "seconds": round(self.seconds, 3),
            "dashboard": self.dashboard,
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
        }


def _name(kind: str, src: Source, result: dict[str, Any]) -> str:
    if kind == "crate":
        res = result.get("result", {})
        if res.get("crate"):
            return f"{res['crate']}-{res.get('version', '')}".rstrip("-")
        base = os.path.basename(src.path)
        return base[: -len(".crate")] if base.endswith(".crate") else base
    return src.path


def run_survey(
    kind: str,
    paths: list[str],
    store_path: str,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
    dashboard: bool = True,
) -> RunSummary:
    """Analyse every item under ``paths`` that the store does not hold yet for this tool version.

    ``dashboard``: serve the Dask dashboard from a local cluster (bokeh: ~1.5 s more to start the cluster,
    and the scheduler's periodic plot updates); a remote scheduler's dashboard is linked either way."""
    if kind not in ("crate", "binary"):
        raise UsageError(f"unknown survey kind {kind!r}")
    if workers is not None and workers < 1:
        raise UsageError("workers must be at least 1")
    most = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers is not None and scheduler is None and workers > most:
        # each local worker is a process of ~80 MB: 10^20 of them took a 24 GB machine down (OOM killer)
        raise UsageError(f"--workers {workers}: at most {most} local workers ({MAX_WORKERS_PER_CORE}/core)")
    started = time.perf_counter()
    background = ThreadPoolExecutor(1)
    finished = False
    import tempfile

    scratch = tempfile.mkdtemp(prefix="illumos-rust-survey-run-")
    saved_scratch = os.environ.get(tasks.SCRATCH_ENV)
    os.environ[tasks.SCRATCH_ENV] = scratch  # inherited by the forked children and local workers
    try:
        # port's context needs the rustc identity (`rustc -vV`, ~30 ms, mostly process start-up): asked now,
        # while the sources are listed and the store is read, instead of after
        probe = None
        keyed: Future[str] | None = None
        if kind == "crate":
            # imported here, in this thread: an import in the background thread holds the interpreter lock
            # between its steps, and the listing's thousands of short system calls each wait for it
            from ..targetspec import rustc

            probe = background.submit(_probe_rustc, rustc.toolchain)
            # then the store key of this run's analyses (rustc and the libc sources): needed only once the
            # stat walk is done, so it is made beside it (the pool's one thread runs it after the probe)
            keyed = background.submit(crate_tool)
        sources = _once(crate_sources(paths) if kind == "crate" else binary_sources(paths))
        origins = list(dict.fromkeys(os.path.realpath(p) for p in paths))
        listed = time.perf_counter() - started
        summary = _survey(
            kind,
            sources,
            origins,
            store_path,
            background,
            probe,
            keyed,
            started,
            scheduler,
            workers,
            progress,
            on_dashboard,
            dashboard,
        )
        summary.phases["sources"] = listed
        finished = True
        return summary
    finally:
        # interrupted (Ctrl-C, SIGTERM): do not wait for a thread still starting the cluster or reaching
        # the scheduler (that waited out Dask's connect timeout before the interrupt took effect)
        background.shutdown(wait=finished, cancel_futures=not finished)
        if saved_scratch is None:
            os.environ.pop(tasks.SCRATCH_ENV, None)
        else:
            os.environ[tasks.SCRATCH_ENV] = saved_scratch
        shutil.rmtree(scratch, ignore_errors=True)


#: The prefix of a digest made from an item's path, for an item whose content could not be hashed (see
#: ``sources.content_digest``): never remembered as the content's, so it is hashed again next run.
UNREAD = "unreadable:"


def _isolated(kind: str, src: Source, known: set[str]) -> dict[str, Any]:
    """One item analysed here, without a cluster, but in a forked child when this process can fork: an
    item whose analysis ends its process (a crash in a library, memory, an injected fault) then fails
    alone, as it does in a Dask worker, instead of ending the survey. The child inherits port's context
    and the libc index already built here, so the fork costs a few milliseconds."""
    item = [(src.path, src.how, src.digest)]
    if not hasattr(os, "fork") or threading.current_thread() is not threading.main_thread():
        return run_chunk(kind, item, known)[0]
    from ..forked import call_in_child

    payload, failure = call_in_child(lambda: pickle.dumps(run_chunk(kind, item, known)[0]))
    if payload is None:
        reason = f"the analysis ended its process ({failure})"
        return {"status": "failed", "reason": reason, "result": {}, "digest": src.digest}
    result: dict[str, Any] = pickle.loads(payload)
    return result


def _once(sources: list[Source]) -> list[Source]:
    """Each item once, under the first source that reached it (a crate named twice, two links to one
    crate): an item is one analysis and one row per run."""
    seen: set[str] = set()
    out: list[Source] = []
    for src in sources:
        if src.path not in seen:
            seen.add(src.path)
            out.append(src)
    return out


def _probe_rustc(toolchain: Callable[[], object]) -> None:
    with contextlib.suppress(UsageError):  # no rustc: the analysis reports it, where it happens
        toolchain()


def _survey(
    kind: str,
    sources: list[Source],
    origins: list[str],
    store_path: str,
    background: ThreadPoolExecutor,
    probe: Future[None] | None,
    keyed: Future[str] | None,
    started: float,
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    on_dashboard: Callable[[str], None] | None,
    dashboard: bool,
) -> RunSummary:
    summary = RunSummary(kind, found=len(sources))
    began = time.time()  # what the view of this run is as of (store.record_view)
    if store_path != ":memory:":
        # a rerun that re-analyses one crate would otherwise spend most of its time re-indexing its libc
        tasks.INDEX_CACHE = store_path + ".libc-index"
    with Store(store_path) as store:
        connecting: Future[Any] | None = None
        # "this version analysed nothing of this kind here yet": decided before the key of what port
        # reads beside each crate is known (a new rustc or libc then starts the cluster later, not early)
        if scheduler is not None or (not store.has_any(kind, TOOL) and len(sources) >= INLINE_BELOW):
            # nothing of this kind in the store for this tool version: every item will be analysed, so
            # start the cluster (importing Dask, forking the workers: seconds) while the stat walk runs
            connecting = _in_daemon(_connect, scheduler, workers, kind, dashboard)
        # 1. stat signatures: an item whose sizes and mtimes are as last time keeps its digest unread
        remembered = store.fingerprints()

        # what the last run listed is stat'ed directly (half of it in a forked child when there is much); an
        # item with no remembered layout, or whose signature moved, is walked here
        layouts = [remembered[s.path][2] if s.path in remembered else "" for s in sources]
        quick = [
            i for i, (s, layout) in enumerate(zip(sources, layouts, strict=True)) if layout or s.how == "file"
        ]
        # a rerun of crates (no cluster to start) usually has something to analyse: port's import and context
        # are built beside the child's stats (wasted, but overlapped, when nothing changed)
        warm: Callable[[], None] | None = None
        if probe is not None and connecting is None:

            def warm(probe: Future[None] = probe) -> None:
                with contextlib.suppress(Exception):  # the context's own call reports what went wrong
                    probe.result()  # the rustc identity it asked for: not asked a second time
                tasks.warm_context()

        numbers = stat_listed_many([(sources[i].path, sources[i].how, layouts[i]) for i in quick], warm)
        listed = dict(zip(quick, numbers, strict=True))
        for i, src in enumerate(sources):
            before = remembered.get(src.path)
            if not use_listed(src, layouts[i], listed.get(i)):
                stat_signature(src)
            elif before and src.signature != before[0] and src.how == "tree":
                stat_signature(src)  # something changed: walk it again for the current layout
            if before and before[0] == src.signature and not src.error:
                src.digest = before[1]
        stale = [src for src in sources if not src.digest]
        if keyed is not None:
            summary.tool = keyed.result()
        tool = summary.tool
        known = store.known(kind, tool)
        failed_before = store.failed(kind, tool)
        retried = sum(1 for src in sources if src.digest and src.digest not in known and not src.error)
        summary.phases["signatures"] = time.perf_counter() - started
        # 2. many changed items (or failures to try again): start the cluster (seconds) and let the workers
        # hash them (reading every byte of a corpus is work worth spreading too); a few: hash them here and
        # maybe skip the cluster
        if connecting is None and len(stale) + retried >= INLINE_BELOW:
            connecting = _in_daemon(_connect, scheduler, workers, kind, dashboard)
        elif connecting is None:
            for src in stale:
                content_digest(src)
        todo: list[Source] = []
        moved: list[tuple[str, str]] = []
        with store.transaction():
            for src in sources:
                if src.error:
                    content_digest(src)  # the path-derived digest of an unreadable item
                    failed = {"status": "failed", "reason": src.error, "result": {}}
                    _record(store, summary, kind, src, failed)
                elif src.digest in known:
                    summary.reused += 1
                    summary.standing += src.digest in failed_before
                    before = remembered.get(src.path)
                    if not (before and before[1] == src.digest):  # found here last run too: nothing to move
                        moved.append((src.digest, src.path))
                else:
                    todo.append(src)
            store.relocate(kind, tool, moved)
        try:
            total = len(todo)
            if progress:
                progress(0, total)
            t_inline = time.perf_counter()
            if connecting is None:
                for i, src in enumerate(todo):
                    result = _isolated(kind, src, known)
                    with store.transaction():
                        _record(store, summary, kind, src, result)
                    if progress:
                        progress(i + 1, total)
                if todo:
                    summary.phases["analyse"] = time.perf_counter() - t_inline
            else:
                t_wait = time.perf_counter()
                try:
                    client, cluster = connecting.result(timeout=None if scheduler is None else HANDSHAKE_S)
                except FutureTimeout:
                    raise UsageError(
                        f"{scheduler}: no Dask handshake within {HANDSHAKE_S:.0f} s (is it a Dask scheduler?)"
                    ) from None
                t_up = time.perf_counter()
                summary.phases["cluster_wait"] = t_up - t_wait
                try:
                    if todo:
                        served = dashboard or cluster is None  # a remote scheduler's own dashboard, if any
                        _distributed(
                            client, store, summary, kind, todo, known, progress, on_dashboard, served
                        )
                    summary.phases["analyse"] = time.perf_counter() - t_up
                finally:
                    client.close()
                    if cluster is not None:
                        cluster.close()
        finally:  # also when interrupted: the view then keeps the earlier analysis of what was not reached
            with contextlib.suppress(sqlite3.Error):
                _record_view(store, kind, tool, sources, remembered, origins, began)
        store.remember(
            [
                (s.path, s.signature, s.digest, s.layout)
                for s in sources
                if s.digest
                and not s.error
                and not s.digest.startswith(UNREAD)  # a failure keyed by path: hashed again next time
                and remembered.get(s.path) != (s.signature, s.digest, s.layout)
            ]
        )
    summary.seconds = time.perf_counter() - started
    return summary


#: Dask's periodic housekeeping, slowed down for a local cluster whose workers run one CPU-bound task after
#: another: the statistical profiler samples each worker's task thread every 10 ms (it feeds the dashboard's
#: profile page, so it stays on with the dashboard), the event-loop tick monitor wakes every 20 ms, the nanny
#: polls memory every 100 ms. Together about 1-2 s of CPU over a 1,500-crate run, measured at load 10.
_QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


#: How long a remote scheduler may take to connect and answer Dask's handshake. The connect alone is
#: bounded by Dask (10 s, see _connect); a listener that accepts and never answers (an HTTP server on the
#: port) held the survey for as long as it kept the connection open (808 s, in a review).
HANDSHAKE_S = 30.0


def _in_daemon(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``fn(*args)`` in a daemon thread: starting a cluster or reaching a scheduler can outlast the run
    (an interrupt, a handshake that never comes), and the process must be able to leave without it."""
    done: Future[Any] = Future()

    def run() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to the waiting thread, which raises it
            done.set_exception(exc)

    threading.Thread(target=run, name="survey-connect", daemon=True).start()
    return done


#: More local worker processes than this per core only add memory (each is ~80 MB) and switching.
MAX_WORKERS_PER_CORE = 4

_FORKING: list[int] = []  # the pid of the process about to fork (set just before each fork)


def _guard_forked_children() -> None:
    """Every process forked from here on (the local cluster's workers, and their replacements) dies with
    its parent. Dask's nannies run in this process, so its workers are its children: when it was killed
    (``kill -9``, the OOM killer) they lived on with PPID 1, idle, holding the caller's stdout and stderr
    (a ``survey ... | tee log`` then never ended), and ignored SIGTERM, whose handler they had inherited
    from the CLI. In the child: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux; linux/prctl.h:
    PR_SET_PDEATHSIG = 1), a check that the parent did not die before that, and the default SIGTERM and
    SIGHUP actions back."""
    if _FORKING:
        return
    _FORKING.append(os.getpid())

    def before() -> None:
        _FORKING[0] = os.getpid()

    def in_child() -> None:
        from ..forked import die_with

        die_with(_FORKING[0])  # also leaves at once when the parent died between fork and prctl
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread: nothing to restore
                signal.signal(sig, signal.SIG_DFL)

    os.register_at_fork(before=before, after_in_child=in_child)


def _connect(scheduler: str | None, workers: int | None, kind: str, dashboard: bool) -> tuple[Any, Any]:
    import multiprocessing  # here: a rerun that starts no cluster need not import it (~12 ms)

    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("survey needs Dask: pip install 'illumos-rust[survey]'") from None
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        # Worker processes forked from this one start in ~1 s and inherit the imported code and the port
        # context (cfg sets from rustc, libc index) built here once; spawned ones took ~3.5 s to start plus
        # ~1.3 s to warm up on the first task, measured on a loaded 2-core machine (where fork exists).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork" and kind == "crate":
            prewarm()
        if method == "fork":
            _guard_forked_children()
            # the forked workers share this process's heap copy-on-write; a collection in a worker that
            # walks the inherited objects would touch (copy) their pages: keep them out of the collector
            gc.freeze()
        try:
            quiet = {k: v for k, v in _QUIET.items() if not (dashboard and k.endswith("profile.enabled"))}
            with dask.config.set({"distributed.worker.multiprocessing-method": method, **quiet}):
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    # the HTTP server (health, metrics) on a free port either way; the bokeh dashboard on it
                    # only when asked for (dashboard_address=None would still bind the default :8787)
                    dashboard_address=":0",
                    scheduler_kwargs={"dashboard": dashboard},
                    # CRITICAL only: what a worker logs as an ERROR reaches the survey anyway (a task's
                    # exception, a lost worker: a failed item), and at close a worker's last heartbeat
                    # to the stopping scheduler logged a 40-line traceback that meant nothing
                    silence_logs=50,
                )
        finally:
            gc.unfreeze()
        return Client(cluster), cluster  # type: ignore[no-untyped-call]
    _reachable(scheduler)
    try:
        # 10 s: a TCP connect to a live scheduler takes milliseconds, even across a data centre; Dask
        # retries a refused connection until this timeout, which was a silent 30 s on a typo'd port
        return Client(scheduler, timeout=10), None  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    except (ValueError, TypeError) as exc:  # a malformed address: foo://x, a missing port
        raise UsageError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT ({exc})") from None
    except MemoryError:  # the peer's first bytes read as a Dask frame length of exabytes
        raise UsageError(f"{scheduler} does not answer as a Dask scheduler") from None


def _reachable(scheduler: str) -> None:
    """Fail at once, saying why, when a ``tcp://`` address cannot be reached: Dask retries a refused
    connection until its timeout and then says "Timed out" for a port nothing listens on, a name that
    does not resolve and a port over 65535 alike."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler)
    if parts.scheme != "tcp":
        return  # tls://, ucx://...: Dask's own connect decides
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or over 65535
        raise UsageError(f"--scheduler {scheduler!r}: {exc}") from None
    if not host or port is None:
        raise UsageError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=10).close()
    except socket.gaierror as exc:
        raise UsageError(f"cannot reach the Dask scheduler {scheduler}: {host}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise UsageError(f"cannot reach the Dask scheduler {scheduler}: connection refused") from None
    except OSError:  # a timeout or an unreachable network: Dask's own connect tries and reports it
        pass


def chunks(todo: list[Source], n_workers: int) -> list[list[Source]]:
    """Largest first, in chunks of about 1/(8 x workers) of the bytes (at most CHUNK_MAX items): big
    crates run alone and early, small ones share a task, and the tail of the run stays balanced."""
    order = sorted(todo, key=lambda s: s.size, reverse=True)
    budget = max(1, sum(s.size for s in order) // (8 * max(1, n_workers)))
    out: list[list[Source]] = []
    current: list[Source] = []
    used = 0
    for src in order:
        if current and (used + src.size > budget or len(current) >= CHUNK_MAX):
            out.append(current)
            current, used = [], 0
        current.append(src)
        used += src.size
    if current:
        out.append(current)
    return out


def _distributed(
    client: Any,
    store: Store,
    summary: RunSummary,
    kind: str,
    todo: list[Source],
    known: set[str],
    progress: Callable[[int, int], None] | None,
    on_dashboard: Callable[[str], None] | None,
    served: bool,
) -> None:
    from dask.distributed import as_completed

    link = client.dashboard_link if served and _has_dashboard(client) else ""
    summary.dashboard = link
    if link and on_dashboard:
        on_dashboard(link)
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    # one object, in a list: scatter() of a set itself scatters each element, and the tasks then got a set
    # of futures in which no digest was ever found (every stale item re-analysed, known content or not)
    known_on_workers = client.scatter([frozenset(known)], broadcast=True)[0] if known else frozenset()
    pending: dict[str, list[Source]] = {}
    submitted: list[str] = []
    alone_again: set[str] = set()

    def submit(chunk: list[Source]) -> Any:
        items = [(s.path, s.how, s.digest) for s in chunk]
        # numbered: a key is one submission (two chunks of equal items must not share one)
        digest = hashlib.sha256(repr(items).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        key = f"survey-{len(submitted)}-{digest}"
        submitted.append(key)
        pending[key] = chunk
        return client.submit(run_chunk, kind, items, known_on_workers, key=key, pure=False, retries=2)

    done = 0
    queue = as_completed([submit(c) for c in chunks(todo, n_workers)])  # type: ignore[no-untyped-call]
    for fut in queue:
        chunk = pending.pop(fut.key)
        try:
            results = fut.result()
        except Exception as exc:  # KilledWorker after repeated worker deaths, a lost scheduler...
            if len(chunk) > 1:  # find which item it was: each one alone
                for src in chunk:
                    queue.add(submit([src]))  # type: ignore[no-untyped-call]
                continue
            if type(exc).__name__ == "KilledWorker" and chunk[0].path not in alone_again:
                # Dask blames every task that was on a worker when it died: an item queued beside the one
                # that kills its workers can be declared killed with it. Alone once more, it is not.
                alone_again.add(chunk[0].path)
                queue.add(submit(chunk))  # type: ignore[no-untyped-call]
                continue
            results = [{"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "result": {}}]
        fut.release()
        with store.transaction():  # one commit per chunk, not per item
            for src, result in zip(chunk, results, strict=True):
                _record(store, summary, kind, src, result)
        done += len(chunk)
        if progress:
            progress(done, len(todo))


def _record_view(
    store: Store,
    kind: str,
    tool: str,
    sources: list[Source],
    remembered: dict[str, tuple[str, str, str]],
    origins: list[str],
    began: float,
) -> None:
    """What this run found under each source it was given, for queries and reports (``Store.items``):
    each path with the digest of its content now, or, when that content was not analysed (an interrupted
    run), the digest it had last time."""
    analysed = store.stored(kind, tool)
    found: dict[str, list[tuple[str, str]]] = {origin: [] for origin in origins}  # an emptied source too
    for src in sources:
        digest = src.digest if src.digest in analysed else remembered.get(src.path, ("", "", ""))[1]
        view = found.setdefault(src.origin, [])
        if digest:
            view.append((src.path, digest))
    with store.transaction():
        for origin, pairs in found.items():
            store.record_view(kind, origin, tool, pairs, began)


def _has_dashboard(client: Any) -> bool:
    try:
        info = client.scheduler_info()
    except Exception:  # an old scheduler without the field: no link, not a failure
        return False
    return bool(info.get("services", {}).get("dashboard"))


def _record(store: Store, summary: RunSummary, kind: str, src: Source, result: dict[str, Any]) -> None:
    status = str(result.get("status", "failed"))
    if result.get("digest"):
        src.digest = str(result["digest"])  # hashed by the worker
    if not src.digest:  # the task died before hashing (worker killed): key it by path, retried next run
        src.digest = "unreadable:" + hashlib.sha256(src.path.encode("utf-8", "surrogateescape")).hexdigest()
    if status == "known":  # the worker found this content already in the store
        summary.reused += 1
        store.relocate(kind, summary.tool, [(src.digest, src.path)])
        return
    reason = str(result.get("reason", ""))
    store.put(
        Item(
            kind,
            src.digest,
            summary.tool,
            _name(kind, src, result),
            src.path,
            status,
            reason,
            float(result.get("seconds", 0.0)),
            dict(result.get("result", {})),
        )
    )
    summary.analysed += 1
    if status != "ok":
        summary.failed += 1
        summary.failures.append((src.path, reason))
    for member in result.get("result", {}).get("members", []) if status == "ok" else []:
        if isinstance(member, dict) and member.get("status") != "ok":  # a package's broken ELF file
            summary.failed += 1
            summary.failures.append((f"{src.path}!/{member.get('member')}", str(member.get("reason", ""))))
