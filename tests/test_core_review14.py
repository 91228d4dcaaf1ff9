"""Regression tests for the second review of ``illumos-rust core`` (issue 14), on fresh kernel-written
cores of one program built here. Oracles: the program's own stderr (std's hook prints the thread, the
location and the message), gdb for the pc, pyelftools for ``NT_FILE``; never our own reader."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import build_rust
from core_helpers import make_core
from illumos_rust.core import CoreReport, analyze

FLAGS = ("-g", "-C", "panic=abort", "-C", "force-frame-pointers=yes")

PROGRAM = r"""
fn main() {
    let a = std::env::args().nth(1).unwrap();
    let b = a.clone();
    match a.as_str() {
        "main_static" => panic!("a static message"),
        "main_unwrap" => { let o: Option<u8> = std::hint::black_box(None); o.unwrap(); }
        "main_empty" => panic!(""),
        "main_any" => std::panic::panic_any("a panic_any &str"),
        "main_big" => panic!("{}", "y".repeat(100_000)),
        "segv" => unsafe { std::ptr::write_volatile(std::hint::black_box(16usize) as *mut u32, 1) },
        _ => {}
    }
    // the closure captures the String `b`: its text ("static", "unwrap") must never pass for the message
    let spawn = |named: bool| if named {
        std::thread::Builder::new().name("t7".into())
    } else {
        std::thread::Builder::new()
    };
    let named = !b.starts_with("unnamed");
    spawn(named).spawn(move || {
        if b.ends_with("static") { panic!("static in thread"); }
        if b.ends_with("unwrap") { let o: Option<u8> = std::hint::black_box(None); o.unwrap(); }
    }).unwrap().join().unwrap();
}
"""


def _binary() -> Path:
    return build_rust(PROGRAM, "core_review14", *FLAGS)


def _said(binary: Path, arg: str) -> tuple[str, str, str]:
    """(thread, location, message) as std's hook printed them on the program's stderr: the oracle."""
    err = subprocess.run(
        [str(binary), arg], capture_output=True, text=True, timeout=60, env={"RUST_BACKTRACE": "1"}
    ).stderr
    m = re.search(r"thread '([^']*)'(?: \(\d+\))? panicked at (\S+):\n(.*)\n", err)
    assert m is not None, err
    return m.group(1), m.group(2), m.group(3)


def _core(arg: str, workdir: Path) -> tuple[Path, Path]:
    """(binary, a fresh core of it run with ``arg``), in the test's own directory (xdist workers run
    tests in parallel: a shared directory would let one worker's core replace another's)."""
    binary = _binary()
    # RUST_BACKTRACE=1: std's hook writes straight to stderr, never through its 512-byte stack buffer, so
    # the message can only come from the payload (the path the review found wrong)
    return binary, make_core(binary, workdir / "run", arg, env={"RUST_BACKTRACE": "1"})


def _crash(arg: str, workdir: Path) -> tuple[Path, Path, CoreReport]:
    binary, core = _core(arg, workdir)
    return binary, core, analyze(str(core), str(binary), source_lines=False)


@pytest.mark.parametrize("arg", ["static", "unwrap"])
def test_a_captured_string_is_not_the_panic_message(arg: str, tmp_path: Path) -> None:
    """A thread closure owns a heap String ``"static"``/``"unwrap"`` (its argument) above std's panic
    frames; the message is the &'static str payload std printed, not that String."""
    binary, _c, r = _crash(arg, tmp_path)
    thread, location, message = _said(binary, arg)
    assert r.panic is not None and r.panic.message is not None
    assert r.panic.message.value == message != arg
    assert "&'static str payload" in r.panic.message.source
    assert r.panic.thread is not None and r.panic.thread.value == thread == "t7"
    assert r.panic.location is not None and r.panic.location.value == location


@pytest.mark.parametrize("arg", ["main_static", "main_unwrap", "main_any", "main_big"])
def test_static_message_of_a_short_panic_in_main(arg: str, tmp_path: Path) -> None:
    """``panic=abort``, a message without arguments: std's report is not left in the stack, the payload
    ``&'static str`` (StaticStrPayload, or begin_panic's Payload<&str> for panic_any) is; a 100,000-byte
    formatted message is the heap payload ``String``."""
    binary, _c, r = _crash(arg, tmp_path)
    thread, location, message = _said(binary, arg)
    assert r.panic is not None and r.panic.message is not None
    assert r.panic.message.value == message
    assert r.panic.thread is not None and r.panic.thread.value == thread == "main"
    assert r.panic.location is not None and r.panic.location.value == location
    assert not [p for p in r.problems if "message was not found" in p]


def test_an_empty_message_is_said_to_be_not_found_without_blaming_the_buffer(tmp_path: Path) -> None:
    binary, _c, r = _crash("main_empty", tmp_path)
    _thread, location, message = _said(binary, "main_empty")
    assert message == ""
    assert r.crash_kind == "panic" and r.panic is not None and r.panic.message is None
    assert r.panic.location is not None and r.panic.location.value == location
    warning = [p for p in r.problems if "message was not found" in p]
    assert len(warning) == 1 and "512" not in warning[0] and 'panic!("")' in warning[0]


def test_unnamed_thread_is_called_unnamed_like_std(tmp_path: Path) -> None:
    binary, _c, r = _crash("unnamed_unwrap", tmp_path)
    thread, _location, message = _said(binary, "unnamed_unwrap")
    assert thread == "<unnamed>"
    assert r.panic is not None and r.panic.thread is not None and r.panic.thread.value == thread
    assert r.panic.message is not None and r.panic.message.value == message
    assert r.threads[0].crashing and r.threads[0].name == "<unnamed>"


def test_frames_of_a_missing_executable_are_module_offsets(tmp_path: Path) -> None:
    """The executable is gone: frame #0 is ``name`+(pc - load base)`` with the base its file-offset-0
    mapping in NT_FILE (pyelftools) and the pc from gdb, not the absolute pc."""
    core = _core("segv", tmp_path)[1]
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("gdb not installed (make sysdeps installs it)")
    out = subprocess.run(
        [gdb, "-nx", "-batch", "-ex", "p/x $pc", "-c", str(core)], capture_output=True, text=True, timeout=120
    ).stdout
    pc = int(re.findall(r"^\$1 = (0x[0-9a-f]+)$", out, re.M)[0], 16)
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import NoteSegment

    with open(core, "rb") as f:
        note = next(
            n["n_desc"]
            for seg in ELFFile(f).iter_segments()
            if isinstance(seg, NoteSegment)
            for n in seg.iter_notes()
            if n["n_type"] == "NT_FILE"
        )
    page = note["page_size"]
    base = next(
        e["vm_start"]
        for e, name in zip(note["Elf_Nt_File_Entry"], note["filename"], strict=True)
        if name.decode().endswith("/core_review14") and e["page_offset"] * page == 0
    )
    moved = tmp_path / "core"
    shutil.copy(core, moved)
    r = analyze(str(moved), None, sysroot=str(tmp_path / "nothing-here"), source_lines=False)
    top = r.threads[0].frames[0]
    assert top.pc == pc and top.symbol is None
    assert top.location() == f"core_review14`+0x{pc - base:x}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "illumos_rust.cli.main", "core", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("keep", [0, 10, 4000, -1000])
def test_an_empty_or_truncated_binary_is_an_error(tmp_path: Path, keep: int) -> None:
    binary, core = _core("segv", tmp_path)
    data = binary.read_bytes()
    bad = tmp_path / "bad-binary"
    bad.write_bytes(data[:keep])  # keep < 0: all but the last bytes (the section headers)
    p = _cli(str(core), str(bad), "--no-source")
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_max_frames_must_be_positive(value: str, tmp_path: Path) -> None:
    binary, core = _core("segv", tmp_path)
    p = _cli(str(core), str(binary), "--max-frames", value)
    assert p.returncode == 2 and p.stdout == "" and "--max-frames" in p.stderr
