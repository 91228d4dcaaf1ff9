"""Mutated DWARF (and the relocations and compression around it) only ever gives ``FormatError``, quickly.

Mutations land in the ``.debug_*`` sections, their ``.rela`` sections, and the compressed stream of a
``gcc -gz`` object, with byte patterns aimed at lengths, offsets, forms and LEB128 continuation bits.
``FUZZ_EXAMPLES`` raises the count for long runs (``make fuzz``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BUILD_CACHE, SHARED, require_tool
from dwarf_exercise import exercise
from dwarf_inputs import build_c, rust_dwarf5
from illumos_rust.dwarf import DwarfInfo
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
LIMIT_S = 2.0

SPECIAL = [
    b"\x00",
    b"\xff",
    b"\x80",
    b"\x7f",
    b"\x80\x80\x80\x80\x80",
    b"\xff\xff\xff\xff",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x16",  # DW_FORM_indirect
    b"\x21",  # DW_FORM_implicit_const
    b"\x05\x00",  # version 5
    b"\x02\x00",  # version 2
]

CORPUS: list[tuple[str, bytes, list[tuple[int, int]]]] = []


def _corpus() -> list[tuple[str, bytes, list[tuple[int, int]]]]:
    paths: list[Path] = [SHARED / "fixtures/ctf" / n for n in ("rustypes.o", "rustbin", "ctfconv_t.o")]
    paths = [p for p in paths if p.exists()]
    makers = [
        lambda: build_c("fz5z", "gcc", "-g", "-gdwarf-5", "-gz"),
        lambda: build_c("fz4tu", "gcc", "-g", "-gdwarf-4", "-fdebug-types-section"),
        lambda: build_c("fza64", "clang", "--target=aarch64-linux-gnu", "-gdwarf-5"),
        lambda: rust_dwarf5(optimized=True),
        _every_form_object,
    ]
    for make in makers:
        # A missing compiler narrows the corpus; the fixtures and the other inputs still run.
        with contextlib.suppress(pytest.skip.Exception):
            paths.append(make())
    out = []
    for p in paths:
        data = p.read_bytes()
        with ElfFile(p) as elf:
            regions = [
                (s.sh_offset, s.sh_size)
                for s in elf.sections
                if ".debug_" in s.name and s.sh_type != 8 and s.sh_size
            ]
        out.append((p.name, data, regions))
    return out


def _every_form_object() -> Path:
    """The hand-assembled unit using every DW_FORM (test_dwarf_forms), so mutations reach the rare ones."""
    from test_dwarf_forms import assemble

    out = BUILD_CACHE / "dwarf-forms"
    out.mkdir(parents=True, exist_ok=True)
    return assemble(out, dwarf64=False)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data, regions = draw(st.sampled_from(CORPUS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        start, size = draw(st.sampled_from(regions))
        kind = draw(st.integers(0, 3))
        off = start + draw(st.integers(0, max(0, size - 1)))
        if kind == 0:
            patch = draw(st.sampled_from(SPECIAL))
        elif kind == 1:
            patch = draw(st.binary(min_size=1, max_size=8))
        elif kind == 2:  # flip one bit
            patch = bytes([buf[off] ^ (1 << draw(st.integers(0, 7)))])
        else:  # zero a run (cuts strings, lists and tables short)
            patch = bytes(draw(st.integers(1, 64)))
        patch = patch[: max(0, start + size - off)]
        buf[off : off + len(patch)] = patch
    return name, bytes(buf)


@pytest.fixture(scope="module", autouse=True)
def _load_corpus() -> None:
    if not CORPUS:
        CORPUS.extend(_corpus())


def _timed(name: str, data: bytes) -> float:
    start = time.process_time()
    try:
        with ElfFile(name, data=data) as elf:
            exercise(elf)
    except FormatError as exc:
        assert exc.path == name
        assert str(exc).startswith(f"{name}: ") and "\n" not in str(exc)
    return time.process_time() - start


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(case=mutated())
def test_mutated_dwarf_raises_only_format_error(case: tuple[str, bytes]) -> None:
    name, data = case
    elapsed = _timed(name, data)
    if elapsed >= LIMIT_S:
        gc.collect()  # judge a slow input on a second run, so a collection of our own heap does not count
        elapsed = _timed(name, data)
    assert elapsed < LIMIT_S, f"{name}: {elapsed:.2f}s of CPU on one input"


def test_unmutated_corpus_reads_cleanly() -> None:
    for name, data, _ in CORPUS:
        with ElfFile(name, data=data) as elf:
            assert exercise(elf) > 0, name


def test_every_truncation_of_the_debug_info_header_is_reported() -> None:
    name, data, _ = CORPUS[0]
    with ElfFile(name, data=data) as elf:
        info = elf.section(".debug_info")
        assert info is not None
        start, size = info.sh_offset, info.sh_size
    for cut in range(0, 24):
        buf = bytearray(data)
        # Shrink the unit length so the unit ends after ``cut`` bytes of header.
        buf[start : start + 4] = max(0, cut - 4).to_bytes(4, "little")
        with ElfFile(name, data=bytes(buf)) as elf, pytest.raises(FormatError) as err:
            exercise(elf)
        assert ".debug_info+0x" in str(err.value) or "abbreviation" in str(err.value)
    assert size > 24


def test_errors_name_the_section_and_offset() -> None:
    name, data, _ = CORPUS[0]
    with ElfFile(name, data=data) as elf:
        abbrev = elf.section(".debug_abbrev")
        assert abbrev is not None
        off = abbrev.sh_offset
    buf = bytearray(data)
    buf[off : off + 5] = (
        b"\x01\x11\x01\x03\x7e"  # code 1, DW_TAG_compile_unit, children, DW_AT_name, form 0x7e
    )
    with ElfFile(name, data=bytes(buf)) as elf, pytest.raises(FormatError) as err:
        list(DwarfInfo(elf).iter_dies())
    assert f"{name}: .debug_abbrev+0x" in str(err.value)


def test_a_file_without_dwarf_reads_as_empty(tmp_path: Path) -> None:
    name, data, _ = CORPUS[0]
    src = tmp_path / name
    src.write_bytes(data)
    stripped = tmp_path / "stripped"
    subprocess.run([require_tool("objcopy"), "--strip-debug", str(src), str(stripped)], check=True)
    with DwarfInfo.open(stripped) as dwarf:
        assert not dwarf.has_dwarf
        assert dwarf.units == [] and list(dwarf.iter_dies()) == [] and list(dwarf.types.types()) == []
        assert dwarf.inlines.frames(0) == []
