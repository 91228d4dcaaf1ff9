"""Small helpers every subcommand shares: the ``--format`` option, JSON output, colour detection."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything but "" (https://no-color.org);
    ``TERM=dumb`` terminals get none either."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
