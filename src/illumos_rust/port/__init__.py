"""``port``: find where crates treat illumos differently from Solaris, and patch the gaps.

Library entry point: :func:`run_port` returns a :class:`Report` (findings as the shared ``Finding`` type,
verified patches, a unified diff); the ``illumos-rust port`` command only renders it. The pieces are
usable on their own: :mod:`.cfgexpr` (cfg grammar, three-valued evaluation), :mod:`.scanner` (cfg sites
in Rust, Cargo.toml and build scripts), :mod:`.libcindex` (what a libc version declares per target).
"""

from __future__ import annotations

from .engine import Report, run_port

__all__ = ["Report", "run_port"]
