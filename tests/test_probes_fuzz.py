"""Mutated DOF, mutated probe records and notes, and malformed provider files give ``FormatError`` (one line,
exit 2 from the CLI), never a traceback, each within a second.

``FUZZ_EXAMPLES`` (``make fuzz``) raises the count; the default keeps ``make test`` quick.
"""

from __future__ import annotations

import io
import os
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import build_rust, require_tool
from illumos_rust.cli.main import main
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError
from illumos_rust.probes.dparse import ProviderSyntaxError, parse_provider_text
from illumos_rust.sdt import dof as D
from illumos_rust.sdt.listing import list_probes
from probes_helpers import DOF_DUMP, program_source

EXAMPLES = max(40, int(os.environ.get("FUZZ_EXAMPLES", "2000")) // 25)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def sample_dof() -> bytes:
    probes = [
        D.DofProbe(
            "start", "_ZN4main4work17h0123456789abcdefE", 0x401000, ["int", "char *"], [0x10, 0x40], [0x8]
        ),
        D.DofProbe("done", "main", 0x402000, [], [0x4], []),
    ]
    prov = D.DofProvider("app", probes, {"provider": "Evolving/Evolving/Common"})
    return D.encode([prov, D.DofProvider("other", [D.DofProbe("x", "f", 0x10, ["long"], [0], [1])])])


def test_sample_dof_round_trips() -> None:
    image = D.decode(sample_dof())
    assert [p.name for p in image.providers] == ["app", "other"]
    start = image.providers[0].probes[0]
    assert (start.arg_types, start.offsets, start.enabled_offsets) == (["int", "char *"], [0x10, 0x40], [0x8])
    assert image.providers[0].attributes == {"provider": "Evolving/Evolving/Common"}


mutation = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)


def mutate(
    raw: bytes, edits: list[tuple[int, int]], cut: int | None, lo: int = 0, hi: int | None = None
) -> bytes:
    buf = bytearray(raw)
    hi = len(buf) if hi is None else hi
    for pos, value in edits:
        buf[lo + pos % max(1, hi - lo)] = value
    return bytes(buf[:cut] if cut is not None else buf)


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


@SETTINGS
@given(edits=mutation, cut=st.one_of(st.none(), st.integers(0, 700)))
def test_mutated_dof(tmp_path: Path, edits: list[tuple[int, int]], cut: int | None) -> None:
    raw = mutate(sample_dof(), edits, cut)
    start = time.process_time()  # CPU: the bound is on our work, not on the neighbours of a loaded machine
    try:
        D.decode(raw, "m.dof")
    except FormatError as exc:
        assert "\n" not in str(exc)
    path = tmp_path / "m.dof"
    path.write_bytes(raw)
    code, err = run_cli(["probes", "dof", "decode", str(path)])
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("illumos-rust: ") and "Traceback" not in err
    assert time.process_time() - start < 1.0


@pytest.fixture(scope="module")
def binaries() -> dict[str, bytes]:
    require_tool("rustc")
    if not sys.platform.startswith("linux"):
        pytest.skip("builds Linux programs")
    # the same builds as test_probes_linux (release) and test_probes_standard (pie): one compile each
    stap = build_rust(program_source(), "probes_linux_release", "-O")
    std = build_rust(
        program_source(DOF_DUMP), "probes_std_pie", "--cfg", "illumos_rust_probes_standard", "-O"
    )
    return {"stap": stap.read_bytes(), "std": std.read_bytes()}


def section_range(raw: bytes, name: str) -> tuple[int, int]:
    with ElfFile("x", data=raw) as elf:
        sec = elf.section(name)
        assert sec is not None
        return sec.sh_offset, sec.sh_offset + sec.sh_size


@SETTINGS
@given(
    which=st.sampled_from([("stap", ".note.stapsdt"), ("std", "set_dtrace_probes")]),
    edits=mutation,
)
def test_mutated_notes_and_records(
    binaries: dict[str, bytes], which: tuple[str, str], edits: list[tuple[int, int]]
) -> None:
    raw = binaries[which[0]]
    lo, hi = section_range(raw, which[1])
    data = mutate(raw, edits, None, lo, hi)
    start = time.process_time()  # CPU: the bound is on our work, not on the neighbours of a loaded machine
    try:
        with ElfFile("m.elf", data=data) as elf:
            list_probes(elf)
    except FormatError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("m.elf: ")
    assert time.process_time() - start < 1.0


def test_truncated_record_section_is_one_line_exit_2(binaries: dict[str, bytes], tmp_path: Path) -> None:
    raw = bytearray(binaries["std"])
    lo, _hi = section_range(bytes(raw), "set_dtrace_probes")
    raw[lo : lo + 4] = (0xFFFF).to_bytes(4, "little")  # first record claims 64 KiB
    path = tmp_path / "bad"
    path.write_bytes(bytes(raw))
    code, err = run_cli(["probes", "list", str(path)])
    assert code == 2
    assert (
        err
        == f"illumos-rust: {path}: set_dtrace_probes: record length 65535 is out of bounds (offset 0x{lo:x})"
        + "\n"
    )


D_TOKENS = [
    "provider",
    "probe",
    "typedef",
    "foo",
    "bar",
    "int",
    "unsigned",
    "long",
    "char",
    "*",
    "const",
    "uint8_t",
    "void",
    "struct",
    "{",
    "}",
    "(",
    ")",
    ";",
    ",",
    ":",
    "/*",
    "*/",
    "//",
    "\n",
    "#pragma D attributes Evolving/Evolving/Common provider foo provider\n",
    "#define X\n",
    "[",
    "start",
    "__",
    "é",
    "\x00",
    "@",
]


@SETTINGS
@given(st.lists(st.sampled_from(D_TOKENS), max_size=60), st.text(max_size=20))
def test_malformed_provider_files(tokens: list[str], noise: str) -> None:
    text = " ".join(tokens) + noise
    start = time.process_time()  # CPU: the bound is on our work, not on the neighbours of a loaded machine
    try:
        parse_provider_text(text, "f.d")
    except ProviderSyntaxError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("f.d:")
        assert 1 <= exc.line <= text.count("\n") + 1
        assert exc.caret().count("\n") == 1
    assert time.process_time() - start < 1.0


def test_hostile_provider_file_cli(tmp_path: Path) -> None:
    path = tmp_path / "deep.d"
    path.write_text("provider p { probe x(int " + "*" * 100000 + "); };")
    code, _err = run_cli(["probes", "gen", str(path), "-o", str(tmp_path / "out.rs")])
    assert code == 0  # deep pointers are just stars: no recursion to exhaust
    bad = tmp_path / "bin.d"
    bad.write_bytes(b"\xff\xfeprovider")
    code, err = run_cli(["probes", "gen", str(bad)])
    assert code == 2 and err.count("\n") == 1 and "not UTF-8" in err
