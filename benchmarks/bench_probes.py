"""``probes list`` on the standard big binary and on programs with 10,000 probe sites, against readelf.

Bars (issue 15): ``probes list`` on librustc_driver <= 0.5 s; on a binary with 10,000 probes <= 1 s. The
10,000-site programs (100 probes x 100 call sites, SystemTap notes and, forced with
``--cfg illumos_rust_probes_standard``, usdt records with PIE relocations) are generated with ``probes gen``
and built once with rustc into ``.cache/bench-probes`` (about two minutes each on the shared machine).
Wall time is the bar; CPU time is printed too, since neighbours on 2 shared cores inflate wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _harness import run, rustc_driver, table

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench-probes"
CLI = str(Path(sys.executable).parent / "illumos-rust")
N = 100  # probes, and call sites per probe


def build_big() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    d = CACHE / "big.d"
    d.write_text(
        "provider big {\n" + "".join(f"    probe p{i}(int a, char *s);\n" for i in range(N)) + "};\n"
    )
    subprocess.run([CLI, "probes", "gen", str(d), "-o", str(CACHE / "probes.rs")], check=True)
    lines = ["mod probes;"]
    for f in range(N):
        lines.append(f"#[inline(never)] pub fn f{f}(x: i32) {{")
        lines += [f'    probes::big::p{i}!(|| (x, "s"));' for i in range(N)]
        lines.append("}")
    calls = " ".join(f"f{f}(x);" for f in range(N))
    lines.append(f"fn main() {{ let x = std::env::args().count() as i32; {calls} }}")
    src = CACHE / "main.rs"
    if not src.exists() or src.read_text() != "\n".join(lines) + "\n":
        src.write_text("\n".join(lines) + "\n")
        for old in CACHE.glob("big_*"):
            old.unlink()
    out = {}
    for name, extra in (("stap", []), ("std", ["--cfg", "illumos_rust_probes_standard"])):
        exe = CACHE / f"big_{name}"
        if not exe.exists():
            print(f"building {exe} (once) ...", flush=True)
            cmd = ["rustc", "--edition", "2021", "-C", "opt-level=1", *extra, str(src), "-o", str(exe)]
            subprocess.run(cmd, check=True, cwd=CACHE)
        out[name] = exe
    return out


def main() -> int:
    lib = rustc_driver()
    print(f"input: {lib}")
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{env_path}"
    anchor = run("readelf -n (binutils, native anchor)", ["readelf", "-n", lib], repeat=5)
    ours = run("illumos-rust probes list (librustc_driver)", [CLI, "probes", "list", lib], repeat=5)
    print(table([anchor, ours], anchor))
    big = build_big()
    stap_anchor = run("readelf -n (10,000 stapsdt notes)", ["readelf", "-n", str(big["stap"])], repeat=5)
    stap = run(
        "illumos-rust probes list (10,000 stapsdt notes)", [CLI, "probes", "list", str(big["stap"])], 5
    )
    std_anchor = run("readelf -rW (20,000 record relocations)", ["readelf", "-rW", str(big["std"])], repeat=5)
    std = run(
        "illumos-rust probes list (20,000 usdt records, PIE)", [CLI, "probes", "list", str(big["std"])], 5
    )
    json = run(
        "illumos-rust probes list --format json (usdt records)",
        [CLI, "probes", "list", "--format", "json", str(big["std"])],
        5,
    )
    dof = run(
        "illumos-rust probes dof encode (usdt records -> DOF)",
        [CLI, "probes", "dof", "encode", str(big["std"]), "-o", str(CACHE / "big.dof")],
        5,
    )
    print(table([stap_anchor, stap], stap_anchor))
    print(table([std_anchor, std, json, dof], std_anchor))
    ok = ours.wall <= 0.5 and stap.wall <= 1.0 and std.wall <= 1.0
    print(
        f"librustc_driver: {ours.wall:.3f} s (bar 0.5 s, CPU {ours.cpu:.3f} s); "
        f"10,000 notes {stap.wall:.3f} s, "
        f"10,000 usdt probes {std.wall:.3f} s (bar 1 s) -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
