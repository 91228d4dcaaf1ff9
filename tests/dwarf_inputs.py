"""Real DWARF inputs for the dwarf/ tests: the shared fixtures plus objects built here with gcc, clang, rustc.

Each builder caches by content under .cache/ like ``build_rust`` does, so reruns cost nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from conftest import BUILD_CACHE, build_rust, require_tool, shared_path

C_SOURCE = r"""
struct point { int x, y; unsigned flags : 3; unsigned mode : 5; long long big : 40; };
enum color { RED, GREEN = 5, BLUE = -2 };
typedef struct point point_t;
union u { long l; char c[8]; };
static const char *names[3][4];
struct list { struct list *next; const volatile int *p; void (*cb)(int, ...); };
int sum(point_t *p, enum color c, union u *v, struct list *l, ...) {
    return p->x + p->y + c + (int)v->l + (names[0][0] != 0) + (l != 0);
}
int g_counter = 3;
"""

RUST_SOURCE = r"""
#[derive(Debug)]
pub enum Shape { Circle { r: f64 }, Rect(u32, u64), Empty }
#[repr(C)]
pub struct Pair { pub a: u8, pub b: u64, pub c: [[u16; 3]; 2] }
pub static GPAIR: Pair = Pair { a: 1, b: 2, c: [[0; 3]; 2] };
#[inline(always)]
fn area(s: &Shape) -> f64 {
    match s {
        Shape::Circle { r } => r * r * 3.0,
        Shape::Rect(a, b) => (*a as f64) * (*b as f64),
        Shape::Empty => 0.0,
    }
}
#[inline(never)]
pub fn total(v: &[Shape], k: Option<&str>) -> f64 {
    let mut t = 0.0;
    for s in v { t += area(s); }
    t + k.map(|s| s.len() as f64).unwrap_or(0.0)
}
fn main() {
    let v = vec![Shape::Circle { r: 1.5 }, Shape::Rect(2, 3), Shape::Empty];
    println!("{} {:?} {}", total(&v, Some("x")), v, GPAIR.b);
}
"""


def build_c(name: str, compiler: str, *flags: str, source: str = C_SOURCE) -> Path:
    """Compile ``source`` to an object with ``compiler`` (gcc or clang) and ``flags``, cached by content."""
    require_tool(compiler)
    key = hashlib.sha256("\0".join([source, compiler, *flags]).encode()).hexdigest()[:16]
    out_dir = BUILD_CACHE / f"c-{name}-{key}"
    out = out_dir / f"{name}.o"
    if out.exists():
        return out
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "t.c").write_text(source)
    subprocess.run([compiler, "-c", *flags, "t.c", "-o", out.name], cwd=tmp, check=True, capture_output=True)
    try:
        tmp.rename(out_dir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def rust_dwarf5(optimized: bool = False) -> Path:
    """The Rust test program with DWARF 5 (nightly ``-Z dwarf-version=5``); only this crate's DWARF."""
    flags = ["-g", "-C", "prefer-dynamic", "-Z", "dwarf-version=5"] + (["-O"] if optimized else [])
    if shutil.which("rustup") is None:
        import pytest

        pytest.skip("rustup not installed: the DWARF 5 Rust build needs the nightly toolchain")
    return build_rust(RUST_SOURCE, "dwarf5" + ("o" if optimized else ""), *flags, toolchain="nightly")


def rust_dwarf4(optimized: bool = False) -> Path:
    flags = ["-g", "-C", "prefer-dynamic"] + (["-O"] if optimized else [])
    return build_rust(RUST_SOURCE, "dwarf4" + ("o" if optimized else ""), *flags)


def fixture(name: str) -> Path:
    return shared_path("fixtures", "ctf", name)
