"""How much the per-rustc cache saves, measured against running rustc directly in the same run.

Prints, for the installed rustc:
  1. a cold fill of every target's cfg set (empty temporary cache) with 1, 2 and 2*CPU parallel calls;
  2. a warm ``all_cfg_sets()`` in-process against the serial ``rustc --print cfg`` loop it replaces;
  3. one warm ``cfg_set`` / ``load_spec`` lookup against one ``rustc --print cfg`` /
     ``--print target-spec-json`` call (median of several runs);
  4. end to end, a new ``illumos-rust target cfg T`` process against one ``rustc --print cfg`` process:
     the honest figure for a single shell lookup, which pays Python start-up and ``rustc -vV``.
Ratios are direct time / our time (>1 means we are faster).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from illumos_rust.targetspec import all_cfg_sets, cfg_set, target_list
from illumos_rust.targetspec import cfgset as cfgset_mod
from illumos_rust.targetspec import rustc as rustc_mod
from illumos_rust.targetspec.cfgset import default_jobs, fill_cfg_cache
from illumos_rust.targetspec.spec import load_spec

TARGET = "x86_64-unknown-illumos"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def run_quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, capture_output=True, check=True, env=env)


def main() -> int:
    tc = rustc_mod.toolchain()
    targets = target_list()
    print(f"rustc: {tc.version_line}; {len(targets)} targets; {os.cpu_count()} CPUs")

    # 1. Cold fills, each into its own empty cache directory.
    saved = os.environ.get("XDG_CACHE_HOME")
    cold: dict[int, float] = {}
    for jobs in sorted({1, 2, default_jobs()}):
        runs = []
        for _ in range(2):  # best of two: other work on the machine only ever adds time
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["XDG_CACHE_HOME"] = tmp
                start = time.perf_counter()
                fill_cfg_cache(targets, jobs=jobs)
                runs.append(time.perf_counter() - start)
        cold[jobs] = min(runs)
        print(f"cold fill, all {len(targets)} cfg sets, jobs={jobs:<2}: {cold[jobs]:6.2f} s (best of 2)")
    print(f"  load average while measuring: {os.getloadavg()[0]:.2f} (each rustc call is ~25 ms of CPU)")
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
    print(f"  parallel speed-up jobs={default_jobs()} vs jobs=1: {cold[1] / cold[default_jobs()]:.1f}x")

    # 2. Warm all-targets survey vs the serial rustc loop (= the jobs=1 cold fill, measured above).
    all_cfg_sets()  # make sure the real cache is filled

    def from_disk() -> None:
        """As a new process sees it: read and parse the cache file, parse every cfg set."""
        rustc_mod._loaded.clear()
        cfgset_mod._parsed.clear()
        all_cfg_sets()

    disk_all = median(from_disk, 5)
    print(
        f"all_cfg_sets() from the disk cache: {disk_all * 1000:.1f} ms vs {cold[1]:.2f} s for "
        f"{len(targets)} serial `rustc --print cfg` calls: ratio {cold[1] / disk_all:,.0f}x"
    )
    warm_all = median(all_cfg_sets, 5)
    print(f"all_cfg_sets() again in the same process (parsed sets memoised): {warm_all * 1000:.2f} ms")

    # 3. One lookup, warm, in-process.
    cfg_set(TARGET)
    load_spec(TARGET)
    ours_cfg = median(lambda: cfg_set(TARGET), 200)
    direct_cfg = median(lambda: run_quiet(["rustc", "--print", "cfg", "--target", TARGET]), 15)
    print(
        f"cfg_set({TARGET}) warm: {ours_cfg * 1e6:.1f} us vs `rustc --print cfg` {direct_cfg * 1000:.1f} ms: "
        f"ratio {direct_cfg / ours_cfg:,.0f}x"
    )
    ours_spec = median(lambda: load_spec(TARGET), 50)
    boot = {**os.environ, "RUSTC_BOOTSTRAP": "1"}
    spec_cmd = ["rustc", "-Z", "unstable-options", "--print", "target-spec-json", "--target", TARGET]
    direct_spec = median(lambda: run_quiet(spec_cmd, boot), 15)
    print(
        f"load_spec({TARGET}) warm (defaults filled): {ours_spec * 1e6:.1f} us vs `--print target-spec-json` "
        f"{direct_spec * 1000:.1f} ms: ratio {direct_spec / ours_spec:,.0f}x"
    )

    # 4. End to end, one new process each.
    cli = [str(Path(sys.executable).with_name("illumos-rust")), "target", "cfg", TARGET]
    try:
        ours_cli = median(lambda: run_quiet(cli), 7)
    except subprocess.CalledProcessError as exc:  # e.g. another subcommand module is mid-edit
        print(f"end-to-end CLI timing skipped: {' '.join(cli)} failed: {exc.stderr.decode()[-300:]}")
        return 0
    print(
        f"new process `illumos-rust target cfg {TARGET}`: {ours_cli * 1000:.0f} ms vs `rustc --print cfg` "
        f"{direct_cfg * 1000:.0f} ms: ratio {direct_cfg / ours_cli:.2f}x (Python start-up + one `rustc -vV`)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
