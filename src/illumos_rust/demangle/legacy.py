"""The legacy Rust mangling scheme (``_ZN…E``), as rustc-demangle 0.1.27 reads and prints it.

Legacy symbols borrow the Itanium C++ nested-name syntax: ``_ZN`` (or ``ZN``/``__ZN``), then ``<len><bytes>``
elements, then ``E``. rustc appends a ``17h<16 hex>`` element holding the crate hash, and escapes characters
that assemblers dislike as ``$LT$``-style codes, ``..`` for ``::`` and ``$u<hex>$`` for other characters. The
rules here are rustc-demangle's, including the lenient ones (leading zeros in lengths, empty elements, a hash
element of any length and either case), because the goal is byte-for-byte agreement with rustc, std backtraces
and rustfilt.
"""

from __future__ import annotations

import re
from typing import Final

_DIGITS: Final = re.compile(r"[0-9]+")
#: Only the last element is a hash, and only for the alternate form: ``h`` then hex digits of either case.
_HASH: Final = re.compile(r"h[0-9a-fA-F]*")
_ESCAPES: Final[dict[str, str]] = {
    "SP": "@",
    "BP": "*",
    "RF": "&",
    "LT": "<",
    "GT": ">",
    "LP": "(",
    "RP": ")",
    "C": ",",
}
_LOWER_HEX: Final = re.compile(r"u[0-9a-f]+")
_PLAIN_RUN: Final = re.compile(r"[^$.]+")
#: Paths with more elements are not demangled. rustc-demangle has no such limit, but real legacy symbols have
#: a few dozen elements at most (a long one is long because one ``<impl …>`` element is), while a megabyte of
#: one-character elements would cost a Python loop half a second to reject. At this bound the worst input
#: is answered in about 2 ms.
MAX_ELEMENTS: Final = 4096


def parse(sym: str) -> tuple[list[str], str] | None:
    """Split a legacy symbol into its raw elements and the text after the final ``E``; ``None`` if not legacy.

    Like rustc-demangle, the only checks are the prefix, ASCII, and well-formed ``<len><bytes>`` elements up
    to an ``E``; whether the trailing text is an acceptable suffix is decided by the caller.
    """
    if sym.startswith("_ZN"):
        pos = 3
    elif sym.startswith("ZN"):
        pos = 2
    elif sym.startswith("__ZN"):
        pos = 4
    else:
        return None
    if not sym.isascii():
        return None
    end = len(sym)
    elements: list[str] = []
    while True:
        if pos >= end:
            return None
        if sym[pos] == "E":
            return elements, sym[pos + 1 :]
        if len(elements) >= MAX_ELEMENTS:
            return None
        m = _DIGITS.match(sym, pos)
        if m is None:
            return None
        digits = m.group().lstrip("0")
        if len(digits) > 19:  # past u64 (overflow) or past the end of any real input: both are errors
            return None
        start = m.end()
        stop = start + (int(digits) if digits else 0)
        # rustc-demangle reads one character past each element (the next length digit or the final `E`).
        if stop >= end:
            return None
        elements.append(sym[start:stop])
        pos = stop


def _escaped(element: str, out: list[str]) -> None:
    """Append the writes rustc-demangle makes for one element that contains ``$`` or ``.``.

    Positions, not re-slicing: an element can be a megabyte of ``$LT$``, and slicing the rest after every
    escape would make that quadratic.
    """
    i = 1 if element.startswith("_$") else 0
    n = len(element)
    while i < n:
        c = element[i]
        if c == ".":
            if element.startswith("..", i):
                out.append("::")
                i += 2
            else:
                out.append(".")
                i += 1
        elif c == "$":
            end = element.find("$", i + 1)
            if end < 0:
                break
            code = element[i + 1 : end]
            plain = _ESCAPES.get(code)
            if plain is None:
                if not _LOWER_HEX.fullmatch(code):
                    break
                cp = int(code[1:], 16)  # linear for base 16, and not subject to int_max_str_digits
                # char::from_u32 plus rustc-demangle's "not a control character" rule (Cc only).
                if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF or cp < 0x20 or 0x7F <= cp <= 0x9F:
                    break
                plain = chr(cp)
            out.append(plain)
            i = end + 1
        else:
            m = _PLAIN_RUN.match(element, i)
            assert m is not None
            if m.end() == n:
                break
            out.append(m.group())
            i = m.end()
    out.append(element[i:])


def render(elements: list[str], alternate: bool) -> list[str]:
    """The writes rustc-demangle's ``Display`` makes, so that the 1 MB size cap cuts at the same place."""
    out: list[str] = []
    count = len(elements)
    for k, element in enumerate(elements):
        if alternate and k + 1 == count and _HASH.fullmatch(element):
            break
        if k:
            out.append("::")
        if "$" in element or "." in element:
            _escaped(element, out)
        else:
            out.append(element)
    return out
