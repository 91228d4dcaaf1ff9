"""Shared benchmark plumbing: run a command N times in fresh processes, report median wall and peak RSS.

Every benchmark runs the project and its native anchor in the same run, so the ratio is what matters: the
machine (2 shared cores) is noisy, the ratio much less so.
"""

from __future__ import annotations

import glob
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Timing:
    label: str
    wall: float  # median seconds
    rss_mib: float  # max peak RSS over the runs
    cpu: float = 0.0  # median user+system seconds: what the run costs, whatever the neighbours do


def run(label: str, argv: list[str], repeat: int = 3, stdout: int | None = subprocess.DEVNULL) -> Timing:
    walls, cpus, rss = [], [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"{label}: exit {proc.returncode}: {err[-2000:]}")
        rss = max(rss, usage.ru_maxrss / 1024)
    return Timing(label, statistics.median(walls), rss, statistics.median(cpus))


GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def timed_tree(cmd: list[str]) -> tuple[float, float, int, str]:
    """One run of ``cmd`` as a user sees it: wall seconds, CPU seconds of the whole process tree (pool
    workers, forked children), peak RSS in kB of its largest process (GNU time's %M; 0 without it), and
    stdout. Exit status 1 counts as success (findings found); anything else stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run, rss_file = cmd, ""
    if GNU_TIME:
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-")
        os.close(fd)
        run = [GNU_TIME, "-f", "%M", "-o", rss_file, *cmd]
    start = time.perf_counter()
    proc = subprocess.run(run, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss = 0
    if rss_file:
        with open(rss_file, encoding="utf-8") as fh:
            lines = fh.read().split()
        os.unlink(rss_file)
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")
    return wall, cpu, rss, proc.stdout


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def rustc_driver() -> str:
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout
    found = glob.glob(os.path.join(sysroot.strip(), "lib", "librustc_driver-*.so"))
    if not found:
        raise SystemExit("librustc_driver-*.so not found in the rustc sysroot")
    return found[0]


def table(rows: list[Timing], anchor: Timing) -> str:
    lines = [
        f"| {'what':<60} | {'wall (s)':>8} | {'CPU (s)':>7} | {'peak RSS (MiB)':>14} | {'wall ratio':>10} |",
        f"|{'-' * 62}|{'-' * 9}:|{'-' * 8}:|{'-' * 15}:|{'-' * 11}:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.label:<60} | {r.wall:>8.3f} | {r.cpu:>7.3f} | {r.rss_mib:>14.0f} "
            f"| {r.wall / anchor.wall:>9.2f}x |"
        )
    return "\n".join(lines)
