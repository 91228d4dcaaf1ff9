"""Issue 12's costs: the demangle filter on one huge unbroken run, and a locked, xattr-keeping edit.

1. ``demangle`` of a 256 MB unbroken run of symbol characters (a hostile or corrupt stream): peak RSS and
   wall against ``rustfilt`` on the same input. Before the bound the filter held about three copies of the
   run (1.24 GB peak for 400 MB); now the open run is capped at ``MAX_RUN_CHARS`` and passes through.
2. ``edit --write`` of librustc_driver as a subprocess (lock, stale-temp scan, xattr copy, verify, rename)
   against ``patchelf --set-rpath`` on the same file: the hardening must cost next to nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from _harness import Timing, run, rustc_driver, table
from bench_edit import find_patchelf

REPO = Path(__file__).resolve().parent.parent
OURS = [sys.executable, "-m", "illumos_rust.cli.main"]
RUN_MB = 256


def _sh(command: str) -> list[str]:
    # exec: the measured process is the tool itself, so wait4's peak RSS is the tool's
    return ["sh", "-c", f"exec {command}"]


def demangle_run(tmp: Path) -> list[Timing]:
    src = tmp / "run.txt"
    with open(src, "wb") as fh:
        fh.write(b"x _ZN")
        for _ in range(RUN_MB):
            fh.write(b"a" * (1 << 20))
        fh.write(b" _ZN3foo3barE\n")
    ours = " ".join(OURS)
    rows = [run(f"illumos-rust demangle, one {RUN_MB} MB run", _sh(f"{ours} demangle < {src} > /dev/null"))]
    if shutil.which("rustfilt"):
        rows.append(run("rustfilt, same input (anchor)", _sh(f"rustfilt < {src} > /dev/null")))
    return rows


def edit_driver(tmp: Path) -> list[Timing]:
    """Each run sets a new RUNPATH (a counter file), so every run really writes 150 MB."""
    work = tmp / "librustc_driver.so"
    shutil.copyfile(rustc_driver(), work)
    counter = tmp / "n"
    counter.write_text("0")
    bump = f"n=$(cat {counter}); echo $((n+1)) > {counter}"
    ours = " ".join(OURS)
    rows = [
        run(
            "illumos-rust edit --set-runpath --write (CLI, 150 MB)",
            _sh_seq(f"{bump}; exec {ours} edit {work} --set-runpath /opt/x$n --write > /dev/null"),
        )
    ]
    patchelf = find_patchelf()
    if patchelf:
        rows.append(
            run(
                "patchelf --set-rpath (anchor)",
                _sh_seq(f"{bump}; exec {patchelf} --set-rpath /opt/x$n {work}"),
            )
        )
    return rows


def _sh_seq(script: str) -> list[str]:
    return ["sh", "-c", script]


def main() -> int:
    os.environ["PYTHONPATH"] = str(REPO / "src")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n")
    with tempfile.TemporaryDirectory(prefix="bench-hardening-", dir="/tmp") as tmp:
        rows = demangle_run(Path(tmp))
        print(table(rows, rows[-1]))
        print()
        rows = edit_driver(Path(tmp))
        print(table(rows, rows[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
