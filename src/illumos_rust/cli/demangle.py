"""``illumos-rust demangle``: demangle Rust symbols given as arguments, or filter stdin like rustfilt/c++filt.

The filter is meant to sit at the end of a pipe (``mdb -e '$C' | illumos-rust demangle``, ``dtrace … |
illumos-rust demangle``), so it streams: whatever is available is processed and flushed at once, lines are
never held back waiting for more input, and bytes that are not UTF-8 pass through untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, BinaryIO

from ..demangle import demangle_stream, demangle_text, parse_symbol
from ..demangle.filter import RUN_PATTERN
from .common import add_format, print_json

EPILOG = """\
examples:
  illumos-rust demangle _RNvCs1234_7mycrate4main
  nm -p libfoo.so | illumos-rust demangle
  dtrace -n 'profile-97 /pid == $target/ { @[ustack()] = count(); }' -p PID | illumos-rust demangle --no-hash
  echo '::walk thread | ::findstack -v' | mdb core | illumos-rust demangle
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demangle",
        help="demangle Rust symbols (legacy and v0) in arguments or a text stream",
        description=(
            "Demangle Rust symbols exactly as rustc-demangle (std backtraces, rustfilt) does.\n"
            "With SYMBOL arguments, each is printed demangled on its own line; without, stdin is\n"
            "copied to stdout with every Rust symbol replaced and every other byte unchanged."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("symbols", nargs="*", metavar="SYMBOL", help="symbols (or text) to demangle")
    parser.add_argument(
        "--no-hash",
        action="store_true",
        help="rustc-demangle's alternate form: no legacy hashes, no v0 crate disambiguators (as rustfilt)",
    )
    add_format(parser)
    parser.set_defaults(func=run)


def _records(text: str) -> list[dict[str, Any]]:
    found = []
    for m in RUN_PATTERN.finditer(text):
        symbol = parse_symbol(m.group())
        if symbol is not None:
            found.append(
                {
                    "mangled": symbol.mangled,
                    "scheme": symbol.scheme,
                    "demangled": symbol.full,
                    "demangled_no_hash": symbol.alternate,
                    "offset": m.start(),
                }
            )
    return found


def _stream(src: BinaryIO, dst: BinaryIO, hash: bool) -> None:
    """Copy ``src`` to ``dst`` demangling as it goes: all up to the last character that cannot belong to a
    symbol is written and flushed at once, the open tail waits for its continuation (``demangle_stream``).

    Bytes are decoded chunk by chunk with ``surrogateescape``: a UTF-8 sequence split between two reads
    becomes escapes that encode back to the same bytes, and escapes never belong to a symbol.
    """
    read = getattr(src, "read1", src.read)
    chunks = (chunk.decode("utf-8", "surrogateescape") for chunk in iter(lambda: read(1 << 16), b""))
    for text in demangle_stream(chunks, hash=hash):
        dst.write(text.encode("utf-8", "surrogateescape"))
        dst.flush()


def run(args: argparse.Namespace) -> int:
    hash = not args.no_hash
    if args.format == "json":
        if args.symbols:
            inputs = list(args.symbols)
        else:
            raw = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
            inputs = raw.splitlines()
        print_json(
            [
                {
                    "input": item,
                    "output": demangle_text(item, hash=hash),
                    "symbols": _records(item),
                }
                for item in inputs
            ]
        )
        return 0
    if args.symbols:
        out = sys.stdout
        for item in args.symbols:
            out.write(demangle_text(os.fsdecode(item), hash=hash) + "\n")
        out.flush()
        return 0
    _stream(sys.stdin.buffer, sys.stdout.buffer, hash)
    return 0
