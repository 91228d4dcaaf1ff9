"""D provider parser: the corpus in tests/data/probes/ against SystemTap's ``dtrace -h`` wrapper, a hand-typed
table of C types (LP64 sizes from the SysV AMD64 psABI), and line:column errors for bad files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, require_tool
from illumos_rust.probes.dparse import ProviderSyntaxError, parse_provider_file, parse_provider_text

DATA = REPO / "tests" / "data" / "probes"
CORPUS = sorted(DATA.glob("*.d"))


def stap_header_probes(path: Path, tmp_path: Path) -> list[tuple[str, str, int]]:
    """(provider, probe, argument count) from the header the SystemTap ``dtrace -h`` wrapper writes."""
    require_tool("dtrace")
    out = tmp_path / (path.stem + ".h")
    # --no-pyparsing: the wrapper's pyparsing grammar rejects plain C types and falls back to this anyway.
    subprocess.run(["dtrace", "-h", "--no-pyparsing", "-s", str(path), "-o", str(out)], check=True)
    found = []
    for m in re.finditer(r"DTRACE_PROBE(\d*) \((\w+), (\w+)", out.read_text()):
        found.append((m.group(2), m.group(3), int(m.group(1) or 0)))
    return found


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_matches_systemtap_dtrace_h(path: Path, tmp_path: Path) -> None:
    expected = stap_header_probes(path, tmp_path)
    assert expected, "the wrapper found no probes"
    pf = parse_provider_file(str(path))
    ours = [(prov.name, probe.name, len(probe.args)) for prov in pf.providers for probe in prov.probes]
    assert ours == expected


def test_seed_example() -> None:
    pf = parse_provider_file(str(DATA / "seed.d"))
    (prov,) = pf.providers
    (probe,) = prov.probes
    assert (prov.name, probe.name) == ("foo", "bar")
    assert [(a.spelling, a.kind, a.size, a.signed, a.rust) for a in probe.args] == [
        ("int", "int", 4, True, "i32"),
        ("char *", "string", 8, False, "&str"),
    ]


# (declared spelling, canonical spelling, size in bytes on LP64, signed, Rust type): typed from the psABI.
INTEGERS = [
    ("char", "char", 1, True, "::core::ffi::c_char"),
    ("signed char", "signed char", 1, True, "i8"),
    ("unsigned char", "unsigned char", 1, False, "u8"),
    ("short", "short", 2, True, "i16"),
    ("short int", "short", 2, True, "i16"),
    ("unsigned short int", "unsigned short", 2, False, "u16"),
    ("int", "int", 4, True, "i32"),
    ("signed", "int", 4, True, "i32"),
    ("signed int", "int", 4, True, "i32"),
    ("unsigned", "unsigned", 4, False, "u32"),
    ("unsigned int", "unsigned", 4, False, "u32"),
    ("long", "long", 8, True, "i64"),
    ("long int", "long", 8, True, "i64"),
    ("unsigned long", "unsigned long", 8, False, "u64"),
    ("long unsigned int", "unsigned long", 8, False, "u64"),
    ("long long", "long long", 8, True, "i64"),
    ("unsigned long long", "unsigned long long", 8, False, "u64"),
    ("long long int", "long long", 8, True, "i64"),
    ("int8_t", "int8_t", 1, True, "i8"),
    ("uint16_t", "uint16_t", 2, False, "u16"),
    ("int32_t", "int32_t", 4, True, "i32"),
    ("uint64_t", "uint64_t", 8, False, "u64"),
    ("intptr_t", "intptr_t", 8, True, "isize"),
    ("uintptr_t", "uintptr_t", 8, False, "usize"),
    ("size_t", "size_t", 8, False, "usize"),
    ("ssize_t", "ssize_t", 8, True, "isize"),
    ("pid_t", "pid_t", 4, True, "i32"),
]


@pytest.mark.parametrize("declared,spelling,size,signed,rust", INTEGERS)
def test_integer_spellings(declared: str, spelling: str, size: int, signed: bool, rust: str) -> None:
    pf = parse_provider_text(f"provider p {{ probe x({declared}); }};")
    (arg,) = pf.providers[0].probes[0].args
    assert (arg.spelling, arg.size, arg.signed, arg.rust, arg.kind) == (spelling, size, signed, rust, "int")


def test_pointers_typedefs_pragmas_and_names() -> None:
    pf = parse_provider_file(str(DATA / "pointers.d"))
    probes = {p.name: p for p in pf.providers[0].probes}
    assert [(a.spelling, a.kind, a.rust) for a in probes["buf"].args] == [
        ("uint8_t *", "ptr", "*const u8"),
        ("size_t", "int", "usize"),
    ]
    assert [a.spelling for a in probes["opaque"].args] == ["void *", "int *"]
    assert [a.kind for a in probes["name"].args] == ["string", "string"]
    assert probes["nothing"].args == ()
    assert probes["buf"].arg_names == ("buf", "len")

    td = parse_provider_file(str(DATA / "typedefs.d"))
    start = td.providers[0].probes[0]
    assert start.dtrace_name == "request-start"
    assert [(a.spelling, a.declared, a.kind) for a in start.args] == [
        ("unsigned long long", "ts_t", "int"),
        ("char *", "str_t", "string"),
        ("uint32_t", "id32_t", "int"),
    ]

    pr = parse_provider_file(str(DATA / "pragmas.d"))
    assert len(pr.pragmas) == 5 and pr.pragmas[0].startswith("#pragma D attributes Evolving")
    assert pr.providers[0].attributes == {
        "provider": "Evolving/Evolving/Common",
        "module": "Private/Private/Unknown",
        "function": "Private/Private/Unknown",
        "name": "Evolving/Evolving/Common",
        "args": "Evolving/Evolving/Common",
    }


def test_void_and_one_line_file() -> None:
    # illumos dtrace: '(void)' declares no arguments (the SystemTap wrapper counts it as one, so no oracle).
    pf = parse_provider_text(
        "provider a { probe one(void); probe two(long, long); }; provider b { probe t(char *); };"
    )
    assert [(p.name, len(p.args)) for prov in pf.providers for p in prov.probes] == [
        ("one", 0),
        ("two", 2),
        ("t", 1),
    ]


# (text, line, column, message fragment): positions counted by hand from the text.
BAD = [
    ("provider x {\n  probe a(int, struct s*);\n};", 2, 16, "struct arguments are not supported"),
    ("provider x {\n  probe a(int, int, int, int, int, int, int);\n};", 2, 41, "more than 6 arguments"),
    ("provider x {\n  probe start();\n};", 2, 9, "reserved"),
    ("provider x {\n  probe probe();\n};", 2, 9, "reserved"),
    ("provider x {\n  probe a(frob);\n};", 2, 11, "unknown type 'frob'"),
    ("provider x {\n  probe a(int)\n};", 3, 1, "expected ';'"),
    ("provider x {\n  probe a(int);\n", 3, 1, "not closed"),
    ("provider loop {\n};", 1, 10, "Rust keyword"),
    ("provider x {\n  probe a(float);\n};", 2, 11, "floating-point"),
    ("provider x {\n  probe a(string);\n};", 2, 11, "'string' is not a C type"),
    ("provider x {\n  probe a(int);\n  probe a(long);\n};", 3, 3, "declared twice"),
    ("/* open\nprovider x {};", 1, 1, "unterminated comment"),
    ("#include <foo.h>\nprovider x {};", 1, 1, "preprocessor directive"),
    ("provider x {\n  probe a(int) : (int);\n};", 2, 16, "translators"),
    ("provider x {\n  probe a(long long long);\n};", 2, 11, "not a C integer type"),
    ("provider x {\n  probe a(int @);\n};", 2, 15, "unexpected character '@'"),
    ("provider x {\n  probe a(int[4]);\n};", 2, 14, "array"),
    ("provider " + "p" * 58 + " {};", 1, 10, "at most 57"),
]


@pytest.mark.parametrize("text,line,column,fragment", BAD)
def test_errors_have_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(ProviderSyntaxError) as info:
        parse_provider_text(text, "bad.d")
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"bad.d:{line}:{column}: error: ")
    assert "\n" not in str(err)
    _src, caret = err.caret().split("\n")
    assert caret.index("^") - 2 == column - 1


def test_cli_gen_error_exit_2_with_caret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.d"
    bad.write_text("provider x {\n  probe a(int, struct s*);\n};\n")
    out = tmp_path / "probes.rs"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "illumos-rust"), "probes", "gen", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert (
        lines[0] == f"illumos-rust: {bad}:2:16: error: struct arguments are not supported; pass a pointer as "
        "'uintptr_t' or 'void *'"
    )
    assert lines[2].index("^") == lines[1].index("struct")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
