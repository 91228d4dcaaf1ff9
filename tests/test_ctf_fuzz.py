"""Mutated CTF containers give only ``FormatError`` — never another exception, never over 2 s — and
whatever still reads can be dumped in both layouts.

Mutations: byte flips and overwrites aimed at the header and the first type records, random truncation,
mutations of the *inflated* body re-compressed (so they reach the type parser behind zlib), and the same on
the ``.SUNW_ctf`` section inside an ELF file. ``FUZZ_EXAMPLES`` raises the count (``make fuzz``).
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from illumos_rust.ctf.dump import dump_json, dump_lines
from illumos_rust.ctf.load import CtfFile, load_ctf
from illumos_rust.ctf.reader import read_container
from illumos_rust.errors import FormatError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FIXTURES = SHARED / "fixtures" / "ctf"
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason=f"{FIXTURES} not present (needs ../shared)")


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _check(data: bytes, path: str = "fuzz.ctf") -> None:
    start = time.process_time()
    try:
        c = read_container(data, path)
    except FormatError as exc:
        assert "\n" not in str(exc)
    else:
        f = CtfFile(path, c, data)
        dump_lines(f, stats=True)
        dump_json(f)
    assert time.process_time() - start < 2.0


mutation = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)


def _apply(data: bytes, edits: list[tuple[int, int]], hot: int) -> bytes:
    buf = bytearray(data)
    for pos, value in edits:
        # Half the edits land in the first ``hot`` bytes (header, first records), the rest anywhere.
        where = pos % hot if pos & 1 else pos % len(buf)
        buf[where] = value
    return bytes(buf)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["created.ctf", "created_z.ctf", "ctfconv_t.ctf"]),
    edits=mutation,
    cut=st.integers(0, 1 << 12),
)
def test_fuzz_raw_containers(name: str, edits: list[tuple[int, int]], cut: int) -> None:
    data = _apply(_raw(name), edits, 96)
    _check(data)
    _check(data[: cut % (len(data) + 1)])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(["created.ctf", "ctfconv_t.ctf"]), edits=mutation)
def test_fuzz_behind_zlib(name: str, edits: list[tuple[int, int]]) -> None:
    plain = read_container(_raw(name))
    assert plain.header is not None
    raw = _raw(name)
    head = bytearray(raw[:36])
    body = zlib.decompress(raw[36:]) if raw[3] & 1 else raw[36:]
    head[3] |= 1
    _check(bytes(head) + zlib.compress(_apply(body, edits, 120)))


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(["objfunc.o", "ctfconv_t.o"]), edits=mutation)
def test_fuzz_in_elf(
    tmp_path_factory: pytest.TempPathFactory, name: str, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(_raw(name))
    # Aim at the section contents: objfunc.o's .SUNW_ctf is at 0x1a8 (readelf -S), ctfconv_t.o's after it.
    base = 0x1A8 if name == "objfunc.o" else 0x40
    for pos, value in edits:
        data[base + pos % (len(data) - base)] = value
    path = Path(tmp_path_factory.mktemp("ctf")) / name
    path.write_bytes(bytes(data))
    start = time.process_time()
    try:
        f = load_ctf(path)
    except FormatError:
        pass
    else:
        dump_lines(f, stats=True)
        dump_json(f)
    assert time.process_time() - start < 2.0
