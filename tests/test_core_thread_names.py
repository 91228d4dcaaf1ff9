"""Every thread's name from std's TLS handle, on fresh kernel-written cores, when no panic text names it.

Oracles, independent of the reader: the program itself writes each thread's name (the one it gave
``Builder::name``) and kernel tid (``/proc/thread-self`` → ``/proc/PID/task/TID``) to a file before it
crashes, and gdb (through glibc's ``libthread_db``) computes each thread's address of the TLS variable
``std::thread::current::CURRENT`` on the same core, which checks our thread-pointer/``PT_TLS`` arithmetic.
Both of std's panic paths that bypass the 512-byte stack buffer are exercised: ``RUST_BACKTRACE=1`` and a
message over 512 bytes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, build_rust
from core_helpers import make_core
from illumos_rust.core import analyze

WORK = REPO / ".cache" / "core-runs"

NAMED_THREADS = r"""
use std::io::Write;
use std::sync::{Arc, Barrier};
fn tid() -> String {
    let p = std::fs::read_link("/proc/thread-self").unwrap();
    p.file_name().unwrap().to_string_lossy().into_owned()
}
fn record(name: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open("threads.txt").unwrap();
    // one write(2) per line: write! on a File issues one per formatted piece, which interleave
    f.write_all(format!("{} {}\n", tid(), name).as_bytes()).unwrap();
}
#[inline(never)]
fn fail(long: bool) {
    if long { panic!("{}", "too long ".repeat(80)); } else { panic!("short failure {}", 7); }
}
fn main() {
    let long = std::env::args().nth(1).as_deref() == Some("long");
    let b = Arc::new(Barrier::new(6));
    let names = ["alpha", "beta-2", "a-rather-long-thread-name-past-15-chars"];
    for n in names {
        let b = b.clone();
        std::thread::Builder::new().name(n.into()).spawn(move || {
            record(n); b.wait(); loop { std::thread::park(); }
        }).unwrap();
    }
    let b2 = b.clone();
    std::thread::spawn(move || { record("<unnamed>"); b2.wait(); loop { std::thread::park(); } });
    let b3 = b.clone();
    let h = std::thread::Builder::new().name("crasher".into()).spawn(move || {
        record("crasher"); b3.wait(); std::thread::sleep(std::time::Duration::from_millis(20)); fail(long);
    }).unwrap();
    record("main");
    b.wait();
    h.join().unwrap();
}
"""
FLAGS = ("-g", "-C", "panic=abort", "-C", "force-frame-pointers=yes")


def _expected(workdir: Path) -> dict[int, str]:
    out = {}
    for line in (workdir / "threads.txt").read_text().splitlines():
        tid, name = line.split(" ", 1)
        out[int(tid)] = name
    return out


def _gdb_current_addresses(binary: Path, core: Path) -> dict[int, int]:
    """{LWP: &CURRENT} as gdb computes it through libthread_db on the core."""
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("gdb not installed (make sysdeps installs it)")
    syms = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
    current = next(line.split()[-1] for line in syms.splitlines() if "3std6thread7current7CURRENT" in line)
    cmd = [gdb, "-nx", "-batch", "-ex", f"thread apply all p/x (long)&{current}", str(binary), str(core)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    found: dict[int, int] = {}
    lwp = None
    for line in out.splitlines():
        m = re.match(r"Thread \d+ \(.*?LWP (\d+)\)", line)
        if m:
            lwp = int(m.group(1))
        m = re.match(r"\$\d+ = (0x[0-9a-f]+)", line)
        if m and lwp is not None:
            found[lwp] = int(m.group(1), 16)
    return found


def _names_case(arg: str, env: dict[str, str]) -> None:
    binary = build_rust(NAMED_THREADS, "core_thread_names", *FLAGS)
    workdir = WORK / f"core_thread_names_{arg}"
    if (workdir / "threads.txt").exists():
        (workdir / "threads.txt").unlink()
    core = make_core(binary, workdir, arg, env=env)
    expected = _expected(workdir)
    r = analyze(str(core), str(binary), source_lines=False)
    assert r.crash_kind == "panic" and r.panic is not None, (r.crash_kind, r.problems)
    # std wrote straight to stderr: no panic text names the thread, std's TLS handle does
    assert r.panic.thread is not None and r.panic.thread.value == "crasher", r.panic
    assert "stack buffer" not in r.panic.thread.source and "CURRENT" in r.panic.thread.source
    got = {t.tid: t.name for t in r.threads}
    assert set(got) == set(expected), (got, expected)
    for tid, name in expected.items():
        assert got[tid] == name, (tid, name, got[tid])  # std's own word for a nameless thread: <unnamed>
    crash = r.threads[0]
    assert crash.crashing and crash.name == "crasher"
    assert crash.name_source is not None and "std::thread::current::CURRENT" in crash.name_source
    main = next(t for t in r.threads if expected[t.tid] == "main")
    assert main.name_source is not None and "main_thread::MAIN" in main.name_source
    gdb = _gdb_current_addresses(binary, core)
    for t in r.threads:
        if t.name_source and "CURRENT @" in t.name_source:
            ours = int(re.search(r"CURRENT @(0x[0-9a-f]+)", t.name_source).group(1), 16)  # type: ignore[union-attr]
            assert ours == gdb[t.tid], t.tid


def test_names_with_rust_backtrace_set() -> None:
    """``RUST_BACKTRACE=1``: std's hook writes the report line by line, the 512-byte buffer is unused."""
    _names_case("short", {"RUST_BACKTRACE": "1"})


def test_names_with_a_message_over_512_bytes() -> None:
    _names_case("long", {"RUST_BACKTRACE": "0"})
