"""``port``: find where crates treat illumos differently from Solaris, and patch the gaps.

Library entry point: :func:`run_port` returns a :class:`Report` (findings as the shared ``Finding`` type,
verified patches, a unified diff); the ``illumos-rust port`` command only renders it. The pieces are
usable on their own: :mod:`.cfgexpr` (cfg grammar, three-valued evaluation), :mod:`.scanner` (cfg sites
in Rust, Cargo.toml and build scripts), :mod:`.libcindex` (what a libc version declares per target).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Report, run_port


def __getattr__(name: str) -> Any:
    # loaded on first use: importing one piece (``port.workspace`` for its skip list, from ``survey``)
    # must not cost the whole engine (~45 ms), which a survey rerun with nothing to analyse never runs
    if name in ("Report", "run_port"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Report", "run_port"]
