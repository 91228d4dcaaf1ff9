"""stub"""
from __future__ import annotations


def demangle_fast(inner: str, alternate: bool) -> tuple[str, int] | None:
    return None
