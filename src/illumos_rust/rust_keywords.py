"""Rust's keywords, strict and reserved (The Rust Reference, "Keywords", editions 2015-2024).

One list for every place that must tell an identifier from a keyword: ``port`` (a name that can never be a
libc item or a module), ``probes`` (a provider or probe name that cannot become a Rust module or macro).
"""

from __future__ import annotations

from typing import Final

STRICT: Final = frozenset(
    [
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "Self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
    ]
)
RESERVED: Final = frozenset(
    [
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
    ]
)
KEYWORDS: Final = STRICT | RESERVED
