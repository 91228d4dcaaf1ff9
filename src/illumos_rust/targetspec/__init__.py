"""``target``: read, compare, check and generate rustc target specs, and the cfg sets ``port`` evaluates.

All facts come from the installed rustc (cached per rustc commit), so answers track the compiler the user
actually builds with rather than a table that goes stale every six weeks.
"""

from __future__ import annotations

from .cfgset import CfgSet, all_cfg_sets, cfg_set, cfg_sets, known_values, parse_cfg, target_list
from .rustc import Toolchain, toolchain

__all__ = [
    "CfgSet",
    "Toolchain",
    "all_cfg_sets",
    "cfg_set",
    "cfg_sets",
    "known_values",
    "parse_cfg",
    "target_list",
    "toolchain",
]
