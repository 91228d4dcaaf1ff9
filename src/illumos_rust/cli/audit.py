"""``illumos-rust audit``: will this Rust binary behave on illumos? Files, trees, or the Cargo workspace."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..audit import RULES, Report, audit_paths, expand, load_policy, profile
from ..audit.cargo import workspace_artifacts
from ..audit.context import display
from ..audit.json_output import write_json
from ..audit.model import HEADINGS, IMPORTANCE
from ..audit.summary import render_summary
from ..bulk import paused_gc
from ..errors import FormatError, UsageError
from ..findings import SITES_SHOWN, Finding, Severity, render_grouped, write_sarif
from .common import add_format, use_color

EXAMPLES = """examples:
  illumos-rust audit target/x86_64-unknown-illumos/release/myservice
  illumos-rust audit --profile pkgsrc --format sarif /opt/local/bin > audit.sarif
  illumos-rust audit --policy delivery.toml --fail-on warning proto/
  cargo illumos audit --format json

exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or malformed input
"""


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="check ELF files for frame pointers, pkgsrc dependencies, raw syscalls, Rust ABI exports...",
        description="Audit Rust (and C) ELF files for delivery on illumos: frame pointers, NEEDED and "
        "RUNPATH policy, raw syscalls (Solaris numbers), thread-locals, panic strategy, Rust-ABI shared "
        "objects, stack probes, post-mortem readiness and the target that built them. Directories are "
        "walked and only their ELF files examined.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--profile",
        choices=("platform", "pkgsrc"),
        default="platform",
        help="built-in policy (default: platform)",
    )
    group.add_argument("--policy", metavar="FILE.toml", help="policy file (see docs/readme/audit.md)")
    add_format(p, ("text", "json", "sarif"))
    p.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="lowest severity that makes the exit code 1 (default: error)",
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="text: hide info findings (the summary and coverage table stay)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        dest="all_sites",
        help="text: list every site of a repeated finding and every owner in the coverage table",
    )
    p.add_argument("--cargo", action="store_true", help="audit the current Cargo workspace's built artefacts")
    p.set_defaults(func=run)


def _progress(paths: list[Path]) -> tuple[Callable[[Path], None] | None, Callable[[], None]]:
    """A rich progress bar on a terminal for inputs that take noticeable time (many files or big ones)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    try:
        total = sum(p.stat().st_size for p in paths if p.is_file())
    except OSError:
        total = 0
    if len(paths) < 8 and total < 32 << 20:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("audit"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        transient=True,
        console=Console(stderr=True),  # stdout carries the report (often redirected)
    )
    bar.start()
    task = bar.add_task("", total=len(paths))
    seen = [0]

    def step(path: Path) -> None:
        if seen[0]:
            bar.advance(task)
        seen[0] += 1
        bar.update(task, description=path.name)

    return step, bar.stop


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy) if args.policy else profile(args.profile)
    paths: list[Path] = [Path(p) for p in args.paths]
    if args.cargo and not paths:
        paths = workspace_artifacts()
        if not paths:
            raise UsageError(
                "no built executables, cdylibs or dylibs found under the target directory "
                "(run cargo build first)"
            )
    if not paths:
        raise UsageError("audit: no PATH given")
    files: list[Path] = []
    shown: dict[str, str] = {}
    skipped: list[str] = []
    for arg in paths:
        for f in expand([arg], skipped):
            files.append(f)
            # Paths as the person typed them: a file as given, a tree's files relative to the tree.
            shown[str(f)] = os.path.relpath(f, arg) if arg.is_dir() else str(arg)
    # Two trees holding the same relative name (`audit d d2` with d/f and d2/f) would print two "f":
    # those keep the path as typed, which names the tree.
    seen = Counter(shown.values())
    shown = {full: (full if seen[rel] > 1 else rel) for full, rel in shown.items()}
    for line in skipped:
        print(f"illumos-rust: skipped {line}: not a regular file", file=sys.stderr)
    step, stop = _progress(files)
    reports: list[Report] = []
    errors: list[FormatError] = []
    try:
        for result in audit_paths(files, policy, step):
            if isinstance(result, FormatError):
                print(f"illumos-rust: {result}", file=sys.stderr)
                errors.append(result)
            else:
                reports.append(result)
    finally:
        stop()
    findings = [f for r in reports for f in r.findings]
    threshold = None if args.fail_on == "never" else Severity.parse(args.fail_on)
    with paused_gc():
        # Rendering allocates one small container per finding next to the 200,000 long-lived objects the
        # audit kept (findings, locations, properties): the cyclic collector would rescan those in full
        # at least once (0.3 s of 5 on librustc_driver) and find nothing, since renderers build no cycles.
        _render(args, reports, errors, skipped, shown, policy.name, findings, threshold)
    if errors:
        return 2
    if threshold is None:
        return 0
    return 1 if any(f.severity >= threshold for f in findings) else 0


def _render(
    args: argparse.Namespace,
    reports: list[Report],
    errors: list[FormatError],
    skipped: list[str],
    shown: dict[str, str],
    policy: str,
    findings: list[Finding],
    threshold: Severity | None,
) -> None:
    out = sys.stdout
    if args.format == "sarif":
        write_sarif(out, findings, RULES.values())
    elif args.format == "json":
        write_json(out, policy, reports, errors, skipped)
    else:
        out.write(
            render_summary(
                reports,
                paths=shown,
                threshold=threshold,
                every_owner=args.all_sites,
                unreadable=len(errors),
                skipped=len(skipped),
            )
        )
        listed = [f for f in findings if not (args.quiet and f.severity == Severity.INFO)]
        if listed:
            out.write("\n")
            out.write(
                render_grouped(
                    listed,
                    headings=HEADINGS,
                    importance=IMPORTANCE,
                    paths=shown,
                    sites=None if args.all_sites else SITES_SHOWN,
                    color=use_color(out),
                    symbol=display,
                )
            )
