"""The v0 Rust mangling scheme (``_R…``): a fast single pass for well-formed symbols.

rustc-demangle reads a v0 symbol twice (validate, then print) and has precise rules for what a printing-time
error looks like (``{invalid syntax}``, ``?`` placeholders, ``{size limit reached}``); ``_v0_exact.py``
reproduces those rules faithfully but slowly. Real symbols almost never trigger them, so this module makes one
pass that builds strings directly and notes when its text cannot be trusted (``broken``): a lifetime index out
of range, a huge binder, more backref following than a linear budget allows, or any error inside a backref's
target. It then carries on as rustc-demangle's first pass does (validity only, backrefs not followed), so
every symbol is judged in one linear pass, and the caller hands only valid symbols with broken text to the
exact printer. A syntax error or the depth limit met *outside* any backref target is decisive, because
rustc-demangle's first pass meets it too: the answer is then ``INVALID`` at once, so hostile input is not
parsed twice. Where nothing goes wrong the output is the exact printer's: the pass visits the same nodes in
the same order (plus backref targets the first pass skips, which can only break the text, never change it).

Speed comes from avoiding per-character Python work and re-parsing: chains of ``N`` (nested paths) are walked
in a loop instead of recursion; base-62 numbers, crate roots and nested paths over a crate root are memoised
across symbols by their exact text, and so are whole top-level paths (``_mains``: most symbols of a binary
repeat an earlier one's path with another instantiating crate); and each node returns one ``str`` built with
f-strings instead of many small writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from . import punycode
from ._memo import BoundedMemo
from ._v0_exact import BASIC_TYPES, MAX_DEPTH, MAX_SIZE
from .escape import quoted

_U64: Final = (1 << 64) - 1
#: How much backref following one symbol may do before the rest is left to the exact printer: each follow
#: costs its text's length plus ``_FOLLOW_COST``. Following is the only work not bounded by the input's
#: length (targets are re-read, and can nest exponentially), so this bounds the fast pass to linear time.
_BACKREF_BUDGET: Final = 1 << 15
_FOLLOW_COST: Final = 32
#: Binders with more lifetimes than this are left to the exact printer (which writes them in bounded chunks).
_MAX_FAST_BINDER: Final = 1000
_B62: Final[dict[str, int]] = {
    **{chr(ord("0") + k): k for k in range(10)},
    **{chr(ord("a") + k): 10 + k for k in range(26)},
    **{chr(ord("A") + k): 36 + k for k in range(26)},
}
_SPECIAL_NS: Final[dict[str, str]] = {"C": "closure", "S": "shim"}
_INT_TAGS: Final = frozenset("htmyojaslxni")
_PATH_TAGS: Final = frozenset("CNMXYI")
_SIGNED_TAGS: Final = frozenset("aslxni")
_BRACED_CONSTS: Final = frozenset("eAQTV")
_N_CHAIN: Final = re.compile(rf"(?:N.){{0,{MAX_DEPTH + 1}}}", re.DOTALL)
_LIFETIME_NAMES: Final[tuple[str, ...]] = tuple(chr(97 + d) for d in range(26))

# Memo tables shared by all symbols, each keyed by the exact text it was computed from (crate disambiguators
# and paths repeat across a whole binary). Bounded by entries (short keys only) or by characters
# (``_memo``); a full table is simply emptied.
_b62_values: dict[str, int] = {}
_crate_hex: dict[str, str] = {}
#: Longest base-62 token memoised (real ones are a few characters; leading zeros could make them vast).
_SHORT_TOKEN: Final = 16
#: Crate roots by disambiguator token: (the ``<len><name>`` that followed it, full text, alternate text).
_crate_roots: BoundedMemo[str, tuple[str, str, str]] = BoundedMemo(1 << 22)
_crate_roots_get: Final = _crate_roots.get


#: Simple paths (``N…`` chains over a crate root) seen before, per output form: span -> (text, levels, span
#: length). A span is found again through its first ``_SPAN_HEAD`` characters, which map to the span lengths
#: seen with them. (A probe near the end of a symbol can be cut short by the slice and find a shorter span, so
#: the hit's own length says where it ends.)
_SPAN_HEAD: Final = 20
_SPAN_CHARS: Final = 1 << 25
_spans: tuple[BoundedMemo[str, tuple[str, int, int]], BoundedMemo[str, tuple[str, int, int]]] = (
    BoundedMemo(_SPAN_CHARS),
    BoundedMemo(_SPAN_CHARS),
)
#: Stale lengths (of spans since forgotten) only cost a missed probe, so this table is bounded on its own.
_span_lengths: BoundedMemo[str, tuple[int, ...]] = BoundedMemo(1 << 24)
# Bound ``get`` methods for the hot path: looking ``get`` up on a dict subclass costs a third more than the
# lookup itself; the tables are emptied in place, never replaced, so the bound methods stay valid.
_span_lengths_get: Final = _span_lengths.get
_spans_get: Final = (_spans[0].get, _spans[1].get)


def _remember_span(span: str, text: str, levels: int, alt: bool) -> None:
    _spans[alt].put(span, (text, levels, len(span)), len(span) + len(text))
    head = span[:_SPAN_HEAD]
    known = _span_lengths.get(head, ())
    if len(span) not in known:
        # Most recent first, a few per head: enough for the common prefixes, cheap to probe on a miss.
        _span_lengths.put(head, (len(span), *known[:5]), _SPAN_HEAD + 6 * 8)


class _Invalid(Exception):
    """A syntax error or the depth limit. rustc-demangle's first pass fails on it too, unless it happened
    inside a backref's target (which that pass does not follow); outside one, the symbol is not Rust."""


#: What a node that could not be printed exactly reads as; the text is discarded once ``broken`` is set.
_UNPRINTED: Final = "?"
_FOLLOW_ERRORS: Final = (_Invalid, IndexError, ValueError)


def _b62_value(token: str) -> int:
    """Value of a base-62 number written before its ``_`` (``integer_62`` without the +1)."""
    value = _b62_values.get(token)
    if value is None:
        if len(token) > 11 and len(token.lstrip("0")) > 11:
            raise _Invalid  # 62**11 > 2**64: the first pass overflows too (and a digit flood stays linear)
        value = 0
        for c in token.lstrip("0"):
            d = _B62.get(c)
            if d is None:
                raise _Invalid
            value = value * 62 + d
        if value + 1 > _U64:
            raise _Invalid
        if len(_b62_values) < 1 << 16 and len(token) <= _SHORT_TOKEN:
            _b62_values[token] = value
    return value


def _lifetime_name(depth: int) -> str:
    return _LIFETIME_NAMES[depth] if depth < 26 else f"_{depth}"


class _Fast:
    """One symbol's fast pass; positions are passed and returned explicitly (locals beat attributes)."""

    __slots__ = ("alt", "backrefs", "bound", "broken", "following", "s")

    def __init__(self, s: str, alt: bool) -> None:
        self.s = s
        self.alt = alt
        self.bound = 0
        self.backrefs = _BACKREF_BUDGET
        #: Set when something only the exact printer can print was met (an error inside a backref's
        #: target, a lifetime out of range, a vast binder, too many backrefs). The pass then goes on as
        #: rustc-demangle's first pass (validity only), so the symbol is still judged in one linear pass.
        self.broken = False
        #: How many backref targets are being read right now.
        self.following = 0

    def follow(self, target: int, node: Callable[[int], tuple[str, int]]) -> str:
        """Print a backref's target. Errors there are not the first pass's business: they only break the text.

        Within the backref budget only; past it the target is not read at all, as in the first pass.
        """
        if self.broken or self.backrefs < 0:
            self.broken = True  # the text is lost anyway: do not read targets for it
            if self.following:
                raise _Invalid  # and abandon the target being read (caught by the outermost follow)
            return _UNPRINTED
        bound = self.bound
        self.following += 1
        try:
            text = node(target)[0]
        except _FOLLOW_ERRORS:
            self.broken = True
            self.bound = bound
            self.following -= 1
            if self.following:
                raise  # unwind to the outermost follow: nothing read inside it is printed now
            return _UNPRINTED
        self.following -= 1
        self.backrefs -= len(text) + _FOLLOW_COST
        return text

    # -- small tokens -----------------------------------------------------------------------------------

    def int62(self, i: int) -> tuple[int, int]:
        """``integer_62`` at ``i``: ``_`` is 0, ``<b62>_`` is value + 1."""
        s = self.s
        if s[i] == "_":
            return 0, i + 1
        end = s.index("_", i)
        return _b62_value(s[i:end]) + 1, end + 1

    def dis(self, i: int) -> tuple[int, int]:
        """An optional ``s<integer_62>`` disambiguator (absent = 0, else integer + 1)."""
        if self.s[i] != "s":
            return 0, i
        value, i = self.int62(i + 1)
        if value >= _U64:
            raise _Invalid
        return value + 1, i

    def ident(self, i: int) -> tuple[str, int, bool]:
        """An identifier, already in its printed form; the flag says whether it was empty."""
        s = self.s
        puny = s[i] == "u"
        if puny:
            i += 1
        n = ord(s[i]) - 48
        if not 0 <= n <= 9:
            raise _Invalid
        i += 1
        if n:
            while True:
                d = ord(s[i]) - 48
                if not 0 <= d <= 9:
                    break
                n = n * 10 + d
                if n > _U64:  # rustc-demangle's checked_mul; also keeps a digit flood linear
                    raise _Invalid
                i += 1
        if s.startswith("_", i):
            i += 1
        end = i + n
        if end > len(s):
            raise _Invalid
        text = s[i:end]
        if not puny:
            return text, end, not n
        cut = text.rfind("_")
        ascii_part, deltas = ("", text) if cut < 0 else (text[:cut], text[cut + 1 :])
        if not deltas:
            raise _Invalid
        decoded = punycode.decode(ascii_part, deltas)
        if decoded is None:
            decoded = f"punycode{{{ascii_part}-{deltas}}}" if ascii_part else f"punycode{{{deltas}}}"
        return decoded, end, False

    def backref(self, i: int, depth: int) -> tuple[int, int]:
        """``B<integer_62>``, ``i`` just after the ``B``: the target and the position after the backref."""
        if depth >= MAX_DEPTH:
            raise _Invalid
        s = self.s
        if s[i] == "_":
            target, after = 0, i + 1
        else:
            end = s.index("_", i)
            target, after = _b62_value(s[i:end]) + 1, end + 1
        if target >= i - 1:
            raise _Invalid
        return target, after

    def lifetime(self, i: int) -> tuple[str, int]:
        lt, i = self.int62(i)
        if lt == 0:
            return "'_", i
        if lt > self.bound:
            self.broken = True
            return _UNPRINTED, i
        return "'" + _lifetime_name(self.bound - lt), i

    def binder(self, i: int) -> tuple[str, int, int]:
        """An optional ``G`` binder: the ``for<…> `` text, the position after it, and how many it bound."""
        s = self.s
        if s[i] != "G":
            return "", i, 0
        count, i = self.int62(i + 1)
        count += 1
        if count > _U64:  # opt_integer_62's checked_add
            raise _Invalid
        start = self.bound
        if count > _MAX_FAST_BINDER:
            self.broken = True
            self.bound = start + count
            return _UNPRINTED, i, count
        names = ", ".join("'" + _lifetime_name(start + k) for k in range(count))
        self.bound = start + count
        return f"for<{names}> ", i, count

    # -- paths ------------------------------------------------------------------------------------------

    def path(self, i: int, depth: int, in_value: bool) -> tuple[str, int]:
        """``print_path``: ``depth`` is the depth before this path's own push."""
        s = self.s
        if s[i] == "N":
            # A nested path over a crate root reads the same in every symbol: look its span up first.
            lengths = _span_lengths_get(s[i : i + _SPAN_HEAD])
            if lengths is not None:
                spans_get = _spans_get[self.alt]
                for length in lengths:
                    hit = spans_get(s[i : i + length])
                    if hit is not None:
                        if depth + hit[1] + 1 > MAX_DEPTH:
                            raise _Invalid
                        return hit[0], i + hit[2]
            # One level is the common case; longer chains use a bounded regex, not a Python loop (a megabyte
            # of ``N`` must not cost a megabyte of bytecode).
            j = i + 2 if s[i + 2] != "N" else _N_CHAIN.match(s, i).end()  # type: ignore[union-attr]
        else:
            j = i
        levels = (j - i) >> 1
        depth += levels + 1
        if depth > MAX_DEPTH:
            raise _Invalid
        tag = s[j]
        j += 1
        if tag == "C":
            c = s[j]
            if "1" <= c <= "9":
                # Inlined ``ident`` for a crate root without disambiguator (nothing to print but the name).
                n = ord(c) - 48
                j += 1
                c = s[j]
                while "0" <= c <= "9":
                    n = n * 10 + ord(c) - 48
                    if n > _U64:
                        raise _Invalid
                    j += 1
                    c = s[j]
                if c == "_":
                    j += 1
                end = j + n
                if end > len(s):
                    raise _Invalid
                text = s[j:end]
                j = end
            else:
                # A crate root with a disambiguator names the same crate in every symbol: reuse its text.
                root = None
                if c == "s":
                    end = s.index("_", j + 1)
                    root = _crate_roots_get(s[j + 1 : end])
                if root is not None and s.startswith(root[0], end + 1):
                    text = root[2] if self.alt else root[1]
                    j = end + 1 + len(root[0])
                else:
                    text, j = self.crate(j)
        elif tag == "I":
            text, j = self.path(j, depth, in_value)
            args, j = self.generic_args(j, depth)
            text = f"{text}::<{args}>" if in_value else f"{text}<{args}>"
        elif tag == "M" or tag == "X" or tag == "Y":
            if tag != "Y":
                _, j = self.dis(j)
                saved = self.bound
                _, j = self.path(j, depth, False)
                self.bound = saved
            ty, j = self.type_(j, depth)
            if tag == "M":
                text = f"<{ty}>"
            else:
                trait, j = self.path(j, depth, False)
                text = f"<{ty} as {trait}>"
        elif tag == "B":
            # ``backref`` inlined: path backrefs are the most frequent kind.
            if depth >= MAX_DEPTH:
                raise _Invalid
            if s[j] == "_":
                target, after = 0, j + 1
            else:
                end = s.index("_", j)
                target, after = _b62_value(s[j:end]) + 1, end + 1
            if target >= j - 1:  # must point strictly before its own ``B``
                raise _Invalid
            j = after
            text = self.follow(target, lambda t: self.path(t, depth + 1, in_value))
        else:
            raise _Invalid
        if levels:
            # Inlined ``disambiguator`` + ``ident`` for the common shape (no ``s``, no punycode, short
            # length).
            # Namespaces of the chain, innermost first (the order the segments follow the inner path in).
            for ns in s[i + 2 * levels - 1 : i : -2]:
                c = s[j]
                if "1" <= c <= "9":
                    n = ord(c) - 48
                    j += 1
                    c = s[j]
                    while "0" <= c <= "9":
                        n = n * 10 + ord(c) - 48
                        if n > _U64:
                            raise _Invalid
                        j += 1
                        c = s[j]
                    if c == "_":
                        j += 1
                    end = j + n
                    if end > len(s):
                        raise _Invalid
                    name = s[j:end]
                    j = end
                    dis = 0
                    empty = False
                else:
                    dis, j = self.dis(j)
                    name, j, empty = self.ident(j)
                if "a" <= ns <= "z":
                    if not empty:
                        text = f"{text}::{name}"
                    continue
                special = _SPECIAL_NS.get(ns)
                if special is None:
                    if not "A" <= ns <= "Z":
                        raise _Invalid
                    special = ns
                text = f"{text}::{{{special}#{dis}}}" if empty else f"{text}::{{{special}:{name}#{dis}}}"
            # A span ending in an empty identifier ("0") is not context-free: rustc-demangle would also eat a
            # following "_" as the identifier's separator. Those few are not memoised.
            if tag == "C" and s[j - 1] != "0":
                _remember_span(s[i:j], text, levels, self.alt)
        return text, j

    def crate(self, j: int) -> tuple[str, int]:
        s = self.s
        if s[j] == "s":
            end = s.index("_", j + 1)
            token = s[j + 1 : end]
            start = end + 1
            name, j, _ = self.ident(start)
            hex_dis = _crate_hex.get(token)  # computed even for the alternate form: it validates the token
            if hex_dis is None:
                value = _b62_value(token) + 2 if token else 1
                if value > _U64:
                    raise _Invalid
                hex_dis = f"{value:x}"
                if len(_crate_hex) < 1 << 16 and len(token) <= _SHORT_TOKEN:
                    _crate_hex[token] = hex_dis
            full = f"{name}[{hex_dis}]"
            if s[j - 1] != "0":  # "0": see the note in ``path``
                _crate_roots.put(
                    token, (s[start:j], full, name), len(token) + j - start + len(full) + len(name)
                )
            return (name if self.alt else full), j
        name, j, _ = self.ident(j)
        return name, j

    def generic_args(self, j: int, depth: int) -> tuple[str, int]:
        s = self.s
        args: list[str] = []
        while True:
            c = s[j]
            if c == "E":
                return ", ".join(args), j + 1
            if c in _PATH_TAGS:
                # A named type: what ``type_`` would do (push for the type, then the path), one call less.
                if depth + 1 > MAX_DEPTH:
                    raise _Invalid
                text, j = self.path(j, depth + 1, False)
            elif c == "L":
                text, j = self.lifetime(j + 1)
            elif c == "K":
                text, j = self.const(j + 1, depth, False)
            else:
                text, j = self.type_(j, depth)
            args.append(text)

    # -- types ------------------------------------------------------------------------------------------

    def type_(self, i: int, depth: int) -> tuple[str, int]:
        s = self.s
        tag = s[i]
        basic = BASIC_TYPES.get(tag)
        if basic is not None:
            return basic, i + 1
        depth += 1
        if depth > MAX_DEPTH:
            raise _Invalid
        if tag in _PATH_TAGS:
            # The common case (a named type): straight to the path, whose own push follows this one.
            return self.path(i, depth, False)
        j = i + 1
        if tag == "R" or tag == "Q":
            prefix = "&" if tag == "R" else "&mut "
            if s[j] == "L":
                lt, j = self.int62(j + 1)
                if lt:
                    if lt > self.bound:
                        self.broken = True
                    name = _lifetime_name(self.bound - lt) if lt <= self.bound else _UNPRINTED
                    prefix = f"&'{name} " if tag == "R" else f"&'{name} mut "
            inner, j = self.type_(j, depth)
            return prefix + inner, j
        if tag == "P" or tag == "O":
            inner, j = self.type_(j, depth)
            return ("*const " if tag == "P" else "*mut ") + inner, j
        if tag == "S":
            inner, j = self.type_(j, depth)
            return f"[{inner}]", j
        if tag == "A":
            inner, j = self.type_(j, depth)
            length, j = self.const(j, depth, True)
            return f"[{inner}; {length}]", j
        if tag == "T":
            items: list[str] = []
            while s[j] != "E":
                text, j = self.type_(j, depth)
                items.append(text)
            if len(items) == 1:
                return f"({items[0]},)", j + 1
            return f"({', '.join(items)})", j + 1
        if tag == "B":
            target, j = self.backref(j, depth)
            return self.follow(target, lambda t: self.type_(t, depth + 1)), j
        if tag == "F":
            return self.fn_type(j, depth)
        if tag == "D":
            return self.dyn_type(j, depth)
        if tag == "W":
            inner, j = self.type_(j, depth)
            pat, j = self.pattern(j, depth)
            return f"{inner} is {pat}", j
        return self.path(i, depth, False)

    def fn_type(self, j: int, depth: int) -> tuple[str, int]:
        s = self.s
        binder, j, count = self.binder(j)
        head = binder
        if s[j] == "U":
            head += "unsafe "
            j += 1
        if s[j] == "K":
            if s[j + 1] == "C":
                head += 'extern "C" '
                j += 2
            else:
                if s[j + 1] == "u":
                    raise _Invalid
                abi, j, empty = self.ident(j + 1)
                if empty:
                    raise _Invalid
                head += f'extern "{abi.replace("_", "-")}" '
        params: list[str] = []
        while s[j] != "E":
            text, j = self.type_(j, depth)
            params.append(text)
        j += 1
        if s[j] == "u":
            text = f"{head}fn({', '.join(params)})"
            j += 1
        else:
            ret, j = self.type_(j, depth)
            text = f"{head}fn({', '.join(params)}) -> {ret}"
        self.bound -= count
        return text, j

    def dyn_type(self, j: int, depth: int) -> tuple[str, int]:
        s = self.s
        binder, j, count = self.binder(j)
        traits: list[str] = []
        while s[j] != "E":
            text, j = self.dyn_trait(j, depth)
            traits.append(text)
        j += 1
        self.bound -= count
        if s[j] != "L":
            raise _Invalid
        lt, j = self.int62(j + 1)
        text = f"dyn {binder}{' + '.join(traits)}"
        if lt:
            if lt > self.bound:
                self.broken = True
                return _UNPRINTED, j
            text = f"{text} + '{_lifetime_name(self.bound - lt)}"
        return text, j

    def maybe_open(self, j: int, depth: int) -> tuple[str, bool, int]:
        """A trait path whose ``<…>`` stays open for associated-type bindings; the flag says it is open."""
        s = self.s
        tag = s[j]
        if tag == "B":
            target, j = self.backref(j + 1, depth)
            opened = [False]

            def node(t: int) -> tuple[str, int]:
                text, opened[0], end = self.maybe_open(t, depth + 1)
                return text, end

            text = self.follow(target, node)
            return text, opened[0], j
        if tag == "I":
            text, j = self.path(j + 1, depth, False)
            args, j = self.generic_args(j, depth)
            return f"{text}<{args}", True, j
        text, j = self.path(j, depth, False)
        return text, False, j

    def dyn_trait(self, j: int, depth: int) -> tuple[str, int]:
        s = self.s
        text, is_open, j = self.maybe_open(j, depth)
        while s[j] == "p":
            name, j, _ = self.ident(j + 1)
            if s[j] == "K":
                value, j = self.const(j + 1, depth, False)
            else:
                value, j = self.type_(j, depth)
            text = f"{text}, {name} = {value}" if is_open else f"{text}<{name} = {value}"
            is_open = True
        return (text + ">" if is_open else text), j

    def pattern(self, j: int, depth: int) -> tuple[str, int]:
        s = self.s
        tag = s[j]
        j += 1
        if tag == "R":
            lo, j = self.const(j, depth, False)
            hi, j = self.const(j, depth, False)
            return f"{lo}..={hi}", j
        if tag == "O":
            depth += 1
            if depth > MAX_DEPTH:
                raise _Invalid
            first, j = self.pattern(j, depth)
            items = [first]
            while s[j] != "E":
                text, j = self.pattern(j, depth)
                items.append(text)
            return " | ".join(items), j + 1
        if tag == "N":
            return "!null", j
        raise _Invalid

    # -- consts -----------------------------------------------------------------------------------------

    def nibbles(self, j: int) -> tuple[str, int]:
        s = self.s
        end = s.index("_", j)
        text = s[j:end]
        if text.strip("0123456789abcdef"):
            raise _Invalid
        return text, end + 1

    def const(self, j: int, depth: int, in_value: bool) -> tuple[str, int]:
        s = self.s
        tag = s[j]
        j += 1
        depth += 1
        if depth > MAX_DEPTH:
            raise _Invalid
        if tag in _INT_TAGS:
            sign = ""
            if tag in _SIGNED_TAGS and s[j] == "n":
                sign = "-"
                j += 1
            hex_digits, j = self.nibbles(j)
            digits = hex_digits.lstrip("0")
            value = f"{int(digits, 16) if digits else 0}" if len(digits) <= 16 else f"0x{hex_digits}"
            if self.alt:
                return sign + value, j
            return sign + value + BASIC_TYPES[tag], j
        if tag == "p":
            return "_", j
        if tag == "b":
            hex_digits, j = self.nibbles(j)
            digits = hex_digits.lstrip("0")
            if digits == "":
                return "false", j
            if digits == "1":
                return "true", j
            raise _Invalid
        if tag == "c":
            hex_digits, j = self.nibbles(j)
            digits = hex_digits.lstrip("0")
            if len(digits) > 16:
                raise _Invalid
            cp = int(digits, 16) if digits else 0
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise _Invalid
            return "".join(quoted("'", chr(cp))), j
        if tag == "B":
            target, j = self.backref(j, depth)
            return self.follow(target, lambda t: self.const(t, depth + 1, in_value)), j
        if tag == "R" and s[j] == "e":
            text, j = self.str_literal(j + 1)
            return text, j
        if tag not in _BRACED_CONSTS and tag != "R":
            raise _Invalid
        if tag == "e":
            text, j = self.str_literal(j)
            text = "*" + text
        elif tag == "R" or tag == "Q":
            inner, j = self.const(j, depth, True)
            text = ("&" if tag == "R" else "&mut ") + inner
        elif tag == "A" or tag == "T":
            items: list[str] = []
            while s[j] != "E":
                item, j = self.const(j, depth, True)
                items.append(item)
            j += 1
            if tag == "A":
                text = f"[{', '.join(items)}]"
            elif len(items) == 1:
                text = f"({items[0]},)"
            else:
                text = f"({', '.join(items)})"
        else:  # "V": an ADT value
            text, j = self.path(j, depth, True)
            kind = s[j]
            j += 1
            if kind == "U":
                pass
            elif kind == "T":
                items = []
                while s[j] != "E":
                    item, j = self.const(j, depth, True)
                    items.append(item)
                j += 1
                text = f"{text}({', '.join(items)})"
            elif kind == "S":
                fields: list[str] = []
                while s[j] != "E":
                    _, j = self.dis(j)
                    name, j, _ = self.ident(j)
                    item, j = self.const(j, depth, True)
                    fields.append(f"{name}: {item}")
                j += 1
                text = f"{text} {{ {', '.join(fields)} }}"
            else:
                raise _Invalid
        return (text if in_value else f"{{{text}}}"), j

    def str_literal(self, j: int) -> tuple[str, int]:
        hex_digits, j = self.nibbles(j)
        if len(hex_digits) % 2:
            raise _Invalid
        try:
            text = bytes.fromhex(hex_digits).decode("utf-8")
        except ValueError:
            raise _Invalid from None
        return "".join(quoted('"', text)), j


#: ``demangle_fast``'s answer for a symbol that rustc-demangle's first pass rejects as well.
INVALID: Final = (None, -1)

#: Whole top-level paths seen before, per output form: path span -> text. A binary instantiates the same
#: generic function (or the same impl item) in many crates, so many of its v0 symbols differ from an earlier
#: one only in the instantiating crate at the end. The top-level path is read from position 0 with nothing
#: bound, so its text depends on its own characters only (its backrefs point inside it). Only clean texts
#: (not broken, under the size cap) of spans not ending in an empty identifier (``0``, see ``path``) are kept.
_MAIN_CHARS: Final = 1 << 25
_MAIN_LIMIT: Final = 4096
_mains: tuple[BoundedMemo[str, str], BoundedMemo[str, str]] = (
    BoundedMemo(_MAIN_CHARS),
    BoundedMemo(_MAIN_CHARS),
)
_mains_get: Final = (_mains[0].get, _mains[1].get)
#: Instantiating crates (``C…`` spans) read in full before the end of the symbol or a ``.`` suffix.
_crate_tails: set[str] = set()


def clear_memo() -> None:
    """Forget whole top-level paths (the per-node memos are kept: they are bounded and shared)."""
    for table in _mains:
        table.clear()
    _crate_tails.clear()


def _instantiating_backref(inner: str, b: int) -> int:
    """Where the instantiating crate ends when it is a backref whose ``B`` is at ``b``, just after the main
    path (the usual case). rustc-demangle's first pass only range-checks it: it must point before ``b``.
    Raises what a bad one raises in the fast pass (``_FOLLOW_ERRORS``)."""
    if inner[b + 1] == "_":
        return b + 2  # target 0, before any ``B``
    end = inner.index("_", b + 1)
    if _b62_value(inner[b + 1 : end]) + 1 >= b:
        raise _Invalid
    return end + 1


def _remembered(inner: str, alternate: bool) -> tuple[str | None, int] | None:
    """``demangle_fast``'s answer from ``_mains`` when the top-level path was read before, else None.

    Where the path ends is not known before reading it, so the likely ends are tried: the whole symbol up to
    its first ``.``, or just before a trailing instantiating crate (``B<base-62>_`` or ``Cs…``). A span found
    in ``_mains`` is where a fresh read would end too (the read goes left to right and looks no further than
    the span), so a wrong guess can only miss, never mislead.
    """
    mains_get = _mains_get[alternate]
    dot = inner.find(".")
    base = inner if dot < 0 else inner[:dot]
    text = mains_get(base)
    if text is not None:
        return text, len(base)
    if base.endswith("_"):
        k = base.rfind("B")
        if k > 0:
            text = mains_get(base[:k])
            if text is not None:
                try:
                    return text, _instantiating_backref(inner, k)
                except _FOLLOW_ERRORS:
                    return INVALID
    else:
        k = base.rfind("Cs")
        if k > 0 and base[k:] in _crate_tails:
            text = mains_get(base[:k])
            if text is not None:
                return text, len(base)
    return None


def demangle_fast(inner: str, alternate: bool) -> tuple[str | None, int] | None:
    """Demangle a v0 symbol without its ``_R`` prefix: the text and where the symbol ends, or None.

    ``None`` never means "not Rust"; it means "let the exact printer answer" (only when Python's own recursion
    limit was met). A ``None`` text with an end means the symbol is valid but its text is the exact printer's
    to write: it is broken (see ``_Fast.broken``) or reaches the 1 MB cap, where only that printer knows which
    write rustc-demangle stops at. ``INVALID`` means not Rust, decided without the exact printer.
    """
    known = _remembered(inner, alternate)
    if known is not None:
        return known
    fast = _Fast(inner, alternate)
    start = -1
    try:
        text, end = fast.path(0, 0, True)
        end_of_path = end
        if end < len(inner) and "A" <= inner[end] <= "Z":
            if inner[end] == "B":
                end = _instantiating_backref(inner, end)
            else:
                fast.bound = 0
                start = end
                _, end = fast.path(end, 0, False)
    except _FOLLOW_ERRORS:
        # Decisive: errors inside backref targets were caught where they were followed, so this one is met by
        # rustc-demangle's first pass as well. A megabyte of garbage is not parsed a second time.
        return INVALID
    except RecursionError:
        return None
    if fast.broken:
        # Valid, but something in it needs the exact printer (which need not validate again).
        return None, end
    if len(text) * 4 > MAX_SIZE and len(text.encode("utf-8", "surrogatepass")) > MAX_SIZE:
        # Valid (every node parsed without error), but the exact printer must decide where the cap cuts.
        return None, end
    if inner[end_of_path - 1] != "0" and end_of_path <= _MAIN_LIMIT:
        _mains[alternate].put(inner[:end_of_path], text, end_of_path + len(text))
        ends_run = end == len(inner) or inner[end] == "."
        if start >= 0 and inner[start] == "C" and end - start <= 256 and ends_run:
            if len(_crate_tails) >= 1 << 12:
                _crate_tails.clear()
            _crate_tails.add(inner[start:end])
    return text, end
