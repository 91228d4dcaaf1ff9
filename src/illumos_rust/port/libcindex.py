"""Which libc items a given libc source declares for illumos, for solaris, and at all.

"Just add ``target_os = "illumos"``" is wrong when the code under that cfg calls something libc declares
only for Solaris (``pthread_getattr_np``, doors, ``fexecve``...): the patched crate would not compile.
The answer depends on the libc *version* the crate resolves to (``pthread_attr_get_np`` reached illumos
in 2024), so this reads that libc's own source, following its module tree the way rustc would for each
target: ``mod x;`` declarations and ``cfg_if!`` branches are evaluated with the target's cfg set, unknown
atoms (libc's features and build-script cfgs) counting as possibly on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from . import scanner
from .cfgexpr import Evaluator
from .scanner import Site

# `pub const fn` and libc's `pub {const} fn` (inside its f! macros) are functions, not constants.
_DECL = re.compile(
    r"pub(?:\([^)]*\))?\s+(?:(?:unsafe|const|\{const\}|extern\s+\"C\")\s+)*"
    r"(fn|const|static|struct|union|enum|type)\s+(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)
_SIG_END = re.compile(r"[;{]")
_PUB_FIELD = re.compile(r"pub\s+([A-Za-z_]\w*)\s*:\s*([^,]+)")
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
    #: target -> name -> declared type (const/static), signature (fn) or aliased type (type)
    types: dict[str, dict[str, str]] = field(default_factory=dict)
    #: target -> struct/union name -> public field -> type
    fields: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def missing(self, names: Iterable[str], target: str) -> list[str]:
        """Names libc declares somewhere but not for ``target``: using them there would not compile."""
        have = self.declared.get(target, set())
        return sorted(n for n in set(names) if n in self.anywhere and n not in have)

    def type_differences(
        self, names: Iterable[str], base: str, port: str, used_fields: Iterable[str] = ()
    ) -> list[str]:
        """Items both targets declare, but with a different type: a const's type, a function's
        signature, or (for the fields the code touches) a struct field's type or presence. Code written
        against the ``base`` declaration may not type-check against the ``port`` one."""
        out = []
        used = set(used_fields)
        ta, tb = self.types.get(base, {}), self.types.get(port, {})
        fa, fb = self.fields.get(base, {}), self.fields.get(port, {})
        for n in sorted(set(names)):
            if n in ta and n in tb and ta[n] != tb[n]:
                out.append(f"{n} is `{ta[n]}` for {base} but `{tb[n]}` for {port}")
            if n in fa and n in fb:
                for f in sorted(used & set(fa[n])):
                    if fa[n][f] != fb[n].get(f):
                        other = f"`{fb[n][f]}`" if f in fb[n] else "absent"
                        out.append(f"field {n}.{f} is `{fa[n][f]}` for {base} but {other} for {port}")
        return out

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


def _norm(t: str) -> str:
    return " ".join(t.replace("::", "").split())


def _record_type(
    text: str, m: re.Match[str], types: dict[str, str], fields: dict[str, dict[str, str]]
) -> None:
    """The type part of one declaration (see :meth:`LibcIndex.type_differences`)."""
    kind, name = m.group(1), m.group(2)
    end = _SIG_END.search(text, m.end())
    if end is None:
        return
    head = text[m.end() : end.start()]
    if kind in ("struct", "union"):
        if text[end.start()] != "{":
            return
        try:
            close = scanner.group_end(text, end.start())
        except scanner.LexError:
            return
        fields[name] = {f: _norm(t) for f, t in _PUB_FIELD.findall(text, end.start() + 1, close - 1)}
    elif kind == "fn":
        types[name] = _norm(head)
    elif kind in ("const", "static"):
        types[name] = _norm(head.split("=", 1)[0].lstrip(" :"))
    elif kind == "type":
        types[name] = _norm(head.split("=", 1)[-1])


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
                    index.anywhere.update(m.group(2) for m in _DECL.finditer(fh.read()))
    lib = os.path.join(root, "src", "lib.rs")
    if not os.path.isfile(lib):
        return index
    scans: dict[str, list[tuple[tuple[int, int], Site]]] = {}
    for target, ev in evaluators.items():
        names: set[str] = set()
        where: dict[str, str] = {}
        types: dict[str, str] = {}
        fields: dict[str, dict[str, str]] = {}
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
                    name = m.group(2)
                    names.add(name)
                    where.setdefault(name, rel)
                    if name not in types and name not in fields:
                        _record_type(text, m, types, fields)
        index.declared[target] = names
        index.sources[target] = where
        index.types[target] = types
        index.fields[target] = fields
    return index


def build_cached(root: str, version: str, evaluators: dict[str, Evaluator], cache_dir: str) -> LibcIndex:
    """``build``, remembered in ``cache_dir`` as JSON between processes.

    Why: a rerun of ``survey`` that finds one edited crate spends most of its time indexing that crate's
    libc (~0.15 s of reading and scanning 230 files), which the previous run already did. The key covers
    what the index depends on: the libc tree (every ``.rs`` file's path, size and mtime), the version
    text, each target's cfg atoms and determined keys, and the tool version; any change is a miss and
    a rebuild. JSON, not pickle: a cache file is data, never code. A cache that cannot be read or written
    only costs the rebuild. Each file is named after its libc tree and key, and writing one removes the
    tree's other files (an edit, another tool version), so the directory holds one file per libc tree.
    """
    key = _cache_key(root, version, evaluators)
    if key is None:
        return build(root, version, evaluators)
    tree = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    path = os.path.join(cache_dir, f"libc-{tree}-{key}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            found = _from_json(json.load(fh))
        if found is not None and found.root == root:
            return found
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    index = build(root, version, evaluators)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".libc-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(_to_json(index), fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(cache_dir, f"libc-{tree}-", os.path.basename(path))
    except OSError:
        pass
    return index


def _prune(cache_dir: str, prefix: str, keep: str) -> None:
    """Remove the tree's other cache files, and files named the way earlier versions named them (one
    ``libc-KEY.json`` per key, never read since)."""
    for name in os.listdir(cache_dir):
        stale = name.startswith(prefix) or re.fullmatch(r"libc-[0-9a-f]{32}\.json", name) is not None
        if stale and name != keep and name.endswith(".json"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(cache_dir, name))


def _cache_key(root: str, version: str, evaluators: dict[str, Evaluator]) -> str | None:
    files: list[tuple[str, int, int]] = []
    try:
        for dirpath, dirs, names in os.walk(os.path.join(root, "src")):
            dirs.sort()
            for f in sorted(names):
                if f.endswith(".rs"):
                    full = os.path.join(dirpath, f)
                    st = os.stat(full)
                    files.append((os.path.relpath(full, root), st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    targets = sorted(
        (t, sorted(repr(a) for a in ev.true_atoms), sorted(ev.determined)) for t, ev in evaluators.items()
    )
    text = repr((__version__, root, version, targets, files))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _to_json(index: LibcIndex) -> dict[str, object]:
    return {
        "root": index.root,
        "version": index.version,
        "declared": {t: sorted(n) for t, n in index.declared.items()},
        "anywhere": sorted(index.anywhere),
        "sources": index.sources,
        "types": index.types,
        "fields": index.fields,
    }


def _from_json(doc: dict[str, Any]) -> LibcIndex | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("root"), str):
        return None
    return LibcIndex(
        doc["root"],
        str(doc["version"]),
        {str(t): set(n) for t, n in doc["declared"].items()},
        set(doc["anywhere"]),
        doc["sources"],
        doc["types"],
        doc["fields"],
    )
