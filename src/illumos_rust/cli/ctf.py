"""``illumos-rust ctf``: read and write illumos CTF (``.SUNW_ctf``, version 2).

``ctf dump FILE`` prints a container in the layout of illumos ``ctfdump`` (or ``--format json``);
``ctf convert FILE`` turns DWARF into CTF and adds ``.SUNW_ctf`` to the file (see ``ctf convert --help``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..ctf.dump import dump_json, dump_lines
from ..ctf.load import load_ctf
from ..ctf.writer import write_container
from ..errors import FormatError
from .common import add_format, print_json

DUMP_EXAMPLES = """examples:
  illumos-rust ctf dump /usr/lib/libc.so.1              # every section, ctfdump layout
  illumos-rust ctf dump -t -f target/release/mybin      # types and functions only
  illumos-rust ctf dump --format json mybin | jq '.types[] | select(.kind == "struct")'
  illumos-rust ctf dump -u raw.ctf mybin                # also write the uncompressed container
"""

_SECTION_FLAGS = (
    ("-d", "objects", "dump the data objects"),
    ("-f", "functions", "dump the function entries"),
    ("-H", "header", "dump the CTF header (ctfdump -h)"),
    ("-l", "labels", "dump the label table"),
    ("-s", "strings", "dump the string table"),
    ("-t", "types", "dump the types"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ctf",
        help="dump illumos CTF, convert DWARF (Rust and C) to CTF",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="ctf_command", metavar="ACTION")
    dump = sub.add_parser(
        "dump",
        help="print a .SUNW_ctf section (or raw container) like illumos ctfdump",
        description="Print the CTF of FILE like illumos ctfdump (all sections unless some are chosen).",
        epilog=DUMP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument("file", metavar="FILE", help="ELF object with .SUNW_ctf, or a raw CTF container")
    for flag, dest, text in _SECTION_FLAGS:
        dump.add_argument(flag, dest=f"show_{dest}", action="store_true", help=text)
    dump.add_argument("-S", dest="stats", action="store_true", help="also print statistics (ctfdump -S)")
    dump.add_argument(
        "-u", dest="uncompressed", metavar="OUT", help="write the uncompressed container to OUT"
    )
    add_format(dump)
    dump.set_defaults(func=run_dump)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_dump(args: argparse.Namespace) -> int:
    f = load_ctf(args.file)
    if args.uncompressed:
        data = write_container(f.container, compress=False)
        try:
            with open(args.uncompressed, "wb") as out:
                out.write(data)
        except OSError as exc:
            raise FormatError(args.uncompressed, None, f"cannot write: {exc.strerror or exc}") from None
    if args.format == "json":
        print_json(dump_json(f))
        return 0
    chosen = [dest for _, dest, _ in _SECTION_FLAGS if getattr(args, f"show_{dest}")]
    order = ("header", "labels", "objects", "functions", "types", "strings")
    if not chosen and not args.stats:
        chosen = list(order)
    lines = dump_lines(f, [s for s in order if s in chosen], stats=args.stats)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0
