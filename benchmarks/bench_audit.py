"""``illumos-rust audit`` on the two big libraries of issue 11, against ``objdump -d``, in one run.

Bars (issue 11): the whole audit of librustc_driver (every check, JSON output with every finding, the CLI
process as a user runs it) in <= 0.15x the wall time of ``objdump -d`` on the same file; auditing libLLVM
(Debian's ``llvm`` package, ~100 MB of C++ text without frame pointers: 70,000 findings) in <= 300 MiB
peak RSS. objdump is the anchor because it is what a person reaches for to answer "does this binary keep
frame pointers / make syscalls". CPU seconds are printed too: on a shared 2-core machine they show the
cost whatever the neighbours do.
"""

from __future__ import annotations

import glob
import sys

from _harness import run, rustc_driver, table


def _audit(path: str, fmt: str) -> list[str]:
    cli = [sys.executable, "-m", "illumos_rust.cli.main", "audit"]
    return [*cli, "--format", fmt, "--fail-on", "never", path]


def main() -> int:
    lib = rustc_driver()
    llvm = sorted(glob.glob("/usr/lib/llvm-*/lib/libLLVM*.so"))
    print(f"input: {lib}")
    try:
        import iced_x86  # noqa: F401

        decoder = "iced-x86"
    except ImportError:
        decoder = "none (CFI-only frame pointers, unverified syscall candidates)"
    print(f"decoder: {decoder}")
    anchor = run("objdump -d librustc_driver (binutils, native anchor)", ["objdump", "-d", lib], repeat=1)
    ours = run("illumos-rust audit --format json librustc_driver", _audit(lib, "json"), repeat=3)
    text = run("illumos-rust audit (text) librustc_driver", _audit(lib, "text"), repeat=1)
    rows = [anchor, ours, text]
    big = None
    if llvm:
        print(f"input: {llvm[-1]}")
        big = run("illumos-rust audit --format json libLLVM", _audit(llvm[-1], "json"), repeat=1)
        rows += [big, run("illumos-rust audit (text) libLLVM", _audit(llvm[-1], "text"), repeat=1)]
    print(table(rows, anchor))
    ratio = ours.wall / anchor.wall
    ok = ratio <= 0.15 and ours.rss_mib <= 300
    print(
        f"audit librustc_driver: {ours.wall:.2f} s = {ratio:.3f}x objdump -d "
        f"({anchor.wall:.1f} s; bar 0.15x), "
        f"CPU {ours.cpu:.2f} s = {ours.cpu / anchor.cpu:.3f}x objdump's {anchor.cpu:.1f} s, "
        f"peak RSS {ours.rss_mib:.0f} MiB (bar 300) -> {'PASS' if ok else 'FAIL'}"
    )
    if big is None:
        print("libLLVM: not installed (Debian llvm package); its bar is not measured")
    else:
        peak = max(big.rss_mib, rows[-1].rss_mib)
        big_ok = peak <= 300
        verdict = "PASS" if big_ok else "FAIL"
        print(f"audit libLLVM: peak RSS {peak:.0f} MiB (bar 300), {big.wall:.2f} s -> {verdict}")
        ok = ok and big_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
