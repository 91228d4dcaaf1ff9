"""Fresh kernel-written cores of programs built here, each compared with gdb on the same core.

Cores: ``RLIMIT_CORE`` raised in the child, the kernel's ``core_pattern`` as found (``core`` on this VM: the
test skips, saying why, when cores would be piped elsewhere). Oracle: ``gdb -batch -ex 'thread apply all
bt'`` on the same binary and core; per thread, our frame names equal gdb's physical frames in order
(compared by last path segment without generics, see ``core_helpers.base_name``), from the first frame
in the program's own code (glibc frames are named by gdb from debug info we do not read).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import REPO, build_rust
from core_helpers import base_name, gdb_threads, group_starts, make_core
from illumos_rust.core import CoreReport, analyze

WORK = REPO / ".cache" / "core-runs"
FLAGS = ("-g", "-C", "panic=abort", "-C", "force-frame-pointers=yes")

NAMED_THREAD_PANIC = r"""
#[inline(never)]
fn validate(x: u32) -> u32 {
    if x > 2 { panic!("bad value {} in worker", x); }
    x
}
fn main() {
    let h = std::thread::Builder::new().name("checker-3".into()).spawn(|| {
        let mut t = 0; for i in 0..5 { t += validate(i); } t
    }).unwrap();
    println!("{}", h.join().unwrap());
}
"""

LEAF_SEGV = r"""
#[inline(never)]
#[no_mangle]
pub extern "C" fn leaf_read(p: *const u64) -> u64 { unsafe { std::ptr::read_volatile(p) } }
#[inline(never)]
fn middle(p: usize) -> u64 { leaf_read(p as *const u64) + 1 }
fn main() { let p = std::hint::black_box(0x28usize); println!("{}", middle(p)); }
"""

OVERFLOW = r"""
#[inline(never)]
fn recurse(n: u64, buf: &mut [u8; 256]) -> u64 {
    let mut local = [0u8; 256];
    local[(n % 256) as usize] = buf[(n % 256) as usize].wrapping_add(1);
    std::hint::black_box(&mut local);
    recurse(n + 1, &mut local) + local[0] as u64
}
fn main() {
    let h = std::thread::Builder::new().name("deep".into()).stack_size(256 * 1024).spawn(|| {
        let mut b = [0u8; 256]; recurse(0, &mut b)
    }).unwrap();
    println!("{}", h.join().unwrap());
}
"""

C_ABORT = r"""
extern "C" { fn abort(); }
#[inline(never)]
#[no_mangle]
pub extern "C" fn c_style_give_up() { unsafe { abort() } }
#[inline(never)]
fn decide(n: u32) { if n == 7 { c_style_give_up(); } }
fn main() { for i in 0..10 { decide(std::hint::black_box(i)); } }
"""

MANY_THREADS = r"""
use std::sync::{Arc, Barrier};
#[inline(never)]
fn wait_here(b: &Barrier) { b.wait(); loop { std::thread::park(); } }
fn main() {
    let b = Arc::new(Barrier::new(50));
    for i in 0..49 {
        let b = b.clone();
        std::thread::Builder::new().name(format!("w{i}")).spawn(move || wait_here(&b)).unwrap();
    }
    b.wait();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let p = std::hint::black_box(0x10usize) as *const u8;
    println!("{}", unsafe { std::ptr::read_volatile(p) });
}
"""


def _run(source: str, name: str, *flags: str) -> tuple[Path, Path, CoreReport]:
    binary = build_rust(source, name, *flags)
    core = make_core(binary, WORK / name)
    return binary, core, analyze(str(core), str(binary))


def _compare_with_gdb(binary: Path, core: Path, report: CoreReport, frames: int = 60) -> int:
    """Every thread: our frames (inlined ones included) equal gdb's from the first frame in Rust code
    (a ``::`` name) through ``main``/``thread_start``, by name and by source line where gdb has one."""
    gdb = gdb_threads(binary, core, frames)
    assert set(gdb) == {t.tid for t in report.threads}
    compared = 0
    for t in report.threads:
        theirs = gdb[t.tid]
        start_g = next((i for i, g in enumerate(theirs) if "::" in g.name), None)
        if start_g is None:
            continue
        ours = t.frames
        names = [base_name(f.symbol or "?") for f in ours]
        start_o = names.index(base_name(theirs[start_g].name))
        stop_g = next(
            (i for i in range(start_g, len(theirs)) if base_name(theirs[i].name) in ("main", "thread_start")),
            len(theirs) - 1,
        )
        n = min(stop_g - start_g + 1, len(ours) - start_o)
        pairs = list(zip(ours[start_o : start_o + n], theirs[start_g : start_g + n], strict=True))
        assert [base_name(f.symbol or "?") for f, _ in pairs] == [base_name(g.name) for _, g in pairs], t.tid
        assert group_starts([f for f, _ in pairs]) == [not g.inlined for _, g in pairs], t.tid
        for f, g in pairs:
            if g.file is not None and g.line is not None:
                assert f.file is not None and os.path.basename(f.file) == os.path.basename(g.file), (f, g)
                assert f.line == g.line, (t.tid, f, g)
        compared += n
    return compared


def test_panic_abort_in_named_thread() -> None:
    binary, core, r = _run(NAMED_THREAD_PANIC, "core_named_panic", *FLAGS)
    assert r.signal == 6 and r.crash_kind == "panic"
    assert r.panic is not None and r.panic.message and r.panic.thread and r.panic.location
    assert r.panic.thread.value == "checker-3"
    assert r.panic.message.value == "bad value 3 in worker"
    assert r.panic.location.value.endswith("core_named_panic.rs:4:16")  # line 1 of the source is empty
    crash = r.threads[0]
    assert crash.crashing and crash.name == "checker-3"
    names = [f.symbol or "" for f in crash.frames]
    assert "core_named_panic::validate" in names
    assert _compare_with_gdb(binary, core, r) > 10


def test_segv_in_leaf_without_frame_pointers() -> None:
    binary, core, r = _run(LEAF_SEGV, "core_leaf_segv", "-g", "-O", "-C", "force-frame-pointers=no")
    assert r.signal == 11 and r.si_code == 1 and r.fault_address == 0x28
    assert r.crash_kind == "segfault" and r.fault_mapping and r.fault_mapping.startswith("null page")
    frames = [f for f in r.threads[0].frames if f.method != "inline"]  # read_volatile is inlined
    assert frames[0].symbol == "leaf_read"
    assert frames[1].method == "cfi"  # no frame pointer: only .eh_frame gets out of the leaf
    assert _compare_with_gdb(binary, core, r) >= 3


def test_stack_overflow_reported_as_such() -> None:
    binary, core, r = _run(OVERFLOW, "core_overflow", "-g", "-C", "force-frame-pointers=yes")
    assert r.crash_kind == "stack overflow"
    assert r.fault_mapping is not None and "stack overflow" in r.fault_mapping
    crash = r.threads[0]
    names = [f.symbol or "" for f in crash.frames]
    assert any(f.method == "sigframe" for f in crash.frames)
    assert names.count("core_overflow::recurse") > 50
    assert _compare_with_gdb(binary, core, r, frames=120) > 20


def test_abort_from_c_code() -> None:
    binary, core, r = _run(C_ABORT, "core_c_abort", *FLAGS)
    assert r.signal == 6 and r.crash_kind == "abort" and r.panic is None
    names = [f.symbol or "" for f in r.threads[0].frames]
    assert (
        names.index("c_style_give_up")
        < names.index("core_c_abort::decide")
        < names.index("core_c_abort::main")
    )
    assert _compare_with_gdb(binary, core, r) >= 3


def test_fifty_threads() -> None:
    binary, core, r = _run(MANY_THREADS, "core_fifty", *FLAGS)
    assert len(r.threads) == 50 and r.signal == 11
    parked = [t for t in r.threads if any((f.symbol or "").endswith("wait_here") for f in t.frames)]
    assert len(parked) == 49
    # the program names them w0..w48 (Builder::name); the main thread is std's "main"
    assert sorted(t.name or "" for t in parked) == sorted(f"w{i}" for i in range(49))
    assert [t.name for t in r.threads if t not in parked] == ["main"]
    assert _compare_with_gdb(binary, core, r) > 49 * 4


def test_wrong_binary_is_reported() -> None:
    _binary, core, _ = _run(C_ABORT, "core_c_abort", *FLAGS)
    other = build_rust(LEAF_SEGV, "core_leaf_segv", "-g", "-O", "-C", "force-frame-pointers=no")
    r = analyze(str(core), str(other))
    assert any("build-id" in p and "differs" in p for p in r.problems)


def test_cargo_illumos_core_finds_the_binary(tmp_path: Path) -> None:
    """``cargo illumos core CORE`` in a workspace: the executable comes from its target directory."""
    import shutil
    import subprocess
    import sys

    if shutil.which("cargo") is None:
        pytest.skip("cargo not installed")
    bindir = Path(sys.executable).parent
    if not (bindir / "cargo-illumos").exists():
        pytest.skip("cargo-illumos is not installed next to this Python (make venv installs it)")
    proj = tmp_path / "crashy"
    (proj / "src").mkdir(parents=True)
    (proj / "Cargo.toml").write_text(
        '[package]\nname = "crashy"\nversion = "0.1.0"\nedition = "2021"\n\n[profile.dev]\npanic = "abort"\n'
    )
    (proj / "src" / "main.rs").write_text(NAMED_THREAD_PANIC)
    keep = ("HOME", "RUSTUP_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN", "LANG", "TMPDIR", "ILLUMOS_RUST_SHARED")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env |= {"PATH": f"{bindir}:{os.environ['PATH']}", "CARGO_TARGET_DIR": str(proj / "target")}
    proc = subprocess.run(
        ["cargo", "build", "-q", "--offline"],
        cwd=proj,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stderr, {k: v for k, v in env.items() if "RUST" in k or "CARGO" in k})
    core = make_core(proj / "target" / "debug" / "crashy", tmp_path / "run")
    r = subprocess.run(
        ["cargo", "illumos", "core", str(core), "--no-source", "--format", "json"],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["panic"]["message"]["value"] == "bad value 3 in worker"
    assert any(f["symbol"] == "crashy::validate" for f in data["threads"][0]["frames"])


LONG_PANIC = r"""
#[inline(never)]
fn explain(n: usize) { if n > 1 { panic!("{}", "why ".repeat(200)); } }
fn main() { for i in 0..3 { explain(std::hint::black_box(i)); } }
"""


def test_long_panic_message_location_still_found() -> None:
    """A message over std's 512-byte buffer is written straight to stderr: the location still comes from
    the ``&'static Location`` on the stack, and the message from the lazily formatted payload in the heap."""
    _binary, _core, r = _run(LONG_PANIC, "core_long_panic", *FLAGS)
    assert r.crash_kind == "panic" and r.panic is not None and r.panic.location is not None
    assert r.panic.location.value.endswith("core_long_panic.rs:3:35")  # line 1 of the source is empty
    assert "Location" in r.panic.location.source
    # 800 bytes: never formatted into the stack buffer, but the payload String in the heap holds it
    assert r.panic.message is not None and r.panic.message.value == "why " * 200
    assert "payload String" in r.panic.message.source
    assert not any("panic message was not found" in p for p in r.problems)
