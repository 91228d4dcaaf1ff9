"""Regression tests for the independent review of ``illumos-rust core`` (issue 14), each on a fresh
kernel-written core of a program built here; gdb is the oracle where it has the fact."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, build_rust
from core_helpers import base_name, gdb_threads, make_core
from illumos_rust.core import analyze

WORK = REPO / ".cache" / "core-runs"
FLAGS = ("-g", "-C", "panic=abort", "-C", "force-frame-pointers=yes")

BOUNDS_PANIC = """fn main() {
    let b = std::thread::Builder::new().name("crasher".into());
    let h = b.spawn(|| { let v = vec![1, 2, 3]; v[std::hint::black_box(7)] }).unwrap();
    h.join().unwrap();
}
"""


def test_panic_message_from_the_heap_payload_when_the_stack_buffer_is_unused() -> None:
    """With RUST_BACKTRACE=1 std's hook writes straight to stderr (no 512-byte stack buffer): the message
    is the lazily formatted payload String in the heap. Expected text: core's ``panic_bounds_check``
    format ``index out of bounds: the len is {len} but the index is {index}`` with len 3, index 7."""
    binary = build_rust(BOUNDS_PANIC, "core_bounds_bt", *FLAGS)
    core = make_core(binary, WORK / "core_bounds_bt", env={"RUST_BACKTRACE": "1"})
    r = analyze(str(core), str(binary), source_lines=False)
    assert r.crash_kind == "panic" and r.panic is not None
    assert r.panic.message is not None
    assert r.panic.message.value == "index out of bounds: the len is 3 but the index is 7"
    assert "payload String" in r.panic.message.source and "heap" in r.panic.message.source
    # oracle for the location: what the program itself printed on stderr
    said = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60).stderr
    m = re.search(r"panicked at (\S+):(\d+):(\d+):\n(.*)\n", said)
    assert m is not None and m.group(4) == r.panic.message.value
    assert (
        r.panic.location is not None and r.panic.location.value == f"{m.group(1)}:{m.group(2)}:{m.group(3)}"
    )
    assert not any("panic message was not found" in p for p in r.problems)


KILLED = r"""
fn main() {
    let me = std::process::id().to_string();
    // std's SIGSEGV handler (guard-page check) resets SIG_DFL and returns on a sent signal: send two
    for _ in 0..2 {
        let mut k = std::process::Command::new("kill").args(["-SEGV", &me]).spawn().unwrap();
        let _ = k.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(30));
}
"""


def test_segv_sent_by_kill_has_a_sender_and_no_fault_address() -> None:
    binary = build_rust(KILLED, "core_killed", *FLAGS)
    core = make_core(binary, WORK / "core_killed")
    r = analyze(str(core), str(binary), source_lines=False)
    assert r.signal == 11 and r.si_code == 0  # SI_USER
    assert r.fault_address is None and r.fault_mapping is None
    assert r.crash_kind == "SIGSEGV sent by a process"
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("gdb not installed (make sysdeps installs it)")
    cmd = [gdb, "-nx", "-batch", "-ex", "p $_siginfo._sifields._kill.si_pid", "-ex"]
    out = subprocess.run(
        [*cmd, "p $_siginfo._sifields._kill.si_uid", str(binary), str(core)],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    values = [int(v) for v in re.findall(r"^\$\d+ = (\d+)$", out, re.M)]
    assert values == [r.sender_pid, r.sender_uid] and r.sender_pid != r.pid


DATA_MAP = r"""
extern "C" { fn mmap(a: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8; }
use std::os::unix::io::AsRawFd;
fn main() {
    std::fs::write("data.bin", vec![b'x'; 8192]).unwrap();
    let f = std::fs::File::open("data.bin").unwrap();
    let p = unsafe { mmap(std::ptr::null_mut(), 8192, 1, 2, f.as_raw_fd(), 0) };  // PROT_READ, MAP_PRIVATE
    std::fs::write("gone.bin", vec![b'y'; 4096]).unwrap();
    let g = std::fs::File::open("gone.bin").unwrap();
    let q = unsafe { mmap(std::ptr::null_mut(), 4096, 1, 2, g.as_raw_fd(), 0) };
    std::fs::remove_file("gone.bin").unwrap();
    println!("{}", unsafe { (*p).wrapping_add(*q) });
    std::process::abort();
}
"""


def test_data_mappings_are_not_warned_about() -> None:
    """A mapped non-ELF file and a deleted data file (both in NT_FILE, as readelf -n shows) are normal."""
    binary = build_rust(DATA_MAP, "core_data_map", *FLAGS)
    core = make_core(binary, WORK / "core_data_map")
    from elftools.elf.elffile import ELFFile  # the oracle for NT_FILE: pyelftools
    from elftools.elf.segments import NoteSegment

    with open(core, "rb") as f:
        names = next(
            n["n_desc"]["filename"]
            for seg in ELFFile(f).iter_segments()
            if isinstance(seg, NoteSegment)
            for n in seg.iter_notes()
            if n["n_type"] == "NT_FILE"
        )
    assert any(x.endswith(b"/data.bin") for x in names) and any(b"/gone.bin" in x for x in names)
    r = analyze(str(core), str(binary), source_lines=False)
    assert not [p for p in r.problems if "data.bin" in p or "unusable" in p or "not found on this" in p]


def test_max_frames_counts_inlined_frames() -> None:
    binary = build_rust(BOUNDS_PANIC, "core_bounds", *FLAGS)
    core = make_core(binary, WORK / "core_bounds")
    full = analyze(str(core), str(binary))
    # cut right after the first inlined frame: its physical frame (and further inlined ones) must not show
    n = next(i for i, f in enumerate(full.threads[0].frames) if f.method == "inline") + 1
    r = analyze(str(core), str(binary), max_frames=n)
    assert [len(t.frames) for t in r.threads] == [min(n, len(t.frames)) for t in full.threads]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "illumos_rust.cli.main",
            "core",
            str(core),
            str(binary),
            "--max-frames",
            str(n),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    crashing = out.stdout.split("(crashing):\n", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"^  #\d+ ", crashing, re.M)) == n


C_SOURCE = """#include <stdlib.h>
void c_helper_gives_up(int n) { if (n == 7) abort(); }
"""
C_CALLER = r"""
extern "C" { fn c_helper_gives_up(n: i32); }
#[inline(never)]
fn decide(n: i32) {
    let s = format!("deciding about {n} now");  // a heap String on the stack: not a panic message
    std::hint::black_box(&s);
    unsafe { c_helper_gives_up(n) }
}
fn main() { for i in 0..10 { decide(std::hint::black_box(i)); } }
"""


def test_abort_from_a_gcc_compiled_c_object() -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    cdir = WORK / "c_object"
    cdir.mkdir(parents=True, exist_ok=True)
    (cdir / "helper.c").write_text(C_SOURCE)
    obj = cdir / "helper.o"
    subprocess.run(
        ["gcc", "-g", "-O0", "-fno-omit-frame-pointer", "-c", str(cdir / "helper.c"), "-o", str(obj)],
        check=True,
        timeout=60,
    )
    binary = build_rust(C_CALLER, "core_c_object_abort", *FLAGS, "-C", f"link-arg={obj}")
    core = make_core(binary, WORK / "core_c_object_abort")
    r = analyze(str(core), str(binary))
    assert r.signal == 6 and r.crash_kind == "abort" and r.panic is None
    ours = [base_name(f.symbol or "?") for f in r.threads[0].frames]
    theirs = [base_name(g.name) for g in gdb_threads(binary, core)[r.threads[0].tid]]
    start = theirs.index("c_helper_gives_up")
    stop = theirs.index("main")
    assert ours[ours.index("c_helper_gives_up") :][: stop - start + 1] == theirs[start : stop + 1]
    assert (
        os.path.basename(next(f.file for f in r.threads[0].frames if f.symbol == "c_helper_gives_up") or "")
        == "helper.c"
    )
