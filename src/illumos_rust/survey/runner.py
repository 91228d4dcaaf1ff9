"""Fan ``port``/``audit`` out over Dask and keep every result in the store.

Dask (``distributed``) is the engine: a ``LocalCluster`` with one single-threaded worker process per core by
default, or any scheduler given as ``tcp://HOST:PORT``. Dask reschedules the tasks of a worker that dies;
after ``allowed-failures`` deaths a task's future raises ``KilledWorker``, which is recorded as a failed item.
The client is the only writer of the store and commits each result as it arrives, so an interrupted run
resumes where it stopped: a rerun skips every digest already stored for this tool version.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from .sources import Source, binary_sources, crate_sources
from .store import Item, Store
from .tasks import TOOL, audit_binary, port_crate

#: Fewer items than this to analyse (and no --scheduler): analyse them in this process. Starting a local
#: cluster costs seconds, which dwarfs re-analysing the one crate that changed since the last run.
INLINE_BELOW = 4


@dataclass(slots=True)
class RunSummary:
    """What one ``survey crates``/``survey binaries`` run did."""

    kind: str
    found: int = 0
    analysed: int = 0
    reused: int = 0
    failed: int = 0
    seconds: float = 0.0
    dashboard: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "found": self.found,
            "analysed": self.analysed,
            "reused": self.reused,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "dashboard": self.dashboard,
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
) -> RunSummary:
    """Analyse every item under ``paths`` that the store does not hold yet for this tool version."""
    if kind not in ("crate", "binary"):
        raise UsageError(f"unknown survey kind {kind!r}")
    if workers is not None and workers < 1:
        raise UsageError("workers must be at least 1")
    started = time.perf_counter()
    sources = crate_sources(paths) if kind == "crate" else binary_sources(paths)
    summary = RunSummary(kind, found=len(sources))
    fn = port_crate if kind == "crate" else audit_binary
    with Store(store_path) as store:
        known = store.known(kind, TOOL)
        todo: list[Source] = []
        for src in sources:
            if src.error:
                _record(store, summary, kind, src, {"status": "failed", "reason": src.error, "result": {}})
            elif src.digest in known:
                summary.reused += 1
                store.relocate(kind, src.digest, TOOL, src.path)
            else:
                todo.append(src)
                known.add(src.digest)  # the same content twice in one run is analysed once
        total = len(todo)
        if progress:
            progress(0, total)
        if scheduler is None and total < INLINE_BELOW:
            for i, src in enumerate(todo):
                _record(store, summary, kind, src, fn(src.path))
                if progress:
                    progress(i + 1, total)
        elif total:
            _distributed(store, summary, kind, fn, todo, scheduler, workers, progress, on_dashboard)
    summary.seconds = time.perf_counter() - started
    return summary


def _distributed(
    store: Store,
    summary: RunSummary,
    kind: str,
    fn: Callable[[str], dict[str, Any]],
    todo: list[Source],
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    on_dashboard: Callable[[str], None] | None,
) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("survey needs Dask: pip install 'illumos-rust[survey]'") from None
    cluster = None
    try:
        if scheduler is None:
            n = workers or os.cpu_count() or 1
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
            )
            client = Client(cluster)  # type: ignore[no-untyped-call]
        else:
            try:
                client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        with client:
            link = client.dashboard_link if _has_dashboard(client) else ""
            summary.dashboard = link
            if link and on_dashboard:
                on_dashboard(link)
            by_key = {f"{kind}-{src.digest}": src for src in todo}
            futures = [
                client.submit(fn, src.path, key=key, pure=False, retries=2) for key, src in by_key.items()
            ]
            for done, fut in enumerate(as_completed(futures), 1):  # type: ignore[no-untyped-call]
                src = by_key[fut.key]
                try:
                    result = fut.result()
                except Exception as exc:  # KilledWorker after repeated worker deaths, a lost scheduler...
                    result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "result": {}}
                _record(store, summary, kind, src, result)
                fut.release()
                if progress:
                    progress(done, len(todo))
    finally:
        if cluster is not None:
            cluster.close()


def _has_dashboard(client: Any) -> bool:
    try:
        info = client.scheduler_info()
    except Exception:  # an old scheduler without the field: no link, not a failure
        return False
    return bool(info.get("services", {}).get("dashboard"))


def _record(store: Store, summary: RunSummary, kind: str, src: Source, result: dict[str, Any]) -> None:
    status = str(result.get("status", "failed"))
    reason = str(result.get("reason", ""))
    store.put(
        Item(
            kind,
            src.digest,
            TOOL,
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
