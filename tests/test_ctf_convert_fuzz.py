"""``ctf convert`` on mutated DWARF: only ``FormatError`` (or a refusal), never another exception, never a
changed input file, and each input under 2 s. Mutations land in ``.debug_info`` and ``.debug_abbrev`` of
``rustypes.o`` (offsets from ``readelf -S``). ``FUZZ_EXAMPLES`` raises the count (``make fuzz``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from illumos_rust.ctfconvert.convert import build
from illumos_rust.errors import FormatError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FIXTURE = SHARED / "fixtures" / "ctf" / "rustypes.o"
REGIONS = ((0xFFB, 0x198C), (0xC78, 0x383))  # .debug_info, .debug_abbrev


@pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} not present (needs ../shared)")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    edits=st.lists(
        st.tuples(st.booleans(), st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6
    )
)
def test_fuzz_convert_mutated_dwarf(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[bool, int, int]]
) -> None:
    data = bytearray(FIXTURE.read_bytes())
    for abbrev, pos, value in edits:
        start, size = REGIONS[1 if abbrev else 0]
        data[start + pos % size] = value
    path = Path(tmp_path_factory.mktemp("dw")) / "m.o"
    path.write_bytes(bytes(data))
    started = time.process_time()
    try:
        build(str(path))
    except FormatError as exc:
        assert "\n" not in str(exc)
    assert time.process_time() - started < 2.0
    assert path.read_bytes() == bytes(data)
