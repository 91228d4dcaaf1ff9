"""A binary that is not the one the process ran is reported, not silently used (issue 14, "Loading objects").

Oracles: which file is the right one is known by construction — the core is made from build A and the
analysis is given build B, built from a different source (its code is larger, so rustc/ld lay out its
segments elsewhere, as ``readelf -l`` of the two shows), both linked ``--build-id=none`` so that the
build-id comparison cannot be what notices. The illumos mtime check uses a synthetic core whose
``psinfo_t`` ``pr_start`` (``sys/procfs.h``, @88) the test sets before or after the file's mtime.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, build_rust
from core_helpers import make_core
from illumos_rust.core import analyze
from illumos_rust.errors import FormatError
from test_core_illumos import _binary, _make

WORK = REPO / ".cache" / "core-runs"
FLAGS = ("-g", "-C", "panic=abort", "-C", "force-frame-pointers=yes", "-C", "link-arg=-Wl,--build-id=none")
SOURCE_A = r"""
#[inline(never)]
fn crash(p: usize) -> u8 { unsafe { std::ptr::read_volatile(p as *const u8) } }
fn main() { println!("{}", crash(std::hint::black_box(0x10))); }
"""
# The same program with 200 kB more read-only data: every later segment of the rebuilt file moves.
SOURCE_B = SOURCE_A.replace(
    "fn main() {",
    "static TABLE: [u8; 200_000] = [7; 200_000];\n"
    'fn main() { println!("{}", TABLE[std::hint::black_box(12_345)]);',
)


def _load_addresses(binary: Path) -> list[tuple[int, int]]:
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("LOAD")]
    return [(int(r[1], 16), int(r[2], 16)) for r in rows]  # (p_offset, p_vaddr)


def test_rebuilt_binary_without_build_id_is_reported() -> None:
    a = build_rust(SOURCE_A, "core_rebuilt", *FLAGS)
    b = build_rust(SOURCE_B, "core_rebuilt", *FLAGS)
    assert _load_addresses(a) != _load_addresses(b)  # the oracle: readelf says the layouts differ
    core = make_core(a, WORK / "core_rebuilt")
    right = analyze(str(core), str(a), source_lines=False)
    assert not [p for p in right.problems if "core_rebuilt" in p], right.problems
    wrong = analyze(str(core), str(b), source_lines=False)
    mine = [p for p in wrong.problems if p.startswith(str(b))]
    assert not any("build-id" in p and "differs" in p for p in mine)  # neither file has a build-id
    assert any("differ from the copy in the core" in p for p in mine), mine
    assert any("size/layout differs" in p for p in mine), mine


def test_illumos_binary_modified_after_the_process_started(tmp_path: Path) -> None:
    binary = _binary()
    exact = os.stat(binary).st_mtime
    mtime = int(exact)
    before = analyze(str(_make(tmp_path, start_time=mtime + 3600)), str(binary), source_lines=False)
    assert not any("after the process started" in p for p in before.problems)
    after = analyze(str(_make(tmp_path, start_time=mtime - 3600)), str(binary), source_lines=False)
    late = f"modified {exact - (mtime - 3600):.0f} s after the process started"
    assert any(late in p for p in after.problems), after.problems


def test_binary_shorter_than_the_mapped_file_is_reported(tmp_path: Path) -> None:
    """The right file cut short (a half-copied binary): its first page still matches the core's copy, but
    its segments run past its end. Given as BINARY it is refused (review 14: a truncated BINARY is an
    error naming the file, exit 2, not a partial answer); the same file found by path is a warning."""
    a = build_rust(SOURCE_A, "core_rebuilt", *FLAGS)
    core = make_core(a, WORK / "core_rebuilt")
    cut = tmp_path / "core_rebuilt"
    cut.write_bytes(a.read_bytes()[:0x3000])
    # the oracle: readelf -l of the intact file puts a loadable segment past the cut
    assert max(off for off, _vaddr in _load_addresses(a)) >= 0x3000
    with pytest.raises(FormatError) as exc:
        analyze(str(core), str(cut), source_lines=False)
    assert str(cut) in str(exc.value) and "past the end of the file (12288 bytes)" in str(exc.value)
    # found through --search instead, the short file is loaded with a warning saying what is wrong
    r = analyze(str(core), None, search=(str(tmp_path),), source_lines=False)
    mine = [p for p in r.problems if p.startswith(str(cut))]
    assert any("but the file is only 12288 bytes" in p for p in mine), mine
    assert not any("differ from the copy in the core" in p for p in mine), mine


def test_illumos_wrong_binary_is_reported(tmp_path: Path) -> None:
    """The synthetic illumos core holds panicky-abort's text (coreadm's default content includes it); given
    another illumos binary (no build-ids in these), the header-page comparison says so."""
    core = _make(tmp_path)
    right = analyze(str(core), str(_binary()), source_lines=False)
    assert not any("differ from the copy in the core" in p for p in right.problems)
    other = _binary().with_name("hello-abort")
    wrong = analyze(str(core), str(other), source_lines=False)
    assert any(p.startswith(str(other)) and "differ from the copy in the core" in p for p in wrong.problems)
