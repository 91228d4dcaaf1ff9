"""Benchmark ``illumos-rust survey crates`` on the Debian crate corpus (``make corpus``) against ``port``.

Every command is timed as a user sees it (process start to exit), the commands round-robin, median of
BENCH_REPEAT runs (default 3) each, on a warm page cache:

* ``illumos-rust port CORPUS --jobs 1`` (single process) and ``--jobs 2``: the anchor, the same analysis;
* ``illumos-rust survey crates CORPUS --workers 2`` into a fresh store: a local Dask cluster of 2 worker
  processes, cluster start-up and content hashing included (no dashboard: stderr is not a terminal);
* the same with ``--dashboard`` (what a user at a terminal gets by default), for the record;
* the second run after editing one crate (a copy in the corpus view, so the system registry is never
  written): stat index, one re-hash, one analysis in-process; BENCH_AGAIN (default 5) such reruns per
  round, each after its own edit.

Ratios are given two ways: of the medians, and the median of the per-round ratios (each round runs the
commands back to back, so a round's ratio sees one load level; the machine is shared and noisy).

Bytecode: a pip install byte-compiles the package, but this machine's environment sets
``PYTHONDONTWRITEBYTECODE``; the commands run with bytecode cached under a temporary
``PYTHONPYCACHEPREFIX`` (warmed by one untimed run), as ``bench_inspect.py`` does.

Then the HTML report of that store: its weight on disk and the time headless Chromium takes to load and
render the index page (``--dump-dom``), when chromium is installed.

Prints the numbers the issue asks for: survey / single-process port (target <= 1.3) and second run / first
run (target <= 0.05). Peak RSS is GNU time's %M for the largest process of a run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import timed_tree

CORPUS = Path(os.environ.get("PORT_CORPUS", "/usr/share/cargo/registry"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
#: Reruns per round, each after its own edit of the one crate: a rerun costs a twentieth of a first run,
#: so more samples of it are cheap, and its median is what machine noise moves most (one sample varied
#: 0.23-0.34 s back to back here).
AGAIN = int(os.environ.get("BENCH_AGAIN", "5"))
TOOL = str(Path(sys.executable).with_name("illumos-rust"))
EDITED = "fs2-0.4.3"


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the process tree, peak RSS in kB (0 without GNU time)."""
    wall, cpu, rss, _ = timed_tree(cmd)
    return wall, cpu, rss


def median(xs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return sorted(xs)[len(xs) // 2]


def median_ratio(num: list[tuple[float, float, int]], den: list[tuple[float, float, int]]) -> float:
    ratios = sorted(n[0] / d[0] for n, d in zip(num, den, strict=True))
    return ratios[len(ratios) // 2]


def main() -> int:
    crates = sorted(d for d in CORPUS.iterdir() if (d / "Cargo.toml").is_file()) if CORPUS.is_dir() else []
    if not crates:
        print(f"bench_survey: no crates under {CORPUS}; run `make corpus` first (skipped)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-survey-"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pyc")
    load_before = os.getloadavg()
    try:
        view = work / "corpus"  # symlinks to the registry, one real copy that the second run edits
        view.mkdir()
        for d in crates:
            if d.name == EDITED:
                shutil.copytree(d, view / d.name, symlinks=True)
            else:
                os.symlink(d, view / d.name)
        edited = next((view / EDITED / "src").glob("*.rs"), None) if (view / EDITED).is_dir() else None
        small = work / "small"  # byte-compile every module a timed run imports (Dask, bokeh too), untimed
        small.mkdir()
        for d in crates[:4]:
            os.symlink(d, small / d.name)
        warm_survey = [TOOL, "survey", "crates", str(small), "--workers", "2", "--dashboard"]
        for cmd in (
            [*warm_survey, "--store", str(work / "w.db")],
            [TOOL, "port", str(small), "--format", "json", "--jobs", "2"],
        ):
            subprocess.run(cmd, capture_output=True, check=False)
        rows: dict[str, list[tuple[float, float, int]]] = {}
        first, again_label = "survey crates --workers 2 (fresh store)", "survey again, one crate edited"
        for i in range(REPEAT):
            store = work / f"s{i}.db"
            cmds = {
                # port does not follow the view's symlinks: it scans the corpus itself
                "port --jobs 1": [TOOL, "port", str(CORPUS), "--format", "json", "--jobs", "1"],
                "port --jobs 2": [TOOL, "port", str(CORPUS), "--format", "json", "--jobs", "2"],
                first: [TOOL, "survey", "crates", str(view), "--workers", "2", "--store", str(store)],
                "survey crates --workers 2 --dashboard (fresh store)": [
                    *(TOOL, "survey", "crates", str(view), "--workers", "2", "--dashboard"),
                    *("--store", str(work / f"d{i}.db")),
                ],
            }
            for label, cmd in cmds.items():
                rows.setdefault(label, []).append(timed(cmd))
            again = [TOOL, "survey", "crates", str(view), "--workers", "2", "--store", str(store)]
            for j in range(AGAIN):
                if edited is not None:
                    with open(edited, "a", encoding="utf-8") as fh:
                        fh.write(f"\n// bench edit {i}.{j}\n")
                rows.setdefault(again_label, []).append(timed(again))
        load_after = os.getloadavg()
        loads = [", ".join(f"{x:.1f}" for x in avg) for avg in (load_before, load_after)]
        print(
            f"corpus: {len(crates)} crates in {CORPUS}, median of {REPEAT}; load average (1, 5, 15 min) "
            f"before {loads[0]}, after {loads[1]}"
        )
        print("| command | wall s | CPU s | peak RSS MB |")
        print("|---|---|---|---|")
        med = {label: median(r) for label, r in rows.items()}
        for label, (wall, cpu, rss) in med.items():
            print(f"| {label} | {wall:.2f} | {cpu:.2f} | {rss / 1024:.0f} |")
        survey = med[first][0]
        port1 = rows["port --jobs 1"]
        print(
            f"survey / port --jobs 1: {survey / med['port --jobs 1'][0]:.2f}x of the medians, "
            f"{median_ratio(rows[first], port1):.2f}x per round (target <= 1.3)"
        )
        dash = rows["survey crates --workers 2 --dashboard (fresh store)"]
        print(f"survey --dashboard / port --jobs 1: {median_ratio(dash, port1):.2f}x per round")
        print(f"survey / port --jobs 2: {survey / med['port --jobs 2'][0]:.2f}x")
        per_round = [
            median(rows[again_label][r * AGAIN : (r + 1) * AGAIN])[0] / rows[first][r][0]
            for r in range(REPEAT)
        ]
        print(
            f"second run / first: {med[again_label][0] / survey:.3f} of the medians "
            f"({len(rows[again_label])} reruns, {REPEAT} first runs), "
            f"{sorted(per_round)[len(per_round) // 2]:.3f} per round (target <= 0.05)"
        )
        out = work / "report"
        t = time.perf_counter()
        subprocess.run([TOOL, "survey", "report", "-o", str(out), "--store", str(work / "s0.db")], check=True)
        build_s = time.perf_counter() - t
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(
            f"report: {size / 1e6:.2f} MB in {len(list(out.rglob('*.html')))} pages, built in {build_s:.2f} s"
        )
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium:
            cmd = [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={work / 'prof'}",
            ]
            cmd += ["--dump-dom", (out / "index.html").as_uri()]
            walls = [timed(cmd)[0] for _ in range(REPEAT)]
            blank = work / "blank.html"
            blank.write_text("<!DOCTYPE html><title>x</title>")
            base = [timed([*cmd[:-1], blank.as_uri()])[0] for _ in range(REPEAT)]
            print(
                f"chromium --dump-dom index.html: {sorted(walls)[len(walls) // 2]:.2f} s "
                f"(an empty page: {sorted(base)[len(base) // 2]:.2f} s)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
