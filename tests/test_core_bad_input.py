"""Damaged cores and wrong binaries: a partial answer saying what is missing, or one line and exit 2.

Truncation is what a full disk does to a core; mutations hit the notes (the part every fact comes from).
Each input must cost under 2 s of CPU (CPU, not wall: the machine is shared, wall time measures the
neighbours). ``FUZZ_EXAMPLES`` raises the hypothesis example count (``make fuzz``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core_helpers import fixture
from illumos_rust.core import analyze
from illumos_rust.errors import FormatError

EXAMPLES = min(int(os.environ.get("FUZZ_EXAMPLES", "40")), 5000)  # make fuzz: 5000
NOTE_START, NOTE_SIZE = 0x890, 0x21C0  # the fixture's PT_NOTE (readelf -l)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.main", "core", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("keep", [0x40, 0x1000, NOTE_START + 0x400, 0x30000, 0x250000])
def test_truncated_core(tmp_path: Path, keep: int) -> None:
    data = fixture("core.rust-crash.panic").read_bytes()[:keep]
    core = tmp_path / "core.cut"
    core.write_bytes(data)
    start = time.process_time()
    try:
        report = analyze(str(core), str(fixture("rust-crash")))
    except FormatError as exc:
        assert time.process_time() - start < 2
        assert str(core) in str(exc)
        proc = _cli(str(core), str(fixture("rust-crash")))
        assert proc.returncode == 2 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    else:
        assert time.process_time() - start < 2
        assert any("truncated" in p or "cut short" in p or "lost" in p for p in report.problems)


def test_truncated_in_stack_still_names_signal(tmp_path: Path) -> None:
    # cut inside the memory segments: notes intact, so the status is complete and the loss is said
    core = tmp_path / "core.cut"
    core.write_bytes(fixture("core.rust-crash.panic").read_bytes()[:0x30000])
    report = analyze(str(core), str(fixture("rust-crash")))
    assert report.signal == 6 and report.pid == 4611 and len(report.threads) == 2
    assert any("truncated" in p for p in report.problems)


def test_missing_and_wrong_binary(tmp_path: Path) -> None:
    core = str(fixture("core.rust-crash.panic"))
    proc = _cli(core, str(tmp_path / "nope"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "binary not found" in proc.stderr
    # no binary at all: the path in the core does not exist here; frames stay unsymbolized, said plainly
    report = analyze(core)
    assert report.threads and any("not found on this machine" in p for p in report.problems)
    # a file that is not a core
    proc = _cli(str(fixture("rust-crash")))
    assert proc.returncode == 2 and "not a core file" in proc.stderr
    proc = _cli(str(tmp_path / "missing-core"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, NOTE_SIZE - 1), st.integers(0, 255)),
        min_size=1,
        max_size=24,
    )
)
def test_fuzz_mutated_notes(tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, int]]) -> None:
    data = bytearray(fixture("core.rust-crash.panic").read_bytes())
    for off, value in edits:
        data[NOTE_START + off] = value
    core = tmp_path_factory.mktemp("fz") / "core"
    core.write_bytes(bytes(data))
    start = time.process_time()
    with contextlib.suppress(FormatError):  # a one-line error is a valid answer; anything else fails
        # DWARF is off: the mutations are in the notes, the binary's DWARF is unchanged (and fuzzed by the
        # dwarf tests); its decoding time is capped by the analysis' DWARF budget, checked above.
        analyze(str(core), str(fixture("rust-crash")), max_frames=512, source_lines=False)
    assert time.process_time() - start < 2


@settings(max_examples=max(10, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 0x260000))
def test_fuzz_truncation_points(tmp_path_factory: pytest.TempPathFactory, keep: int) -> None:
    """A core cut anywhere (a full disk): a partial report naming the loss, or one FormatError."""
    core = tmp_path_factory.mktemp("cut") / "core"
    core.write_bytes(fixture("core.rust-crash.panic").read_bytes()[:keep])
    start = time.process_time()
    try:
        report = analyze(str(core), str(fixture("rust-crash")), max_frames=512, source_lines=False)
    except FormatError:
        pass
    else:
        assert report.problems  # something is always missing from a cut core, and it is said
    assert time.process_time() - start < 2
