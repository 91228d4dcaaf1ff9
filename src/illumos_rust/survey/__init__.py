"""``survey``: ``port`` and ``audit`` over a whole ecosystem on Dask, a SQLite result store, an HTML report.

Library entry points: :func:`run_survey` (analyse what changed, store it), :func:`ask` (the common
questions), :func:`build_report` (the static HTML report).
"""

from __future__ import annotations

from .query import QUESTIONS, ask
from .report import build as build_report
from .runner import RunSummary, run_survey
from .store import Item, Store

__all__ = ["QUESTIONS", "Item", "RunSummary", "Store", "ask", "build_report", "run_survey"]
