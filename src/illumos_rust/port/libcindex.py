"""Which libc items a given libc source declares for illumos, for solaris, and at all.

"Just add ``target_os = "illumos"``" is wrong when the code under that cfg calls something libc declares
only for Solaris (``pthread_getattr_np``, doors, ``fexecve``...): the patched crate would not compile.
The answer depends on the libc *version* the crate resolves to (``pthread_attr_get_np`` reached illumos
in 2024), so this reads that libc's own source, following its module tree the way rustc would for each
target: ``mod x;`` declarations and ``cfg_if!`` branches are evaluated with the target's cfg set, unknown
atoms (libc's features and build-script cfgs) counting as possibly on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import scanner
from .cfgexpr import Evaluator
from .scanner import Site

# `pub const fn` and libc's `pub {const} fn` (inside its f! macros) are functions, not constants.
_DECL = re.compile(
    r"pub(?:\([^)]*\))?\s+(?:(?:unsafe|const|\{const\}|extern\s+\"C\")\s+)*"
    r"(?:fn|const|static|struct|union|enum|type)\s+(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)
_MOD = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")
_COMMENT = re.compile(r"//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/")


@dataclass(slots=True)
class LibcIndex:
    """``declared[target]`` = names some reachable, cfg-enabled item of that target declares."""

    root: str
    version: str
    declared: dict[str, set[str]] = field(default_factory=dict)
    anywhere: set[str] = field(default_factory=set)  # declared for some target (cfgs ignored)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> name -> file (first)

    def missing(self, names: Iterable[str], target: str) -> list[str]:
        """Names libc declares somewhere but not for ``target``: using them there would not compile."""
        have = self.declared.get(target, set())
        return sorted(n for n in set(names) if n in self.anywhere and n not in have)

    def where(self, name: str) -> str | None:
        """A file (relative to the libc root) that declares ``name`` for any indexed target."""
        for per in self.sources.values():
            if name in per:
                return per[name]
        return None


def _active(sites: list[tuple[tuple[int, int], Site]], pos: int, ev: Evaluator) -> bool:
    for (lo, hi), site in sites:
        if lo <= pos < hi:
            expr = site.decisive
            if expr is not None and ev.eval(expr) is False:
                return False
    return True


def _ranges(text: str, sites: list[Site]) -> list[tuple[tuple[int, int], Site]]:
    out: list[tuple[tuple[int, int], Site]] = []
    for s in sites:
        if s.decisive is None:
            continue
        if s.body is not None:
            out.append((s.body, s))
        elif s.kind == "inner-cfg":
            out.append(((s.attr_end, len(text)), s))
        elif s.kind == "cfg":
            try:
                out.append((scanner.item_range(text, s.attr_end), s))
            except scanner.LexError:
                continue
    return out


def _child(parent: str, name: str) -> str | None:
    base = os.path.basename(parent)
    d = os.path.dirname(parent)
    if base not in ("lib.rs", "mod.rs", "main.rs"):
        d = os.path.join(d, base[:-3])
    for cand in (os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")):
        if os.path.isfile(cand):
            return cand
    return None


def build(root: str, version: str, evaluators: dict[str, Evaluator]) -> LibcIndex:
    """Index the libc crate at ``root`` for each target in ``evaluators``."""
    index = LibcIndex(root, version)
    texts: dict[str, str] = {}

    def load(path: str) -> str:
        if path not in texts:
            with open(path, encoding="utf-8", errors="replace") as fh:
                texts[path] = _COMMENT.sub(lambda m: " " * len(m.group()), fh.read())
        return texts[path]

    for dirpath, _dirs, files in os.walk(os.path.join(root, "src")):
        for f in files:
            if f.endswith(".rs"):
                # raw text: a declaration quoted in a comment only widens "exists somewhere", harmlessly
                with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                    index.anywhere.update(_DECL.findall(fh.read()))
    lib = os.path.join(root, "src", "lib.rs")
    if not os.path.isfile(lib):
        return index
    scans: dict[str, list[tuple[tuple[int, int], Site]]] = {}
    for target, ev in evaluators.items():
        names: set[str] = set()
        where: dict[str, str] = {}
        seen: set[str] = set()
        todo = [lib]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            text = load(path)
            if path not in scans:
                scans[path] = _ranges(text, scanner.scan_rust(path, text).sites)
            sites = scans[path]
            for m in _MOD.finditer(text):
                if _active(sites, m.start(), ev):
                    child = _child(path, m.group(1))
                    if child:
                        todo.append(child)
            rel = os.path.relpath(path, root)
            for m in _DECL.finditer(text):
                if _active(sites, m.start(), ev):
                    names.add(m.group(1))
                    where.setdefault(m.group(1), rel)
        index.declared[target] = names
        index.sources[target] = where
    return index
