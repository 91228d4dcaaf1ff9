"""``ctf convert`` against the DWARF it came from (pyelftools as the independent reader).

For every input: each DWARF struct/union has a CTF type of the same (qualified) name, byte size and member
bit offsets; each Rust data-carrying enum has its tag member where DWARF puts it and the discriminant values
of ``DW_AT_discr_value``; C-like enums keep their values; every function symbol with a DWARF subprogram has a
function entry whose argument sizes are the DWARF parameter sizes; the converted executables still run and
``readelf -S`` lists ``.SUNW_ctf`` linked to the symbol table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import BUILD_CACHE, build_rust, require_tool, shared_path
from ctf_dwarf_oracle import Facts, read_facts, unpack_xz
from illumos_rust.cli.main import main
from illumos_rust.ctf.constants import CTF_K_ENUM, CTF_K_STRUCT, CTF_K_UNION
from illumos_rust.ctf.load import CtfFile, load_ctf
from illumos_rust.ctf.names import resolve, type_name, type_size
from illumos_rust.ctf.reader import read_container
from illumos_rust.ctfconvert.convert import ConvertReport, convert

RUST_WITH_C = r"""
#[repr(C)] pub struct CPoint { pub x: i32, pub y: i32 }
extern "C" { fn c_sum(p: *const CPoint, n: i32) -> i64; }
pub enum Op { Add(i64), Neg, Load { addr: usize, width: u8 } }
#[no_mangle] pub static mut LAST: Option<Op> = None;
#[no_mangle] pub static mut LETTER: char = 'x';
#[inline(never)] #[no_mangle] pub extern "C" fn run(op: &Op, acc: i64) -> i64 {
    match op {
        Op::Add(v) => acc + v,
        Op::Neg => -acc,
        Op::Load { addr, width } => acc + *addr as i64 + *width as i64,
    }
}
fn main() {
    let p = CPoint { x: 2, y: 3 };
    let ops = [Op::Add(4), Op::Neg, Op::Load { addr: 1, width: 2 }];
    let mut acc = unsafe { c_sum(&p, 7) };
    for op in &ops { acc = run(op, acc); }
    unsafe { LAST = Some(Op::Neg); LETTER = 'y'; }
    let letter = unsafe { LETTER };
    println!("{acc} {letter}");
}
"""

C_PART = r"""
#include <stdint.h>
struct cpoint { int x; int y; };
struct flags { unsigned a : 3; unsigned b : 5; int c; long long wide : 40; };
enum mode { M_OFF, M_ON = 5, M_NEG = -2 };
union either { long l; double d; char c[12]; };
typedef struct cpoint cpoint_t;
struct flags g_flags;
enum mode g_mode;
union either g_either;
int grid[3][4];
const char *c_name = "c";
int64_t c_sum(const cpoint_t *p, int n) { return (int64_t)p->x + p->y + n + g_flags.b + g_mode + grid[1][2]; }
"""


def _ctf_index(f: CtfFile) -> dict[tuple[int, str], list[int]]:
    out: dict[tuple[int, str], list[int]] = defaultdict(list)
    for tid, t in zip(f.container.ids(), f.container.types, strict=True):
        out[(t.kind, t.name)].append(tid)
    return out


def check_against_dwarf(ctf: CtfFile, facts: Facts, report: ConvertReport) -> None:
    c = ctf.container
    index = _ctf_index(ctf)
    checked = 0
    for agg in facts.aggregates:
        if not agg.name:
            continue  # anonymous aggregates have no name to find them by; they are checked via their parent
        kind = CTF_K_UNION if agg.kind == "union" else CTF_K_STRUCT
        candidates = [c.lookup(i) for i in index.get((kind, agg.name), [])]
        assert candidates, f"{agg.kind} {agg.name} missing from CTF"
        matching = [t for t in candidates if t is not None and t.size == agg.size]
        assert matching, f"{agg.name}: no CTF {agg.kind} of {agg.size} bytes"
        if agg.discr is None and not agg.variants:
            want = agg.members
            assert any([(m.name, m.offset) for m in t.members] == want for t in matching), (agg.name, want)
        else:
            offset, values = agg.discr if agg.discr else (None, {})
            ok = False
            for t in matching:
                union = c.lookup(t.members[-1].type)
                if union is None or [m.name for m in union.members] != agg.variants:
                    continue
                if offset is None:
                    ok = True
                    break
                tag = t.members[0]
                if tag.offset != offset:
                    continue
                tag_type = c.lookup(resolve(c, tag.type))
                if tag_type is not None and tag_type.kind == CTF_K_ENUM:
                    ok = {e.name: e.value for e in tag_type.enumerators} == {
                        k: (v - (1 << 32) if v >= 1 << 31 and tag_type.size <= 4 else v)
                        for k, v in values.items()
                    }
                else:  # values beyond int32: kept as the tag's integer type, and reported
                    ok = f"{agg.name}::{{discriminant}}" in report.lowered_enums
                if ok:
                    break
            assert ok, (
                f"{agg.name}: discriminant/variants differ from DWARF ({offset}, {values}, {agg.variants})"
            )
        checked += 1
    assert checked
    for name, (size, values) in facts.enums.items():
        if name in report.lowered_enums:
            continue
        found = [c.lookup(i) for i in index.get((CTF_K_ENUM, name), [])]
        mask = (1 << 32) - 1
        assert any(
            t is not None
            and t.size == size
            and {e.name: e.value & mask for e in t.enumerators} == {k: v & mask for k, v in values.items()}
            for t in found
        ), f"enum {name}"
    functions = {name: info for _, name, info in ctf.functions}
    matched = 0
    for name, param_sizes in facts.functions.items():
        if name not in functions:
            continue  # not a symbol of this file (inlined, or only in another object)
        info = functions[name]
        if name in facts.untyped_functions:  # a unit without types: no signature, not void f(void)
            assert info is None, f"function {name} of a unit without types got a signature"
            continue
        assert info is not None, f"function {name} has a DWARF subprogram but no CTF entry"
        assert len(info.args) == len(param_sizes), name
        for arg, psize in zip(info.args, param_sizes, strict=True):
            if psize is not None:
                assert type_size(c, arg, ctf.pointer_size) == psize, (name, type_name(c, arg), psize)
        matched += 1
    assert matched
    objects = {name: tid for _, name, tid in ctf.objects}
    for name, osize in facts.objects.items():
        if name in objects and osize is not None and objects[name]:
            assert type_size(c, objects[name], ctf.pointer_size) == osize, name


def _readelf_ctf_link(path: Path) -> tuple[str, str]:
    out = subprocess.run(
        [require_tool("readelf"), "-SW", str(path)], check=True, capture_output=True, text=True
    )
    rows = {m[2]: m[1] for m in re.finditer(r"\[\s*(\d+)\]\s+(\S+)", out.stdout)}
    line = next(ln for ln in out.stdout.splitlines() if ".SUNW_ctf" in ln)
    link = line.split("]", 1)[1].split()[-3]
    return link, rows.get(".symtab", rows.get(".dynsym", "?"))


def test_rustypes_object(tmp_path: Path) -> None:
    src = shared_path("fixtures", "ctf", "rustypes.o")
    work = tmp_path / "rustypes.o"
    shutil.copy(src, work)
    work.chmod(0o644)
    report = convert(str(work))
    assert report.dropped == 0 and not report.stand_ins
    ctf = load_ctf(work)
    check_against_dwarf(ctf, read_facts(src), report)
    link, symtab = _readelf_ctf_link(work)
    assert link == symtab
    # 128-bit integers, char and bool as the mapping says (notes 3.3)
    names = {t.name: t for t in ctf.container.types}
    assert names["i128"].encoding is not None and names["i128"].encoding.bits == 128
    assert names["char"].encoding is not None and names["char"].encoding.format == 0
    assert names["bool"].encoding is not None and names["bool"].encoding.format == 0x4
    assert "rustypes::Wide" in report.lowered_enums  # Hi = 0x1_0000_0000 does not fit int32


def _sysroot_lib() -> str:
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], check=True, capture_output=True, text=True
    ).stdout
    return str(Path(sysroot.strip()) / "lib" / "rustlib" / "x86_64-unknown-linux-gnu" / "lib")


def test_rustbin_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = shared_path("fixtures", "ctf", "rustbin")
    out = tmp_path / "rustbin.ctf"
    assert main(["ctf", "convert", str(src), "-o", str(out)]) == 0
    assert "functions with signatures" in capsys.readouterr().out
    before = subprocess.run(
        [str(src)], capture_output=True, env={**os.environ, "LD_LIBRARY_PATH": _sysroot_lib()}
    )
    after = subprocess.run(
        [str(out)], capture_output=True, env={**os.environ, "LD_LIBRARY_PATH": _sysroot_lib()}
    )
    assert after.returncode == before.returncode == 0 and after.stdout == before.stdout
    assert os.stat(out).st_mode & 0o777 == os.stat(src).st_mode & 0o777
    ctf = load_ctf(out)
    report = convert(str(src), str(tmp_path / "again"))
    check_against_dwarf(ctf, read_facts(src), report)


def _build_mixed() -> tuple[Path, Path]:
    gcc = require_tool("gcc")
    obj_dir = BUILD_CACHE / "ctf-mixed-c"
    obj_dir.mkdir(parents=True, exist_ok=True)
    c_src = obj_dir / "part.c"
    c_src.write_text(C_PART)
    obj = obj_dir / "part.o"
    subprocess.run([gcc, "-g", "-O0", "-c", "-o", str(obj), str(c_src)], check=True, capture_output=True)
    exe = build_rust(RUST_WITH_C, "ctfmixed", "-g", "-C", f"link-arg={obj}", "-C", "opt-level=0")
    return exe, obj


def test_rust_with_c_object(tmp_path: Path) -> None:
    exe, _obj = _build_mixed()
    out = tmp_path / "mixed"
    report = convert(str(exe), str(out))
    assert report.c_units >= 1 and report.rust_units >= 1
    run = subprocess.run([str(out)], check=True, capture_output=True, text=True)
    assert run.stdout == subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    ctf = load_ctf(out)
    check_against_dwarf(ctf, read_facts(exe), report)
    link, symtab = _readelf_ctf_link(out)
    assert link == symtab
    names = {type_name(ctf.container, i): i for i in ctf.container.ids()}
    assert "struct flags" in names and "enum mode" in names and "cpoint_t" in names
    # C char and Rust char both present: the Rust one is renamed so name lookups of "char" find C's.
    chars = {t.name: t for t in ctf.container.types if t.name in ("char", "rust char")}
    assert chars["char"].size == 1 and chars["rust char"].size == 4
    objects = {name: tid for _, name, tid in ctf.objects}
    assert type_name(ctf.container, objects["LETTER"]) == "rust char"


def _gnu_ctf_facts(obj: Path, tmp: Path) -> dict[str, tuple[int, list[tuple[str, int]] | dict[str, int]]]:
    """struct/union/enum facts from ``gcc -gctf`` + ``objdump --ctf`` (GNU CTF, a different producer)."""
    dump = subprocess.run(
        [require_tool("objdump"), "--ctf=.ctf", str(obj)], check=True, capture_output=True, text=True
    ).stdout
    facts: dict[str, tuple[int, list[tuple[str, int]] | dict[str, int]]] = {}
    current: str | None = None
    for line in dump.split("  Types:", 1)[1].splitlines():
        if m := re.match(
            r"^\s+0x[0-9a-f]+: \(kind (6|7|8)\) ((?:struct|union|enum) \w+) \(size (0x[0-9a-f]+)\)", line
        ):
            current = m[2]
            facts[current] = (int(m[3], 16), [] if m[1] != "8" else {})
        elif current and (m := re.match(r"^\s+\[(0x[0-9a-f]+)\] (\w+):", line)):
            members = facts[current][1]
            assert isinstance(members, list)
            members.append((m[2], int(m[1], 16)))
        elif current and (m := re.match(r"^\s+(\w+): (-?\d+)$", line)):
            values = facts[current][1]
            assert isinstance(values, dict)
            values[m[1]] = int(m[2])
        elif re.match(r"^\s+0x[0-9a-f]+: ", line):
            current = None
    return facts


def test_c_types_match_gcc_gctf(tmp_path: Path) -> None:
    gcc = require_tool("gcc")
    src = tmp_path / "part.c"
    src.write_text(C_PART)
    gnu = tmp_path / "gnu.o"
    if subprocess.run([gcc, "-gctf", "-c", "-o", str(gnu), str(src)], capture_output=True).returncode:
        pytest.skip("this gcc does not support -gctf")
    ours_in = tmp_path / "ours.o"
    subprocess.run([gcc, "-g", "-c", "-o", str(ours_in), str(src)], check=True, capture_output=True)
    convert(str(ours_in))
    ctf = load_ctf(ours_in)
    c = ctf.container
    theirs = _gnu_ctf_facts(gnu, tmp_path)
    assert {"struct cpoint", "struct flags", "enum mode", "union either"} <= set(theirs)
    for name, (size, detail) in theirs.items():
        tid = next(i for i in c.ids() if type_name(c, i) == name)
        t = c.lookup(tid)
        assert t is not None and t.size == size, name
        if isinstance(detail, dict):
            assert {e.name: e.value for e in t.enumerators} == detail, name
        else:
            assert [(m.name, m.offset) for m in t.members] == detail, name


def test_ctfdemo_debug(tmp_path: Path) -> None:
    xz = shared_path("fixtures", "illumos-rust", "bin", "illumos", "ctfdemo-debug.xz")
    exe = unpack_xz(xz, BUILD_CACHE / "ctfdemo-debug")
    out = tmp_path / "ctfdemo.ctf"
    report = convert(str(exe), str(out))
    assert report.types <= 0x7FFF and report.functions_typed > 1000
    ctf = load_ctf(out)
    check_against_dwarf(ctf, read_facts(exe, only_cu="ctfdemo"), report)
    link, symtab = _readelf_ctf_link(out)
    assert link == symtab


def test_stripped_binary_links_dynsym(tmp_path: Path) -> None:
    exe, _ = _build_mixed()
    stripped = tmp_path / "stripped"
    subprocess.run(
        [require_tool("objcopy"), "--strip-unneeded", "--keep-section=.debug_*", str(exe), str(stripped)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [require_tool("readelf"), "-SW", str(stripped)], capture_output=True, text=True
    ).stdout
    if ".symtab" in out or ".debug_info" not in out:
        pytest.skip("objcopy did not produce a stripped file with DWARF")
    report = convert(str(stripped))
    assert report.symtab == ".dynsym"
    link, symtab = _readelf_ctf_link(stripped)
    assert link == symtab


def test_no_dwarf_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = shared_path("fixtures", "ctf", "objfunc.o")
    work = tmp_path / "x.o"
    shutil.copy(obj, work)
    work.chmod(0o644)
    before = work.read_bytes()
    assert main(["ctf", "convert", str(work)]) == 2
    assert "no DWARF" in capsys.readouterr().err
    assert work.read_bytes() == before


def test_budget_over_32767_types(tmp_path: Path) -> None:
    """A generated C program with 33,000 distinct structs (and functions reaching some of them): the
    container stays within the v2 limit, keeps what the functions reach, and says what it left out."""
    gcc = require_tool("gcc")
    n = 33000
    lines = [f"struct s{i} {{ int a{i}; }};" for i in range(n)]
    lines.append("struct wide { struct s1 one; struct s2 two; struct s32999 last; };")
    lines.append("int use_wide(struct wide *w, struct s5 *p) { return w->one.a1 + p->a5; }")
    lines.append("long use_last(struct s32999 v) { return v.a32999; }")
    src = tmp_path / "many.c"
    src.write_text("\n".join(lines) + "\n")
    obj = tmp_path / "many.o"
    flags = ["-g", "-fno-eliminate-unused-debug-types", "-c"]  # keep every struct in the DWARF
    subprocess.run([gcc, *flags, "-o", str(obj), str(src)], check=True, capture_output=True)
    report = convert(str(obj))
    ctf = load_ctf(obj)
    c = ctf.container
    assert len(c.types) <= 0x7FFF and report.types == len(c.types)
    assert report.unique_types > 0x7FFF
    assert report.dropped + len(report.stand_ins) > 0 and report.dropped_names
    funcs = {name: info for _, name, info in ctf.functions}
    wide_ptr = funcs["use_wide"]
    assert wide_ptr is not None
    assert (
        type_name(c, wide_ptr.args[0]) == "struct wide *" and type_name(c, wide_ptr.args[1]) == "struct s5 *"
    )
    last = funcs["use_last"]
    assert last is not None and type_size(c, last.args[0]) == 4
    wide = c.lookup(resolve(c, c.lookup(wide_ptr.args[0]).ref))  # type: ignore[union-attr]
    assert wide is not None and [m.offset for m in wide.members] == [0, 32, 64]
    assert report.functions_typed == report.functions == 2 and not report.functions_over_budget
    assert read_container(ctf.raw) == c  # a valid container: reads back


def test_read_only_file_is_refused_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "ro.o"
    shutil.copy(shared_path("fixtures", "ctf", "rustypes.o"), work)
    work.chmod(0o444)
    before = work.read_bytes()
    assert main(["ctf", "convert", str(work)]) == 2
    assert "read-only" in capsys.readouterr().err and work.read_bytes() == before
    assert main(["ctf", "convert", str(work), "-o", str(tmp_path / "out.o")]) == 0


def test_an_output_that_is_not_a_regular_file_is_never_replaced(tmp_path: Path) -> None:
    """``ctf convert X -o /dev/null`` (as root) used to rename the converted ELF over the device node, and
    every later reader of /dev/null read it. A device or FIFO given as the output is refused, untouched."""
    import stat

    src = build_rust('fn main() { println!("{}", 1 + 1); }', "ctf_out_node", "-g")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    nodes = [fifo]
    if os.geteuid() == 0:
        dev = tmp_path / "null"
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null (Linux major 1, minor 3)
        nodes.append(dev)
    for node in nodes:
        before = os.lstat(node)
        assert main(["ctf", "convert", str(src), "-o", str(node)]) == 2
        after = os.lstat(node)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n.name for n in nodes)  # no temporary left
