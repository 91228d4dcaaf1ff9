"""``survey``: ``port`` and ``audit`` over a whole ecosystem on Dask, a SQLite result store, an HTML report.

Library entry points: :func:`run_survey` (analyse what changed, store it), :func:`ask` (the common
questions), :func:`build_report` (the static HTML report).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .query import QUESTIONS, ask
    from .report import build as build_report
    from .runner import RunSummary, run_survey
    from .store import Item, Store

#: name -> (module, attribute): loaded on first use, so that ``survey crates`` does not import the query
#: and report modules (and a rerun that finds one changed crate starts ~20 ms sooner).
_LAZY = {
    "QUESTIONS": (".query", "QUESTIONS"),
    "ask": (".query", "ask"),
    "build_report": (".report", "build"),
    "RunSummary": (".runner", "RunSummary"),
    "run_survey": (".runner", "run_survey"),
    "Item": (".store", "Item"),
    "Store": (".store", "Store"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    return getattr(import_module(module, __name__), attr)


__all__ = ["QUESTIONS", "Item", "RunSummary", "Store", "ask", "build_report", "run_survey"]
