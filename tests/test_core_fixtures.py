"""The Linux core fixtures (shared/fixtures/cores) decode to expected.json, and their Rust frames are gdb's.

Oracles: ``expected.json`` and ``gdb-bt.*.txt`` were written by gdb 13.1 / eu-readelf on the same files
(fixtures README); nothing here is derived from our own output.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path
from core_helpers import GdbFrame, base_name, fixture, group_starts, parse_gdb_frame
from illumos_rust.core import analyze, read_core


def _expected() -> dict:  # type: ignore[type-arg]
    return json.loads(shared_path("fixtures", "cores", "expected.json").read_text())  # type: ignore[no-any-return]


def _gdb_crashing_frames(kind: str) -> list[GdbFrame]:
    """gdb's frames of the crashing thread (Thread 1 = the dumping LWP), inlined frames included."""
    text = shared_path("fixtures", "cores", f"gdb-bt.{kind}.txt").read_text()
    block = text.split("Thread 1 ", 1)[1]
    return [f for f in map(parse_gdb_frame, block.splitlines()[1:]) if f is not None]


@pytest.mark.parametrize("kind", ["panic", "segv"])
def test_status_matches_expected(kind: str) -> None:
    exp = _expected()[f"core.rust-crash.{kind}"]
    report = analyze(str(fixture(f"core.rust-crash.{kind}")), str(fixture("rust-crash")))
    assert report.pid == exp["pid"]
    assert report.signal == exp["NT_SIGINFO"]["si_signo"] == exp["NT_PRSTATUS.pr_cursig"]
    assert report.si_code == exp["NT_SIGINFO"]["si_code"]
    assert len(report.threads) == exp["threads"]
    assert report.threads[0].crashing and report.threads[0].tid == exp["crashing_tid"]
    if "si_addr" in exp["NT_SIGINFO"]:
        assert report.fault_address == int(exp["NT_SIGINFO"]["si_addr"], 16)
        assert report.fault_mapping is not None and report.fault_mapping.startswith("null page")
        assert report.crash_kind == "segfault"
    # The names from the first Rust frame down (libc frames need the same libc, README).
    ours = [base_name(f.symbol or "") for f in report.threads[0].frames if f.method != "inline"]
    want = exp["stack_top_to_user_code"]
    first_rust = next(i for i, n in enumerate(want) if "::" in n)
    start = ours.index(base_name(want[first_rust]))
    assert ours[start : start + len(want) - first_rust] == [base_name(n) for n in want[first_rust:]]
    # and every frame is certain (fp chain checked by CFI, or CFI): no stack scan on these cores
    assert {f.method for f in report.threads[0].frames[1:]} <= {"fp", "cfi", "inline"}


@pytest.mark.parametrize("kind", ["panic", "segv"])
def test_crashing_thread_equals_gdb_from_first_rust_frame(kind: str) -> None:
    gdb = _gdb_crashing_frames(kind)
    report = analyze(str(fixture(f"core.rust-crash.{kind}")), str(fixture("rust-crash")))
    ours = report.threads[0].frames
    # Every frame, inlined ones included (from DWARF), from the first Rust frame through `main`, in order.
    # gdb (DWARF) names `std::rt::__rust_abort` what the symbol table calls `__rustc::__rust_abort`; both
    # share the last path segment, which is what is compared.
    g0 = next(i for i, f in enumerate(gdb) if "::" in f.name)
    o0 = next(i for i, f in enumerate(ours) if "::" in (f.symbol or ""))
    g_end = next(i for i, f in enumerate(gdb) if f.name == "main")
    o_end = next(i for i, f in enumerate(ours) if f.symbol == "main")
    assert [base_name(f.symbol or "") for f in ours[o0 : o_end + 1]] == [
        base_name(f.name) for f in gdb[g0 : g_end + 1]
    ]
    assert group_starts(ours[o0 : o_end + 1]) == [not f.inlined for f in gdb[g0 : g_end + 1]]
    # and file:line wherever gdb printed one
    for f, g in zip(ours[o0 : o_end + 1], gdb[g0 : g_end + 1], strict=True):
        if g.file is not None:
            assert f.file is not None and os.path.basename(f.file) == os.path.basename(g.file), (f, g)
            assert f.line == g.line, (f, g)


def test_panic_message_location_thread() -> None:
    exp = _expected()["core.rust-crash.panic"]["panic"]
    report = analyze(str(fixture("core.rust-crash.panic")), str(fixture("rust-crash")))
    assert report.crash_kind == "panic"
    p = report.panic
    assert p is not None and p.message and p.location and p.thread
    assert p.message.value == exp["message"]
    assert p.thread.value == exp["thread"]
    assert p.location.value == f"{exp['file']}:{exp['line']}:{exp['col']}"
    # each fact says where it came from; the location is confirmed by the &'static Location too
    assert "stack buffer" in p.message.source and "heap copy" in p.message.source
    assert "Location" in p.location.source
    # and it agrees with what the program printed on stderr
    stderr = shared_path("fixtures", "cores", "rust-crash.panic.stderr.txt").read_text()
    assert f"panicked at {p.location.value}:\n{p.message.value}" in stderr


def test_worker_thread_listed_with_park() -> None:
    report = analyze(str(fixture("core.rust-crash.panic")), str(fixture("rust-crash")))
    other = [t for t in report.threads if not t.crashing]
    assert len(other) == 1
    names = [f.symbol or "" for f in other[0].frames]
    assert any(n.endswith("::park") for n in names)
    assert "rust_crash::main::{{closure}}" in names or "rust_crash::main::{closure#0}" in names
    # rust-crash.rs names it with Builder::name("worker-7"); the core carries no name, std's TLS handle does
    assert other[0].name == "worker-7"
    assert other[0].name_source is not None and "CURRENT" in other[0].name_source


def test_notes_decoded() -> None:
    image = read_core(str(fixture("core.rust-crash.panic")))
    assert image.note_types.count("NT_PRSTATUS") == 2 and image.note_types.count("NT_X86_XSTATE") == 2
    assert {"NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE"} <= set(image.note_types)
    assert image.fname == "rust-crash" and image.psargs == "./rust-crash"
    assert image.auxv[6] == 4096  # AT_PAGESZ
    assert any(f.path.endswith("rust-crash") for f in image.files)
    # FXSAVE defaults any fresh x86-64 thread has: FCW 0x37f, MXCSR 0x1f80 (Intel SDM vol. 1 §8.1.5, §10.2.3)
    assert all(t.fp_state["fcw"] == 0x37F and t.fp_state["mxcsr"] == 0x1F80 for t in image.threads)
    assert image.problems == []


def test_cli_text_and_json() -> None:
    core, binary = str(fixture("core.rust-crash.panic")), str(fixture("rust-crash"))
    cmd = [sys.executable, "-m", "illumos_rust.cli.main", "core", core, binary]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("debugging core file of ")
    assert any(line.startswith("status: process terminated by SIGABRT") for line in lines)
    assert "panic: thread 'main' panicked at rust-crash.rs:7:9" in lines
    assert any("rust_crash::check+0xe3 at ./rust-crash.rs:7:9" in line for line in lines)
    js = subprocess.run([*cmd, "--format", "json", "--no-source"], capture_output=True, text=True, timeout=60)
    data = json.loads(js.stdout)
    assert data["panic"]["message"]["value"] == "limit exceeded for widget-pool: 4 > 3"
    assert data["threads"][0]["crashing"] is True
    one = subprocess.run(
        [*cmd, "--thread", "4612", "--format", "json", "--no-source"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [t["tid"] for t in json.loads(one.stdout)["threads"]] == [4612]


def test_objects_found_by_search_and_sysroot(tmp_path: Path) -> None:
    """The core names /src/fx/rust-crash (absent here): --search finds it by name, --sysroot re-roots the
    libraries' paths; an object found nowhere is said, not guessed."""
    search = tmp_path / "bin"
    search.mkdir()
    shutil.copy(fixture("rust-crash"), search / "rust-crash")
    core = str(fixture("core.rust-crash.panic"))
    report = analyze(core, search=(str(search),), source_lines=False)
    main = next(o for o in report.objects if o["path"] == "/src/fx/rust-crash")
    assert main["file"] == str(search / "rust-crash")
    assert "rust_crash::check" in [f.symbol for f in report.threads[0].frames]
    # an empty sysroot: nothing resolves under it, and each missing object is reported by its core path
    root = tmp_path / "root"
    libc = root / "usr/lib/x86_64-linux-gnu"
    libc.mkdir(parents=True)
    real_libc = Path("/usr/lib/x86_64-linux-gnu/libc.so.6")
    if real_libc.exists():
        shutil.copy(real_libc, libc / "libc.so.6")
    report = analyze(core, str(fixture("rust-crash")), sysroot=str(root), source_lines=False)
    files = {o["path"]: o["file"] for o in report.objects}
    if real_libc.exists():
        assert files["/usr/lib/x86_64-linux-gnu/libc.so.6"] == str(libc / "libc.so.6")
    assert files["/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"] is None
    assert any("libgcc_s.so.1: not found on this machine" in p for p in report.problems)


def test_linux_core_without_nt_file_uses_the_link_map(tmp_path: Path) -> None:
    """With NT_FILE gone (renamed to an unknown type), objects come from ld.so's r_debug list and the
    pages the core lacks from those files: the same frames and panic as with NT_FILE."""
    data = bytearray(fixture("core.rust-crash.panic").read_bytes())
    pos = 0x890  # the fixture's PT_NOTE (readelf -l); walk its notes to NT_FILE
    while pos < 0x890 + 0x21C0:
        namesz, descsz, ntype = struct.unpack_from("<3I", data, pos)
        if ntype == 0x46494C45:
            struct.pack_into("<I", data, pos + 8, 0x46494C46)
            break
        pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    assert struct.unpack_from("<I", data, pos + 8)[0] == 0x46494C46
    core = tmp_path / "core.nofile"
    core.write_bytes(bytes(data))
    with_file = analyze(str(fixture("core.rust-crash.panic")), str(fixture("rust-crash")), source_lines=False)
    without = analyze(str(core), str(fixture("rust-crash")), source_lines=False)
    assert any("r_debug" in p for p in without.problems)
    assert [f.symbol for f in without.threads[0].frames] == [f.symbol for f in with_file.threads[0].frames]
    assert without.panic is not None and without.panic.location is not None
    assert "Location" in without.panic.location.source  # its file name came from the binary's .rodata
    assert any(o["path"].endswith("libc.so.6") and o["file"] for o in without.objects)


def test_dwarf_limit_is_said() -> None:
    """An object with more .debug_info than the limit keeps its symbols, loses file:line, and says why."""
    report = analyze(str(fixture("core.rust-crash.panic")), str(fixture("rust-crash")), dwarf_limit=1 << 20)
    assert any("DWARF not used" in p for p in report.problems)  # rust-crash has 1.1 MiB (readelf -S)
    assert all(f.file is None for f in report.threads[0].frames)
    assert "rust_crash::check" in [f.symbol for f in report.threads[0].frames]
