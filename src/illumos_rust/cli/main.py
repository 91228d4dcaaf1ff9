"""``illumos-rust`` entry point: finds the subcommand modules, maps errors to exit codes.

Subcommand modules are discovered from a fixed list so that a capability can be added by dropping in its
``cli/<name>.py`` without touching this file; a module that is not there yet is simply not offered.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__
from ..errors import FormatError, IllumosRustError, UnsafeEditError, UsageError

COMMANDS = ("inspect", "audit", "edit", "demangle", "target", "port", "ctf", "core", "probes", "dist")

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _modules(only: str | None = None) -> list[tuple[str, ModuleType]]:
    found = []
    for name in COMMANDS if only is None else (only,):
        try:
            found.append((name, importlib.import_module(f"illumos_rust.cli.{name}")))
        except ModuleNotFoundError as exc:
            if exc.name != f"illumos_rust.cli.{name}":
                raise
    return found


def build_parser(prog: str = "illumos-rust", only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one that knows a single subcommand: importing every subcommand
    module costs ~150 ms, which a one-shot ``illumos-rust demangle`` in a pipeline should not pay."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Make Rust a first-class language on illumos: audit, edit, port, target, observe.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in _modules(only):
        module.add_parser(sub)
    return parser


def error(message: str) -> None:
    print(f"illumos-rust: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, prog: str = "illumos-rust") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    only = first if first in COMMANDS and not {"-h", "--help"} & set(argv[: argv.index(first)]) else None
    try:
        parser = build_parser(prog, only)
    except ModuleNotFoundError:
        parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        code: int = args.func(args)
        return code
    except FormatError as exc:
        error(str(exc))
    except UnsafeEditError as exc:
        error(f"refused: {exc}")
    except UsageError as exc:
        error(str(exc))
    except IllumosRustError as exc:
        error(str(exc))
    except BrokenPipeError:
        sys.stderr.close()
    except KeyboardInterrupt:
        error("interrupted")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
