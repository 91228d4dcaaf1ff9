"""``illumos-rust port``: find where crates treat illumos differently from Solaris, and patch the gaps."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from ..errors import FileError, UsageError
from ..findings import Severity, render_json, render_sarif, render_text
from ..port import engine
from ..port.analysis import RULES
from .common import add_format, use_color

EXAMPLES = """examples:
  illumos-rust port /usr/share/cargo/registry            # a registry or vendor directory
  illumos-rust port . --patch illumos.diff               # one crate or workspace, write a patch
  cargo illumos port --format sarif > port.sarif         # the workspace and its dependencies
  illumos-rust port vendor/ --apply                      # edit the files in place

exit codes: 0 clean, 1 findings at or above --fail-on, 2 bad input or I/O error, 130 interrupted
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "port",
        help="find solaris-only / illumos-only cfgs in crate sources and patch the gaps",
        description='Find where crates treat illumos differently from Solaris (cfg(target_os = "solaris")\n'
        "without illumos, and the reverse), report each site, and write or apply the patch that closes\n"
        "the gap. Every patched file is re-parsed before it is offered.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="crate, workspace, vendor or registry directory")
    p.add_argument(
        "--cargo",
        action="store_true",
        help="scan the current cargo workspace and its dependencies (cargo metadata --offline)",
    )
    add_format(p, ("text", "json", "sarif"))
    p.add_argument(
        "--patch", metavar="FILE", help="write a unified diff (apply with patch -p1); '-' = stdout"
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="edit the scanned files in place, all or none (each verified, then renamed over the "
        "original; vendored .cargo-checksum.json kept valid). With --cargo, dependencies outside the "
        "workspace (the shared registry cache) are never edited: only the diff has them",
    )
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: every core)")
    p.add_argument("--base", default=engine.DEFAULT_BASE, help="target illumos should follow")
    p.add_argument("--target", default=engine.DEFAULT_PORT, help="target being ported to")
    p.add_argument(
        "--min-severity",
        choices=("info", "warning", "error"),
        default=None,
        help="findings to show (default: warning for text, info for json/sarif)",
    )
    p.add_argument(
        "--fail-on", choices=("info", "warning", "error"), default="error", help="exit 1 at this level"
    )
    p.add_argument(
        "--libc-dir", action="append", default=[], help="extra directory holding libc-X.Y.Z sources"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cargo and args.paths:
        raise UsageError(
            "--cargo (implied by `cargo illumos port`) scans the current workspace and its dependencies; "
            "to scan directories, run `illumos-rust port PATH...`"
        )
    progress = _progress() if sys.stderr.isatty() and args.format == "text" else None
    report = engine.run_port(
        args.paths,
        cargo=args.cargo,
        base=args.base,
        target=args.target,
        jobs=args.jobs,
        libc_dirs=args.libc_dir,
        progress=progress,
    )
    floor = Severity.parse(args.min_severity or ("warning" if args.format == "text" else "info"))
    shown = [f for f in report.findings if f.severity >= floor]
    summary = {**report.summary(), "shown": len(shown)}
    # With `--patch -` stdout is the diff, so the report goes to stderr (`... --patch - | patch -p1` works).
    out = sys.stderr if args.patch == "-" else sys.stdout
    if args.format == "json":
        out.write(render_json(shown, summary=summary, refused=[list(r) for r in report.refused]))
    elif args.format == "sarif":
        out.write(render_sarif(shown, RULES))
    else:
        out.write(render_text(shown, color=use_color(out)))
        hidden = len(report.findings) - len(shown)
        print(
            f"port: {summary['crates']} crates ({summary['crates_knowing_illumos']} mention illumos), "
            f"{summary['files']} files, {summary['bytes'] / 1e6:.1f} MB, "
            f"{summary['cfg_sites']} cfg sites, {len(report.findings)} findings"
            + (f" ({hidden} below {floor.name.lower()} not shown)" if hidden else "")
            + f", {len(report.patches)} files patchable, {report.seconds:.2f} s",
            file=out,
        )
    diff_only = {p.rel for p in report.patches if not p.writable}
    for path, reason in report.refused:
        if path in diff_only and not args.apply:
            continue  # nothing is applied: that --apply would leave it alone is not news
        print(f"illumos-rust: patch for {path}: {reason}", file=sys.stderr)
    if args.patch:
        diff = report.diff()
        if args.patch == "-":
            sys.stdout.write(diff)
        else:
            _write_patch(args.patch, diff)
    if args.apply:
        for changed in report.apply():
            print(f"patched {changed}", file=sys.stderr)
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity >= threshold for f in report.findings) else 0


def _write_patch(path: str, diff: str) -> None:
    """Write the diff; on failure (a directory, a missing directory, a full disk) say so in one line and
    leave no partial patch behind (a file this run created is removed again)."""
    existed = os.path.lexists(path)
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(diff)
    except OSError as exc:
        if not existed:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise FileError.from_os(path, "cannot write the patch", exc) from None


def _progress() -> Any:
    """A rich progress line on a terminal; the scan of a big tree takes a few seconds."""
    try:
        from rich.progress import Progress
    except ImportError:  # rich is a dependency, but a broken install should not stop a scan
        return None
    bar = Progress(transient=True)
    task = bar.add_task("scanning crates", total=None)
    state = {"started": False}

    def update(done: int, total: int) -> None:
        if not state["started"]:
            bar.start()
            state["started"] = True
        bar.update(task, completed=done, total=total)
        if done == total:
            bar.stop()

    return update
