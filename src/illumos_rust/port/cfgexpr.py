"""The cfg predicate language: parse, evaluate three-valued over a target's cfg set, enumerate unknowns.

Grammar (Rust Reference, "Conditional compilation"), which is all ``#[cfg]``, ``cfg!``, ``cfg_attr``,
``cfg_if!`` and Cargo's ``[target.'cfg(..)']`` share::

    pred   := 'all' '(' list ')' | 'any' '(' list ')' | 'not' '(' pred ')' | option
    option := IDENT ( '=' STRING )?        -- also the literals ``true`` / ``false`` (stable since 1.88)
    list   := ( pred ( ',' pred )* ','? )?

Why three-valued: a crate's source alone does not say which Cargo features, ``test``, ``docsrs`` or
``debug_assertions`` will be on, so those atoms are *unknown* (``None``), while ``target_os`` and friends
are fixed by the target. Kleene logic gives a sound answer without guessing ("true whatever the features
are", "false whatever", or "depends"), and :func:`divergence` enumerates the unknowns exactly when a
precise "is there a configuration where solaris and illumos disagree?" is needed.

Every node keeps its byte span in the source text (excluded from equality) so the patch writer can edit
the predicate in place, keeping the author's formatting.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

AtomKey = tuple[str, str | None]

#: Keys whose value is chosen by compiler flags or the build profile (``-C panic``, ``-C target-feature``,
#: ``-O``), not by the target: the same crate can be built either way, so they are unknowns to enumerate.
FLAG_DEPENDENT = frozenset(
    {
        "target_feature",
        "panic",
        "debug_assertions",
        "overflow_checks",
        "ub_checks",
        "relocation_model",
        "fmt_debug",
        "contract_checks",
        "sanitize",
        "emscripten_wasm_eh",
        "target_thread_local",
    }
)

#: Nesting deeper than this is not real code; refusing it keeps recursion bounded on hostile input.
MAX_DEPTH = 64
#: Enumerating 2**n assignments is exact; above this many distinct unknowns we fall back to Kleene logic.
MAX_ENUMERATED = 12


class CfgSetLike(Protocol):
    """What the evaluator needs from ``illumos_rust.targetspec.CfgSet``: its atoms."""

    @property
    def target(self) -> str: ...

    @property
    def atoms(self) -> frozenset[tuple[str, str | None]]: ...


class CfgParseError(ValueError):
    """A predicate that is not in the grammar; ``offset`` is relative to the predicate text."""

    def __init__(self, message: str, offset: int, *, macro: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        #: True when the text is a ``macro_rules!`` template (``$meta``): valid Rust, just not evaluable.
        self.macro = macro


@dataclass(frozen=True, slots=True)
class Atom:
    """``key`` or ``key = "value"``; ``true``/``false`` are :class:`Lit`, not atoms."""

    key: str
    value: str | None
    span: tuple[int, int] = field(default=(0, 0), compare=False)

    @property
    def ident(self) -> AtomKey:
        return (self.key, self.value)


@dataclass(frozen=True, slots=True)
class Lit:
    value: bool
    span: tuple[int, int] = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Expr, ...]
    span: tuple[int, int] = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Expr, ...]
    span: tuple[int, int] = field(default=(0, 0), compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr
    span: tuple[int, int] = field(default=(0, 0), compare=False)


Expr = Atom | Lit | All | AnyOf | Not

# ---------------------------------------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<block>/\*)
  | (?P<raw>r(?P<hashes>\#*)")
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<ident>(?:r\#)?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),=])
  | (?P<dollar>\$)
  | (?P<interp>\#(?=[A-Za-z_(]))
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _unescape(body: str, offset: int) -> str:
    """Rust string escapes; cfg values are plain ASCII in practice but ``\\u{..}`` is legal."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-7][0-9a-fA-F]", body[i + 2 : i + 4]):
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif nxt == "u":
            m = re.match(r"\{([0-9a-fA-F_]{1,8})\}", body[i + 2 :])
            if not m:
                raise CfgParseError("bad \\u escape in string", offset + i)
            out.append(chr(int(m.group(1).replace("_", ""), 16)))
            i += 2 + m.end()
        elif nxt == "\n":
            i += 2
            while i < len(body) and body[i] in " \t\n\r":
                i += 1
        else:
            raise CfgParseError(f"unknown escape \\{nxt} in string", offset + i)
    return "".join(out)


@dataclass(slots=True)
class _Tok:
    kind: str  # "ident", "str", "(", ")", ",", "="
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CfgParseError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup
        if kind == "hashes":  # inner group of raw; lastgroup reports the outer one, but be explicit
            kind = "raw"
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "block":
            depth, i = 1, m.end()
            while depth:
                j = text.find("*/", i)
                k = text.find("/*", i)
                if j < 0:
                    raise CfgParseError("unterminated block comment", pos)
                if 0 <= k < j:
                    depth, i = depth + 1, k + 2
                else:
                    depth, i = depth - 1, j + 2
            pos = i
            continue
        if kind == "raw":
            closing = '"' + m.group("hashes")
            end = text.find(closing, m.end())
            if end < 0:
                raise CfgParseError("unterminated raw string", pos)
            out.append(_Tok("str", text[m.end() : end], pos, end + len(closing)))
            pos = end + len(closing)
            continue
        if kind == "str":
            body = m.group()[1:-1]
            out.append(_Tok("str", _unescape(body, pos + 1), pos, m.end()))
        elif kind == "ident":
            ident = m.group()
            out.append(_Tok("ident", ident[2:] if ident.startswith("r#") else ident, pos, m.end()))
        elif kind == "punct":
            out.append(_Tok(m.group(), m.group(), pos, m.end()))
        elif kind == "dollar":
            raise CfgParseError(
                "macro metavariable ($...) in cfg: expanded only by macro_rules!", pos, macro=True
            )
        elif kind == "interp":  # `quote! { #[cfg(#cfg)] }` in proc-macro crates (diesel_derives, ruma)
            raise CfgParseError(
                "quote! interpolation (#var) in cfg: expanded only by the proc macro", pos, macro=True
            )
        pos = m.end()
    return out


# ---------------------------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str, base: int) -> None:
        self.text = text
        self.base = base
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def expect(self, kind: str) -> _Tok:
        tok = self.peek()
        if tok is None or tok.kind != kind:
            where = tok.start if tok else len(self.text)
            found = repr(tok.text) if tok else "end of predicate"
            raise CfgParseError(f"expected {kind!r}, found {found}", where)
        self.i += 1
        return tok

    def pred(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            tok = self.peek()
            raise CfgParseError(f"predicate nested deeper than {MAX_DEPTH}", tok.start if tok else 0)
        tok = self.expect("ident")
        b = self.base
        nxt = self.peek()
        if tok.text in ("all", "any", "not") and nxt is not None and nxt.kind == "(":
            self.i += 1
            items: list[Expr] = []
            while True:
                cur = self.peek()
                if cur is not None and cur.kind == ")":
                    break
                items.append(self.pred(depth + 1))
                cur = self.peek()
                if cur is not None and cur.kind == ",":
                    self.i += 1
                    continue
                break
            close = self.expect(")")
            span = (tok.start + b, close.end + b)
            if tok.text == "all":
                return All(tuple(items), span)
            if tok.text == "any":
                return AnyOf(tuple(items), span)
            if len(items) != 1:
                raise CfgParseError(f"not() takes exactly one predicate, found {len(items)}", tok.start)
            return Not(items[0], span)
        if nxt is not None and nxt.kind == "=":
            self.i += 1
            val = self.peek()
            if val is None or val.kind != "str":
                raise CfgParseError(
                    "expected a string literal after '='", val.start if val else len(self.text)
                )
            self.i += 1
            return Atom(tok.text, val.text, (tok.start + b, val.end + b))
        if nxt is not None and nxt.kind == "(":
            # version("1.80"), accessible(path), target(os = ..): unstable forms, kept as unknown atoms.
            depth_paren, j = 0, self.i
            while j < len(self.toks):
                k = self.toks[j].kind
                depth_paren += k == "("
                depth_paren -= k == ")"
                j += 1
                if depth_paren == 0:
                    break
            if depth_paren:
                raise CfgParseError("unbalanced parentheses", nxt.start)
            inner = self.text[nxt.start : self.toks[j - 1].end]
            self.i = j
            return Atom(tok.text, inner, (tok.start + b, self.toks[j - 1].end + b))
        if tok.text in ("true", "false"):
            return Lit(tok.text == "true", (tok.start + b, tok.end + b))
        return Atom(tok.text, None, (tok.start + b, tok.end + b))


@functools.lru_cache(maxsize=1 << 16)
def parse(text: str, *, multi: bool = False) -> Expr:
    """Parse one predicate (the inside of ``cfg(...)``); spans are offsets into ``text``.

    ``multi`` accepts ``a, b, ...`` meaning ``all(a, b, ...)``: libc's own ``cfg_if!`` takes a list of
    metas and ANDs them. Memoised: the same few thousand predicate texts recur across a corpus, and the
    result is immutable. Raises :class:`CfgParseError` (``macro=True`` for ``$meta`` templates).
    """
    p = _Parser(text, 0)
    items = [p.pred(0)]
    while True:
        tok = p.peek()
        if tok is not None and tok.kind == ",":  # a trailing comma after the predicate is accepted
            p.i += 1
            tok = p.peek()
            if tok is not None and multi:
                items.append(p.pred(0))
                continue
        if tok is not None:
            raise CfgParseError(f"unexpected {tok.text!r} after the predicate", tok.start)
        break
    return items[0] if len(items) == 1 else All(tuple(items), (0, len(text)))


# ---------------------------------------------------------------------------------------------- printing


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_str(expr: Expr) -> str:
    """Canonical one-line text, as rustc would print it (``any(target_os = "illumos", unix)``)."""
    if isinstance(expr, Atom):
        if expr.value is None:
            return expr.key
        if expr.value.startswith("(") and expr.key in ("version", "accessible", "target"):
            return expr.key + expr.value
        return f"{expr.key} = {_quote(expr.value)}"
    if isinstance(expr, Lit):
        return "true" if expr.value else "false"
    if isinstance(expr, Not):
        return f"not({to_str(expr.item)})"
    name = "all" if isinstance(expr, All) else "any"
    return f"{name}({', '.join(to_str(i) for i in expr.items)})"


def atoms(expr: Expr) -> Iterator[Atom]:
    """Every atom, in source order."""
    stack: list[Expr] = [expr]
    out: list[Atom] = []
    while stack:
        e = stack.pop()
        if isinstance(e, Atom):
            out.append(e)
        elif isinstance(e, Not):
            stack.append(e.item)
        elif isinstance(e, All | AnyOf):
            stack.extend(reversed(e.items))
    return iter(out)


_ATOM_KEYS: dict[int, tuple[Expr, frozenset[AtomKey]]] = {}


def atom_keys(expr: Expr) -> frozenset[AtomKey]:
    """The distinct ``(key, value)`` atoms of ``expr``, memoised per node: parsed predicates are shared
    between the sites that spell them the same way, so a corpus asks about a few thousand nodes only.
    The cache holds the node itself so its ``id`` cannot be reused while cached."""
    hit = _ATOM_KEYS.get(id(expr))
    if hit is not None and hit[0] is expr:
        return hit[1]
    keys = frozenset(a.ident for a in atoms(expr))
    if len(_ATOM_KEYS) > 200_000:
        _ATOM_KEYS.clear()
    _ATOM_KEYS[id(expr)] = (expr, keys)
    return keys


def atoms_with_polarity(expr: Expr) -> Iterator[tuple[Atom, bool, Expr | None]]:
    """``(atom, positive, parent)``: positive unless under an odd number of ``not``; parent node or None."""
    stack: list[tuple[Expr, bool, Expr | None]] = [(expr, True, None)]
    out: list[tuple[Atom, bool, Expr | None]] = []
    while stack:
        e, pos, parent = stack.pop()
        if isinstance(e, Atom):
            out.append((e, pos, parent))
        elif isinstance(e, Not):
            stack.append((e.item, not pos, e))
        elif isinstance(e, All | AnyOf):
            stack.extend((i, pos, e) for i in reversed(e.items))
    return iter(out)


# ---------------------------------------------------------------------------------------------- evaluation


class Evaluator:
    """Evaluates predicates for one target: target atoms are fixed, everything else is unknown.

    ``determined`` is the set of keys a target fixes (from ``known_values()`` minus :data:`FLAG_DEPENDENT`);
    an atom whose key is not in it is an unknown: a Cargo feature, ``test``, ``docsrs``, a crate's own
    ``--cfg``, or an unstable form.
    """

    __slots__ = ("cfg", "determined", "true_atoms")

    def __init__(self, cfg: CfgSetLike, determined: frozenset[str]) -> None:
        self.cfg = cfg
        self.true_atoms = cfg.atoms
        self.determined = determined

    def is_unknown(self, atom: Atom) -> bool:
        return atom.key not in self.determined

    def eval(self, expr: Expr, assign: Mapping[AtomKey, bool] | None = None) -> bool | None:
        """Kleene three-valued value; ``assign`` fixes some unknown atoms."""
        if isinstance(expr, Atom):
            if expr.key in self.determined:
                return (expr.key, expr.value) in self.true_atoms
            if assign is not None:
                return assign.get((expr.key, expr.value))
            return None
        if isinstance(expr, Lit):
            return expr.value
        if isinstance(expr, Not):
            v = self.eval(expr.item, assign)
            return None if v is None else not v
        if isinstance(expr, All):
            result: bool | None = True
            for item in expr.items:
                v = self.eval(item, assign)
                if v is False:
                    return False
                if v is None:
                    result = None
            return result
        result = False
        for item in expr.items:
            v = self.eval(item, assign)
            if v is True:
                return True
            if v is None:
                result = None
        return result


def unknown_atoms(expr: Expr, determined: frozenset[str]) -> list[AtomKey]:
    """Distinct unknown atoms of ``expr`` in first-seen order (the variables to enumerate)."""
    seen: dict[AtomKey, None] = {}
    for a in atoms(expr):
        if a.key not in determined:
            seen.setdefault(a.ident, None)
    return list(seen)


def assignments(unknowns: list[AtomKey]) -> Iterator[dict[AtomKey, bool]]:
    """Every true/false assignment of ``unknowns`` (2**n of them)."""
    for bits in itertools.product((False, True), repeat=len(unknowns)):
        yield dict(zip(unknowns, bits, strict=True))


@dataclass(frozen=True, slots=True)
class Divergence:
    """Whether some configuration makes ``a`` true and ``b`` false (``a_only``) or the reverse."""

    a_only: bool
    b_only: bool
    exact: bool  # False when too many unknowns forced the Kleene approximation

    @property
    def any(self) -> bool:
        return self.a_only or self.b_only


def divergence(expr: Expr, a: Evaluator, b: Evaluator) -> Divergence:
    """Compare one predicate on two targets over every assignment of its unknown atoms.

    The same assignment is used for both targets: features and flags are chosen by the person building,
    independently of which of the two targets they build for. Only atoms on which the two cfg sets differ
    can make a difference, so predicates without one return at once (the common case).
    """
    diff = a.true_atoms ^ b.true_atoms
    determined = a.determined
    if not any(k in determined and (k, v) in diff for k, v in atom_keys(expr)):
        return Divergence(False, False, True)
    unknowns = unknown_atoms(expr, determined)
    if len(unknowns) > MAX_ENUMERATED:
        va, vb = a.eval(expr), b.eval(expr)
        return Divergence(va is not False and vb is not True, vb is not False and va is not True, False)
    a_only = b_only = False
    for assign in assignments(unknowns):
        va, vb = a.eval(expr, assign), b.eval(expr, assign)
        if va and not vb:
            a_only = True
        elif vb and not va:
            b_only = True
        if a_only and b_only:
            break
    return Divergence(a_only, b_only, True)


def conj(*exprs: Expr) -> Expr:
    """``all(...)`` of the arguments (used for cfg_if effective predicates)."""
    return exprs[0] if len(exprs) == 1 else All(tuple(exprs))
