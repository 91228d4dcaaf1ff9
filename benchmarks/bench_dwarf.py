"""DWARF reader: DIEs per second on a Rust debug build, ours vs pyelftools in the same run, with peak RSS.

Rates are DIEs per CPU second inside the process, from opening the file to the last DIE (imports excluded):
the two cores are shared with other jobs, so wall time measures the neighbours as much as the code.

Bar (issue 13): the DIE walk at >= 5x pyelftools' DIEs per second on the same file. pyelftools'
``iter_DIEs`` decodes every attribute of every DIE, so the like-for-like row is ours with every attribute's
value decoded: ``die.values`` for every DIE (strings resolved from .debug_str, unit references made
section-absolute, flags as bool, blocks copied out, LEB128 numbers read; counted as pyelftools counts). What
it does not build is a record object per attribute (form and stored number are known from the abbreviation
and made on demand by ``die.attribute()``); the tests hold ``values``, ``attributes`` and ``attribute()``
to pyelftools on every DIE of 12 inputs. The tree-only walk (what a converter uses to find the DIEs it
wants before decoding them) is reported too. Native anchors: ``llvm-dwarfdump-14 --debug-info`` and
``readelf --debug-dump=info`` into /dev/null. Input: a statically linked Rust program built with ``-g``
(std's DWARF included), built once into .cache/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _harness import python, run, table

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / ".cache" / "bench-dwarf"
SOURCE = r"""
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
fn main() {
    let mut m: HashMap<String, Vec<u64>> = HashMap::new();
    let mut b: BTreeMap<u32, Box<dyn Fn(u32) -> u32>> = BTreeMap::new();
    for i in 0..10u32 {
        m.entry(i.to_string()).or_default().push(i as u64);
        b.insert(i, Box::new(move |x| x + i));
    }
    let shared = Arc::new(Mutex::new(0u64));
    let spawn = |s: Arc<Mutex<u64>>| std::thread::spawn(move || *s.lock().unwrap() += 1);
    let hs: Vec<_> = (0..2).map(|_| spawn(shared.clone())).collect();
    for h in hs { h.join().unwrap(); }
    println!("{:?} {} {}", m.get("3"), b[&2](1), shared.lock().unwrap());
}
"""

OURS = """
import sys, time
from illumos_rust.dwarf import DwarfInfo
t = time.process_time()
with DwarfInfo.open(sys.argv[1]) as d:
    n = 0
    if sys.argv[2] == "walk":
        for u in d.units:
            n += u.die_count
    else:
        for u in d.units:
            for die in u.dies():
                die.values
                n += 1
print(n, time.process_time() - t)
"""
PYELFTOOLS = """
import sys, time
from elftools.elf.elffile import ELFFile
t = time.process_time()
n = 0
with open(sys.argv[1], "rb") as f:
    for cu in ELFFile(f).get_dwarf_info().iter_CUs():
        for die in cu.iter_DIEs():
            if not die.is_null():
                n += 1
print(n, time.process_time() - t)
"""


def build() -> Path:
    out = OUT / "bigdebug"
    if not out.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "bigdebug.rs").write_text(SOURCE)
        subprocess.run(
            ["rustc", "-g", "-C", "opt-level=1", "-o", str(out), str(OUT / "bigdebug.rs")],
            check=True,
            capture_output=True,
        )
    return out


def once(argv: list[str]) -> tuple[int, float]:
    """One run of a script that prints ``count cpu-seconds``."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    count_text, seconds_text = proc.stdout.split()
    return int(count_text), float(seconds_text)


def rates(jobs: dict[str, list[str]], rounds: int) -> dict[str, tuple[int, float]]:
    """Median DIEs/s of each job, the jobs interleaved round by round so load drift hits them alike."""
    seen: dict[str, list[tuple[float, int]]] = {label: [] for label in jobs}
    for _ in range(rounds):
        for label, argv in jobs.items():
            count, seconds = once(argv)
            seen[label].append((count / seconds, count))
    out = {}
    for label, values in seen.items():
        values.sort()
        rate_, count = values[len(values) // 2]
        out[label] = (count, rate_)
    return out


def main() -> int:
    binary = build()
    size = binary.stat().st_size
    print(f"input: {binary} ({size / 1e6:.1f} MB)")
    jobs = {
        "walk": python(OURS, str(binary), "walk"),
        "full": python(OURS, str(binary), "full"),
        "pyelftools": python(PYELFTOOLS, str(binary)),
    }
    got = rates(jobs, rounds=3)
    (n_walk, walk_rate), (n_full, full_rate), (n_pyel, pyel_rate) = (
        got["walk"],
        got["full"],
        got["pyelftools"],
    )
    # Wall time and peak RSS of each whole process, one more run each.
    walk = run("illumos-rust dwarf: DIE tree walk (no attribute values)", jobs["walk"], repeat=1)
    full = run("illumos-rust dwarf: DIEs + every attribute value decoded", jobs["full"], repeat=1)
    pyel = run("pyelftools 0.33: iter_DIEs (decodes every attribute)", jobs["pyelftools"], repeat=1)
    anchors = []
    if shutil.which("llvm-dwarfdump-14"):
        anchors.append(
            run("llvm-dwarfdump-14 --debug-info (native)", ["llvm-dwarfdump-14", "--debug-info", str(binary)])
        )
    anchors.append(run("readelf --debug-dump=info (native)", ["readelf", "--debug-dump=info", str(binary)]))
    assert n_walk == n_full == n_pyel, (n_walk, n_full, n_pyel)
    print(table([*anchors, walk, full, pyel], pyel))
    print(
        f"{n_full:,} DIEs. DIEs/s (in-process): walk {walk_rate:,.0f}, walk+decode {full_rate:,.0f}, "
        f"pyelftools {pyel_rate:,.0f} -> {walk_rate / pyel_rate:.1f}x and {full_rate / pyel_rate:.1f}x"
    )
    ok = full_rate >= 5 * pyel_rate and walk_rate >= 5 * pyel_rate
    print(f"bar: >= 5x pyelftools DIEs/s -> {'PASS' if ok else 'FAIL'} (load {os.getloadavg()[0]:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
