"""``illumos-rust dist``: build, verify and serve a rustup distribution tree.

``build`` repackages a host toolchain (a rustup toolchain directory or Debian's install) plus any stds made by
``toolchain build-std`` into rust-installer tarballs and a v2 channel manifest; ``verify`` checks every hash;
``serve`` puts the tree on 127.0.0.1 for ``RUSTUP_DIST_SERVER``. Exit codes: 0 fine, 2 bad input (including a
tree whose hashes do not match), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import FormatError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dist",
        help="rustup distribution trees: build, verify, serve",
        description="Package toolchains and stds as a tree stock rustup installs from (RUSTUP_DIST_SERVER).",
    )
    parser.set_defaults(func=run, dist_command=None)
    sub = parser.add_subparsers(dest="dist_command", metavar="SUBCOMMAND")

    p = sub.add_parser("build", help="component tarballs + channel manifest, written atomically to OUT")
    p.add_argument("out", type=Path, metavar="OUT")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--from-rustup",
        type=Path,
        metavar="TOOLCHAIN_DIR",
        help="e.g. ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu",
    )
    src.add_argument(
        "--from-debian", action="store_true", help="Debian's rustc/rustc-web, cargo and host std under /usr"
    )
    p.add_argument(
        "--std",
        action="append",
        default=[],
        metavar="DIR:TARGET",
        help="a sysroot from `toolchain build-std --out DIR` (repeatable)",
    )
    p.add_argument("--channel", help="channel name (default: the rustc release, e.g. 1.96.0)")
    p.add_argument("--formats", default="gz,xz", help="archive formats, comma-separated (default gz,xz)")
    p.add_argument("--xz-preset", type=int, default=6, choices=range(10), metavar="0-9")
    p.add_argument("--gzip-level", type=int, default=6, choices=range(1, 10), metavar="1-9")

    p = sub.add_parser("verify", help="every hash, every .sha256, every profile component")
    p.add_argument("tree", type=Path, metavar="DIR")

    p = sub.add_parser("serve", help="serve DIR on 127.0.0.1 for RUSTUP_DIST_SERVER")
    p.add_argument("tree", type=Path, metavar="DIR")
    p.add_argument("--port", type=int, default=0, help="default: any free port (printed)")


def run(args: argparse.Namespace) -> int:
    if args.dist_command == "build":
        return _build(args)
    if args.dist_command == "verify":
        return _verify(args)
    if args.dist_command == "serve":
        return _serve(args)
    print("illumos-rust dist: choose build, verify or serve (see --help)", file=sys.stderr)
    return 2


def _progress(msg: str) -> None:
    print(f"dist: {msg}", file=sys.stderr, flush=True)


def _build(args: argparse.Namespace) -> int:
    from ..dist.build import build_tree
    from ..dist.sources import from_debian, from_rustup, from_std
    from ..errors import UsageError

    if args.from_rustup:
        version, comps = from_rustup(args.from_rustup)
    elif args.from_debian:
        version, comps = from_debian()
    else:
        raise UsageError("dist build: give --from-rustup DIR or --from-debian (the host toolchain)")
    for spec in args.std:
        directory, sep, target = spec.rpartition(":")
        if not sep or not directory or not target:
            raise UsageError(f"--std {spec}: expected DIR:TARGET")
        comps.append(from_std(Path(directory), target))
    formats = [f for f in args.formats.split(",") if f]
    channel = args.channel or version.release
    out = build_tree(
        args.out,
        channel,
        version,
        comps,
        formats=formats,
        gzip_level=args.gzip_level,
        xz_preset=args.xz_preset,
        progress=_progress,
    )
    print(f"{out}/dist/channel-rust-{channel}.toml: {len(comps)} components (rustc {version.long})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..dist.verify import verify_tree

    checked, problems = verify_tree(args.tree)
    for p in problems:
        print(p)
    if problems:
        raise FormatError(str(args.tree), None, f"{len(problems)} problem(s), first: {problems[0]}")
    print(f"{args.tree}: {checked} archives, every hash matches")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..dist.serve import make_server
    from ..dist.verify import manifests

    manifests(args.tree)  # refuse a directory that is not a dist tree before listening
    server = make_server(args.tree, args.port)
    host, port = server.server_address[:2]
    print(
        f"serving {args.tree} on http://{host!s}:{port}  (RUSTUP_DIST_SERVER=http://{host!s}:{port})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
