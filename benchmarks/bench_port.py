"""Benchmark ``illumos-rust port`` on the Debian crate corpus (``make corpus``), with ripgrep as the floor.

Runs in one process tree on a warm page cache, the commands round-robin, median of 3 runs each:

* ``rg -n target_os CORPUS``: the fastest possible "look at every file" (no lexing, no cfg semantics);
* ``illumos-rust port CORPUS --format json`` with every core, then with ``--jobs 1``: the full scan
  (lexing, every cfg site parsed and evaluated for both targets, libc index, patch generation), timed as a
  user sees it, from process start to exit.

Fails (exit 1) if the full scan takes more than the 10 s budget from project issue 6.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from _harness import timed_tree

CORPUS = os.environ.get("PORT_CORPUS", "/usr/share/cargo/registry")
BUDGET_S = 10.0
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


_RSS: dict[str, list[int]] = {}


def _timed_once(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, child CPU seconds (user+sys, all processes of the run), stdout. The peak RSS of the
    largest process of the run (GNU time's %M: the parent or one pool worker) goes into ``_RSS``."""
    wall, cpu, rss, stdout = timed_tree(cmd)
    if rss:
        _RSS.setdefault(" ".join(cmd), []).append(rss)
    return wall, cpu, stdout


def _rss_mb(cmd: list[str]) -> str:
    runs = _RSS.get(" ".join(cmd))
    return f"{max(runs) / 1024:.0f}" if runs else "-"


def _median(runs: list[tuple[float, float, str]]) -> tuple[float, float, str]:
    return sorted(runs, key=lambda r: r[0])[len(runs) // 2]


def _interleaved(cmds: list[list[str]]) -> list[tuple[float, float, str]]:
    """Median of REPEAT runs of each command, run round-robin (A B C A B C ...): the 2 cores are shared
    with other jobs whose load comes and goes, and interleaving spreads that over every command alike."""
    runs: list[list[tuple[float, float, str]]] = [[] for _ in cmds]
    for _ in range(REPEAT):
        for i, cmd in enumerate(cmds):
            runs[i].append(_timed_once(cmd))
    return [_median(r) for r in runs]


def main() -> int:
    if not os.path.isdir(CORPUS) or not os.listdir(CORPUS):
        print(f"bench_port: {CORPUS} is empty; run `make corpus` first (skipped)")
        return 0
    rs_files = rs_bytes = 0
    for dirpath, _dirs, files in os.walk(CORPUS):
        for f in files:
            if f.endswith(".rs"):
                rs_files += 1
                rs_bytes += os.path.getsize(os.path.join(dirpath, f))
    port = [sys.executable, "-m", "illumos_rust.cli.main", "port", CORPUS, "--format", "json"]
    rg = shutil.which("rg")
    # warm the page cache for both tools
    subprocess.run([*port, "--jobs", "2"], capture_output=True, check=False)
    rows: list[tuple[str, float, float, str, list[str]]] = []
    cores = os.cpu_count() or 1
    cmds = [port, [*port, "--jobs", "1"]] + ([[rg, "-n", "target_os", CORPUS]] if rg else [])
    timed = _interleaved(cmds)
    if rg:
        wall, cpu, out = timed[2]
        rows.append(("rg -n target_os (floor)", wall, cpu, f"{out.count(chr(10))} matching lines", cmds[2]))
    wall_all, cpu_all, out = timed[0]
    summary = json.loads(out)["summary"]
    detail = f"{summary['cfg_sites']} cfg sites, {summary['findings']} findings, {summary['crates']} crates"
    rows.append((f"illumos-rust port ({cores} jobs)", wall_all, cpu_all, detail, cmds[0]))
    wall_one, cpu_one, out_one = timed[1]
    rows.append(("illumos-rust port (--jobs 1)", wall_one, cpu_one, "", cmds[1]))
    scan_all = summary["phases"]["scan"]
    scan_one = json.loads(out_one)["summary"]["phases"]["scan"]
    load = os.getloadavg()[0]
    print(f"corpus: {CORPUS}: {rs_files} .rs files, {rs_bytes / 1e6:.1f} MB, {cores} cores, load {load:.1f}")
    print(f"{'command':34} {'wall s':>7} {'cpu s':>7} {'MB/s':>7} {'RSS MB':>7}  notes")
    for name, wall, cpu, note, cmd in rows:
        print(f"{name:34} {wall:7.2f} {cpu:7.2f} {rs_bytes / 1e6 / wall:7.1f} {_rss_mb(cmd):>7}  {note}")
    print(
        f"scan phase alone (lex, parse, evaluate; parallel part): {scan_all:.2f} s with {cores} jobs, "
        f"{scan_one:.2f} s with 1 job: {scan_one / scan_all:.2f}x"
    )
    if rg:
        print(f"port / rg: {wall_all / rows[0][1]:.1f}x; whole-process speed-up {wall_one / wall_all:.2f}x")
    if wall_all > BUDGET_S:
        print(f"bench_port: FAIL: full scan took {wall_all:.2f} s > {BUDGET_S} s budget")
        return 1
    print(f"bench_port: ok (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
