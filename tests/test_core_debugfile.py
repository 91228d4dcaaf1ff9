"""Stripped objects get their symbols (and, for the program, file:line) from separate debug files.

Oracle: gdb on the same core, which finds the same files by the same rules (the build-id directory and
``.gnu_debuglink``). The program is split by hand with binutils (``objcopy --only-keep-debug`` and
``--add-gnu-debuglink``, then ``strip``), as a distribution's packaging does; glibc's own debug file comes
from Debian's ``libc6-dbg`` when it is installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from core_helpers import base_name, gdb_threads, make_core
from illumos_rust.core import analyze
from illumos_rust.elf.reader import ElfFile

SOURCE = r"""
#include <signal.h>
#include <stdlib.h>
__attribute__((noinline)) static int leafy(int *p, int n) {
  int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
__attribute__((noinline)) static int middle(int n) {
  if (n == 6) abort(); int *p = n > 3 ? NULL : malloc(16); return leafy(p, n); }
int main(int argc, char **argv) { return middle(argc + 3 + (argc > 1 && argv[1] != 0)); }
"""


def _split_program(tmp_path: Path) -> Path:
    for tool in ("gcc", "objcopy", "strip"):
        require_tool(tool)
    src = tmp_path / "c.c"
    src.write_text(SOURCE)
    prog = tmp_path / "prog"
    subprocess.run(["gcc", "-g", "-O1", "-o", str(prog), str(src)], check=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(prog), str(tmp_path / "prog.debug")], check=True)
    subprocess.run(["strip", "--strip-debug", "--strip-unneeded", str(prog)], check=True)
    subprocess.run(["objcopy", f"--add-gnu-debuglink={tmp_path / 'prog.debug'}", str(prog)], check=True)
    with ElfFile(prog) as elf:  # really stripped: no DWARF, and the static functions gone from its symbols
        assert elf.section(".debug_info") is None
        assert "leafy" not in {s.name for s in elf.symtab} | {s.name for s in elf.dynsym}
    return prog


def test_a_hand_split_program_is_symbolized_from_its_debuglink(tmp_path: Path) -> None:
    prog = _split_program(tmp_path)
    core = make_core(prog, tmp_path / "segv")
    report = analyze(str(core), str(prog))
    ours = report.threads[0].frames
    gdb = gdb_threads(prog, core)[report.threads[0].tid]
    want = [g for g in gdb[:3]]
    assert [base_name(g.name) for g in want] == ["leafy", "middle", "main"]  # gdb read prog.debug too
    assert [base_name(f.symbol or "?") for f in ours[:3]] == ["leafy", "middle", "main"]
    for f, g in zip(ours[:3], want, strict=True):
        assert f.file is not None and os.path.basename(f.file) == os.path.basename(g.file or "")
        assert f.line == g.line, (f, g)
    notes = [o.get("debug", "") for o in report.objects if str(o["path"]).endswith("/prog")]
    assert notes and "prog.debug (debuglink)" in notes[0]


def test_a_debug_file_that_is_not_the_object_s_is_refused(tmp_path: Path) -> None:
    prog = _split_program(tmp_path)
    other = tmp_path / "other.c"
    other.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-g", "-o", str(tmp_path / "other"), str(other)], check=True)
    # a different program's debug file under the debuglink's name: build-ids differ, it must not be used
    subprocess.run(
        ["objcopy", "--only-keep-debug", str(tmp_path / "other"), str(tmp_path / "prog.debug")], check=True
    )
    core = make_core(prog, tmp_path / "segv")
    report = analyze(str(core), str(prog))
    assert "leafy" not in [base_name(f.symbol or "?") for f in report.threads[0].frames]
    assert not any(o.get("debug") for o in report.objects if str(o["path"]).endswith("/prog"))


def test_glibc_frames_named_from_libc6_dbg_as_gdb_names_them(tmp_path: Path) -> None:
    prog = _split_program(tmp_path)
    core = make_core(prog, tmp_path / "abort", "x")  # argc 2: middle(6) calls abort()
    report = analyze(str(core), str(prog))
    libc = next((o for o in report.objects if "libc.so" in str(o["path"])), None)
    assert libc is not None
    if not libc.get("debug"):
        with ElfFile(str(libc["file"])) as elf:
            bid = elf.build_id or ""
        pytest.skip(f"no debug file for {libc['file']} (/usr/lib/debug/.build-id/{bid[:2]}/…: libc6-dbg)")
    # Oracles: gdb's return addresses (the pcs of the frames it prints with "0x… in"), and the debug file's
    # own symbol table read by readelf (glibc has aliases at one address: raise/gsignal, so the name we
    # pick is checked to be one whose range holds the pc, not to be gdb's spelling)
    out = subprocess.run(
        ["gdb", "-nx", "-batch", "-ex", "bt", str(prog), str(core)], capture_output=True, text=True
    ).stdout
    gdb_pcs = [int(m, 16) for m in __import__("re").findall(r"^#\d+\s+0x([0-9a-f]+) in ", out, 8)]
    ours = [f for f in report.threads[0].frames if f.method != "inline"]
    # gdb adds a frame the stack does not hold: pthread_kill tail-calls __pthread_kill_implementation (its
    # "#1 … in __pthread_kill_internal" comes from DWARF call-site entries); every return address we found
    # up to main must be one of gdb's, in gdb's order
    upto = next(i for i, f in enumerate(ours) if f.symbol == "main")
    callers = [f.pc for f in ours[1 : upto + 1]]
    assert callers and all(pc in gdb_pcs for pc in callers), (out, ours)
    assert [pc for pc in gdb_pcs if pc in callers] == callers
    debug_path = str(libc["debug"]).split("symbols and DWARF from ", 1)[1].split(" (", 1)[0]
    table = subprocess.run(["readelf", "-Ws", debug_path], capture_output=True, text=True).stdout
    ranges: dict[str, list[tuple[int, int]]] = {}
    for line in table.splitlines():
        cols = line.split()
        if len(cols) >= 8 and cols[3] == "FUNC":
            ranges.setdefault(cols[7].split("@")[0], []).append((int(cols[1], 16), int(cols[2], 0)))
    bias = int(str(libc["bias"]), 16)
    in_libc = [f for f in ours if f.module and "libc.so" in f.module]
    assert len(in_libc) >= 3  # pthread_kill, raise, abort at least
    for f in in_libc:
        name = (f.symbol or "?").split("@")[0]
        assert any(v <= f.pc - bias - (f.index > 0) < v + n for v, n in ranges.get(name, [])), (name, f)
    assert "__pthread_kill_implementation" in [f.symbol for f in in_libc]  # a static: not in .dynsym
