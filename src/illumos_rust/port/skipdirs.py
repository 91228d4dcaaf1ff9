"""The directories no crate walk descends into, in a module of its own: ``survey`` needs the list for its
change index on every rerun, and importing it from ``port.workspace`` cost that module's imports (pathlib,
subprocess, tomllib: ~10 ms) before anything was known to need them."""

from __future__ import annotations

#: Never descend into these: build output, VCS metadata, and editor/tool caches hold no crate sources.
SKIP_DIRS = frozenset({"target", ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv"})
