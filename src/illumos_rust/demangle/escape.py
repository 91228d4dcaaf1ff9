"""Rust's ``char::escape_debug``, as rustc-demangle uses it for ``char`` and ``&str`` const generics.

The printed form of a const such as ``'\\u{301}'`` or ``"a\\"b"`` has to match rustc-demangle byte for byte,
so the Unicode knowledge comes from Rust's own tables (see ``_unicode.py``), not from Python's
``unicodedata``.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from ._unicode import ESCAPED_ENDS, ESCAPED_STARTS

_SPECIAL: Final[dict[str, str]] = {
    "\t": "\\t",
    "\r": "\\r",
    "\n": "\\n",
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\0": "\\0",
}


def needs_unicode_escape(cp: int) -> bool:
    """True when ``escape_debug`` prints the code point as ``\\u{hex}`` (Grapheme_Extend or not printable)."""
    k = bisect_right(ESCAPED_STARTS, cp) - 1
    return k >= 0 and cp <= ESCAPED_ENDS[k]


def escape_char(c: str) -> list[str]:
    """The characters ``c.escape_debug()`` yields, one string each (rustc-demangle writes them one by one)."""
    special = _SPECIAL.get(c)
    if special is not None:
        return list(special)
    cp = ord(c)
    if cp < 0x7F and cp >= 0x20:
        return [c]
    if needs_unicode_escape(cp):
        return list(f"\\u{{{cp:x}}}")
    return [c]


def quoted(quote: str, chars: str) -> list[str]:
    """The writes of rustc-demangle's quoted literal: quote, each escaped char, quote.

    The opposite quote is not escaped (``'"'`` and ``"'"``), exactly like rustc-demangle.
    """
    out = [quote]
    other = '"' if quote == "'" else "'"
    for c in chars:
        if c == other:
            out.append(c)
        else:
            out.extend(escape_char(c))
    out.append(quote)
    return out
