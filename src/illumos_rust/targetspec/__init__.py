"""``target``: read, compare, check and generate rustc target specs, and the cfg sets ``port`` evaluates.

All facts come from the installed rustc (cached per rustc commit), so answers track the compiler the user
actually builds with rather than a table that goes stale every six weeks.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cfgset import CfgSet, all_cfg_sets, cfg_set, cfg_sets, known_values, parse_cfg, target_list
    from .rustc import Toolchain, toolchain

#: name -> module: loaded on first use, so that asking only for the rustc identity (``survey``'s first
#: step) does not import the cfg-set machinery too.
_LAZY = {
    "CfgSet": ".cfgset",
    "all_cfg_sets": ".cfgset",
    "cfg_set": ".cfgset",
    "cfg_sets": ".cfgset",
    "known_values": ".cfgset",
    "parse_cfg": ".cfgset",
    "target_list": ".cfgset",
    "Toolchain": ".rustc",
    "toolchain": ".rustc",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


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
