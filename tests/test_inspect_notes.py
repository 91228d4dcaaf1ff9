"""Notes in 8-aligned sections (``.note.gnu.property``) on real GNU-linked files: the issue-11 regression.

Before the fix the descriptor of an 8-aligned note was looked for at ``12 + align(namesz, 8)`` (+20 for "GNU")
instead of ``align(12 + namesz, 8)`` (+16), so ``inspect /bin/ls`` failed with "note ... runs past its
section". readelf is the oracle for every note (section, owner, descriptor size), and the x86 ISA property's
``pr_type`` word is checked against its value in the x86-64 psABI (GNU_PROPERTY_X86_ISA_1_NEEDED =
0xc0008002) where readelf reports "x86 ISA needed": a descriptor read 4 bytes late would not start with it.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import elf_oracle as ro
from conftest import build_rust, require_tool
from illumos_rust.elf import ElfFile
from illumos_rust.elf import constants as C
from illumos_rust.errors import FormatError
from illumos_rust.inspect import inspect_elf, inspect_path
from test_cli_inspect import cli

GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002  # x86-64 psABI, "Program Properties"
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'


def readelf_notes(path: Path) -> list[tuple[str, str, int, str]]:
    """(section, owner, descsz, description) for every note, as ``readelf -n`` prints them."""
    out: list[tuple[str, str, int, str]] = []
    section = ""
    for line in ro.readelf("-n", str(path)).splitlines():
        m = re.match(r"Displaying notes found in: (\S+)", line)
        if m:
            section = m[1]
            continue
        m = re.match(r"^  (\S+)\s+0x([0-9a-f]+)\s+(.*)$", line)
        if m and m[1] != "Owner":
            out.append((section, m[1], int(m[2], 16), m[3].strip()))
    return out


def _check_against_readelf(path: Path) -> None:
    want = readelf_notes(path)
    assert any(sec == ".note.gnu.property" for sec, *_ in want), f"{path} has no .note.gnu.property"
    with ElfFile(path) as elf:
        notes = list(elf.notes())
    assert [(n.section, n.name, len(n.desc)) for n in notes] == [(s, o, z) for s, o, z, _ in want]
    text = ro.readelf("-n", str(path))
    for n in notes:
        if n.section == ".note.gnu.property" and "x86 ISA needed" in text:
            assert struct.unpack_from("<I", n.desc)[0] == GNU_PROPERTY_X86_ISA_1_NEEDED
    m = re.search(r"Build ID: ([0-9a-f]+)", text)
    assert inspect_path(path).build_id == (m[1] if m else None)
    res = cli("inspect", str(path))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_bin_ls() -> None:
    path = Path("/bin/ls")
    if not path.exists():
        pytest.skip("/bin/ls not present")
    _check_against_readelf(path)


def test_gcc_hello(tmp_path: Path) -> None:
    gcc = require_tool("gcc")
    src = tmp_path / "hello.c"
    src.write_text(HELLO_C)
    exe = tmp_path / "hello"
    subprocess.run([gcc, "-O2", "-o", str(exe), str(src)], check=True)
    _check_against_readelf(exe)


def test_gnu_ld_rust_binary() -> None:
    require_tool("ld.bfd")
    exe = build_rust('fn main() { println!("hi"); }', "notes_bfd", "-O", "-C", "link-arg=-fuse-ld=bfd")
    with ElfFile(exe) as elf:  # linked through gcc with GNU ld, not rust-lld (which signs .comment)
        assert not any(c.startswith("Linker: LLD") for c in elf.comment)
    _check_against_readelf(exe)


def test_four_aligned_notes_unchanged_on_lld_rust_binary() -> None:
    """rust-lld's output has only 4-aligned notes (ABI tag, build-id): classic layout still reads."""
    exe = build_rust('fn main() { println!("hi"); }', "notes_lld", "-O")
    want = readelf_notes(exe)
    with ElfFile(exe) as elf:
        got = [(n.section, n.name, len(n.desc)) for n in elf.notes()]
    assert got == [(s, o, z) for s, o, z, _ in want] and got


FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))


@cache
def _note_corpus() -> tuple[bytes, list[tuple[int, int]]]:
    path = Path("/bin/ls")
    if not path.exists():
        return b"", []
    with ElfFile(path) as elf:
        regions = [(s.sh_offset, s.sh_size) for s in elf.sections if s.sh_type == C.SHT_NOTE and s.sh_size]
    return path.read_bytes(), regions


@st.composite
def _mutated_notes(draw: st.DrawFn) -> bytes:
    data, regions = _note_corpus()
    if not data:
        return b""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        start, size = draw(st.sampled_from(regions))
        off = start + draw(st.integers(0, size - 1))
        patch = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x09\x00\x00\x00"]))
        if draw(st.booleans()):
            patch = draw(st.binary(min_size=1, max_size=8))
        buf[off : off + len(patch)] = patch
    return bytes(buf)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=_mutated_notes())
def test_fuzz_mutated_notes_raise_only_format_error(data: bytes) -> None:
    """Hostile namesz/descsz in /bin/ls's 8- and 4-aligned note sections: FormatError or notes, no hang."""
    if not data:
        pytest.skip("/bin/ls not present")
    try:
        with ElfFile("mutated-ls", data=data) as elf:
            notes = list(elf.notes())
            inspect_elf(elf)
    except FormatError as exc:
        assert str(exc).startswith("mutated-ls: ")
        return
    assert len(notes) <= len(data) // 12
