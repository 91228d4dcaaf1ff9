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


@pytest.mark.parametrize(
    ("first", "stop"),
    [(0, 1), (0, 2500), (999, 1001), (16384, 32768), (998_990, 1_000_010), (123_456, 123_457)],
)
def test_index_column_is_printf_width_6(first: int, stop: int) -> None:
    """The bulk index column (thousands + low digits) against C printf's ``%6d`` semantics, across the
    thousand, chunk and million boundaries."""
    from illumos_rust.cli.inspect import _index_texts

    assert list(_index_texts(first, stop)) == ["\n  %6d: " % i for i in range(first, stop)]  # noqa: UP031


def test_json_rows_are_the_text_rows_and_a_bad_file_is_one_error_object(tmp_path: Path) -> None:
    """The streamed JSON (issue 11) parses, has every row the text listing has, and a malformed file among
    good ones becomes one ``error`` object in its place (exit 2)."""
    import json

    good = _cases()[2]
    bad = tmp_path / "truncated.elf"
    bad.write_bytes(good.read_bytes()[:100])
    text = _listing(good, "--no-demangle")
    res = cli("inspect", "--format", "json", "--symbols", "--no-demangle", str(good), str(bad), str(good))
    assert res.returncode == 2
    assert res.stderr.count("illumos-rust:") == 1
    data = json.loads(res.stdout)
    assert [("error" in d) for d in data] == [False, True, False]
    assert data[1]["path"] == str(bad)
    for table, rows in text.items():
        got = [
            (r["index"], r["value"], r["size"], r["type"], r["bind"], r["name"])
            for r in data[2]["symbols"][table]
        ]
        assert got == [(i, v, s, t, b, n) for i, v, s, t, b, _ndx, n in rows]


def test_json_with_an_unreadable_path_stays_one_valid_document(tmp_path: Path) -> None:
    """Streamed JSON has written the earlier objects when a later path cannot be opened: the document is
    closed validly with an ``error`` object for that path, one stderr line, exit 2."""
    import json

    good = _cases()[1]
    missing = tmp_path / "missing.elf"
    res = cli("inspect", "--format", "json", str(good), str(missing))
    assert res.returncode == 2
    assert res.stderr.count("illumos-rust:") == 1 and str(missing) in res.stderr
    data = json.loads(res.stdout)
    assert "error" not in data[0] and data[1]["path"] == str(missing) and data[1]["error"]
