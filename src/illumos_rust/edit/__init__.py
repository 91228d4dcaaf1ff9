"""User-level ELF edits with elfedit semantics: plan every byte first, then write a verified transaction."""

from __future__ import annotations

from .ops import Op, parse_flags_1, parse_replace
from .plan import EntryView, Plan, plan_edits
from .transaction import verify, write

__all__ = ["EntryView", "Op", "Plan", "parse_flags_1", "parse_replace", "plan_edits", "verify", "write"]
