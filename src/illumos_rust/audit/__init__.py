"""``illumos-rust audit``: will this Rust binary behave on illumos?

One module per check (frame pointers, dependencies, raw syscalls, thread-locals, panic strategy, Rust-ABI
exports, stack probes, post-mortem readiness, target), a policy (``platform``/``pkgsrc`` or a TOML file), and
``audit(path, policy) -> Report``: the same data the text, JSON and SARIF renderers print.
"""

from __future__ import annotations

from .model import RULES, Report
from .policy import PROFILES, Policy, load_policy, profile
from .runner import audit, audit_paths, expand

__all__ = [
    "PROFILES",
    "RULES",
    "Policy",
    "Report",
    "audit",
    "audit_paths",
    "expand",
    "load_policy",
    "profile",
]
