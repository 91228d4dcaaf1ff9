"""Benchmark ``illumos-rust ctf convert`` on a Rust debug build of over 1 M DIEs, against a native DWARF walk.

Input (built once into ``.cache``, ~1-2 min on this machine): a binary crate linking syn 1 (full,
extra-traits, visit, visit-mut, fold), regex, serde_json, gimli (read+write), clap 3 (derive), toml, object
and chrono from the Debian registry ``/usr/share/cargo/registry`` with ``cargo build --offline``, profile dev,
``debug = 2``: ~42 MB, 320 compile units, 1,085,282 DIEs (``readelf --debug-dump=info`` agrees when its
null entries are left out; ``--check-count`` redoes that count). ``--ctfdemo`` adds ``ctfdemo-debug`` from
``shared/fixtures/illumos-rust`` (illumos std from source, ~495k DIEs) as a second input.

Anchor (same run): ``llvm-dwarfdump --debug-info`` of the same file into /dev/null — a native walk of every
DIE, which is less than a converter does but the nearest native tool on Linux (illumos ``ctfconvert`` does
not exist here). Bars from issue 13: ≤ 20 s and ≤ 1 GiB peak RSS for ≥ 1 M DIEs. Wall time on the 2 shared
vCPUs is mostly the neighbours' load, so CPU time is printed beside it (and ``uptime``'s load).

Run: ``.venv/bin/python benchmarks/bench_ctf.py [--repeat N] [--ctfdemo] [--check-count]``.
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _harness import Timing, python, run, table  # noqa: E402

SHARED = Path(os.environ.get("ILLUMOS_RUST_SHARED", REPO.parent / "shared"))
CACHE = REPO / ".cache" / "bench-ctf"


def ctfdemo() -> Path:
    out = CACHE / "ctfdemo-debug"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with (
            lzma.open(SHARED / "fixtures/illumos-rust/bin/illumos/ctfdemo-debug.xz") as src,
            open(out, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    return out


CARGO_CONFIG = """[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
"""
CARGO_TOML = """[package]
name = "bigdebug"
version = "0.1.0"
edition = "2021"
[dependencies]
syn = { version = "1", features = ["full", "extra-traits", "visit", "visit-mut", "fold"] }
regex = "1"
serde_json = "1"
gimli = { version = "0.27", features = ["read", "write", "std"] }
clap = { version = "3", features = ["derive"] }
toml = "0.5"
object = "0.30"
chrono = "0.4"
[profile.dev]
debug = 2
opt-level = 0
"""
MAIN_RS = r"""use clap::Parser;
#[derive(Parser, Debug)]
struct Args {
    #[clap(default_value = "fn f(x: u32) -> u32 { x + 1 }")]
    src: String,
}
fn main() {
    let src = Args::parse().src;
    let file: syn::File = syn::parse_str(&src).expect("parse");
    let re = regex::Regex::new(r"[a-z]+\d*").unwrap();
    let v: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2, 3]}"#).unwrap();
    let t: toml::Value = toml::from_str("a = 1").unwrap();
    let mut dw = gimli::write::DwarfUnit::new(gimli::Encoding {
        format: gimli::Format::Dwarf32, version: 5, address_size: 8 });
    let root = dw.unit.root();
    let _ = dw.unit.add(root, gimli::DW_TAG_base_type);
    let mut sections = gimli::write::Sections::new(gimli::write::EndianVec::new(gimli::LittleEndian));
    dw.write(&mut sections).unwrap();
    let info = sections.debug_info.slice().to_vec();
    let r = gimli::DebugInfo::new(&info, gimli::LittleEndian);
    let obj = object::File::parse(&*info).is_ok();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3);
    println!("{} {:?}", obj, day);
    println!("{:?} {} {} {} {}", file.items.len(), re.is_match(&src), v, t,
        r.units().next().ok().flatten().is_some());
}
"""


def bigcrate() -> Path:
    """The >= 1 M-DIE debug build: real crates from the Debian registry linked into one binary."""
    root = CACHE / "bigcrate"
    out = root / "target" / "debug" / "bigdebug"
    if not out.exists():
        (root / "src").mkdir(parents=True, exist_ok=True)
        (root / ".cargo").mkdir(exist_ok=True)
        (root / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
        (root / "Cargo.toml").write_text(CARGO_TOML)
        (root / "src" / "main.rs").write_text(MAIN_RS)
        subprocess.run(["cargo", "build", "--offline", "-j", "2"], cwd=root, check=True)
    return out


def readelf_count(path: Path) -> int:
    """DIEs as readelf lists them, its null entries (``Abbrev Number: 0``) left out: the independent count."""
    proc = subprocess.run(["readelf", "--debug-dump=info", str(path)], capture_output=True, text=True)
    return sum(
        1 for line in proc.stdout.splitlines() if line.startswith(" <") and "Abbrev Number: 0" not in line
    )


def die_count(path: Path) -> int:
    from illumos_rust.dwarf.info import DwarfInfo

    with DwarfInfo.open(path) as d:
        return sum(u.die_count for u in d.units)


CONVERT = "import sys; from illumos_rust.ctfconvert.convert import convert; convert(sys.argv[1], sys.argv[2])"


def bench(path: Path, repeat: int) -> tuple[Timing, Timing]:
    with tempfile.TemporaryDirectory() as tmp:
        ours = run(f"ctf convert {path.name}", python(CONVERT, str(path), os.path.join(tmp, "out")), repeat)
    anchor = run(
        f"llvm-dwarfdump --debug-info {path.name}", ["llvm-dwarfdump", "--debug-info", str(path)], repeat
    )
    return ours, anchor


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ctfdemo", action="store_true", help="also convert ctfdemo-debug (~495k DIEs)")
    ap.add_argument("--check-count", action="store_true", help="cross-check the DIE count with readelf")
    args = ap.parse_args()
    if not shutil.which("llvm-dwarfdump"):
        raise SystemExit("llvm-dwarfdump not installed (the native anchor)")
    inputs = [bigcrate()] + ([ctfdemo()] if args.ctfdemo else [])
    for path in inputs:
        dies = die_count(path)
        if args.check_count:
            print(f"{path.name}: readelf counts {readelf_count(path):,} DIEs, ours {dies:,}")
        print(f"load: {os.getloadavg()[0]:.1f} (1 min)")
        ours, anchor = bench(path, args.repeat)
        print(f"\n{path.name}: {path.stat().st_size / 1e6:.1f} MB, {dies:,} DIEs")
        print(table([ours, anchor], anchor))
        rss_ok = ours.rss_mib <= 1024
        if dies >= 1_000_000:  # measured at the bar's size: no scaling
            print(
                f"ours: {dies / ours.wall:,.0f} DIEs/s wall, {dies / ours.cpu:,.0f} DIEs/s CPU, load"
                f" {os.getloadavg()[0]:.1f} after; bar <= 20 s, <= 1024 MiB at {dies:,} DIEs:"
                f" wall {'met' if ours.wall <= 20 and rss_ok else 'NOT met'},"
                f" CPU {'met' if ours.cpu <= 20 and rss_ok else 'NOT met'}"
            )
        else:
            per_million = 1_000_000 / dies
            print(
                f"ours: {dies / ours.wall:,.0f} DIEs/s wall, {dies / ours.cpu:,.0f} DIEs/s CPU;"
                f" scaled linearly to 1 M DIEs: {ours.wall * per_million:.1f} s wall,"
                f" {ours.cpu * per_million:.1f} s CPU (below the bar's size: indicative only)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
