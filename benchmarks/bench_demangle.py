"""Throughput of ``illumos-rust demangle`` against rustfilt and GNU c++filt on the same stream, same run.

The stream is every symbol name of the toolchain's ``librustc_driver`` (``readelf -Ws``, one per line, as a
filter sees ``nm`` output). Each tool filters the whole stream from a file to a pipe; we report the best wall
time and CPU time of ``--repeat`` interleaved runs (interpreter start-up included: that is what a user
waits for), symbols per second and the ratio to rustfilt. The library's in-process throughput is reported
too (cold and memoised), and the agreement with the sysroot rustc-demangle oracle per scheme and form on the
same stream, so the tables in the README come from one command:

    .venv/bin/python benchmarks/bench_demangle.py [--repeat N] [--no-agreement]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from illumos_rust.demangle import core, parse_symbol, try_demangle  # noqa: E402


def _driver_stream() -> list[str]:
    from test_demangle_oracle import driver_symbols

    return driver_symbols()


def _run_once(cmd: list[str], data: bytes, devnull: bool = False) -> tuple[float, float, bytes]:
    """Wall time and child CPU time (user + system) of one filter run over ``data``, into a pipe that we read
    (what a user's ``| less`` costs the writer) or into /dev/null."""
    with tempfile.TemporaryFile() as src:
        src.write(data)
        src.seek(0)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.DEVNULL if devnull else subprocess.PIPE
        proc = subprocess.run(cmd, stdin=src, stdout=out, stderr=subprocess.PIPE, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout or b""


def _agreement(symbols: list[str]) -> list[tuple[str, str, int, int]]:
    from test_demangle_oracle import run_oracle

    unique = sorted(set(symbols))
    expected = run_oracle(unique)
    counts: Counter[tuple[str, str, bool]] = Counter()
    for sym, exp in zip(unique, expected, strict=True):
        parsed = parse_symbol(sym)
        scheme: str = parsed.scheme if parsed else ("rejected" if exp.full is None else "?")
        counts[(scheme, "full {}", try_demangle(sym) == exp.full)] += 1
        counts[(scheme, "alternate {:#}", try_demangle(sym, hash=False) == exp.alternate)] += 1
    rows: list[tuple[str, str, int, int]] = []
    for scheme, form in sorted({(s, f) for s, f, _ in counts}):
        ok, bad = counts[(scheme, form, True)], counts[(scheme, form, False)]
        rows.append((scheme, form, ok, ok + bad))
    return rows


def _hostile_inputs() -> dict[str, str]:
    from test_demangle_robust import (
        _exponential_backrefs,
        _hostile_families,
    )

    worst = ("v0 backrefs", "v0 unit types", "v0 after an unbound lifetime", "legacy 1-char elements")
    rows: dict[str, str] = {}
    for length, label in ((16_384, "16 KiB"), (core.MAX_V0_LENGTH, "64 KiB"), (1_000_000, "1 MB")):
        families = _hostile_families(length)
        rows |= {f"{name}, {label}": families[name] for name in worst}
    rows["backref bomb 2^40 (399 B, 1 MB output)"] = _exponential_backrefs(40)
    rows["binder of 5.7e10 lifetimes (16 B, 1 MB output)"] = "_RMC0FGZZZZZZ_Eu"
    return rows


def _hostile_table(repeat: int) -> None:
    """Per input: our CPU time in process (both forms, cold) against a whole rustfilt process on it."""
    print("\nhostile inputs, CPU ms per input (ours: in process, best of N; rustfilt: a process per input,")
    print("start-up included, best of N; its start-up alone is the first row):\n")
    print("| input | ours ms | rustfilt ms | ours: Rust? |")
    print("|---|---:|---:|---|")
    inputs = {"(empty line: rustfilt start-up)": "", **_hostile_inputs()}
    for name, sym in inputs.items():
        ours = []
        for _ in range(repeat):
            core.clear_cache()
            start = time.process_time()
            found = try_demangle(sym)
            try_demangle(sym, hash=False)
            ours.append((time.process_time() - start) / 2)
        theirs = "n/a"
        if shutil.which("rustfilt"):
            cpu = min(_run_once(["rustfilt"], (sym + "\n").encode())[1] for _ in range(repeat))
            theirs = f"{cpu * 1000:.1f}"
        print(f"| {name} | {min(ours) * 1000:.1f} | {theirs} | {'yes' if found is not None else 'no'} |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is reported")
    parser.add_argument("--no-agreement", action="store_true", help="skip the oracle agreement table")
    parser.add_argument("--no-hostile", action="store_true", help="skip the hostile-input table")
    args = parser.parse_args()

    symbols = _driver_stream()
    data = "".join(s + "\n" for s in symbols).encode()
    n = len(symbols)
    print(f"stream: {n} symbol names of librustc_driver ({len(data) / 1e6:.1f} MB), best of {args.repeat}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n")

    ours = [sys.executable, "-m", "illumos_rust.cli.main", "demangle"]
    tools: list[tuple[str, list[str]]] = [
        ("illumos-rust demangle", ours),
        ("illumos-rust demangle --no-hash", [*ours, "--no-hash"]),
    ]
    if shutil.which("rustfilt"):
        tools += [("rustfilt -h", ["rustfilt", "-h"]), ("rustfilt", ["rustfilt"])]
    if shutil.which("c++filt"):
        tools += [("c++filt", ["c++filt"]), ("c++filt -i", ["c++filt", "-i"])]
    env_note = {"PYTHONPATH": str(REPO / "src")}
    os.environ.update(env_note)

    # Interleaved repetitions (every tool once per round), best of each: a load spike from another process
    # then hurts one round of every tool rather than all rounds of one tool.
    results: dict[str, tuple[float, float, bytes]] = {}
    for _round in range(args.repeat):
        for name, cmd in tools:
            wall, cpu, out = _run_once(cmd, data)
            best = results.get(name)
            results[name] = (min(wall, best[0]) if best else wall, min(cpu, best[1]) if best else cpu, out)

    reference = results.get("rustfilt")
    print("| tool | wall s | CPU s | symbols/s (CPU) | vs rustfilt (CPU) | vs rustfilt (wall) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (wall, cpu, _out) in results.items():
        cpu_ratio = f"{reference[1] / cpu:.2f}x" if reference else "n/a"
        wall_ratio = f"{reference[0] / wall:.2f}x" if reference else "n/a"
        print(f"| `{name}` | {wall:.2f} | {cpu:.2f} | {n / cpu:,.0f} | {cpu_ratio} | {wall_ratio} |")

    if reference:
        # rustfilt writes line by line, which costs it a syscall per line into a pipe: into /dev/null the
        # same run gives the ratio without that.
        quiet = {
            name: min(_run_once(cmd, data, devnull=True)[1] for _ in range(args.repeat))
            for name, cmd in tools
            if name in ("illumos-rust demangle --no-hash", "rustfilt")
        }
        ours_quiet, theirs_quiet = quiet["illumos-rust demangle --no-hash"], quiet["rustfilt"]
        print(
            f"\ninto /dev/null (CPU s): illumos-rust demangle --no-hash {ours_quiet:.2f},"
            f" rustfilt {theirs_quiet:.2f}: {theirs_quiet / ours_quiet:.2f}x"
        )

    core.clear_cache()
    start = time.process_time()
    for sym in symbols:
        try_demangle(sym, hash=False)
    cold = time.process_time() - start
    start = time.process_time()
    for sym in symbols:
        try_demangle(sym, hash=False)
    warm = time.process_time() - start
    print(f"\nlibrary in process (CPU): cold {n / cold:,.0f} symbols/s, memoised {n / warm:,.0f} symbols/s")

    if reference:
        same = results["illumos-rust demangle --no-hash"][2] == reference[2]
        same_h = results["illumos-rust demangle"][2] == results["rustfilt -h"][2]
        print(f"output identical to rustfilt: default form {same}, with hashes {same_h}")
        for ours_name, theirs_name in (
            ("illumos-rust demangle --no-hash", "rustfilt"),
            ("illumos-rust demangle", "rustfilt -h"),
        ):
            ours_lines = results[ours_name][2].splitlines()
            theirs_lines = results[theirs_name][2].splitlines()
            diff = [(a, b) for a, b in zip(ours_lines, theirs_lines, strict=True) if a != b]
            if diff:
                print(
                    f"  {len(diff)} lines differ from `{theirs_name}` (it links rustc-demangle 0.1.21), e.g."
                )
                print(f"    ours:     {diff[0][0][:150].decode()}\n    rustfilt: {diff[0][1][:150].decode()}")

    if not args.no_hostile:
        _hostile_table(args.repeat)

    if not args.no_agreement:
        print("\nagreement with the sysroot rustc-demangle (distinct names of the stream):\n")
        print("| scheme | form | agree | of |")
        print("|---|---|---:|---:|")
        for scheme, form, ok, total in _agreement(symbols):
            print(f"| {scheme} | {form} | {ok} | {total} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
