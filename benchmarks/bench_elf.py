"""ELF core on the standard big binary (librustc_driver, 153 MB, 165k symbols): ours vs ``readelf``.

Bars (issue 2): all symbols with names in <= 0.5x the wall time of ``readelf -Ws`` in the same run, peak RSS
<= 100 MiB; every FDE of ``.eh_frame`` decoded with its CFA rows in <= 2 s.
"""

from __future__ import annotations

import sys

from _harness import python, run, rustc_driver, table

SYMBOLS = """
import sys, time
t = time.perf_counter()
from illumos_rust.elf import ElfFile
with ElfFile(sys.argv[1]) as e:
    n = sum(len(x) for x in e.symtab.names) + sum(len(x) for x in e.dynsym.names)
    count = len(e.symtab) + len(e.dynsym)
print(count, n, time.perf_counter() - t)
"""
FRAMES = """
import sys, time
from illumos_rust.bulk import paused_gc
from illumos_rust.elf import ElfFile
from illumos_rust.elf.eh_frame import eh_frame
t = time.perf_counter()
with ElfFile(sys.argv[1]) as e, paused_gc():
    fdes = eh_frame(e).fdes
    rows = sum(len(f.rows()) for f in fdes)  # every FDE decoded with its CFA rows, one FDE at a time
    print(len(fdes), rows, time.perf_counter() - t)
"""


def main() -> int:
    lib = rustc_driver()
    print(f"input: {lib}")
    anchor = run("readelf -Ws (binutils, native anchor)", ["readelf", "-Ws", lib])
    ours = run("illumos-rust ElfFile: every symbol + name (whole process)", python(SYMBOLS, lib))
    frames_anchor = run(
        "readelf --debug-dump=frames-interp (native)",
        ["readelf", "-W", "--debug-dump=frames-interp", lib],
        repeat=1,
    )
    frames = run("illumos-rust .eh_frame: every FDE + CFA rows (whole process)", python(FRAMES, lib))
    print(table([anchor, ours, frames_anchor, frames], anchor))
    sym_ratio = ours.wall / anchor.wall
    ok = sym_ratio <= 0.5 and ours.rss_mib <= 100 and frames.wall <= 2.0
    print(
        f"symbols: {sym_ratio:.2f}x readelf (bar 0.5x), {ours.rss_mib:.0f} MiB (bar 100); "
        f"FDEs with rows: {frames.wall:.2f} s (bar 2 s) -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
