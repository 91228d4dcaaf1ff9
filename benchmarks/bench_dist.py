"""dist and build-std against the native commands they replace, in the same run.

1. ``dist build --formats gz`` of a full host toolchain (rustc + cargo + rust-std of the rustup stable
   toolchain, ~580 MB) against ``tar czf`` of exactly the same files (GNU tar piping to gzip -6, the same
   compression level). Bar: ≤ 2x.
2. ``toolchain build-std`` (``--no-audit`` and with the per-crate audit) against the bare
   ``cargo -Zbuild-std`` invocation it wraps (same command, same environment, a fresh target dir each).
   Bar: ≤ 1.2x.

Usage: ``python bench_dist.py [dist|build-std|all] [CRATES]`` (default all; build-std takes minutes per run;
CRATES, e.g. ``core,alloc``, narrows ``-Zbuild-std`` for a quicker measurement of the wrapper's overhead).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import Timing, run, table
from illumos_rust.dist.sources import from_rustup
from illumos_rust.toolchain.build_std import STD_CRATES, BuildStdOptions, plan, write_probe

CLI = [sys.executable, "-m", "illumos_rust.cli.main"]
STABLE = Path(os.path.expanduser("~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu"))
DEBIAN_RUSTC = "/usr/bin/rustc"
TARGET = "x86_64-unknown-illumos"
BUILD_STD_BAR = 1.2
ROUNDS = int(os.environ.get("BENCH_BUILD_STD_ROUNDS", "2"))  # ABBA pairs


def bench_dist(tmp: Path) -> None:
    if not STABLE.is_dir():
        raise SystemExit(f"{STABLE}: no rustup stable toolchain")
    version, comps = from_rustup(STABLE)
    files = sorted(rel for c in comps for _, rel, _ in c.files)
    size = sum((STABLE / rel).stat().st_size for rel in files)
    listing = tmp / "files.txt"
    listing.write_text("\n".join(files) + "\n")
    anchor = run("tar czf (GNU tar | gzip -6) of the same files", ["tar", "-C", str(STABLE), "-czf",
                 str(tmp / "anchor.tar.gz"), "-T", str(listing)], repeat=1)  # fmt: skip
    argv = [*CLI, "dist", "build", str(tmp / "tree"), "--from-rustup", str(STABLE), "--formats", "gz"]
    ours = run("illumos-rust dist build --from-rustup --formats gz", argv, repeat=1)
    print(f"\n## dist build: rustc {version.long}, {len(files)} files, {size / 2**20:.0f} MiB\n")
    print(table([ours, anchor], anchor))
    gz = sum(p.stat().st_size for p in (tmp / "tree").rglob("*.tar.gz"))
    tgz = (tmp / "anchor.tar.gz").stat().st_size
    print(f"\nour 3 archives: {gz / 2**20:.1f} MiB; tar czf: {tgz / 2**20:.1f} MiB")


def bench_build_std(tmp: Path, crates: str) -> None:
    opts = BuildStdOptions(
        target=TARGET, out=tmp / "std-out", rustc=DEBIAN_RUSTC, frame_pointers=True, crates=crates
    )
    cmd, env, lib, _, _, _ = plan(opts)
    project, home = tmp / "bare-probe", tmp / "bare-home"
    write_probe(project, lib, "unwind", home)
    env = {**env, "CARGO_HOME": str(home)}

    def bare() -> Timing:
        target_dir = tmp / "bare-target"
        shutil.rmtree(target_dir, ignore_errors=True)
        # env -i: exactly the environment build-std gives cargo, nothing inherited.
        argv = ["env", "-i", "-C", str(project), *(f"{k}={v}" for k, v in env.items()), *cmd]
        return run(
            "bare cargo -Zbuild-std (same command)", [*argv, "--target-dir", str(target_dir)], repeat=1
        )

    common = [
        "toolchain",
        "build-std",
        "--target",
        TARGET,
        "--rustc",
        DEBIAN_RUSTC,
        "--frame-pointers",
        "--crates",
        crates,
    ]
    before = _uptime()
    # ABBA (ours, bare, bare, ours): a load that drifts during the run (2 cores shared with other builds)
    # weighs on both sides alike, and the page cache warmed by the first build favours neither.
    ours_runs: list[Timing] = []
    bare_runs: list[Timing] = []
    for i, side in enumerate(("ours", "bare", "bare", "ours")[: 2 * ROUNDS]):
        if side == "bare":
            bare_runs.append(bare())
        else:
            out = tmp / f"o{i}"
            argv = [*CLI, *common, "--out", str(out), "--no-audit"]
            ours_runs.append(run("illumos-rust toolchain build-std --no-audit", argv, repeat=1))
            shutil.rmtree(out, ignore_errors=True)
        last = (ours_runs if side == "ours" else bare_runs)[-1]
        print(f"  run {i + 1}: {side} {last.wall:.1f} s wall, {last.cpu:.1f} s CPU", flush=True)
    audited = run(
        "illumos-rust toolchain build-std (+ per-crate audit)",
        [*CLI, *common, "--out", str(tmp / "o-audit")],
        repeat=1,
    )
    ours, anchor = _median(ours_runs), _median(bare_runs)
    print(f"\n## build-std {TARGET} ({crates}), median of {len(ours_runs)} ABBA rounds\n")
    print(f"uptime before: {before}\nuptime after:  {_uptime()}\n")
    print(table([ours, audited, anchor], anchor))
    print(f"\nCPU ratio (--no-audit / bare): {ours.cpu / anchor.cpu:.2f}x")
    ratio = ours.wall / anchor.wall
    if ratio > BUILD_STD_BAR:
        raise SystemExit(f"build-std --no-audit: {ratio:.2f}x the bare -Zbuild-std (bar {BUILD_STD_BAR}x)")


def _median(runs: list[Timing]) -> Timing:
    return Timing(
        runs[0].label,
        statistics.median(r.wall for r in runs),
        max(r.rss_mib for r in runs),
        statistics.median(r.cpu for r in runs),
    )


def _uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as t:
        tmp = Path(t)
        if which in ("dist", "all"):
            bench_dist(tmp)
        if which in ("build-std", "all"):
            if not Path(DEBIAN_RUSTC).is_file():
                raise SystemExit("build-std benchmark needs Debian's rustc-web + rust-web-src")
            bench_build_std(tmp, sys.argv[2] if len(sys.argv) > 2 else STD_CRATES)
        subprocess.run(["sync"], check=False)


if __name__ == "__main__":
    main()
