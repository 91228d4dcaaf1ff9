"""``cargo illumos <command>``: cargo runs ``cargo-illumos illumos <command> ...``; drop the echoed name."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .main import main as illumos_main


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "illumos":
        args = args[1:]
    # Subcommands that have a workspace mode read this flag; the others ignore it.
    if args and args[0] in ("audit", "port", "core") and "--cargo" not in args:
        args.insert(1, "--cargo")
    # `cargo illumos ctf [OPTIONS]` converts the workspace's artefacts; `ctf dump`/`ctf convert` pass through.
    if args and args[0] == "ctf" and (len(args) == 1 or args[1] not in ("dump", "convert", "-h", "--help")):
        args[1:1] = ["convert", "--cargo"]
    return illumos_main(args, prog="cargo illumos")


if __name__ == "__main__":
    sys.exit(main())
