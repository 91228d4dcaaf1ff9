"""Mutated real fixtures never make ``audit`` raise anything but ``FormatError`` (the CLI's one-line exit 2).

Mutations hit what the checks trust beyond the ELF core: ``.eh_frame`` (frame pointers), ``.text`` (syscall
byte scan and decoding), ``.dynamic``/``.dynstr`` (policy), the symbol tables (attribution) and the headers.
``FUZZ_EXAMPLES`` (``make fuzz``) raises the count; the default keeps ``make test`` quick.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from illumos_rust.audit import audit
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError

EXAMPLES = max(60, int(os.environ.get("FUZZ_EXAMPLES", "2000")) // 20)
SOURCES = [
    SHARED / "fixtures/elf/exe_solaris64_cc.elf",
    SHARED / "fixtures/elf/exe_solaris32_cc.elf",
    SHARED / "fixtures/illumos-rust/bin/illumos/hello",
    SHARED / "fixtures/illumos-rust/bin/solaris/hello",
]
TARGETS = (
    ".eh_frame",
    ".eh_frame_hdr",
    ".text",
    ".dynamic",
    ".dynstr",
    ".symtab",
    ".strtab",
    ".dynsym",
    ".rela.dyn",
    ".rela.plt",
    ".plt",
    ".comment",
)
CORPUS: list[tuple[str, bytes, list[tuple[int, int]]]] = []


def _load() -> None:
    for p in SOURCES:
        if not p.exists():
            continue
        data = p.read_bytes()
        with ElfFile(p) as elf:
            h = elf.header
            regions = [
                (0, 64),
                (h.e_shoff, h.e_shnum * h.e_shentsize),
                (h.e_phoff, h.e_phnum * h.e_phentsize),
            ]
            regions += [
                (s.sh_offset, min(s.sh_size, len(data) - s.sh_offset))
                for s in elf.sections
                if s.name in TARGETS and s.sh_type != 8
            ]
        CORPUS.append((p.name, data, [r for r in regions if r[1] > 0]))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data, regions = draw(st.sampled_from(CORPUS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        start, size = draw(st.sampled_from(regions))
        off = min(start + draw(st.integers(0, max(0, size - 1))), len(buf) - 1)
        patch = (
            draw(
                st.sampled_from(
                    [b"\x00", b"\xff" * 4, b"\x0f\x05", b"\xcd\x91", b"\x55\x48\x89\xe5", b"\x7f\xff\xff\xff"]
                )
            )
            if draw(st.booleans())
            else draw(st.binary(min_size=1, max_size=8))
        )
        buf[off : off + len(patch)] = patch
    if draw(st.integers(0, 9)) == 0:
        del buf[draw(st.integers(0, len(buf) - 1)) :]
    return name, bytes(buf)


@pytest.fixture(scope="module", autouse=True)
def _corpus() -> None:
    if not CORPUS:
        _load()
    if not CORPUS:
        pytest.skip(f"{SHARED} fixtures not present")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(case=mutated())
def test_fuzz_audit_raises_only_format_error(case: tuple[str, bytes]) -> None:
    name, data = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        start = time.process_time()
        try:
            audit(path)
        except FormatError as exc:
            assert str(exc).startswith(f"{path}: ")
        assert time.process_time() - start < 5.0
