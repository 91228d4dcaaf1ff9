"""``dist serve``: the tree over HTTP on loopback, so ``RUSTUP_DIST_SERVER=http://127.0.0.1:PORT`` works.

Loopback only, on purpose: this is for trying a tree, not for publishing it (any static web server does that).
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Logs nothing per request (rustup makes dozens); errors still reach the client as HTTP statuses."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def make_server(tree: Path, port: int = 0) -> ThreadingHTTPServer:
    """Bound and listening; ``port=0`` lets the kernel choose (``server.server_address[1]`` tells which)."""
    handler = functools.partial(_QuietHandler, directory=str(tree))
    return ThreadingHTTPServer((LOOPBACK, port), handler)
