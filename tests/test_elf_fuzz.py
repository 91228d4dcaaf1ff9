"""Mutated real fixtures never make the ELF core raise anything but ``FormatError``, nor take over 1 s.

Mutations aim at the structures readers trust (headers, tables, .dynamic, .eh_frame) as well as random bytes
and truncation. ``FUZZ_EXAMPLES`` raises the count for long runs (``make fuzz``).
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED, build_rust
from elf_exercise import exercise
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
SMALL_RUST = 'fn main() { let v: Vec<u32> = (0..9).collect(); println!("{:?}", v); }'


def _corpus() -> list[tuple[str, bytes, list[tuple[int, int]]]]:
    paths = [
        SHARED / "fixtures/elf" / n
        for n in (
            "exe_solaris64_cc.elf",
            "exe_solaris32_cc.elf",
            "exe_solaris64_cc.sparc.elf",
            "exe_solaris32_cc.sparc.elf",
        )
    ] + [SHARED / "fixtures/illumos-rust/bin/illumos/hello"]
    paths = [p for p in paths if p.exists()]
    paths.append(build_rust(SMALL_RUST, "fuzz_small", "-O", "-C", "strip=debuginfo"))
    out = []
    for p in paths:
        data = p.read_bytes()
        with ElfFile(p) as elf:
            h = elf.header
            regions = [
                (0, 64),
                (h.e_shoff, h.e_shnum * h.e_shentsize),
                (h.e_phoff, h.e_phnum * h.e_phentsize),
            ]
            for s in elf.sections:
                if s.name in (
                    ".dynamic",
                    ".dynstr",
                    ".eh_frame",
                    ".eh_frame_hdr",
                    ".symtab",
                    ".dynsym",
                    ".SUNW_version",
                    ".gnu.version_r",
                    ".note.gnu.build-id",
                    ".interp",
                    ".comment",
                ):
                    regions.append((s.sh_offset, min(s.sh_size, len(data) - s.sh_offset)))
        out.append((p.name, data, [r for r in regions if r[1] > 0]))
    return out


CORPUS: list[tuple[str, bytes, list[tuple[int, int]]]] = []

SPECIAL = [
    b"\x00",
    b"\xff",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
    b"\x01",
    b"\x80",
    b"\xff" * 8,
    b"\x00" * 8,
    b"\xff\xff\xff\xff\x00\x00\x00\x00",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data, regions = draw(st.sampled_from(CORPUS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 9))
        if kind == 0:  # truncate
            del buf[draw(st.integers(0, max(0, len(buf) - 1))) :]
            break
        start, size = draw(st.sampled_from(regions)) if kind < 8 else (0, len(buf))
        if not buf:
            break
        off = min(start + draw(st.integers(0, max(0, size - 1))), len(buf) - 1)
        patch = draw(st.sampled_from(SPECIAL)) if kind % 2 else draw(st.binary(min_size=1, max_size=8))
        buf[off : off + len(patch)] = patch
    return name, bytes(buf)


@pytest.fixture(scope="module", autouse=True)
def _load_corpus() -> None:
    if not CORPUS:
        CORPUS.extend(_corpus())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(case=mutated())
def test_mutated_files_raise_only_format_error(case: tuple[str, bytes]) -> None:
    name, data = case
    elapsed = _timed_read(name, data)
    if elapsed >= 1.0:
        # A collection of the test process's own heap can land inside one input: judge a slow input on a
        # second, clean run, so only an input that is slow by itself fails.
        gc.collect()
        elapsed = _timed_read(name, data)
    assert elapsed < 1.0, f"{name}: {elapsed:.2f}s of CPU on one input"


def _timed_read(name: str, data: bytes) -> float:
    start = time.process_time()  # CPU time: the 2 shared cores make wall time measure the neighbours
    try:
        with ElfFile(name, data=data) as elf:
            exercise(elf)
    except FormatError as exc:
        assert exc.path == name
        assert str(exc).startswith(f"{name}: ")
    return time.process_time() - start


def test_unmutated_corpus_reads_cleanly() -> None:
    for name, data, _ in CORPUS:
        with ElfFile(name, data=data) as elf:
            assert exercise(elf) > 0


def test_truncation_at_every_header_boundary(tmp_path: Path) -> None:
    """Every prefix cut inside the headers is reported, never crashes."""
    name, data, _ = CORPUS[0]
    for cut in [*range(80), len(data) // 2, len(data) - 1]:
        try:
            with ElfFile(name, data=data[:cut]) as elf:
                exercise(elf)
        except FormatError:
            pass
