"""``ctf convert`` on DWARF that carries no types (issue 13 review): units built with ``gcc -g1``, rustc
``-C debuginfo=1`` or std's own prebuilt units have subprogram DIEs with neither ``DW_AT_type`` nor formal
parameters. Read literally that is ``void f(void)``; the converter must give no signature instead, and the
coverage numbers (convert's report, ``audit``) must not count one. Split DWARF skeletons are reported, and a
``.dwo`` alone is refused with a hint. The oracle is pyelftools reading the same DWARF.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from conftest import BUILD_CACHE, build_rust, require_tool
from illumos_rust.cli.main import main
from illumos_rust.ctf.load import load_ctf
from illumos_rust.ctf.names import type_name
from illumos_rust.ctfconvert.convert import convert
from illumos_rust.errors import FormatError

C_SOURCE = r"""
struct pair { int a; long b; };
struct pair g_pair;
long add(int x, long y) { return x + y + g_pair.a; }
void nothing(void) { g_pair.b = 1; }
"""

RUST_SOURCE = r"""
#[inline(never)] #[no_mangle] pub extern "C" fn twice(x: i64) -> i64 { x * 2 }
#[inline(never)] #[no_mangle] pub extern "C" fn nothing() { println!("n"); }
fn main() { nothing(); println!("{}", twice(std::env::args().count() as i64)); }
"""


def _units(path: Path) -> dict[str, bool]:
    """pyelftools: for each subprogram name (linkage name and plain name) with code, whether its compile unit
    has any type information at all (a ``DW_AT_type`` anywhere or a ``DW_TAG_formal_parameter``)."""
    out: dict[str, bool] = {}
    with path.open("rb") as fh:
        dwarf = ELFFile(fh).get_dwarf_info()
        for cu in dwarf.iter_CUs():
            typed = False
            names: list[str] = []
            for die in cu.iter_DIEs():
                if "DW_AT_type" in die.attributes or die.tag == "DW_TAG_formal_parameter":
                    typed = True
                if die.tag == "DW_TAG_subprogram" and "DW_AT_low_pc" in die.attributes:
                    for attr in ("DW_AT_linkage_name", "DW_AT_name"):
                        if attr in die.attributes:
                            names.append(die.attributes[attr].value.decode())
            for n in names:
                out.setdefault(n, typed)
    return out


def _gcc_object(level: str, *extra: str) -> tuple[Path, Path]:
    gcc = require_tool("gcc")
    work = BUILD_CACHE / f"ctf-untyped-c{level}{''.join(extra)}"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "t.c"
    src.write_text(C_SOURCE)
    obj = work / "t.o"
    subprocess.run([gcc, level, *extra, "-O0", "-c", "-o", str(obj), str(src)], check=True, cwd=work)
    return obj, work


def _func_symbol_list(path: Path) -> list[str]:
    """pyelftools: the named, defined function symbols of ``.symtab`` (illumos libctf ``init_symtab`` also
    skips ``_START_``/``_END_``), each owning a CTF function entry."""
    with path.open("rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        return [
            s.name
            for s in symtab.iter_symbols()
            if s["st_info"]["type"] == "STT_FUNC"
            and s["st_shndx"] != "SHN_UNDEF"
            and s.name
            and s.name not in ("_START_", "_END_")
        ]


def _func_symbols(path: Path) -> set[str]:
    return set(_func_symbol_list(path))


def _signatures(path: Path) -> dict[str, tuple[str, list[str]] | None]:
    """Every function symbol's CTF signature, None for "no information" (trailing ones are not stored)."""
    ctf = load_ctf(path)
    c = ctf.container
    got = {
        name: None if info is None else (type_name(c, info.return_type), [type_name(c, a) for a in info.args])
        for _addr, name, info in ctf.functions
    }
    return {name: got.get(name) for name in _func_symbols(path)}


def test_gcc_g1_gets_no_signatures(tmp_path: Path) -> None:
    obj, _ = _gcc_object("-g1")
    units = _units(obj)
    assert units == {"add": False, "nothing": False}  # the premise, from pyelftools: -g1 has no types
    report = convert(str(obj), str(tmp_path / "g1.o"))
    assert report.functions_typed == 0 and report.functions_untyped_unit == 2
    assert _signatures(tmp_path / "g1.o") == {"add": None, "nothing": None}


def test_gcc_g_keeps_real_void_function(tmp_path: Path) -> None:
    obj, _ = _gcc_object("-g")
    assert _units(obj) == {"add": True, "nothing": True}
    report = convert(str(obj), str(tmp_path / "g.o"))
    assert report.functions_untyped_unit == 0 and report.functions_typed == 2
    # Hand-written from C_SOURCE: a real no-argument void function stays void f(void).
    want = {"add": ("long int", ["int", "long int"]), "nothing": ("void", [])}
    assert _signatures(tmp_path / "g.o") == want


def _audit_coverage(path: Path) -> dict[str, int]:
    cmd = [sys.executable, "-m", "illumos_rust.cli.main", "audit", "--format", "json", "--fail-on", "never"]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    got: dict[str, int] = json.loads(proc.stdout)["reports"][0]["facts"]["post_mortem"]["ctf_coverage"]
    return got


@pytest.mark.parametrize("debuginfo", ["1", "2"])
def test_rust_untyped_units_not_counted(tmp_path: Path, debuginfo: str) -> None:
    """``-C debuginfo=1``: no unit has types, so no function gets a signature; ``-g``: the program's own
    functions do (``nothing`` as a real ``void nothing(void)``) and std's prebuilt units still do not."""
    flags = ("-C", f"debuginfo={debuginfo}", "-C", "opt-level=0")
    exe = build_rust(RUST_SOURCE, f"ctfuntyped{debuginfo}", *flags)
    units = _units(exe)
    out = tmp_path / "conv"
    report = convert(str(exe), str(out))
    sigs = _signatures(out)
    untyped = [n for n in sigs if units.get(n) is False]
    typed = [n for n in sigs if units.get(n) is True]
    assert untyped, "the premise: some function symbols live in units without types"
    assert all(sigs[n] is None for n in untyped)
    assert report.functions_untyped_unit >= len(untyped)
    if debuginfo == "1":
        assert not typed and report.functions_typed == 0
    else:
        assert sigs["twice"] == ("i64", ["i64"]) and sigs["nothing"] == ("void", [])
    with_sig = sum(1 for v in sigs.values() if v is not None)
    assert report.functions_typed == with_sig
    coverage = _audit_coverage(out)
    assert coverage["functions_with_signature"] == with_sig
    assert coverage["functions"] == len(_func_symbol_list(out)) == report.functions


def _dwo_name(obj: Path) -> str:
    """pyelftools: the .dwo file name the skeleton unit names (DWARF 5 or the GNU v4 extension)."""
    with obj.open("rb") as fh:
        cu = next(ELFFile(fh).get_dwarf_info().iter_CUs())
        top = cu.get_top_DIE()
        for attr in ("DW_AT_dwo_name", "DW_AT_GNU_dwo_name"):
            if attr in top.attributes:
                value: bytes = top.attributes[attr].value
                return value.decode()
    raise AssertionError("no skeleton unit")


@pytest.mark.parametrize("version", ["-gdwarf-5", "-gdwarf-4"])
def test_split_dwarf_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str) -> None:
    obj, work = _gcc_object("-g", version, "-gsplit-dwarf")
    name = _dwo_name(obj)  # gcc names it by absolute path
    dwo = work / name
    assert dwo.exists()
    assert main(["ctf", "convert", str(obj), "-o", str(tmp_path / "split.o")]) == 0
    text = capsys.readouterr().out
    assert f"1 units keep their types in split DWARF (.dwo) files, not followed: {name}" in text
    report = convert(str(obj), str(tmp_path / "again.o"))
    assert report.split_units == 1 and report.split_dwo_names == [name]
    # The .dwo alone: refused with a hint, exit 2, nothing written.
    copy = tmp_path / dwo.name
    shutil.copy(dwo, copy)
    before = copy.read_bytes()
    assert main(["ctf", "convert", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "split DWARF (.dwo)" in err and "skeleton" in err and str(copy) in err
    assert copy.read_bytes() == before


def test_rustc_split_debuginfo_is_reported(tmp_path: Path) -> None:
    """rustc ``-C split-debuginfo=unpacked``: the crate's codegen units are skeletons naming ``.dwo`` files
    (pyelftools lists them); the report names every one of them."""
    exe = build_rust(RUST_SOURCE, "ctfsplit", "-g", "-C", "split-debuginfo=unpacked")
    want: list[str] = []
    with exe.open("rb") as fh:
        for cu in ELFFile(fh).get_dwarf_info().iter_CUs():
            top = cu.get_top_DIE()
            for attr in ("DW_AT_dwo_name", "DW_AT_GNU_dwo_name"):
                if attr in top.attributes:
                    want.append(top.attributes[attr].value.decode())
    assert want, "the premise: rustc wrote skeleton units"
    report = convert(str(exe), str(tmp_path / "split"))
    assert report.split_units == len(want) and sorted(report.split_dwo_names) == sorted(want)
    # An LLVM .dwo alone (its unit says DW_AT_GNU_dwo_name like the skeleton's): refused with the hint.
    dwo = exe.parent / Path(want[0]).name  # (built in a directory renamed since)
    assert dwo.exists()
    with pytest.raises(FormatError, match=r"split DWARF \(\.dwo\) file.*skeleton"):
        convert(str(dwo), str(tmp_path / "dwo-out"))
    assert not (tmp_path / "dwo-out").exists()


def test_progress_covers_every_phase(tmp_path: Path) -> None:
    """The progress bar is told about conversion, deduplication and selection, not only unit reading."""
    obj, _ = _gcc_object("-g")
    phases: list[str] = []
    convert(str(obj), str(tmp_path / "p.o"), progress=lambda phase, _done, _total: phases.append(phase))
    assert phases[0] == "reading DWARF units"
    assert phases.index("deduplicating types") < phases.index("selecting types")
