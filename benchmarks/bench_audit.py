"""Full ``illumos-rust audit`` of librustc_driver (153 MB, ~106k functions) vs ``objdump -d`` in one run.

Bars (issue 4): our whole audit (every check, JSON output, the CLI process as a user runs it) in
<= 0.15x the wall time of ``objdump -d`` on the same file, with peak RSS <= 300 MiB. objdump is the anchor
because it is what a person reaches for to answer "does this binary keep frame pointers / make syscalls".
"""

from __future__ import annotations

import sys

from _harness import run, rustc_driver, table


def main() -> int:
    lib = rustc_driver()
    print(f"input: {lib}")
    try:
        import iced_x86  # noqa: F401

        decoder = "iced-x86"
    except ImportError:
        decoder = "none (CFI-only frame pointers, unverified syscall candidates)"
    print(f"decoder: {decoder}")
    anchor = run("objdump -d (binutils, native anchor)", ["objdump", "-d", lib], repeat=1)
    ours = run(
        "illumos-rust audit --format json (whole process)",
        [
            sys.executable,
            "-m",
            "illumos_rust.cli.main",
            "audit",
            "--format",
            "json",
            "--fail-on",
            "never",
            lib,
        ],
        repeat=3,
    )
    print(table([anchor, ours], anchor))
    ratio = ours.wall / anchor.wall
    ok = ratio <= 0.15 and ours.rss_mib <= 300
    print(
        f"audit: {ours.wall:.2f} s = {ratio:.3f}x objdump -d ({anchor.wall:.1f} s; bar 0.15x), "
        f"peak RSS {ours.rss_mib:.0f} MiB (bar 300) -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
