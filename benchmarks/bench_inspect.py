"""``inspect --symbols`` on librustc_driver (153 MB, 186k symbols in .symtab + .dynsym) vs ``readelf``.

Bars (issue 11): with ``--no-demangle`` at most 1.0x the wall time of ``readelf -Ws``, demangled at most 1.0x
``readelf -Ws -C``, both measured in this run, with peak RSS. The demangled listing uses the native
demangler of ``illumos-rust[fast]`` (pyderust) when it is installed; the pure-Python-only listing is measured
too (same command with the native demangler switched off in process) and reported, not barred, as is the
streamed JSON listing's peak RSS (583 MB when the document was built in memory).

Bytecode: a pip install byte-compiles the package, but this machine's environment sets
``PYTHONDONTWRITEBYTECODE``, which would make every timed run recompile ~80 modules from source (~0.1 s).
The children therefore run with bytecode cached under a temporary ``PYTHONPYCACHEPREFIX`` (warmed by one
untimed run), as an installed ``illumos-rust`` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from _harness import python, run, rustc_driver, table

CLI = "import sys; from illumos_rust.cli.main import main; sys.argv = ['illumos-rust', *sys.argv[1:]]; main()"
PURE = (
    "import sys; import illumos_rust.demangle.fast as f; f._pyderust = None; "
    "from illumos_rust.cli.main import main; sys.argv = ['illumos-rust', *sys.argv[1:]]; main()"
)
REPEAT = 5


def main() -> int:
    lib = rustc_driver()
    print(f"input: {lib}")
    try:
        import pyderust  # noqa: F401

        native = True
    except ImportError:
        native = False
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-inspect-pyc-")
    subprocess.run(python(CLI, "inspect", "--symbols", lib), stdout=subprocess.DEVNULL, check=True)
    raw_anchor = run("readelf -Ws (binutils, native anchor)", ["readelf", "-Ws", lib], REPEAT)
    raw = run(
        "illumos-rust inspect --symbols --no-demangle",
        python(CLI, "inspect", "--symbols", "--no-demangle", lib),
        REPEAT,
    )
    dem_anchor = run("readelf -Ws -C (binutils, native anchor)", ["readelf", "-Ws", "-C", lib], REPEAT)
    dem = run(
        f"illumos-rust inspect --symbols ({'pyderust' if native else 'pure Python'})",
        python(CLI, "inspect", "--symbols", lib),
        REPEAT,
    )
    pure = run(
        "illumos-rust inspect --symbols (pure Python, no [fast])",
        python(PURE, "inspect", "--symbols", lib),
        REPEAT,
    )
    as_json = run(
        "illumos-rust inspect --symbols --format json (streamed)",
        python(CLI, "inspect", "--symbols", "--format", "json", lib),
        3,
    )
    print(table([raw_anchor, raw, dem_anchor, dem, pure, as_json], raw_anchor))
    r1, r2 = raw.wall / raw_anchor.wall, dem.wall / dem_anchor.wall
    ok = r1 <= 1.0 and r2 <= 1.0
    c1, c2 = raw.cpu / raw_anchor.cpu, dem.cpu / dem_anchor.cpu
    print(f"CPU ratios (what the neighbours on a shared machine disturb least): {c1:.2f}x and {c2:.2f}x")
    print(
        f"--no-demangle: {r1:.2f}x readelf -Ws (bar 1.0x), {raw.rss_mib:.0f} MiB; "
        f"demangled: {r2:.2f}x readelf -Ws -C (bar 1.0x, native demangler {'on' if native else 'absent'}), "
        f"{dem.rss_mib:.0f} MiB; pure Python {pure.wall / dem_anchor.wall:.2f}x -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
