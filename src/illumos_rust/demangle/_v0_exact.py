"""The reference-faithful v0 printer: every error path, depth count and write as in rustc-demangle 0.1.27.

rustc-demangle decides validity with a shallow first pass (no output, backrefs not followed, lifetimes not
checked) and then prints in a second pass in which late errors become inline ``{invalid syntax}`` or
``{recursion limit reached}`` followed by ``?`` placeholders, and in which output stops at the first write
that would pass 1,000,000 bytes. Reproducing that needs the same control flow, so this module keeps it: a
printer whose parser state turns into an error and stays so (until a backref returns), and whose output is a
list of the individual writes. It is the slow path; ``v0.py`` has a fast single pass for well-formed symbols
and falls back here whenever anything is unusual.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Final

from . import punycode
from .escape import quoted

MAX_DEPTH: Final = 500
#: rustc-demangle's output cap in bytes (``lib.rs``'s ``MAX_SIZE``).
MAX_SIZE: Final = 1_000_000
INVALID: Final = "{invalid syntax}"
TOO_DEEP: Final = "{recursion limit reached}"
_U64: Final = (1 << 64) - 1

BASIC_TYPES: Final[dict[str, str]] = {
    "b": "bool",
    "c": "char",
    "e": "str",
    "u": "()",
    "a": "i8",
    "s": "i16",
    "l": "i32",
    "x": "i64",
    "n": "i128",
    "i": "isize",
    "h": "u8",
    "t": "u16",
    "m": "u32",
    "y": "u64",
    "o": "u128",
    "j": "usize",
    "f": "f32",
    "d": "f64",
    "z": "!",
    "p": "_",
    "v": "...",
}

_B62: Final[dict[str, int]] = {
    **{chr(ord("0") + k): k for k in range(10)},
    **{chr(ord("a") + k): 10 + k for k in range(26)},
    **{chr(ord("A") + k): 36 + k for k in range(26)},
}
_HEX_NIBBLES: Final = frozenset("0123456789abcdef")

# rustc-demangle allows 500 levels of nesting, and this printer (like rustc-demangle) recurses: up to three
# Python frames per level, more than CPython's default limit of 1000. Since 3.11, Python-to-Python calls do
# not use the C stack, so a higher limit is safe; it is raised once, never lowered.
if sys.getrecursionlimit() < 12_000:
    sys.setrecursionlimit(12_000)


class ParseError(Exception):
    """The parser hit invalid syntax or the depth limit; ``message`` is what rustc-demangle prints for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SizeLimit(Exception):
    """A write would pass ``MAX_SIZE``; the writes made so far are the output."""


class Ident:
    """An identifier: its ASCII part and, for ``u``-prefixed ones, the punycode deltas."""

    __slots__ = ("ascii", "puny")

    def __init__(self, ascii_part: str, puny: str) -> None:
        self.ascii = ascii_part
        self.puny = puny

    def empty(self) -> bool:
        return not self.ascii and not self.puny

    def writes(self) -> list[str]:
        """rustc-demangle writes a decoded identifier one char at a time, a fallback in pieces."""
        if self.puny:
            decoded = punycode.decode(self.ascii, self.puny)
            if decoded is not None:
                return list(decoded)
            if self.ascii:
                return ["punycode{", self.ascii, "-", self.puny, "}"]
            return ["punycode{", self.puny, "}"]
        return [self.ascii]


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Printer:
    """One pass over a v0 symbol (without its ``_R`` prefix), printing into ``out`` or only validating.

    ``err`` is ``None`` while the parser is healthy and the error message once it failed; like
    rustc-demangle's ``Result<Parser, ParseError>`` it is saved and restored around backrefs, so an error
    inside a backref's target does not poison what follows it.
    """

    def __init__(self, sym: str, out: list[str] | None, alternate: bool) -> None:
        self.sym = sym
        self.pos = 0
        self.depth = 0
        self.err: str | None = None
        self.out = out
        self.alternate = alternate
        self.bound = 0
        self.remaining = MAX_SIZE
        #: Deepest ``depth`` reached, and a count of what makes writes unreplayable: printed errors, and
        #: writes merged into one list entry (a binder's lifetimes), whose replay could not be cut at the same
        #: write. A backref's writes are replayed only if printing them added to neither and would not meet
        #: the depth limit where they are reused.
        self.deepest = 0
        self.unreplayable = 0
        #: Writes of backref targets already printed, by (kind, target, bound): a symbol built to double its
        #: output at every backref level reaches the 1 MB cap after ~20 levels, and re-reading the targets
        #: each time costs a Python call per write (seconds); copying the writes costs a list extend.
        self.replays: dict[tuple[str, int, int], tuple[list[str], int, int]] = {}

    # -- output ---------------------------------------------------------------------------------------------

    def print(self, text: str) -> None:
        out = self.out
        if out is None:
            return
        self.remaining -= utf8_len(text)
        if self.remaining < 0:
            raise SizeLimit
        out.append(text)

    def print_all(self, texts: list[str]) -> None:
        for text in texts:
            self.print(text)

    def fail(self, message: str) -> None:
        """``invalid!``: print the message and mark the parser as failed."""
        self.unreplayable += 1
        self.print(message)
        self.err = message

    def replay(self, writes: list[str], size: int) -> None:
        """Print recorded writes, cutting at the same write as printing them one by one would."""
        out = self.out
        assert out is not None
        if size <= self.remaining:
            out.extend(writes)
            self.remaining -= size
            return
        for k, total in enumerate(itertools.accumulate(map(utf8_len, writes))):
            if total > self.remaining:
                out.extend(writes[:k])
                raise SizeLimit
        raise AssertionError("a replay larger than the room left must overflow it")

    # -- parser primitives (raise ParseError) -------------------------------------------------------------

    def _peek(self) -> str | None:
        return self.sym[self.pos] if self.pos < len(self.sym) else None

    def _eat(self, c: str) -> bool:
        if self.pos < len(self.sym) and self.sym[self.pos] == c:
            self.pos += 1
            return True
        return False

    def _next(self) -> str:
        if self.pos >= len(self.sym):
            raise ParseError(INVALID)
        c = self.sym[self.pos]
        self.pos += 1
        return c

    def _push_depth(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        if self.depth > self.deepest:
            self.deepest = self.depth

    def _integer_62(self) -> int:
        if self._eat("_"):
            return 0
        x = 0
        while not self._eat("_"):
            d = _B62.get(self._next())
            if d is None:
                raise ParseError(INVALID)
            x = x * 62 + d
            if x > _U64:
                raise ParseError(INVALID)
        if x + 1 > _U64:
            raise ParseError(INVALID)
        return x + 1

    def _opt_integer_62(self, tag: str) -> int:
        if not self._eat(tag):
            return 0
        x = self._integer_62() + 1
        if x > _U64:
            raise ParseError(INVALID)
        return x

    def _disambiguator(self) -> int:
        return self._opt_integer_62("s")

    def _namespace(self) -> str | None:
        c = self._next()
        if "A" <= c <= "Z":
            return c
        if "a" <= c <= "z":
            return None
        raise ParseError(INVALID)

    def _backref(self) -> tuple[int, int]:
        start = self.pos - 1
        target = self._integer_62()
        if target >= start:
            raise ParseError(INVALID)
        depth = self.depth + 1
        if depth > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return target, depth

    def _ident(self) -> Ident:
        is_puny = self._eat("u")
        c = self._peek()
        if c is None or not ("0" <= c <= "9"):
            raise ParseError(INVALID)
        self.pos += 1
        length = ord(c) - 48
        if length:
            while True:
                c = self._peek()
                if c is None or not ("0" <= c <= "9"):
                    break
                self.pos += 1
                length = length * 10 + ord(c) - 48
                if length > _U64:
                    raise ParseError(INVALID)
        self._eat("_")
        start = self.pos
        stop = start + length
        if stop > len(self.sym):
            raise ParseError(INVALID)
        self.pos = stop
        text = self.sym[start:stop]
        if not is_puny:
            return Ident(text, "")
        cut = text.rfind("_")
        ident = Ident("", text) if cut < 0 else Ident(text[:cut], text[cut + 1 :])
        if not ident.puny:
            raise ParseError(INVALID)
        return ident

    def _hex_nibbles(self) -> str:
        start = self.pos
        while True:
            c = self._next()
            if c == "_":
                return self.sym[start : self.pos - 1]
            if c not in _HEX_NIBBLES:
                raise ParseError(INVALID)

    # -- parse! -------------------------------------------------------------------------------------------

    def ok(self) -> bool:
        """``parse!``'s guard: when already failed, print ``?`` and tell the caller to return."""
        if self.err is not None:
            self.print("?")
            return False
        return True

    def eat(self, c: str) -> bool:
        return self.err is None and self._eat(c)

    def pop_depth(self) -> None:
        if self.err is None:
            self.depth -= 1

    # -- printing
    # ---------------------------------------------------------------------------------------------

    def print_lifetime(self, lt: int) -> None:
        if self.out is None:
            return
        self.print("'")
        if lt == 0:
            self.print("_")
            return
        if self.bound < lt:
            self.fail(INVALID)
            return
        depth = self.bound - lt
        if depth < 26:
            self.print(chr(97 + depth))
        else:
            self.print("_")
            self.print(str(depth))

    def print_backref(self, body: Callable[[], object], kind: str = "") -> None:
        """Print a backref's target with ``body``; ``kind`` (if any) names what it prints, so that its writes
        can be replayed the next time the same target is printed in the same way."""
        if not self.ok():
            return
        try:
            target, depth = self._backref()
        except ParseError as exc:
            self.fail(exc.message)
            return
        out = self.out
        if out is None:
            return
        key = (kind, target, self.bound)
        recorded = self.replays.get(key) if kind else None
        if recorded is not None and depth + recorded[2] <= MAX_DEPTH:
            self.deepest = max(self.deepest, depth + recorded[2])  # as deep as printing it again would go
            self.replay(recorded[0], recorded[1])
            return
        saved = (self.pos, self.depth, self.err)
        start, remaining, deepest = len(out), self.remaining, self.deepest
        unreplayable = self.unreplayable
        self.pos, self.depth, self.deepest = target, depth, depth
        try:
            body()
        finally:
            self.pos, self.depth, self.err = saved
            reached, self.deepest = self.deepest, max(deepest, self.deepest)
        if kind and self.unreplayable == unreplayable:
            self.replays[key] = (out[start:], remaining - self.remaining, reached - depth)

    def in_binder(self, body: Callable[[], None]) -> None:
        if not self.ok():
            return
        try:
            count = self._opt_integer_62("G")
        except ParseError as exc:
            self.fail(exc.message)
            return
        if self.out is None:
            body()
            return
        if count:
            self.print("for<")
            self._print_bound_lifetimes(count)
            self.print("> ")
        body()
        self.bound -= count

    def _print_bound_lifetimes(self, count: int) -> None:
        """Write ``'a, 'b, …`` for a binder (binders can be vast): in chunks that fit before the size cap,
        halving the chunk near it, so only the last few lifetimes are written one write at a time."""
        i = 0
        n = 8192
        while i < count:
            n = min(n, count - i)
            if n > 8 and self.out is not None:
                lo, hi = self.bound, self.bound + n
                # Lifetime d is written 'a..'z, then '_26, '_27, ...; map(str) keeps the long tail out of
                # Python-level loops.
                names = [f"'{chr(97 + d)}" for d in range(lo, min(hi, 26))]
                if hi > 26:
                    names.append("'_" + ", '_".join(map(str, range(max(lo, 26), hi))))
                text = (", " if i else "") + ", ".join(names)
                if len(text) > self.remaining:
                    n //= 2
                    continue
                self.remaining -= len(text)
                self.out.append(text)
                self.unreplayable += 1
                self.bound += n
                i += n
                continue
            if i:
                self.print(", ")
            self.bound += 1
            self.print_lifetime(1)
            i += 1

    def print_sep_list(self, item: Callable[[], None], sep: str) -> int:
        count = 0
        while self.err is None and not self._eat("E"):
            if count:
                self.print(sep)
            item()
            count += 1
        return count

    def print_path(self, in_value: bool) -> None:
        if not self.ok():
            return
        try:
            self._push_depth()
            tag = self._next()
        except ParseError as exc:
            self.fail(exc.message)
            return
        if tag == "C":
            try:
                dis = self._disambiguator()
                name = self._ident()
            except ParseError as exc:
                self.fail(exc.message)
                return
            self.print_all(name.writes())
            if self.out is not None and not self.alternate and dis:
                self.print("[")
                self.print(f"{dis:x}")
                self.print("]")
        elif tag == "N":
            try:
                ns = self._namespace()
            except ParseError as exc:
                self.fail(exc.message)
                return
            self.print_path(in_value)
            if self.err is not None:
                self.print("::")
            if not self.ok():
                return
            try:
                dis = self._disambiguator()
            except ParseError as exc:
                self.fail(exc.message)
                return
            try:
                name = self._ident()
            except ParseError as exc:
                self.fail(exc.message)
                return
            if ns is not None:
                self.print("::{")
                self.print("closure" if ns == "C" else "shim" if ns == "S" else ns)
                if not name.empty():
                    self.print(":")
                    self.print_all(name.writes())
                self.print("#")
                self.print(str(dis))
                self.print("}")
            elif not name.empty():
                self.print("::")
                self.print_all(name.writes())
        elif tag in "MXY":
            if tag != "Y":
                try:
                    self._disambiguator()
                except ParseError as exc:
                    self.fail(exc.message)
                    return
                saved_out, self.out = self.out, None
                self.print_path(False)
                self.out = saved_out
            self.print("<")
            self.print_type()
            if tag != "M":
                self.print(" as ")
                self.print_path(False)
            self.print(">")
        elif tag == "I":
            self.print_path(in_value)
            if in_value:
                self.print("::")
            self.print("<")
            self.print_sep_list(self.print_generic_arg, ", ")
            self.print(">")
        elif tag == "B":
            self.print_backref(lambda: self.print_path(in_value), "value path" if in_value else "path")
        else:
            self.fail(INVALID)
            return
        self.pop_depth()

    def print_generic_arg(self) -> None:
        if self.eat("L"):
            if not self.ok():
                return
            try:
                lt = self._integer_62()
            except ParseError as exc:
                self.fail(exc.message)
                return
            self.print_lifetime(lt)
        elif self.eat("K"):
            self.print_const(False)
        else:
            self.print_type()

    def print_type(self) -> None:
        if not self.ok():
            return
        try:
            tag = self._next()
        except ParseError as exc:
            self.fail(exc.message)
            return
        basic = BASIC_TYPES.get(tag)
        if basic is not None:
            self.print(basic)
            return
        try:
            self._push_depth()
        except ParseError as exc:
            self.fail(exc.message)
            return
        if tag in "RQ":
            self.print("&")
            if self.eat("L"):
                if not self.ok():
                    return
                try:
                    lt = self._integer_62()
                except ParseError as exc:
                    self.fail(exc.message)
                    return
                if lt:
                    self.print_lifetime(lt)
                    self.print(" ")
            if tag != "R":
                self.print("mut ")
            self.print_type()
        elif tag in "PO":
            self.print("*")
            self.print("mut " if tag != "P" else "const ")
            self.print_type()
        elif tag in "AS":
            self.print("[")
            self.print_type()
            if tag == "A":
                self.print("; ")
                self.print_const(True)
            self.print("]")
        elif tag == "T":
            self.print("(")
            if self.print_sep_list(self.print_type, ", ") == 1:
                self.print(",")
            self.print(")")
        elif tag == "F":
            self.in_binder(self._fn_sig)
        elif tag == "D":
            self.print("dyn ")
            self.in_binder(lambda: self._dyn_bounds())
            if not self.eat("L"):
                self.fail(INVALID)
                return
            if not self.ok():
                return
            try:
                lt = self._integer_62()
            except ParseError as exc:
                self.fail(exc.message)
                return
            if lt:
                self.print(" + ")
                self.print_lifetime(lt)
        elif tag == "B":
            self.print_backref(self.print_type, "type")
        elif tag == "W":
            self.print_type()
            self.print(" is ")
            self.print_pat()
        else:
            if self.err is None:
                self.pos -= 1
            self.print_path(False)
        self.pop_depth()

    def _dyn_bounds(self) -> None:
        self.print_sep_list(self.print_dyn_trait, " + ")

    def _fn_sig(self) -> None:
        is_unsafe = self.eat("U")
        abi: str | None = None
        if self.eat("K"):
            if self.eat("C"):
                abi = "C"
            else:
                if not self.ok():
                    return
                try:
                    ident = self._ident()
                except ParseError as exc:
                    self.fail(exc.message)
                    return
                if not ident.ascii or ident.puny:
                    self.fail(INVALID)
                    return
                abi = ident.ascii
        if is_unsafe:
            self.print("unsafe ")
        if abi is not None:
            self.print('extern "')
            for k, part in enumerate(abi.split("_")):
                if k:
                    self.print("-")
                self.print(part)
            self.print('" ')
        self.print("fn(")
        self.print_sep_list(self.print_type, ", ")
        self.print(")")
        if not self.eat("u"):
            self.print(" -> ")
            self.print_type()

    def _path_maybe_open_generics(self) -> bool:
        if self.eat("B"):
            result = [False]

            def body() -> None:
                result[0] = self._path_maybe_open_generics()

            self.print_backref(body)
            return result[0]
        if self.eat("I"):
            self.print_path(False)
            self.print("<")
            self.print_sep_list(self.print_generic_arg, ", ")
            return True
        self.print_path(False)
        return False

    def print_dyn_trait(self) -> None:
        is_open = self._path_maybe_open_generics()
        while self.eat("p"):
            if not is_open:
                self.print("<")
                is_open = True
            else:
                self.print(", ")
            if not self.ok():
                return
            try:
                name = self._ident()
            except ParseError as exc:
                self.fail(exc.message)
                return
            self.print_all(name.writes())
            self.print(" = ")
            if self.eat("K"):
                self.print_const(False)
            else:
                self.print_type()
        if is_open:
            self.print(">")

    def print_pat(self) -> None:
        if not self.ok():
            return
        try:
            tag = self._next()
        except ParseError as exc:
            self.fail(exc.message)
            return
        if tag == "R":
            self.print_const(False)
            self.print("..=")
            self.print_const(False)
        elif tag == "O":
            if not self.ok():
                return
            try:
                self._push_depth()
            except ParseError as exc:
                self.fail(exc.message)
                return
            self.print_pat()
            while not self.eat("E"):
                if self.err is not None:
                    self.fail(INVALID)
                    return
                self.print(" | ")
                self.print_pat()
            self.pop_depth()
        elif tag == "N":
            self.print("!null")
        else:
            self.fail(INVALID)

    def print_const(self, in_value: bool) -> None:
        if not self.ok():
            return
        try:
            tag = self._next()
            self._push_depth()
        except ParseError as exc:
            self.fail(exc.message)
            return
        opened = False

        def open_brace() -> None:
            nonlocal opened
            if not in_value:
                opened = True
                self.print("{")

        if tag == "p":
            self.print("_")
        elif tag in "htmyoj":
            if not self._const_uint(tag):
                return
        elif tag in "aslxni":
            if self.eat("n"):
                self.print("-")
            if not self._const_uint(tag):
                return
        elif tag in "bc":
            if not self.ok():
                return
            try:
                nibbles = self._hex_nibbles()
            except ParseError as exc:
                self.fail(exc.message)
                return
            value = _parse_uint(nibbles)
            if tag == "b":
                if value == 0:
                    self.print("false")
                elif value == 1:
                    self.print("true")
                else:
                    self.fail(INVALID)
                    return
            else:
                if value is None or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                    self.fail(INVALID)
                    return
                if self.out is not None:
                    self.print_all(quoted("'", chr(value)))
        elif tag == "e":
            open_brace()
            self.print("*")
            self._const_str()
        elif tag in "RQ":
            if tag == "R" and self.eat("e"):
                self._const_str()
            else:
                open_brace()
                self.print("&")
                if tag != "R":
                    self.print("mut ")
                self.print_const(True)
        elif tag == "A":
            open_brace()
            self.print("[")
            self.print_sep_list(lambda: self.print_const(True), ", ")
            self.print("]")
        elif tag == "T":
            open_brace()
            self.print("(")
            if self.print_sep_list(lambda: self.print_const(True), ", ") == 1:
                self.print(",")
            self.print(")")
        elif tag == "V":
            open_brace()
            self.print_path(True)
            if not self.ok():
                return
            try:
                kind = self._next()
            except ParseError as exc:
                self.fail(exc.message)
                return
            if kind == "U":
                pass
            elif kind == "T":
                self.print("(")
                self.print_sep_list(lambda: self.print_const(True), ", ")
                self.print(")")
            elif kind == "S":
                self.print(" { ")
                self.print_sep_list(self._const_field, ", ")
                self.print(" }")
            else:
                self.fail(INVALID)
                return
        elif tag == "B":
            self.print_backref(lambda: self.print_const(in_value), "value const" if in_value else "const")
        else:
            self.fail(INVALID)
            return
        if opened:
            self.print("}")
        self.pop_depth()

    def _const_field(self) -> None:
        if not self.ok():
            return
        try:
            self._disambiguator()
        except ParseError as exc:
            self.fail(exc.message)
            return
        if not self.ok():
            return
        try:
            name = self._ident()
        except ParseError as exc:
            self.fail(exc.message)
            return
        self.print_all(name.writes())
        self.print(": ")
        self.print_const(True)

    def _const_uint(self, tag: str) -> bool:
        """Print an integer const; False when the caller must return early (as after ``parse!`` fails)."""
        if not self.ok():
            return False
        try:
            nibbles = self._hex_nibbles()
        except ParseError as exc:
            self.fail(exc.message)
            return False
        value = _parse_uint(nibbles)
        if value is None:
            self.print("0x")
            self.print(nibbles)
        else:
            self.print(str(value))
        if self.out is not None and not self.alternate:
            self.print(BASIC_TYPES[tag])
        return True

    def _const_str(self) -> None:
        """A string literal; its failures return to ``print_const``, which still closes its brace."""
        if not self.ok():
            return
        try:
            nibbles = self._hex_nibbles()
        except ParseError as exc:
            self.fail(exc.message)
            return
        text = _parse_str(nibbles)
        if text is None:
            self.fail(INVALID)
            return
        if self.out is not None:
            self.print_all(quoted('"', text))


def _parse_uint(nibbles: str) -> int | None:
    """A hex const's value if it fits in u64 (leading zeros ignored), else None (printed ``0x`` + nibbles)."""
    digits = nibbles.lstrip("0")
    if len(digits) > 16:
        return None
    return int(digits, 16) if digits else 0


def _parse_str(nibbles: str) -> str | None:
    """The UTF-8 text a ``str`` const's nibbles spell, or None for odd length or invalid UTF-8."""
    if len(nibbles) % 2:
        return None
    try:
        return bytes.fromhex(nibbles).decode("utf-8")
    except ValueError:
        return None


def validate(inner: str) -> int | None:
    """rustc-demangle's first pass: the end of the symbol's path(s), or None if it is not a valid v0 symbol.

    The main path is followed by an optional instantiating-crate path (anything starting with an uppercase
    letter); the text after both is the suffix.
    """
    printer = Printer(inner, None, False)
    printer.print_path(False)
    if printer.err is not None:
        return None
    if printer.pos < len(inner) and "A" <= inner[printer.pos] <= "Z":
        printer.print_path(False)
        if printer.err is not None:
            return None
    return printer.pos


def render(inner: str, alternate: bool) -> tuple[list[str], bool]:
    """The writes of the printing pass, and whether the size cap cut them short."""
    out: list[str] = []
    printer = Printer(inner, out, alternate)
    try:
        printer.print_path(True)
    except SizeLimit:
        return out, True
    return out, False
