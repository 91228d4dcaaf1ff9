"""What a core cannot tell is said on the spot: frames named from a file that is not the one that ran, a
thread whose stack is not in a truncated core, bytes of a path that are not UTF-8.

Oracles: readelf (build-ids of the two binaries, the core's segments), gdb (``$sp`` of the crashing
thread), and the bytes written into the core by the test itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import build_rust
from core_helpers import make_core
from illumos_rust.core import analyze

SEGV = r"""
#[inline(never)]
fn poke(p: *const u8) -> u8 { unsafe { std::ptr::read_volatile(p) } }
fn main() { println!("{}", poke(std::hint::black_box(0x10usize) as *const u8)); }
"""


def _build_id(path: Path) -> str:
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert found is not None
    return found[1]


def test_frames_from_a_rebuilt_binary_are_marked(tmp_path: Path) -> None:
    ran = build_rust(SEGV, "partial_ran", "-g")
    core = make_core(ran, tmp_path / "run")
    rebuilt = build_rust(SEGV.replace("0x10usize", "0x18usize"), "partial_rebuilt", "-g")
    assert _build_id(ran) != _build_id(rebuilt)  # readelf: not the same file
    report = analyze(str(core), str(rebuilt))
    main = [o for o in report.objects if o.get("file") == str(rebuilt)]
    assert main and main[0].get("mismatch") is True
    in_main = [f for f in report.threads[0].frames if f.module is None and f.symbol]
    assert in_main and all(f.note and "not the file that ran" in f.note for f in in_main)
    right = analyze(str(core), str(ran))  # the file that ran: no mark
    assert not any(f.note and "not the file that ran" in f.note for f in right.threads[0].frames)


def test_a_core_cut_before_the_stack_says_so(tmp_path: Path) -> None:
    ran = build_rust(SEGV, "partial_ran", "-g")
    core = make_core(ran, tmp_path / "run")
    gdb = subprocess.run(
        ["gdb", "-nx", "-batch", "-ex", "p/x $sp", str(ran), str(core)], capture_output=True, text=True
    ).stdout
    sp = int(re.findall(r"^\$1 = (0x[0-9a-f]+)", gdb, re.M)[0], 16)
    segs = subprocess.run(["readelf", "-lW", str(core)], capture_output=True, text=True, check=True).stdout
    holding = [
        int(m[1], 16)
        for m in re.finditer(r"^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S+\s+(0x[0-9a-f]+)", segs, re.M)
        if int(m[2], 16) <= sp < int(m[2], 16) + int(m[3], 16)
    ]
    assert holding  # the segment with the stack, by its file offset (readelf)
    cut = tmp_path / "core.cut"
    cut.write_bytes(core.read_bytes()[: holding[0]])
    report = analyze(str(cut), str(ran))
    crash = report.threads[0]
    assert crash.stop is not None and "not in this core" in crash.stop, crash.stop


def test_a_path_that_is_not_utf8_is_escaped_in_text(tmp_path: Path) -> None:
    ran = build_rust(SEGV, "partial_ran", "-g")
    core = make_core(ran, tmp_path / "run")
    name = str(ran).encode()
    # every copy of the executable's path (NT_FILE, psinfo, the stack's argv) gets one byte that is not UTF-8
    data = core.read_bytes().replace(name, name[:-1] + b"\xff")
    assert data != core.read_bytes()
    bad = tmp_path / "core.bad"
    bad.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.main", "core", str(bad)], capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    proc.stdout.decode("utf-8")  # valid UTF-8 throughout
    assert b"\\xff" in proc.stdout
