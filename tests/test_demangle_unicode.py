"""The ``char::escape_debug`` table and punycode decoding, checked against Rust itself.

``_unicode.py`` holds the ranges ``escape_debug`` prints as ``\\u{…}``; they depend on the Unicode version
of the toolchain, so this test recomputes them with the installed rustc (every scalar value) and compares.
Punycode is checked through the oracle.
"""

from __future__ import annotations

import subprocess

from conftest import build_rust, require_tool
from illumos_rust.demangle import try_demangle
from illumos_rust.demangle.escape import escape_char
from test_demangle_oracle import run_oracle

ESCAPES_SOURCE = r"""
use std::io::Write;
// Print, for every scalar value, the code point in hex and its escape_debug rendering in hex bytes.
fn main() {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for cp in 0u32..=0x10FFFF {
        if let Some(c) = char::from_u32(cp) {
            let e: String = c.escape_debug().collect();
            if e.len() != c.len_utf8() || e.chars().next() != Some(c) {
                write!(out, "{:x} ", cp).unwrap();
                for b in e.bytes() { write!(out, "{:02x}", b).unwrap(); }
                out.write_all(b"\n").unwrap();
            }
        }
    }
}
"""


def test_escape_debug_matches_rust_for_every_scalar_value() -> None:
    require_tool("rustc")
    exe = build_rust(ESCAPES_SOURCE, "escape_debug_table", "-O")
    escaped: dict[int, str] = {}
    for line in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines():
        cp_hex, hexed = line.split(" ")
        escaped[int(cp_hex, 16)] = bytes.fromhex(hexed).decode()
    assert len(escaped) > 100_000  # unassigned code points dominate
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        want = escaped.get(cp, chr(cp))
        assert "".join(escape_char(chr(cp))) == want, hex(cp)


def test_punycode_identifiers_through_oracle() -> None:
    """Identifiers rustc would punycode-encode, including ones past rustc-demangle's 128-char buffer."""
    cases = [
        "_RNvC7mycrate" + ident
        for ident in (
            "u8gre_ae",  # ASCII part plus deltas
            "u5zca",  # deltas only
            "u11mixed_ascii_und_ss",  # not real punycode: decoding fails, printed as punycode{…}
            "u3abc",
            "u4_abc",
            "u2a_",
            "u9ab_zzzzzz",
            "u" + str(131) + "_" + "a" * 127 + "_4caa",
        )
    ]
    expected = run_oracle(cases)
    for sym, exp in zip(cases, expected, strict=True):
        assert try_demangle(sym) == exp.full, sym
        assert try_demangle(sym, hash=False) == exp.alternate, sym
    assert any(exp.full and "punycode{" in exp.full for exp in expected)
