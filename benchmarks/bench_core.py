"""``illumos-rust core`` on a 100-thread process with a 1 GiB heap vs gdb ``thread apply all bt`` on it.

Bars (issue 14): all threads unwound and symbolized in <= 3 s wall and <= 300 MiB peak RSS; gdb on the
same core in the same run is the yardstick. The program is built here with the installed rustc
(``-g -C panic=abort -C force-frame-pointers=yes``), touches 1 GiB of heap so every page is in the core,
parks 99 threads and then panics; the kernel writes ``./core`` (core_pattern ``core`` on this VM).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import run, table

SOURCE = r"""
use std::sync::{Arc, Barrier};
#[inline(never)]
fn park_forever(b: &Barrier) { b.wait(); loop { std::thread::park(); } }
#[inline(never)]
fn check(total: usize) { if total > 0 { panic!("heap of {} bytes is too big", total); } }
fn main() {
    let mut heap: Vec<Vec<u8>> = Vec::new();
    for i in 0..1024 { heap.push(vec![(i % 251) as u8; 1 << 20]); }
    let b = Arc::new(Barrier::new(100));
    for i in 0..99 {
        let b = b.clone();
        std::thread::Builder::new().name(format!("p{i}")).spawn(move || park_forever(&b)).unwrap();
    }
    b.wait();
    std::thread::sleep(std::time::Duration::from_millis(100));
    check(heap.iter().map(|v| v.len()).sum());
}
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def main() -> int:
    if Path("/proc/sys/kernel/core_pattern").read_text().strip() != "core":
        print("core_pattern is not 'core': this benchmark needs the kernel to write ./core")
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-core-"))
    try:
        (work / "big.rs").write_text(SOURCE)
        subprocess.run(
            [
                "rustc",
                "-g",
                "-C",
                "panic=abort",
                "-C",
                "force-frame-pointers=yes",
                "-O",
                "-o",
                "big",
                "big.rs",
            ],
            cwd=work,
            check=True,
        )
        subprocess.run(
            ["./big"], cwd=work, preexec_fn=_limits, env={"PATH": "/usr/bin:/bin"}, capture_output=True
        )
        core = work / "core"
        if not core.exists():
            print("no core written")
            return 1
        print(f"core: {core.stat().st_size / 2**20:.0f} MiB, 100 threads")
        anchor = run(
            "gdb -batch thread apply all bt (yardstick)",
            ["gdb", "-nx", "-batch", "-ex", "thread apply all bt", str(work / "big"), str(core)],
            repeat=1,
        )
        ours = run(
            "illumos-rust core --format json (all threads)",
            [
                sys.executable,
                "-m",
                "illumos_rust.cli.main",
                "core",
                str(core),
                str(work / "big"),
                "--format",
                "json",
            ],
            repeat=3,
        )
        print(table([anchor, ours], anchor))
        ok = ours.wall <= 3 and ours.rss_mib <= 300
        print(
            f"core: {ours.wall:.2f} s wall, peak RSS {ours.rss_mib:.0f} MiB (bars 3 s, 300 MiB); "
            f"gdb {anchor.wall:.2f} s -> {'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    sys.exit(main())
