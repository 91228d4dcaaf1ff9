"""Follow a cfg gate across module boundaries: which module files does the gated code bring in?

A gate like ``#[cfg(target_os = "solaris")] mod solaris;``, ``mod_use!(cfg(target_os = "solaris"),
solaris)`` or a ``cfg_if!`` branch holding ``mod imp;`` admits a whole file. Adding illumos to such a gate
is only safe when that file (and the files *it* declares) does nothing illumos must not do: the raw
``syscall(SYS_getrandom, ..)`` that rand#637 shipped for Solaris is the failure this module exists to
catch. Resolution follows the Rust Reference ("Modules", "The path attribute"): a module declared in
``lib.rs``/``main.rs``/``mod.rs`` lives next to it, one declared in ``foo.rs`` lives in ``foo/``, and a
``#[path = ".."]`` on a non-inline module is relative to the directory of the declaring file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..rust_keywords import KEYWORDS

_MOD_DECL = re.compile(
    r"""(?:\#\s*\[\s*path\s*=\s*"(?P<path>[^"\\]+)"\s*\]\s*)?"""
    r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(?P<name>[A-Za-z_]\w*)\s*;"
)
# `include!("file")` pastes a file in place; its path is relative to the including file's directory
# (std docs, macro `include`), so a gate in front of it admits that file exactly like a `mod` does.
_INCLUDE = re.compile(r"""\binclude\s*!\s*[(\[{]\s*"(?P<path>[^"\\]+)"\s*[)\]}]""")
_PATH_BEFORE = re.compile(r"""\#\s*\[\s*path\s*=\s*"(?P<path>[^"\\]+)"\s*\]\s*$""")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_KEYWORDS = KEYWORDS | {"cfg", "any", "all", "not", "target_os"}

#: A gate that reaches more files than this is a whole crate, not a platform module: stop following.
MAX_FILES = 64


def child_dir(path: str) -> str:
    """Directory of the modules the file ``path`` declares (Reference, "Module source filenames")."""
    base = os.path.basename(path)
    d = os.path.dirname(path)
    if base in ("lib.rs", "main.rs", "mod.rs", "build.rs"):
        return d
    return os.path.join(d, base[:-3] if base.endswith(".rs") else base)


def resolve(path: str, name: str, path_attr: str | None = None) -> str | None:
    """The file of ``mod name;`` declared in ``path``, or None when no such file exists."""
    if path_attr is not None:
        cand = os.path.normpath(os.path.join(os.path.dirname(path), path_attr))
        return cand if os.path.isfile(cand) else None
    d = child_dir(path)
    for cand in (os.path.join(d, name + ".rs"), os.path.join(d, name, "mod.rs")):
        if os.path.isfile(cand):
            return cand
    return None


def declared(path: str, text: str, lo: int, hi: int, attr_at: int | None = None) -> list[str]:
    """Files of the ``mod x;`` declarations in ``text[lo:hi]``. ``attr_at`` is where the gating
    ``#[cfg(..)]`` starts when ``lo`` is its end: a ``#[path]`` written before it applies to the first
    item too (``#[path = "a.rs"] #[cfg(..)] mod x;``)."""
    out: list[str] = []
    for m in _MOD_DECL.finditer(text, lo, hi):
        attr = m.group("path")
        if attr is None and attr_at is not None and not text[lo : m.start()].strip():
            before = _PATH_BEFORE.search(text, max(0, attr_at - 300), attr_at)
            attr = before.group("path") if before else None
        f = resolve(path, m.group("name"), attr)
        if f is not None:
            out.append(f)
    return out


def included(path: str, text: str, lo: int, hi: int) -> list[str]:
    """Files of the ``include!("x.rs")`` invocations in ``text[lo:hi]`` that exist, relative to the
    directory of ``path`` (issue 16 (1): a gate in front of ``include!`` admits that file's code)."""
    out: list[str] = []
    for m in _INCLUDE.finditer(text, lo, hi):
        cand = os.path.normpath(os.path.join(os.path.dirname(path), m.group("path")))
        if os.path.isfile(cand) and cand not in out:
            out.append(cand)
    return out


def macro_modules(path: str, text: str, lo: int, hi: int) -> list[str]:
    """Identifiers among a macro's other arguments that name module files (``mod_use!(cfg(..), solaris)``):
    the macro declares them, so the gate admits those files."""
    out: list[str] = []
    for m in _IDENT.finditer(text, lo, hi):
        name = m.group()
        if name in _KEYWORDS:
            continue
        f = resolve(path, name)
        if f is not None and f not in out:
            out.append(f)
    return out


@dataclass(slots=True)
class Reached:
    """A module file a gate admits, with its text (``None`` when unreadable) and through which file."""

    path: str
    text: str | None
    via: str


def follow(
    start: list[tuple[str, str]], read: Callable[[str], str | None], within: str | None = None
) -> list[Reached]:
    """Every file reachable from ``start`` (file, declaring file) through ``mod`` declarations and
    ``include!`` invocations, breadth
    first, at most :data:`MAX_FILES`; ``read`` returns a file's text or None. With ``within``, files
    outside that directory are not followed (a hostile ``#[path = "/some/huge/file"]`` is not read)."""
    out: list[Reached] = []
    seen: set[str] = set()
    todo = list(start)
    root = os.path.realpath(within) + os.sep if within else None
    while todo and len(out) < MAX_FILES:
        path, via = todo.pop(0)
        if path in seen:
            continue
        if root is not None and not os.path.realpath(path).startswith(root):
            seen.add(path)
            continue
        seen.add(path)
        text = read(path)
        out.append(Reached(path, text, via))
        if text is not None and "mod" in text:
            todo.extend((f, path) for f in declared(path, text, 0, len(text)) if f not in seen)
        if text is not None and "include" in text:
            todo.extend((f, path) for f in included(path, text, 0, len(text)) if f not in seen)
    return out
