"""``inspect --symbols`` text rows, streamed from the mapped tables, agree with ``readelf -Ws`` row by row.

Both ELF classes (the SPARC 32-bit and amd64 64-bit Solaris fixtures, a Rust program built here), every table.
readelf prints SHN_UNDEF/ABS/COMMON as UND/ABS/COM like we do; its ``@VERSION`` suffixes are stripped by the
oracle parser; names are compared as stored (``--no-demangle``), and demangled rows must be what the
pure-Python demangler (the reference, checked against rustc-demangle elsewhere) gives for each name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import build_rust, shared_path
from illumos_rust.demangle import try_demangle
from test_cli_inspect import cli

ROW = re.compile(r"^\s+(\d+): ([0-9a-f]{16})\s+(\d+) (\S+)\s+(\S+)\s+(\S+) (.*)$")


def _listing(path: Path, *flags: str) -> dict[str, list[tuple[int, int, int, str, str, str, str]]]:
    res = cli("inspect", "--symbols", *flags, str(path))
    assert res.returncode == 0, res.stderr
    tables: dict[str, list[tuple[int, int, int, str, str, str, str]]] = {}
    current = None
    for line in res.stdout.splitlines():
        m = re.match(r"^Symbol table (\S+) \((\d+) entries\):$", line)
        if m:
            current = tables.setdefault(m[1], [])
            continue
        r = ROW.match(line)
        if r and current is not None:
            current.append((int(r[1]), int(r[2], 16), int(r[3]), r[4], r[5], r[6], r[7]))
    return tables


def _cases() -> list[Path]:
    return [
        shared_path("fixtures", "elf", "exe_solaris32_cc.sparc.elf"),
        shared_path("fixtures", "elf", "exe_solaris64_cc.elf"),
        build_rust('fn main() { println!("{:?}", std::env::args().collect::<Vec<_>>()); }', "sym_rows", "-O"),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["sparc32", "amd64", "rust"])
def test_rows_match_readelf(index: int) -> None:
    path = _cases()[index]
    want = ro.symbols(path)
    got = _listing(path, "--no-demangle")
    assert set(want) <= set(got)  # readelf does not list .SUNW_ldynsym
    for table, rows in want.items():
        assert len(got[table]) == len(rows), table
        for ours, theirs in zip(got[table], rows, strict=True):
            assert ours[:3] == (theirs.num, theirs.value, theirs.size), (table, theirs)
            assert (ours[3], ours[4], ours[5]) == (theirs.type, theirs.bind, theirs.ndx), (table, theirs)
            # readelf shows a nameless STT_SECTION symbol under its section's name; the stored name is empty
            assert ours[6] == theirs.name or (theirs.type == "SECTION" and ours[6] == ""), (table, theirs)


def test_demangled_rows_are_the_reference_demangling() -> None:
    path = _cases()[2]
    raw = _listing(path, "--no-demangle")
    shown = _listing(path)
    rust = 0
    for table, rows in raw.items():
        for r, s in zip(rows, shown[table], strict=True):
            assert s[:6] == r[:6]
            assert s[6] == (try_demangle(r[6], hash=False) or r[6])
            rust += s[6] != r[6]
    assert rust > 100
