"""A C program that overflows the main thread's stack is a stack overflow, not a segfault "in unmapped".

Oracles: gdb's ``$_siginfo`` fault address and ``$sp`` on the same core, and the core's own ``PT_LOAD``
segments read by ``readelf -lW``: the fault lies in the kernel's guard gap (under 1 MiB) right below the
segment the stack pointer came from (the nearest one above it).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from core_helpers import make_core
from illumos_rust.core import analyze

SOURCE = r"""
__attribute__((noinline)) int down(int n) {
  volatile char buf[256]; buf[0] = (char)n; return down(n + 1) + buf[0]; }
int main(void) { return down(0); }
"""


def test_c_main_thread_overflow_is_a_stack_overflow(tmp_path: Path) -> None:
    require_tool("gcc")
    src = tmp_path / "o.c"
    src.write_text(SOURCE)
    prog = tmp_path / "o"
    subprocess.run(["gcc", "-O0", "-g", "-o", str(prog), str(src)], check=True)
    core = make_core(prog, tmp_path / "run")
    gdb = subprocess.run(
        [
            "gdb",
            "-nx",
            "-batch",
            "-ex",
            "p/x $_siginfo._sifields._sigfault.si_addr",
            "-ex",
            "p/x $sp",
            str(prog),
            str(core),
        ],
        capture_output=True,
        text=True,
    ).stdout
    fault, sp = (int(v, 16) for v in re.findall(r"^\$\d+ = (?:\(void \*\) )?(0x[0-9a-f]+)", gdb, re.M))
    loads = subprocess.run(["readelf", "-lW", str(core)], capture_output=True, text=True).stdout
    starts = [int(m[1], 16) for m in re.finditer(r"^\s+LOAD\s+\S+\s+(0x[0-9a-f]+)\s", loads, re.M)]
    above_sp = [s for s in starts if s > sp]
    if not above_sp:  # the stack segment must be in the core: say what readelf and gdb saw
        pytest.fail(f"no segment above sp 0x{sp:x} in the core:\n{loads}\n{gdb}")
    above = min(above_sp)
    assert 0 < above - fault <= 1 << 20 and abs(sp - fault) < 4096  # the overflow, by hand from readelf
    report = analyze(str(core), str(prog))
    assert report.fault_address == fault
    assert report.crash_kind == "stack overflow", report.crash_kind
    assert "stack overflow" in (report.fault_mapping or "")
