"""``illumos-rust toolchain build-std``: a std for a target with the platform's choices, then its
frame-pointer coverage per crate (``audit``'s classifier). Exit codes: 0 built (and, with
``--frame-pointers``, every non-leaf function keeps its frame pointer), 1 built but ``--frame-pointers`` was
asked and some function lacks one, 2 bad input (unknown target, rust-src of another version), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import add_format, print_json

STD_CRATES = "std,panic_abort,panic_unwind,proc_macro,test"
"""Equal to ``toolchain.build_std.STD_CRATES`` (spelled out to keep the CLI import light)."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "toolchain",
        help="build a std for a target (cargo -Zbuild-std) and audit its frame pointers",
        description="Platform toolchains: std built from a rust-src tree that matches the compiler.",
    )
    parser.set_defaults(func=run, toolchain_command=None)
    sub = parser.add_subparsers(dest="toolchain_command", metavar="SUBCOMMAND")
    p = sub.add_parser("build-std", help="core/alloc/std/proc_macro/test rlibs for --target into --out")
    p.add_argument("--target", required=True, help="a target rustc knows, or a custom spec FILE.json")
    p.add_argument("--rust-src", type=Path, help="rust-src tree (default: <sysroot>/lib/rustlib/src/rust)")
    p.add_argument("--rustc", default="rustc", help="compiler (default: rustc on PATH)")
    p.add_argument("--cargo", help="cargo (default: the one next to --rustc, else on PATH)")
    p.add_argument("--frame-pointers", action="store_true", help="-Cforce-frame-pointers=yes for every crate")
    p.add_argument("--panic", choices=("abort", "unwind"), default="unwind")
    p.add_argument("--profile", default="release")
    p.add_argument("--out", type=Path, default=Path("std-out"), help="sysroot to write (default ./std-out)")
    p.add_argument("--work-dir", type=Path, help="keep cargo's target dir here (incremental rebuilds)")
    p.add_argument("--crates", default=STD_CRATES, help=f"-Zbuild-std crate list (default {STD_CRATES})")
    p.add_argument("--no-audit", action="store_true", help="skip the coverage table")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    if args.toolchain_command != "build-std":
        print("illumos-rust toolchain: choose build-std (see --help)", file=sys.stderr)
        return 2
    from ..toolchain.build_std import BuildStdOptions, build_std
    from ..toolchain.coverage import measure

    def progress(msg: str) -> None:
        print(f"build-std: {msg}", file=sys.stderr, flush=True)

    opts = BuildStdOptions(
        target=args.target,
        out=args.out,
        rustc=args.rustc,
        cargo=args.cargo,
        rust_src=args.rust_src,
        frame_pointers=args.frame_pointers,
        panic=args.panic,
        profile=args.profile,
        work_dir=args.work_dir,
        crates=args.crates,
    )
    result = build_std(opts, progress)
    rows = [] if args.no_audit else measure(result.rlibs)
    missing = sum(r.non_leaf_without_fp for r in rows)
    if args.format == "json":
        print_json(
            {
                "target": result.target,
                "out": str(result.out),
                "rustc": result.version.long,
                "rlibs": [str(p) for p in result.rlibs],
                "coverage": [{"crate": r.crate, **r.totals, "percent": r.percent} for r in rows],
            }
        )
    else:
        where = f"{result.out}/lib/rustlib/{result.target}/lib"
        print(f"{where}: {len(result.rlibs)} rlibs (rustc {result.version.long})")
        if rows:
            print(f"{'crate':<28} {'functions':>9} {'FP':>7} {'LEAF':>6} {'NO_FP':>6} {'coverage':>9}")
            for r in rows:
                pct = "-" if r.percent is None else f"{r.percent:.1f}%"
                t = r.totals
                fp, leaf = t.get("FP", 0), t.get("LEAF", 0)
                print(f"{r.crate:<28} {r.functions:>9} {fp:>7} {leaf:>6} {r.non_leaf_without_fp:>6} {pct:>9}")
    return 1 if args.frame_pointers and missing else 0
