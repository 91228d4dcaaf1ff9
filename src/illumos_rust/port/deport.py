"""Undo a human illumos port: copy a crate with ``target_os = "illumos"`` taken out of its cfgs.

Why: issue 16 measured ``port`` against historical pre-port trees that the project cannot see. The closest
honest substitute on the Debian corpus is the reverse experiment: take a crate whose humans already added
illumos, remove what they added, run ``port`` on the copy and count how many of the removed sites it
finds again (recall) and whether any of its patches widen a gate onto code illumos must not compile.

The removal is semantic, not textual: the ``target_os = "illumos"`` atom is replaced by ``false`` and the
predicate simplified (Rust Reference, "Conditional compilation": ``any()`` is false, ``all()`` is true), so
``any(target_os = "solaris", target_os = "illumos")`` becomes ``target_os = "solaris"``,
``not(any(target_os = "solaris", target_os = "illumos"))`` becomes ``not(target_os = "solaris")`` and
``all(unix, not(target_os = "illumos"))`` becomes ``unix``. Then, by what is left:

* a predicate that is still a predicate is rewritten in place (canonical spelling, one line);
* a ``#[cfg]`` that became always-true is deleted (the item is kept);
* a ``#[cfg]`` that became always-false is deleted with its item (the humans' illumos-only code), and a
  ``mod x;`` item takes its module file with it;
* a ``cfg_if!`` branch that became always-false is deleted when it is not the only one before an
  ``else``, otherwise its predicate becomes ``any()`` (never taken, the same for the compiler);
* ``cfg_attr``/``cfg!``/macro-argument predicates that became constant are written ``all()``/``any()``.

Known bias, said wherever the numbers are shown: the copy is the humans' *final* structure minus illumos,
not the tree they started from (they may have restructured while porting), and ``solarish``-style
aliases set by build scripts, build-script string tests and Cargo.toml target tables are not undone.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from . import modules, scanner
from .cfgexpr import All, AnyOf, Atom, Expr, Lit, Not, atoms_with_polarity, to_str
from .scanner import Site

#: Sites that are predicates in Rust source (Cargo.toml tables and build scripts are not undone).
_RUST_KINDS = frozenset({"cfg", "inner-cfg", "cfg_attr", "cfg!", "cfg_if", "macro-arg"})


def remove_os(expr: Expr, os_name: str = "illumos") -> Expr:
    """``expr`` with ``target_os = os_name`` replaced by ``false``, simplified: constant sub-terms fold,
    an ``any``/``all`` of one item becomes that item. Returns a :class:`Lit` when the whole predicate
    became constant."""
    if isinstance(expr, Atom):
        return Lit(False) if (expr.key, expr.value) == ("target_os", os_name) else expr
    if isinstance(expr, Lit):
        return expr
    if isinstance(expr, Not):
        inner = remove_os(expr.item, os_name)
        return Lit(not inner.value) if isinstance(inner, Lit) else Not(inner)
    items = [remove_os(i, os_name) for i in expr.items]
    absorbing = isinstance(expr, AnyOf)  # any(): a true item makes it true; all(): a false one, false
    if any(isinstance(i, Lit) and i.value is absorbing for i in items):
        return Lit(absorbing)
    kept = tuple(i for i in items if not isinstance(i, Lit))
    if not kept:
        return Lit(not absorbing)
    if len(kept) == 1:
        return kept[0]
    return AnyOf(kept) if absorbing else All(kept)


def mentions(expr: Expr | None, os_name: str = "illumos") -> bool:
    """Does ``expr`` name ``target_os = os_name`` anywhere?"""
    if expr is None:
        return False
    return any(a.key == "target_os" and a.value == os_name for a, _, _ in atoms_with_polarity(expr))


def shape(new: Expr, base_os: str = "solaris") -> str:
    """What the de-ported predicate looks like, i.e. which kind of gap ``port`` has to recognise:

    ``solaris list`` (illumos was next to Solaris in a positive list), ``not-solaris exclusion``,
    ``other-OS list`` (illumos sat in a Linux/BSD/ELF list naming no Solaris), ``other-OS exclusion``
    (``not(any(linux, illumos))``: illumos now takes the fallback, like Solaris always did), ``other``."""
    pos = neg = False
    other_pos = other_neg = False
    for a, positive, _ in atoms_with_polarity(new):
        if a.key != "target_os":
            continue
        if a.value == base_os:
            pos, neg = pos or positive, neg or not positive
        else:
            other_pos, other_neg = other_pos or positive, other_neg or not positive
    if pos:
        return "solaris list"
    if neg:
        return "not-solaris exclusion"
    if other_pos:
        return "other-OS list"
    if other_neg:
        return "other-OS exclusion"
    return "other"


@dataclass(slots=True)
class DeportedSite:
    """One cfg site the humans' illumos port touched, as it is in the de-ported copy.

    ``action``: ``rewrite`` (predicate still there, ``new`` is its text), ``drop-cfg`` (the cfg became
    always-true and was deleted), ``drop-item`` (illumos-only item deleted),
    ``drop-branch``/``disable-branch`` (illumos-only ``cfg_if!`` branch). Lines are 1-based in the
    de-ported file: ``line`` where the attribute/macro starts, ``pred_line``..``end_line`` the
    predicate (a finding at the site lies there); for deletions, the line where the deleted text was.
    """

    path: str  # relative to the crate root
    kind: str
    original: str
    new: str | None
    action: str
    shape: str
    module: bool = False  # the site gates a `mod x;` (module-boundary pattern)
    line: int = 0
    pred_line: int = 0
    end_line: int = 0
    new_offset: int = 0  # of the site start in the de-ported file (to find it again after a rescan)


@dataclass(slots=True)
class DeportedFile:
    text: str
    sites: list[DeportedSite] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)  # module files of deleted `mod x;` items


def _eat_line(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a deletion to whole lines when it is alone on its lines (no blank line left behind)."""
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    le = len(text) if le < 0 else le + 1
    if not text[ls:start].strip() and not text[end:le].strip():
        return ls, le
    return start, end


def _branch_end(text: str, site: Site) -> int | None:
    """Offset just past a cfg_if branch's closing brace."""
    if site.body is None:
        return None
    close = site.body[1]
    while close < len(text) and text[close] != "}":
        if not text[close].isspace():
            return None
        close += 1
    return close + 1 if close < len(text) else None


def deport_text(path: str, text: str, os_name: str = "illumos") -> DeportedFile:
    """The de-ported text of one ``.rs`` file and the sites that changed (see the module docstring).
    A file the scanner cannot take apart comes back unchanged, with no sites."""
    try:
        return _deport_text(path, text, os_name)
    except scanner.LexError:
        return DeportedFile(text)


def _deport_text(path: str, text: str, os_name: str) -> DeportedFile:
    fs = scanner.scan_rust(path, text)
    if fs.error:
        return DeportedFile(text)
    edits: list[tuple[int, int, str]] = []
    records: list[tuple[Site, DeportedSite, int]] = []  # (site, record, number of edits before it)
    chains: dict[int, list[Site]] = {}
    for s in fs.sites:
        if s.chain is not None:
            chains.setdefault(s.chain, []).append(s)
    for s in fs.sites:
        if s.kind not in _RUST_KINDS or s.expr is None or s.macro or not mentions(s.expr, os_name):
            continue
        new = remove_os(s.expr, os_name)
        lo, hi = s.pred_span
        before = len(edits)
        kind = (
            shape(new) if not isinstance(new, Lit) else ("exclusion dropped" if new.value else "illumos-only")
        )
        rec = DeportedSite(os.path.basename(path), s.kind, to_str(s.expr), None, "", kind)
        if not isinstance(new, Lit):
            rec.new, rec.action = to_str(new), "rewrite"
            edits.append((lo, hi, rec.new))
        elif s.kind in ("cfg", "inner-cfg") and new.value:
            rec.action = "drop-cfg"
            edits.append((*_eat_line(text, s.offset, s.attr_end), ""))
        elif s.kind == "cfg" and not new.value:
            rec.action = "drop-item"
            _, end = scanner.item_range(text, s.attr_end)
            rec.module = bool(modules.declared(path, text, s.attr_end, end, s.offset))
            edits.append((*_eat_line(text, s.offset, end), ""))
        elif s.kind == "cfg_if" and not new.value:
            rec.action = _drop_branch(text, s, chains.get(s.chain or 0, []), edits)
            rec.module = s.body is not None and bool(modules.declared(path, text, s.body[0], s.body[1]))
        else:  # cfg_attr / cfg! / macro-arg / inner-cfg that became a constant
            rec.new, rec.action = ("all()" if new.value else "any()"), "rewrite"
            edits.append((lo, hi, rec.new))
        if s.kind == "cfg" and rec.action == "rewrite":
            _, end = scanner.item_range(text, s.attr_end)
            rec.module = bool(modules.declared(path, text, s.attr_end, end, s.offset))
        records.append((s, rec, before))
    own = {id(rec): edits[before] for _, rec, before in records if before < len(edits)}
    kept = _outermost(edits)
    out = DeportedFile(_apply(text, kept))
    edits = kept
    for site, rec, _ in records:
        offset = site.offset
        mine = own.get(id(rec))
        if mine is not None and mine not in kept:
            continue  # its edit lies inside a larger deletion
        if any(a <= offset < b and e is not mine for e in kept for a, b, _ in (e,)):
            continue  # inside an item another edit deleted
        new_off = _map(offset, edits)
        rec.new_offset = new_off
        rec.line = out.text.count("\n", 0, new_off) + 1
        if rec.action == "rewrite":
            p0, p1 = _map(site.pred_span[0], edits), _map(site.pred_span[0], edits) + len(rec.new or "")
            rec.pred_line = out.text.count("\n", 0, p0) + 1
            rec.end_line = rec.pred_line + out.text.count("\n", p0, p1)
        else:
            rec.pred_line = rec.end_line = rec.line
        out.sites.append(rec)
        if rec.action == "drop-item" and rec.module:
            _, end = scanner.item_range(text, site.attr_end)
            out.removed_files.extend(modules.declared(path, text, site.attr_end, end, site.offset))
    return out


def _drop_branch(text: str, s: Site, chain: list[Site], edits: list[tuple[int, int, str]]) -> str:
    """Delete an always-false cfg_if branch, or make it ``any()`` when deleting would leave bad syntax."""
    i = chain.index(s) if s in chain else -1
    nxt = chain[i + 1] if 0 <= i < len(chain) - 1 else None
    end = _branch_end(text, s)
    if i > 0 and end is not None:
        prev_end = _branch_end(text, chain[i - 1])
        if prev_end is not None:
            edits.append((prev_end, end, ""))  # ` else if #[cfg(..)] { .. }`
            return "drop-branch"
    if i == 0 and nxt is not None and nxt.kind == "cfg_if":
        edits.append((s.offset, nxt.offset, ""))  # `#[cfg(..)] { .. } else if ` -> the next becomes first
        return "drop-branch"
    edits.append((s.pred_span[0], s.pred_span[1], "any()"))
    return "disable-branch"


def _outermost(edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop edits nested in a larger one (a predicate inside a deleted item), sorted by start."""
    out: list[tuple[int, int, str]] = []
    for e in sorted(edits, key=lambda e: (e[0], -e[1])):
        if out and e[0] < out[-1][1]:
            continue
        out.append(e)
    return out


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    parts: list[str] = []
    pos = 0
    for a, b, new in edits:
        parts.append(text[pos:a])
        parts.append(new)
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


def _map(offset: int, edits: list[tuple[int, int, str]]) -> int:
    """Where ``offset`` of the original text is in the edited one (start of a deleted range for offsets
    inside it)."""
    shift = 0
    for a, b, new in edits:
        if b <= offset:
            shift += len(new) - (b - a)
        elif a <= offset:
            return a + shift
    return offset + shift


@dataclass(slots=True)
class DeportedCrate:
    root: str  # the copy
    sites: list[DeportedSite] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)  # relative to the copy's root


def deport_crate(src: str, dst: str, os_name: str = "illumos") -> DeportedCrate:
    """Copy the crate at ``src`` to ``dst`` (which must not exist) and de-port every ``.rs`` file of it.
    Site paths are relative to ``dst``."""
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(".git", "target"))
    out = DeportedCrate(dst)
    doomed: list[str] = []
    for dirpath, dirnames, filenames in os.walk(dst):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".rs"):
                continue
            full = os.path.join(dirpath, name)
            try:
                with open(full, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                continue
            if os_name not in text:
                continue
            done = deport_text(full, text, os_name)
            if not done.sites:
                continue
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(done.text)
            rel = os.path.relpath(full, dst)
            for s in done.sites:
                s.path = rel
            out.sites.extend(done.sites)
            doomed.extend(done.removed_files)
    for f in doomed:
        if os.path.isfile(f):
            os.unlink(f)
            out.removed_files.append(os.path.relpath(f, dst))
    return out
