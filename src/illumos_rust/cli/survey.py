"""``illumos-rust survey``: port/audit over an ecosystem on Dask, query the store, write the HTML report."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..survey import QUESTIONS, run_survey
from .common import print_json

EXAMPLES = """examples:
  illumos-rust survey crates /usr/share/cargo/registry             # local Dask cluster, one worker per core
  illumos-rust survey crates vendor/ downloads/*.crate --store s.db
  illumos-rust survey binaries /opt/pkg/bin --scheduler tcp://10.0.0.5:8786
  illumos-rust survey query solaris-only --format csv
  illumos-rust survey report -o report/                           # open report/index.html from disk

A rerun analyses only what changed (content hash + tool version); an interrupted run resumes.
exit codes: 0 every item analysed, 1 some items failed, in this run or unchanged since an earlier one
(recorded with the reason; a package counts each ELF file in it), 2 bad input or I/O error,
130 interrupted
"""

DEFAULT_STORE = "illumos-survey.db"
_PLURAL = {"crate": "crates", "binary": "binaries"}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "survey",
        help="port/audit a whole ecosystem on Dask; query the results; write an HTML report",
        description="Run port over many crates, or audit over many binaries, on a Dask cluster (a local one\n"
        "by default), keeping results in a SQLite store; answer common questions; write a static report.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="survey_command", metavar="{crates,binaries,query,report}", required=True)
    for kind, help_text in (
        ("crates", "registry/vendor directories, crate directories, .crate archives"),
        ("binaries", "ELF files, binary packages (.deb, .tgz, .tar.xz, ...), and trees of them"),
    ):
        s = sub.add_parser(kind, help=f"analyse {help_text}")
        s.add_argument("paths", nargs="+", metavar="SOURCE")
        _store(s)
        s.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use this Dask scheduler")
        s.add_argument(
            "--workers", type=int, default=None, help="local cluster worker processes (default: cores)"
        )
        s.add_argument(
            "--dashboard",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="serve the Dask dashboard of the local cluster (default: when stderr is a terminal, where "
            "someone can open it; it costs ~1.5 s of start-up)",
        )
        s.add_argument("--format", choices=("text", "json"), default="text")
        s.set_defaults(func=_run, kind="crate" if kind == "crates" else "binary")
    q = sub.add_parser("query", help="answer a common question from the store")
    q.add_argument(
        "question", choices=sorted(QUESTIONS), help="; ".join(f"{k}: {v.help}" for k, v in QUESTIONS.items())
    )
    _store(q)
    q.add_argument("--format", choices=("text", "json", "csv"), default="text")
    q.set_defaults(func=_query)
    r = sub.add_parser("report", help="write the static HTML report")
    r.add_argument("-o", "--output", required=True, metavar="DIR")
    _store(r)
    r.set_defaults(func=_report)


def _store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite result store (default: {DEFAULT_STORE})")


def _run(args: argparse.Namespace) -> int:
    progress = _progress(args.kind) if sys.stderr.isatty() else None

    def dashboard(link: str) -> None:
        if sys.stderr.isatty() or args.format == "text":
            print(f"Dask dashboard: {link}", file=sys.stderr)

    summary = run_survey(
        args.kind,
        args.paths,
        args.store,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=progress,
        on_dashboard=dashboard,
        dashboard=sys.stderr.isatty() if args.dashboard is None else args.dashboard,
    )
    if args.format == "json":
        print_json(summary.to_dict())
    else:
        print(
            f"{summary.found} {_PLURAL[args.kind]}: {summary.analysed} analysed, {summary.reused} unchanged, "
            f"{summary.failed} failed, {summary.seconds:.1f} s (store {args.store})"
            + (
                f"; {summary.standing} failed before, unchanged (survey query failed)"
                if summary.standing
                else ""
            )
        )
        for path, reason in summary.failures:
            print(f"  failed: {path}: {reason}")
    return 1 if summary.failed or summary.standing else 0


def _query(args: argparse.Namespace) -> int:
    from ..survey.query import ask, render  # only queries pay for it (~20 ms on every survey run otherwise)

    q, rows = ask(args.store, args.question)
    sys.stdout.write(render(q, rows, args.format))
    return 0


def _report(args: argparse.Namespace) -> int:
    from ..survey.report import build as build_report  # the report module only for reports

    out = build_report(args.store, args.output)
    print(f"wrote {out['pages']} pages, {out['bytes'] / 1e6:.2f} MB: {out['index']}")
    return 0


def _progress(kind: str) -> Any:
    """Items done, rate and ETA on a terminal (rich)."""
    try:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
    except ImportError:
        return None
    bar = Progress(
        TextColumn(f"survey {kind}s"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task("survey", total=None, rate="")
    state = {"started": 0.0}

    def update(done: int, total: int) -> None:
        if not state["started"]:
            bar.start()
            state["started"] = time.perf_counter()
        elapsed = time.perf_counter() - state["started"]
        rate = f"{done / elapsed:.1f}/s" if elapsed > 0 and done else ""
        bar.update(task, completed=done, total=total, rate=rate)
        if done >= total:
            bar.stop()

    return update
