"""``illumos-rust port``: find where crates treat illumos differently from Solaris, and patch the gaps.

Examples::

    illumos-rust port /usr/share/cargo/registry            # a registry or vendor directory
    illumos-rust port . --patch illumos.diff               # one crate or workspace, write a patch
    cargo illumos port --format sarif > port.sarif         # the workspace and its dependencies
    illumos-rust port vendor/ --apply                      # edit the files in place
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from ..errors import UsageError
from ..findings import Severity, render_json, render_sarif, render_text
from ..port import engine, workspace
from ..port.analysis import RULES
from .common import use_color


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "port",
        help="find solaris-only / illumos-only cfgs in crate sources and patch the gaps",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="crate, workspace, vendor or registry directory")
    p.add_argument(
        "--cargo",
        action="store_true",
        help="scan the current cargo workspace and its dependencies (cargo metadata --offline)",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument(
        "--patch", metavar="FILE", help="write a unified diff (apply with patch -p1); '-' = stdout"
    )
    p.add_argument("--apply", action="store_true", help="apply the patch to the files (workspace files only)")
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
    started = time.perf_counter()
    if args.cargo and args.paths:
        raise UsageError(
            "--cargo (implied by `cargo illumos port`) scans the current workspace and its dependencies; "
            "to scan directories, run `illumos-rust port PATH...`"
        )
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    ctx = engine.make_context(args.base, args.target)
    if args.cargo:
        root, crates = workspace.cargo_workspace()
    else:
        root, crates = workspace.discover(args.paths or ["."])
    if not crates:
        raise UsageError(f"no Rust sources under {', '.join(args.paths or ['.'])}")

    def rel(path: str) -> str:
        r = os.path.relpath(path, root)
        if r.startswith(".."):
            owner = next((c for c in crates if path.startswith(c.root + os.sep)), None)
            if owner is not None:
                return os.path.join(os.path.basename(owner.root), os.path.relpath(path, owner.root))
        return r

    def writable(path: str) -> bool:
        return not args.cargo or not os.path.relpath(path, root).startswith("..")

    progress = _progress() if sys.stderr.isatty() and args.format == "text" else None
    resolver = engine.LibcResolver(ctx, [*args.libc_dir, *engine.default_libc_dirs()])
    results = engine.scan(
        crates, ctx, jobs=args.jobs, progress=progress, meanwhile=lambda: resolver.prewarm(crates)
    )
    resolver.add_crates([r.crate for r in results])  # the workers read the manifests: names are here
    report = engine.decide(results, ctx, resolver, rel, writable=writable)
    elapsed = time.perf_counter() - started

    floor = Severity.parse(args.min_severity or ("warning" if args.format == "text" else "info"))
    shown = [f for f in report.findings if f.severity >= floor]
    files = sum(r.stats.get("files", 0) for r in results)
    size = sum(r.stats.get("bytes", 0) for r in results)
    sites = sum(r.stats.get("sites", 0) for r in results)
    summary = {
        "crates": len(results),
        "crates_knowing_illumos": sum(r.knows_port for r in results),
        "files": files,
        "bytes": size,
        "cfg_sites": sites,
        "findings": len(report.findings),
        "shown": len(shown),
        "patched_files": len(report.patches),
        "seconds": round(elapsed, 3),
        "base": ctx.base,
        "target": ctx.port,
    }
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
            f"port: {len(results)} crates ({summary['crates_knowing_illumos']} mention illumos), "
            f"{files} files, {size / 1e6:.1f} MB, {sites} cfg sites, {len(report.findings)} findings"
            + (f" ({hidden} below {floor.name.lower()} not shown)" if hidden else "")
            + f", {len(report.patches)} files patchable, {elapsed:.2f} s",
            file=out,
        )
    for path, reason in report.refused:
        print(f"illumos-rust: patch for {rel(path)} refused: {reason}", file=sys.stderr)
    diff = report.diff()
    if args.patch:
        if args.patch == "-":
            sys.stdout.write(diff)
        else:
            with open(args.patch, "w", encoding="utf-8") as fh:
                fh.write(diff)
    if args.apply:
        from ..port.patch import update_vendor_checksum, write_atomically

        for p in report.patches:
            write_atomically(p.path, p.new)
            print(f"patched {p.rel}", file=sys.stderr)
            if update_vendor_checksum(p.path, p.new):
                print(f"updated .cargo-checksum.json for {p.rel}", file=sys.stderr)
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity >= threshold for f in report.findings) else 0


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
