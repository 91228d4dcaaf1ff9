"""Frames found by scanning the stack (no CFI, no frame pointer) still get their own source line, as gdb
shows it; they stay labelled ``scan``, and no inlined frames are built on them.

Oracle: gdb ``bt`` on the same core (file and line of every frame).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import require_tool
from core_helpers import base_name, gdb_threads, make_core
from illumos_rust.core import analyze

SOURCE = """\
__attribute__((noinline)) int top(int *p) { return *p; }
__attribute__((noinline)) int mid(int *p) { return top(p) + 1; }
int main(void) { return mid((int*)0); }
"""


def test_scanned_frames_have_gdbs_lines(tmp_path: Path) -> None:
    require_tool("gcc")
    src = tmp_path / "c2.c"
    src.write_text(SOURCE)
    prog = tmp_path / "c2"
    flags = ["-g", "-O1", "-fomit-frame-pointer", "-fno-asynchronous-unwind-tables"]
    subprocess.run(["gcc", *flags, "-o", str(prog), str(src)], check=True)
    core = make_core(prog, tmp_path / "run")
    report = analyze(str(core), str(prog))
    ours = report.threads[0].frames
    theirs = gdb_threads(prog, core)[report.threads[0].tid]
    assert [base_name(g.name) for g in theirs[:3]] == ["top", "mid", "main"]
    assert [base_name(f.symbol or "?") for f in ours[:3]] == ["top", "mid", "main"]
    assert [f.method for f in ours[1:3]] == ["scan", "scan"]  # no CFI: found by scanning, and said so
    for f, g in zip(ours[:3], theirs[:3], strict=True):
        assert f.file is not None and os.path.basename(f.file) == os.path.basename(g.file or "")
        assert f.line == g.line, (f, g)
