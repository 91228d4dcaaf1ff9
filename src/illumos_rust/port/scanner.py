"""Find every cfg site in Rust sources, Cargo manifests and build scripts, without compiling anything.

A *site* is one place where a cfg predicate decides what gets compiled: ``#[cfg]``, ``#![cfg]``,
``#[cfg_attr(pred, ..)]``, ``cfg!(..)``, each branch of a ``cfg_if!`` chain (with its *effective*
predicate: its own condition and none of the earlier ones, as cfg-if 1.0's expansion does), a
``cfg(..)`` passed as a macro argument (``mod_use!(cfg(..), ..)``), and a Cargo ``[target.'cfg(..)']``
table. Build scripts are not cfg'd, they test strings, so they get :func:`scan_build_script`.

Why a hand-written lexer and not a Rust parser: a site only needs tokens, and the difference between a
``#[cfg]`` in code and one in a comment, a string, a raw string or a char literal is exactly what a lexer
knows. One compiled regular expression jumps from one interesting token to the next in C; Python only
runs for comments, strings and cfg sites, which keeps a 100 MB corpus within seconds. Malformed input
(unterminated strings, unbalanced brackets, binary data) raises :class:`LexError` with the offset, which
the caller turns into a "not parsed" finding rather than a crash.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import cfgexpr
from .cfgexpr import All, AnyOf, CfgParseError, Expr, Not

#: Bracket nesting deeper than this is hostile input, not code (rustc itself stops far earlier in practice).
MAX_NESTING = 512


class LexError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(slots=True)
class Site:
    """One cfg decision point.

    ``expr`` is the site's own predicate; ``effective`` the one that really decides (they differ only for
    cfg_if branches). ``pred_span`` is where the own predicate's text is in the file (for patches);
    ``body`` the byte range the decision covers when the scanner knows it (cfg_if bodies; for attributes
    :func:`item_range` computes it on demand from ``attr_end``).
    """

    path: str
    line: int
    column: int
    kind: str  # cfg | inner-cfg | cfg_attr | cfg! | cfg_if | cfg_if-else | macro-arg | cargo-target
    offset: int
    text: str = ""
    expr: Expr | None = None
    effective: Expr | None = None
    error: str | None = None
    macro: bool = False  # a macro_rules! template ($meta): valid, but only expansion can evaluate it
    pred_span: tuple[int, int] = (0, 0)
    attr_end: int = 0
    body: tuple[int, int] | None = None
    chain: int | None = None  # cfg_if chain number within the file, for grouping patches
    branch: int = 0

    @property
    def decisive(self) -> Expr | None:
        return self.effective if self.effective is not None else self.expr


@dataclass(slots=True)
class FileScan:
    path: str
    sites: list[Site] = field(default_factory=list)
    error: str | None = None  # the whole file could not be lexed: reason with line
    error_line: int | None = None


# ---------------------------------------------------------------------------------------------- lexer

# No capturing group may come first in these patterns: sre then keeps its first-character prefilter and
# skips uninteresting text in C (a named-group version measured 10x slower on the corpus). The match is
# dispatched on its first characters instead.
_MASTER = re.compile(
    r"""
    //[^\n]*(?:\n[ \t]*//[^\n]*)*
  | /\*
  | "(?:[^"\\]|\\.)*"
  | "
  | '(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]{1,8}\}|[^\n])|[^'\\\n])'
  | \#[ \t\r\n]*!?[ \t\r\n]*\[[ \t\r\n]*cfg(?:_attr)?[ \t\r\n]*\(
  | cfg(?:_if)?[ \t\r\n]*(?:![ \t\r\n]*)?[(\[{]
    """,
    re.VERBOSE | re.DOTALL,
)
_ATTR = re.compile(r"\#\s*(!)?\s*\[\s*cfg(_attr)?")
_CFGM = re.compile(r"cfg(_if)?\s*(!)?")

# Same skipping rules, but stops at brackets and separators: used to find the end of a group or an item.
_DELIM = re.compile(
    r"""
    //[^\n]*
  | /\*
  | "(?:[^"\\]|\\.)*"
  | "
  | '(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]{1,8}\}|[^\n])|[^'\\\n])'
  | [()\[\]{};,]
    """,
    re.VERBOSE | re.DOTALL,
)

_CLOSE = {"(": ")", "[": "]", "{": "}"}
_DELIMS = frozenset("()[]{};,")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def _block_comment_end(text: str, start: int) -> int:
    """End of the (nested, as Rust allows) block comment opening at ``start``."""
    depth, i = 1, start + 2
    find = text.find
    while depth:
        j = find("*/", i)
        if j < 0:
            raise LexError("unterminated block comment", start)
        k = find("/*", i, j)
        if k >= 0:
            depth, i = depth + 1, k + 2
            if depth > MAX_NESTING:
                raise LexError("block comments nested too deep", start)
        else:
            depth, i = depth - 1, j + 2
    return i


def _raw_prefix(text: str, quote: int) -> int:
    """Number of ``#`` of a raw string whose ``"`` is at ``quote``, or -1 when it is not a raw string."""
    j = quote
    while j > 0 and text[j - 1] == "#":
        j -= 1
    if j == 0 or text[j - 1] != "r":
        return -1
    k = j - 1  # the 'r'
    if k > 0 and text[k - 1] in "bc":
        k -= 1
    if k > 0 and text[k - 1] in _IDENT_CHARS:
        return -1
    return quote - j


def _string_end(text: str, m: re.Match[str]) -> int:
    """End of the string literal matched at ``m`` (a normal string, or a raw one found by its prefix)."""
    start = m.start()
    hashes = _raw_prefix(text, start)
    if hashes < 0:
        return m.end()
    closing = '"' + "#" * hashes
    end = text.find(closing, start + 1)
    if end < 0:
        raise LexError("unterminated raw string", start)
    return end + len(closing)


def _skip(text: str, m: re.Match[str]) -> int:
    """Where scanning resumes after a comment, string or char literal match; raises on broken input."""
    start = m.start()
    c = text[start]
    if c == "/":
        return m.end() if text[start + 1] == "/" else _block_comment_end(text, start)
    if c == '"':
        if m.end() - start == 1 and _raw_prefix(text, start) < 0:
            raise LexError("unterminated string literal", start)
        return _string_end(text, m)
    return m.end()


def group_end(text: str, open_pos: int) -> int:
    """Offset just past the bracket matching the one at ``open_pos``, skipping comments and literals."""
    stack = [_CLOSE[text[open_pos]]]
    pos = open_pos + 1
    search = _DELIM.search
    while True:
        m = search(text, pos)
        if m is None:
            raise LexError(f"unclosed {text[open_pos]!r}", open_pos)
        c = text[m.start()]
        if c not in _DELIMS:
            pos = _skip(text, m)
            continue
        pos = m.end()
        if c in _CLOSE:
            stack.append(_CLOSE[c])
            if len(stack) > MAX_NESTING:
                raise LexError(f"brackets nested deeper than {MAX_NESTING}", m.start())
        elif c in ")]}":
            if stack.pop() != c:
                raise LexError(f"mismatched {c!r}", m.start())
            if not stack:
                return pos


def item_range(text: str, start: int, limit: int | None = None) -> tuple[int, int]:
    """The item an outer attribute ending at ``start`` applies to: up to ``;`` or ``,`` at depth 0, the
    end of its first ``{..}`` block, or the enclosing group's closing bracket. Good enough for "which code
    does this cfg guard" (the patch writer's libc check, the syscall check), not a full Rust parser."""
    end_limit = len(text) if limit is None else limit
    pos = start
    search = _DELIM.search
    while True:
        m = search(text, pos, end_limit)
        if m is None:
            return (start, end_limit)
        c = text[m.start()]
        if c not in _DELIMS:
            pos = _skip(text, m)
            continue
        if c in ";,":
            return (start, m.end())
        if c in ")]}":
            return (start, m.start())
        if c in "([":
            pos = group_end(text, m.start())
            continue
        # "{": the item's body; it ends the item
        return (start, group_end(text, m.start()))


class _Lines:
    """Offset to 1-based line: incremental for the forward scan, from scratch for look-ahead."""

    __slots__ = ("line", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos >= self.pos:
            self.line += self.text.count("\n", self.pos, pos)
            self.pos = pos
            return self.line
        return self.text.count("\n", 0, pos) + 1

    def column(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1


# ---------------------------------------------------------------------------------------------- sites


def _parse_into(site: Site, text: str, start: int, end: int, *, multi: bool = False) -> None:
    site.text = text[start:end]
    site.pred_span = (start, end)
    try:
        site.expr = cfgexpr.parse(site.text, multi=multi)
    except CfgParseError as exc:
        site.error = str(exc)
        site.macro = exc.macro
    except RecursionError:  # belt and braces: the parser limits depth itself
        site.error = "predicate nested too deep"


def _split_first_arg(text: str, start: int, end: int) -> int:
    """End offset of the first top-level comma-separated argument in ``text[start:end]``."""
    pos = start
    depth = 0
    search = _DELIM.search
    while True:
        m = search(text, pos, end)
        if m is None:
            return end
        c = text[m.start()]
        if c not in _DELIMS:
            pos = _skip(text, m)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            return m.start()
        pos = m.end()


_WS_COMMENT = re.compile(r"(?:\s+|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")
_CHAIN_IF = re.compile(r"if\b")
_CHAIN_ATTR = re.compile(r"#\s*\[\s*cfg\s*\(")
_CHAIN_ELSE = re.compile(r"else\b")


def _ws(text: str, pos: int) -> int:
    m = _WS_COMMENT.match(text, pos)
    return m.end() if m else pos


@dataclass(slots=True)
class _Branch:
    hash_pos: int
    attr_end: int
    pred: tuple[int, int] | None  # None for else
    body: tuple[int, int]
    else_pos: int


def _parse_chain(text: str, start: int, end: int) -> list[list[_Branch]]:
    """The ``if #[cfg(..)] {..} else if .. else {..}`` chains of a cfg_if! body; raises LexError."""
    chains: list[list[_Branch]] = []
    pos = _ws(text, start)
    while pos < end:
        branches: list[_Branch] = []
        else_pos = pos
        while True:
            m = _CHAIN_IF.match(text, pos)
            if not m:
                raise LexError("cfg_if!: expected `if #[cfg(..)]`", pos)
            pos = _ws(text, m.end())
            a = _CHAIN_ATTR.match(text, pos)
            if not a:
                raise LexError("cfg_if!: expected `#[cfg(`", pos)
            hash_pos = pos
            close = group_end(text, a.end() - 1)
            pos = _ws(text, close)
            if text[pos : pos + 1] != "]":
                raise LexError("cfg_if!: expected `]`", pos)
            attr_end = pos + 1
            pos = _ws(text, attr_end)
            if text[pos : pos + 1] != "{":
                raise LexError("cfg_if!: expected `{` after the condition", pos)
            body_end = group_end(text, pos)
            branches.append(
                _Branch(hash_pos, attr_end, (a.end(), close - 1), (pos + 1, body_end - 1), else_pos)
            )
            pos = _ws(text, body_end)
            e = _CHAIN_ELSE.match(text, pos)
            if not e:
                break
            else_pos = pos
            pos = _ws(text, e.end())
            if text[pos : pos + 1] == "{":
                body_end = group_end(text, pos)
                branches.append(_Branch(else_pos, else_pos, None, (pos + 1, body_end - 1), else_pos))
                pos = _ws(text, body_end)
                break
        chains.append(branches)
    return chains


def enclosing_open(text: str, pos: int, window: int = 4096) -> int:
    """Offset of the unclosed bracket that encloses ``pos`` (looking back at most ``window`` characters,
    ignoring literals: good enough for macro argument lists), or -1."""
    depth = 0
    i = pos - 1
    lo = max(0, pos - window)
    while i >= lo:
        c = text[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                return i
            depth -= 1
        i -= 1
    return -1


def _macro_arg_context(text: str, pos: int) -> bool:
    """Is the ``cfg(`` at ``pos`` an argument of a macro invocation (``mod_use!(cfg(..), ..)``)?

    Requires ``!`` before the enclosing open bracket, so ``doc(cfg(..))`` and ``link(.., cfg(..))`` are
    not sites.
    """
    i = pos - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    if i < 0 or text[i] not in "([{,":
        return False
    o = enclosing_open(text, pos)
    if o < 0:
        return False
    j = o - 1
    while j >= 0 and text[j] in " \t\r\n":
        j -= 1
    return j >= 0 and text[j] == "!"


def scan_rust(path: str, text: str) -> FileScan:
    """Every cfg site of one Rust file. Never raises: lexing problems become ``FileScan.error``."""
    out = FileScan(path)
    if "cfg" not in text:
        return out
    lines = _Lines(text)
    try:
        _scan(path, text, out.sites, lines)
    except LexError as exc:
        out.error = str(exc)
        out.error_line = text.count("\n", 0, exc.offset) + 1
    except RecursionError:
        out.error = "nesting too deep"
    return out


def _scan(path: str, text: str, sites: list[Site], lines: _Lines) -> None:
    pos = 0
    search = _MASTER.search
    consumed: dict[int, int] = {}  # cfg_if condition attributes already reported: '#' offset -> end
    chain_no = 0
    while True:
        m = search(text, pos)
        if m is None:
            return
        start = m.start()
        c = text[start]
        # comments and literals are most matches: step over the common ones here, without a call
        if c == "'" or (c == "/" and text[start + 1] == "/"):
            pos = m.end()
            continue
        if c == '"' and m.end() - start > 1 and text[start - 1] not in "r#":
            pos = m.end()
            continue
        if c == "#":
            if start in consumed:
                pos = consumed[start]
                continue
            a = _ATTR.match(text, start)
            assert a is not None  # the master pattern matched the same prefix
            open_pos = m.end() - 1
            close = group_end(text, open_pos)
            after = _ws(text, close)
            if text[after : after + 1] != "]":
                # `#[cfg(a) b]` is not an attribute rustc accepts; report instead of guessing
                site = Site(path, lines.at(start), lines.column(start), "cfg", start)
                site.error = "expected `]` after cfg(...)"
                sites.append(site)
                pos = close
                continue
            if a.group(2):
                skind = "cfg_attr"
                pred_end = _split_first_arg(text, open_pos + 1, close - 1)
            else:
                skind = "inner-cfg" if a.group(1) else "cfg"
                pred_end = close - 1
            site = Site(path, lines.at(start), lines.column(start), skind, start, attr_end=after + 1)
            _parse_into(site, text, open_pos + 1, pred_end)
            sites.append(site)
            pos = after + 1
            continue
        if c == "c":
            if start > 0 and text[start - 1] in _IDENT_CHARS:
                pos = m.end()
                continue
            g = _CFGM.match(text, start)
            assert g is not None
            is_if, bang = g.group(1), g.group(2)
            open_pos = m.end() - 1
            if is_if:
                if not bang:
                    pos = m.end()
                    continue
                end = group_end(text, open_pos)
                chain_no += 1
                _cfg_if(path, text, sites, lines, start, open_pos + 1, end - 1, consumed, chain_no)
                pos = open_pos + 1  # the bodies are ordinary code: keep scanning inside them
                continue
            if bang:
                close = group_end(text, open_pos)
                site = Site(path, lines.at(start), lines.column(start), "cfg!", start)
                _parse_into(site, text, open_pos + 1, close - 1)
                site.attr_end = close
                sites.append(site)
                pos = close
                continue
            if text[open_pos] == "(" and _macro_arg_context(text, start):
                close = group_end(text, open_pos)
                site = Site(path, lines.at(start), lines.column(start), "macro-arg", start, attr_end=close)
                _parse_into(site, text, open_pos + 1, close - 1)
                sites.append(site)
                pos = close
                continue
            pos = m.end()
            continue
        pos = _skip(text, m)


def _cfg_if(
    path: str,
    text: str,
    sites: list[Site],
    lines: _Lines,
    at: int,
    start: int,
    end: int,
    consumed: dict[int, int],
    chain_no: int,
) -> None:
    try:
        chains = _parse_chain(text, start, end)
    except LexError as exc:
        body = text[start:end]
        site = Site(path, lines.at(at), lines.column(at), "cfg_if", at)
        if "$" in body:
            site.macro = True
            site.error = "cfg_if! inside a macro template ($...): only expansion can evaluate it"
        else:
            site.error = f"{exc} (line {text.count(chr(10), 0, exc.offset) + 1})"
        sites.append(site)
        return
    for n, branches in enumerate(chains):
        previous: list[Expr] = []
        broken = False
        for k, br in enumerate(branches):
            line = text.count("\n", 0, br.hash_pos) + 1
            if br.pred is None:
                site = Site(path, line, lines.column(br.else_pos), "cfg_if-else", br.else_pos, body=br.body)
            else:
                site = Site(path, line, lines.column(br.hash_pos), "cfg_if", br.hash_pos, body=br.body)
                _parse_into(site, text, br.pred[0], br.pred[1], multi=True)
                site.attr_end = br.attr_end
                consumed[br.hash_pos] = br.attr_end
            site.chain, site.branch = chain_no * 1000 + n, k
            if broken or (br.pred is not None and site.expr is None):
                if site.error is None:
                    site.error = "an earlier branch of this cfg_if! chain could not be parsed"
                    site.macro = any(s.macro for s in sites[-k:]) if k else False
                broken = True
            else:
                if site.expr is not None and not previous:
                    site.effective = site.expr
                elif site.expr is not None:
                    site.effective = All((site.expr, Not(AnyOf(tuple(previous)))))
                else:
                    site.effective = Not(AnyOf(tuple(previous)))
                if site.expr is not None:
                    previous.append(site.expr)
            sites.append(site)


# ---------------------------------------------------------------------------------------------- Cargo.toml

_TARGET_HEADER = re.compile(
    r"""^[ \t]*\[\[?[ \t]*target[ \t]*\.[ \t]*(?:"(?P<dq>(?:[^"\\\n]|\\.)*)"|'(?P<sq>[^'\n]*)')""",
    re.MULTILINE,
)
_TOML_ESC = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _toml_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: _TOML_ESC.get(m.group(1), "\\" + m.group(1)), s)


def toml_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def scan_manifest(path: str, text: str, data: dict[str, Any] | None = None) -> FileScan:
    """``[target.'cfg(..)'.*]`` tables of a Cargo.toml. The span of a site is its quoted key's *content*
    (escaped form for double quotes), so a patch re-renders the whole key. ``data`` is the parsed TOML
    when the caller already has it (parsing is the expensive part)."""
    out = FileScan(path)
    if data is None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            out.error = f"not valid TOML: {exc}"
            return out
    seen: set[str] = set()
    for m in _TARGET_HEADER.finditer(text):
        quoted = "dq" if m.group("dq") is not None else "sq"
        raw = m.group(quoted)
        value = _toml_unescape(raw) if quoted == "dq" else raw
        if not value.startswith("cfg(") or not value.endswith(")"):
            continue
        seen.add(value)
        line = text.count("\n", 0, m.start()) + 1
        site = Site(path, line, 1, "cargo-target", m.start(quoted))
        site.text = value[4:-1]
        site.pred_span = (m.start(quoted), m.end(quoted))
        _parse_manifest_site(site)
        out.sites.append(site)
    # Keys the header pattern cannot see (`[target]` with dotted `'cfg(..)'.dependencies.x = ..` lines,
    # inline tables): reported at their first textual occurrence, without a span, so never patched.
    targets = data.get("target")
    if isinstance(targets, dict):
        for key in targets:
            if not isinstance(key, str) or not key.startswith("cfg(") or not key.endswith(")") or key in seen:
                continue
            at = max(text.find(key), text.find(toml_escape(key)))
            line = text.count("\n", 0, at) + 1 if at >= 0 else 1
            site = Site(path, line, 1, "cargo-target", max(at, 0))
            site.text = key[4:-1]
            _parse_manifest_site(site)
            out.sites.append(site)
    return out


def _parse_manifest_site(site: Site) -> None:
    try:
        site.expr = cfgexpr.parse(site.text)
    except CfgParseError as exc:
        site.error = str(exc)


# ---------------------------------------------------------------------------------------------- build.rs


@dataclass(slots=True)
class BuildTest:
    """A string literal in a build script that names an OS (``"solaris"``, ``"x86_64-sun-solaris"``)."""

    path: str
    line: int
    column: int
    offset: int
    end: int
    value: str
    context: str  # the source line


def string_literals(text: str, want: Callable[[str], bool]) -> list[tuple[int, int, str]]:
    """``(start, end, raw body)`` of every string literal whose body satisfies ``want``; raises LexError."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    search = _DELIM.search
    while True:
        m = search(text, pos)
        if m is None:
            return out
        c = text[m.start()]
        if c == '"':
            end = _skip(text, m)
            q = text.index('"', m.start())
            body = text[q + 1 : text.rindex('"', q, end)]
            if want(body):
                out.append((m.start(), end, body))
            pos = end
            continue
        pos = m.end() if c in _DELIMS else _skip(text, m)


def scan_build_script(path: str, text: str) -> tuple[list[BuildTest], str | None]:
    """OS names tested as strings in a build script (``target.contains("solaris")``,
    ``CARGO_CFG_TARGET_OS == "solaris"``). Returns the tests and an error if the file does not lex."""
    try:
        lits = string_literals(text, lambda s: "solaris" in s or "illumos" in s or "sunos" in s.lower())
    except LexError as exc:
        return [], f"{exc} (line {text.count(chr(10), 0, exc.offset) + 1})"
    out = []
    for start, end, body in lits:
        line = text.count("\n", 0, start) + 1
        ls = text.rfind("\n", 0, start) + 1
        le = text.find("\n", start)
        out.append(
            BuildTest(path, line, start - ls + 1, start, end, body, text[ls : le if le >= 0 else len(text)])
        )
    return out, None
