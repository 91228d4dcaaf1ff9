"""``illumos-rust edit``: expected values come from readelf, pyelftools, hand counts and running programs."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection as PyDynamic
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import StringTableSection, SymbolTableSection

from conftest import build_rust, require_tool, shared_path
from illumos_rust.cli.main import main
from illumos_rust.edit import Op, plan_edits
from illumos_rust.elf.dynamic import dynamic
from illumos_rust.elf.reader import ElfFile
from illumos_rust.elf.versions import verneed
from pyelftools_oracle import section, tag_string

SOLARIS = [
    "exe_solaris64_cc.elf",
    "exe_solaris32_cc.elf",
    "exe_solaris64_cc.sparc.elf",
    "exe_solaris32_cc.sparc.elf",
]

HELLO = """
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = std::panic::catch_unwind(|| if args.len() > 5 { panic!("many") } else { args.len() });
    println!("edited hello {:?}", r.ok());
}
"""


# The RUNPATH pkgsrc gcc13 gives Rust programs on SmartOS (shared/notes/illumos-target.md §4).
PKGSRC_GCC = "/opt/local/gcc13/x86_64-sun-solaris2.11/lib/amd64"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    dst.chmod(0o755)
    return dst


def readelf(*args: str) -> str:
    require_tool("readelf")
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


def readelf_dynamic(path: Path) -> list[tuple[str, str]]:
    """(type, value text) for each entry readelf -d prints, up to and including the first NULL."""
    rows = re.findall(r"^[ \t]*0x[0-9a-f]+[ \t]+\((\w+)\)[ \t]*(.*)$", readelf("-d", str(path)), re.M)
    return [(t, v.strip()) for t, v in rows]


def readelf_section(path: Path, name: str) -> tuple[int, int]:
    """(offset, size) of a section from readelf -S."""
    for line in readelf("-S", str(path)).splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and m.group(1) == name:
            return int(m.group(2), 16), int(m.group(3), 16)
    raise AssertionError(f"{name} not in readelf -S")


def changed_offsets(a: Path, b: Path) -> list[int]:
    x, y = a.read_bytes(), b.read_bytes()
    assert len(x) == len(y)
    return [i for i in range(len(x)) if x[i] != y[i]]


# -- Solaris link-editor fixtures: elfedit's dyn:runpath exactly --------------------------------------------


@pytest.mark.parametrize("name", SOLARIS)
def test_solaris_runpath_uses_strpad_reserve_and_one_slot(name: str, tmp_path: Path) -> None:
    src = shared_path("fixtures", "elf", name)
    f = copy(src, tmp_path)
    before = readelf_dynamic(f)
    value = "$ORIGIN/../lib:/opt/local/lib"
    assert main(["edit", str(f), "--runpath", value, "--write"]) == 0
    after = readelf_dynamic(f)
    assert f.stat().st_size == src.stat().st_size
    # Expected STRPAD by hand: 512 (README) - len - NUL.
    assert dict(before)["SUNW_STRPAD"] == "0x200"
    assert dict(after)["SUNW_STRPAD"] == hex(512 - len(value) - 1)
    assert dict(after)["RUNPATH"] == f"Library runpath: [{value}]"
    assert "EDITED" in dict(after)["FLAGS_1"] and "DIRECT" in dict(after)["FLAGS_1"]
    # readelf shows entries up to the first NULL: the old terminator's slot is now RUNPATH, one more NULL.
    assert len(after) == len(before) + 1 and after[len(before) - 1][0] == "RUNPATH"
    # Only bytes in the reserve, the new slot, the STRPAD slot and the FLAGS_1 slot changed.
    dstr_off, dstr_size = readelf_section(src, ".dynstr")
    dyn_off, _ = readelf_section(src, ".dynamic")
    ent = 16 if "64" in name else 8
    tags = [t for t, _ in before]
    slots = {len(before) - 1, tags.index("SUNW_STRPAD"), tags.index("FLAGS_1")}
    allowed = set(range(dstr_off + dstr_size - 512, dstr_off + dstr_size))
    for s in slots:
        allowed |= set(range(dyn_off + s * ent, dyn_off + (s + 1) * ent))
    diff = changed_offsets(src, f)
    assert diff and set(diff) <= allowed
    assert sum(1 for i in diff if i < dyn_off) == len(value)  # the string itself (its NUL was already 0)
    # pyelftools and our reader read the same result.
    with open(f, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        runpaths = [tag_string(t, "runpath") for t in sec.iter_tags() if t.entry.d_tag == "DT_RUNPATH"]
    assert runpaths == [value]
    with ElfFile(f) as elf:
        d = dynamic(elf)
        assert d.runpath == value and d.edited and d.strpad == 512 - len(value) - 1
        assert d.needed == ["libc.so.1"]


def test_solaris_dry_run_writes_nothing_and_prints_before_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    digest = sha(f)
    assert main(["edit", str(f), "--runpath", "/usr/gcc/lib"]) == 0
    out = capsys.readouterr().out
    assert sha(f) == digest
    assert "dry run" in out and "- [32]  NULL" in out and "+ [32]  RUNPATH" in out and "/usr/gcc/lib" in out


def test_solaris_replace_needed_renames_version_need_file(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    assert main(["edit", str(f), "--replace-needed", "libc.so.1=libc.so.7", "--write"]) == 0
    assert dict(readelf_dynamic(f))["NEEDED"] == "Shared library: [libc.so.7]"
    with open(f, "rb") as fh:
        sec = section(ELFFile(fh), ".SUNW_version", GNUVerNeedSection)
        files = [v.name for v, _aux in sec.iter_versions()]
    assert files == ["libc.so.7"]


def test_solaris_delete_then_restore_reuses_the_string(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    assert main(["edit", str(f), "--runpath", "/opt/local/lib", "--write"]) == 0
    pad = dict(readelf_dynamic(f))["SUNW_STRPAD"]
    assert main(["edit", str(f), "--delete-runpath", "--write"]) == 0
    assert "RUNPATH" not in dict(readelf_dynamic(f))
    plan = plan_edits(str(f), [Op("runpath", "/opt/local/lib")])
    assert plan.strategies[0].startswith("reuse")
    assert main(["edit", str(f), "--runpath", "/opt/local/lib", "--write"]) == 0
    assert dict(readelf_dynamic(f))["SUNW_STRPAD"] == pad  # nothing new written into the reserve


# -- refusals: one line, original untouched ------------------------------------------------------------------


def _refused(argv: list[str], f: Path, capsys: pytest.CaptureFixture[str], why: str) -> None:
    digest = sha(f)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused" in err and why in err, err
    assert sha(f) == digest
    assert [p.name for p in f.parent.iterdir() if p.name.startswith(".illumos-rust-edit")] == []


def test_refuses_string_longer_than_reserve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    _refused(["edit", str(f), "--runpath", "/x" * 300, "--write"], f, capsys, "no room")


def test_refuses_when_spare_dt_null_slots_run_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    # README: 43 slots, 33 used counting the terminator: 10 spare DT_NULLs after it, no room for an 11th tag.
    argv = ["edit", str(f), "--write"]
    for i in range(11):
        argv += ["--add-needed", f"libx{i}.so.1"]
    _refused(argv, f, capsys, "no spare DT_NULL")
    assert main(["edit", str(f), "--write", *argv[3:-2]]) == 0  # ten fit
    assert sum(1 for t, _ in readelf_dynamic(f) if t == "NEEDED") == 11


def test_refuses_removing_a_needed_that_symbol_versions_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    _refused(["edit", str(f), "--remove-needed", "libc.so.1", "--write"], f, capsys, "version")


def test_refuses_non_elf_and_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notelf"
    f.write_bytes(b"#!/bin/sh\necho hi\n" * 10)
    digest = sha(f)
    assert main(["edit", str(f), "--runpath", "/x", "--write"]) == 2
    assert "not an ELF file" in capsys.readouterr().err
    assert sha(f) == digest
    src = tmp_path / "o.rs"
    src.write_text('#[no_mangle] pub extern "C" fn f() -> u32 { 7 }')
    subprocess.run(
        ["rustc", "--crate-type=lib", "--emit=obj", "-o", str(tmp_path / "o.o"), str(src)], check=True
    )
    _refused(
        ["edit", str(tmp_path / "o.o"), "--runpath", "/x", "--write"],
        tmp_path / "o.o",
        capsys,
        "no dynamic section",
    )


def test_kill_during_write_leaves_original_intact(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    digest = sha(f)
    marker = tmp_path / "paused"
    env = {**os.environ, "ILLUMOS_RUST_EDIT_TEST_PAUSE": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "illumos_rust.cli.main", "edit", str(f), "--runpath", "/k", "--write"], env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "the writer never reached the pause point"
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".illumos-rust-edit")]
        assert len(temps) == 1 and temps[0].stat().st_size == f.stat().st_size  # the new copy was complete
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert sha(f) == digest
    # The temp file is named for its process and file (issue 12), so the next run, even over the whole
    # directory, neither edits it nor trips over it, and removes it: its process is gone.
    assert temps[0].name.startswith(f".illumos-rust-edit-{proc.pid}-{f.name}-")
    assert main(["edit", str(tmp_path), "--runpath", "/k2", "--write"]) == 0
    assert not temps[0].exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".illumos-rust")] == []
    assert dict(readelf_dynamic(f))["RUNPATH"] == "Library runpath: [/k2]"


def test_write_keeps_mode_and_makes_backup(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris32_cc.elf"), tmp_path)
    f.chmod(0o750)
    digest = sha(f)
    assert main(["edit", str(f), "--set-runpath", "/usr/lib", "--write", "--backup", ".orig"]) == 0
    assert oct(f.stat().st_mode & 0o7777) == oct(0o750)
    assert sha(tmp_path / (f.name + ".orig")) == digest
    assert sha(f) != digest


# -- rustc-built Linux programs: grow, then run ------------------------------------------------------------


def _libgcc_dir(tmp_path: Path, prog: Path) -> Path:
    """A directory holding libgcc_s under a new name, found through ldd of the unedited program."""
    out = subprocess.run(["ldd", str(prog)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"libgcc_s\.so\.1 => (\S+)", out)
    assert m, out
    lib = tmp_path / "lib with a long directory name for the runpath" / "deeper"
    lib.mkdir(parents=True)
    (lib / "libgcc_s-renamed.so.1").symlink_to(m.group(1))
    return lib


@pytest.mark.parametrize(
    "flags",
    [(), ("-C", "relocation-model=static"), ("-C", "linker-features=-lld")],
    ids=["pie-lld", "nopie-lld", "pie-gnu-ld"],
)
def test_rust_program_runs_after_growing_runpath_and_renaming_needed(
    flags: tuple[str, ...], tmp_path: Path
) -> None:
    require_tool("ldd")
    prog = copy(build_rust(HELLO, "edhello", "-O", *flags), tmp_path)
    orig_out = subprocess.run([str(prog)], check=True, capture_output=True, text=True).stdout
    lib = _libgcc_dir(tmp_path, prog)
    off, size = readelf_section(prog, ".dynstr")
    longest = max(len(s) for s in prog.read_bytes()[off : off + size].split(b"\0"))
    runpath = f"{lib}:" + "/opt/local/lib" * 3
    assert len(runpath) > longest and "RUNPATH" not in dict(readelf_dynamic(prog))
    argv = [
        "edit",
        str(prog),
        "--set-runpath",
        runpath,
        "--replace-needed",
        "libgcc_s.so.1=libgcc_s-renamed.so.1",
        "--write",
    ]
    assert main(argv) == 0
    run = subprocess.run([str(prog)], capture_output=True, text=True, env={**os.environ, "LD_DEBUG": "libs"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == orig_out == "edited hello Some(1)\n"
    assert f"{lib}/libgcc_s-renamed.so.1" in run.stderr  # ld.so found it through the new RUNPATH
    dyn = dict(readelf_dynamic(prog))
    assert dyn["RUNPATH"] == f"Library runpath: [{runpath}]"
    needed = [v for t, v in readelf_dynamic(prog) if t == "NEEDED"]
    assert needed[0] == "Shared library: [libgcc_s-renamed.so.1]"
    versions = readelf("-V", str(prog))
    assert "File: libgcc_s-renamed.so.1" in versions and "File: libgcc_s.so.1" not in versions
    # Loader invariants, read off readelf -l: PT_PHDR first, PT_INTERP before any LOAD, LOADs ascending.
    phdrs = re.findall(r"^\s+([A-Z_]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", readelf("-l", str(prog)), re.M)
    types = [t for t, _ in phdrs]
    assert types[0] == "PHDR" and types.index("INTERP") < types.index("LOAD")
    loads = [int(a, 16) for t, a in phdrs if t == "LOAD"]
    assert loads == sorted(loads)
    # binutils strip re-packs the new segment (it warns "lma adjusted"); its output must still run.
    if shutil.which("strip"):
        subprocess.run(["strip", "-o", str(prog) + ".stripped", str(prog)], check=True, capture_output=True)
        assert subprocess.run([str(prog) + ".stripped"], capture_output=True, text=True).stdout == orig_out
    # Our reader agrees with readelf and pyelftools.
    with ElfFile(prog) as elf:
        d = dynamic(elf)
        assert d.runpath == runpath
        assert d.needed == [re.sub(r"^Shared library: \[(.*)\]$", r"\1", n) for n in needed]
        assert "libgcc_s-renamed.so.1" in [n.file for n in verneed(elf)]
    with open(prog, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        runpaths = [tag_string(t, "runpath") for t in sec.iter_tags() if t.entry.d_tag == "DT_RUNPATH"]
        assert runpaths == [runpath]


def test_rust_program_shared_string_refused_in_place_and_grown_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GNU ld (not rust-lld) merges identical .dynstr strings, so RUNPATH and the memcpy symbol share bytes.
    prog = copy(
        build_rust(HELLO, "edshared", "-O", "-C", "linker-features=-lld", "-C", "link-arg=-Wl,-rpath,memcpy"),
        tmp_path,
    )
    with open(prog, "rb") as fh:
        elf = ELFFile(fh)
        dsec = elf.get_section_by_name(".dynamic")
        assert isinstance(dsec, PyDynamic)
        rp = [t.entry.d_val for t in dsec.iter_tags() if t.entry.d_tag == "DT_RUNPATH"]
        names = {
            s.entry.st_name
            for s in section(elf, ".dynsym", SymbolTableSection).iter_symbols()
            if s.name == "memcpy"
        }
    if not rp or rp[0] not in names:
        pytest.skip("this linker did not share the RUNPATH string with the memcpy symbol")
    _refused(
        ["edit", str(prog), "--set-runpath", "/lib", "--no-grow", "--write"],
        prog,
        capsys,
        "shared with symbol 'memcpy'",
    )
    assert main(["edit", str(prog), "--set-runpath", "/lib", "--write"]) == 0
    syms = readelf("--dyn-syms", str(prog))
    assert re.search(r"\smemcpy@GLIBC", syms)
    assert dict(readelf_dynamic(prog))["RUNPATH"] == "Library runpath: [/lib]"
    assert subprocess.run([str(prog)], capture_output=True, text=True).stdout == "edited hello Some(1)\n"


def test_rust_program_in_place_shortening_blanks_unshared_string(tmp_path: Path) -> None:
    prog = copy(build_rust(HELLO, "edscrub", "-O", "-C", f"link-arg=-Wl,-rpath,{PKGSRC_GCC}"), tmp_path)
    orig = tmp_path / "orig"
    shutil.copyfile(prog, orig)
    with open(prog, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        (rp,) = [t.entry.d_val for t in sec.iter_tags() if t.entry.d_tag == "DT_RUNPATH"]
    dstr_off, _ = readelf_section(prog, ".dynstr")
    assert main(["edit", str(prog), "--set-runpath", "/usr/lib/64", "--write"]) == 0
    # Only the old string's own bytes changed: no slot, no size change (the value stays the same offset).
    diff = changed_offsets(orig, prog)
    assert diff and min(diff) >= dstr_off + rp and max(diff) < dstr_off + rp + len(PKGSRC_GCC)
    assert b"/opt/local/gcc13" not in prog.read_bytes()
    assert dict(readelf_dynamic(prog))["RUNPATH"] == "Library runpath: [/usr/lib/64]"
    assert subprocess.run([str(prog)], capture_output=True, text=True).stdout == "edited hello Some(1)\n"


def test_batch_policy_over_a_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "root"
    (tree / "bin").mkdir(parents=True)
    a = copy(
        build_rust(HELLO, "edbatcha", "-O", "-C", "link-arg=-Wl,-rpath,/opt/local/lib:/usr/lib/extra"),
        tree / "bin",
    )
    b = copy(build_rust(HELLO, "edbatchb", "-O", "-C", "link-arg=-Wl,-rpath,/usr/lib/other"), tree / "bin")
    (tree / "README").write_text("not elf")
    (tree / "bin" / "link").symlink_to(a.name)
    b_digest = sha(b)
    assert (
        main(
            [
                "edit",
                str(tree),
                "--runpath",
                "$ORIGIN/../lib",
                "--drop-runpath-prefix",
                "/opt/local",
                "--write",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count(": written") == 1 and out.count(": unchanged") == 1
    assert dict(readelf_dynamic(a))["RUNPATH"] == "Library runpath: [$ORIGIN/../lib:/usr/lib/extra]"
    assert sha(b) == b_digest


CDYLIB = """
#[no_mangle]
pub extern "C" fn fixture_add(a: u32, b: u32) -> u32 { a + b }
"""


def test_second_edit_of_a_grown_program_uses_the_slack_and_keeps_the_layout(tmp_path: Path) -> None:
    prog = copy(build_rust(HELLO, "edhello", "-O"), tmp_path)
    assert main(["edit", str(prog), "--set-runpath", "/first/long/runpath" * 5, "--write"]) == 0
    size, layout = prog.stat().st_size, readelf("-l", str(prog))
    assert (
        main(
            [
                "edit",
                str(prog),
                "--set-runpath",
                "/second/long/runpath" * 5,
                "--add-needed",
                "libm.so.6",
                "--write",
            ]
        )
        == 0
    )
    assert prog.stat().st_size == size and readelf("-l", str(prog)) == layout
    dyn = readelf_dynamic(prog)
    assert dict(dyn)["RUNPATH"] == "Library runpath: [" + "/second/long/runpath" * 5 + "]"
    assert ("NEEDED", "Shared library: [libm.so.6]") in dyn
    run = subprocess.run([str(prog)], capture_output=True, text=True)
    assert run.stdout == "edited hello Some(1)\n", run.stderr


def test_rust_cdylib_still_loads_after_growing(tmp_path: Path) -> None:
    lib = copy(build_rust(CDYLIB, "edcdylib", "-O", crate_type="cdylib"), tmp_path)
    runpath = "/opt/local/lib/with/a/path/longer/than/any/string/already/in/the/dynamic/string/table"
    assert (
        main(["edit", str(lib), "--set-runpath", runpath, "--set-soname", "libedcdylib.so.1", "--write"]) == 0
    )
    dyn = dict(readelf_dynamic(lib))
    assert dyn["RUNPATH"] == f"Library runpath: [{runpath}]"
    assert dyn["SONAME"] == "Library soname: [libedcdylib.so.1]"
    code = f"import ctypes; print(ctypes.CDLL({str(lib)!r}).fixture_add(40, 2))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "42\n"


def test_elfedit_runpath_sets_rpath_and_runpath_alike(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    assert (
        main(["edit", str(f), "--set-rpath", "/old/rpath", "--set-runpath", "/old/runpath", "--write"]) == 0
    )
    assert main(["edit", str(f), "--runpath", "/new/both", "--write"]) == 0
    dyn = dict(readelf_dynamic(f))
    assert dyn["RPATH"] == "Library rpath: [/new/both]" and dyn["RUNPATH"] == "Library runpath: [/new/both]"
    with open(f, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        values = {t.entry.d_tag: t.entry.d_val for t in sec.iter_tags()}
    assert values["DT_RPATH"] == values["DT_RUNPATH"]  # one string, like elfedit
    assert main(["edit", str(f), "--delete-rpath", "--delete-runpath", "--write"]) == 0
    assert not {"RPATH", "RUNPATH"} & set(dict(readelf_dynamic(f)))


def test_json_output_matches_readelf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    f = copy(shared_path("fixtures", "elf", "exe_solaris32_cc.sparc.elf"), tmp_path)
    assert main(["edit", str(f), "--runpath", "/usr/lib/sparcv9", "--format", "json", "--write"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (entry,) = doc["files"]
    assert entry["written"] and entry["size_before"] == entry["size_after"] == f.stat().st_size
    after = {e["after"]["tag"]: e["after"] for e in entry["entries"] if e["after"]}
    assert after["RUNPATH"]["string"] == "/usr/lib/sparcv9"
    assert hex(after["SUNW_STRPAD"]["value"]) == dict(readelf_dynamic(f))["SUNW_STRPAD"]


def test_symlink_is_followed_and_hard_links_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    link = tmp_path / "via-link"
    link.symlink_to(f.name)
    assert main(["edit", str(link), "--runpath", "/l", "--write"]) == 0
    assert link.is_symlink() and dict(readelf_dynamic(f))["RUNPATH"] == "Library runpath: [/l]"
    os.link(f, tmp_path / "second-name")
    _refused(["edit", str(f), "--runpath", "/m", "--write"], f, capsys, "hard links")


def test_file_changed_after_planning_is_refused(tmp_path: Path) -> None:
    from illumos_rust.edit import write
    from illumos_rust.errors import UnsafeEditError

    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    plan = plan_edits(str(f), [Op("runpath", "/p")])
    os.utime(f, ns=(0, 12345))
    with pytest.raises(UnsafeEditError, match="changed since"):
        write(plan)


def test_batch_refusal_writes_nothing_unless_keep_going(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    good = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tree)
    bad = copy(shared_path("fixtures", "elf", "exe_solaris32_cc.elf"), tree)
    # Use 401 of the 32-bit file's 512 reserve bytes: a 201-byte RPATH then fits only the other file.
    assert main(["edit", str(bad), "--runpath", "/f" * 200, "--write"]) == 0
    digests = {p: sha(p) for p in (good, bad)}
    assert main(["edit", str(tree), "--set-rpath", "/r" * 100, "--write"]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and "no room" in err
    assert {p: sha(p) for p in (good, bad)} == digests
    assert main(["edit", str(tree), "--set-rpath", "/r" * 100, "--write", "--keep-going"]) == 2
    assert sha(bad) == digests[bad] and sha(good) != digests[good]
    assert dict(readelf_dynamic(good))["RPATH"] == "Library rpath: [" + "/r" * 100 + "]"


def test_scrub_blanks_the_deleted_runpath_everywhere(tmp_path: Path) -> None:
    rpath = PKGSRC_GCC
    prog = copy(build_rust(HELLO, "edscrub", "-O", "-C", f"link-arg=-Wl,-rpath,{rpath}"), tmp_path)
    assert main(["edit", str(prog), "--delete-runpath", "--write", "--scrub"]) == 0
    assert rpath.encode() not in prog.read_bytes()
    assert "RUNPATH" not in dict(readelf_dynamic(prog))
    assert subprocess.run([str(prog)], capture_output=True, text=True).stdout == "edited hello Some(1)\n"
    # Grown files keep their old, now unreferenced table: it is scrubbed as well.
    (tmp_path / "lib").mkdir()
    prog2 = copy(build_rust(HELLO, "edscrub", "-O", "-C", f"link-arg=-Wl,-rpath,{rpath}"), tmp_path / "lib")
    argv = [
        "edit",
        str(prog2),
        "--set-runpath",
        "$ORIGIN/../lib:" + "/usr/lib/extra" * 6,
        "--write",
        "--scrub",
    ]
    assert main(argv) == 0
    assert rpath.encode() not in prog2.read_bytes()
    assert subprocess.run([str(prog2)], capture_output=True, text=True).stdout == "edited hello Some(1)\n"


def test_elf32_big_endian_grows_with_a_consistent_layout(tmp_path: Path) -> None:
    """The grow path for ELF32 big-endian, on the SPARC fixture with its reserve turned off by hand.

    Rewriting the DT_SUNW_STRPAD tag (0x60000019) as DT_SUNW_LDMACH (0x6000001b, already present and
    harmless twice) gives a file without a reserve; readelf and pyelftools must then read the grown layout.
    """
    f = copy(shared_path("fixtures", "elf", "exe_solaris32_cc.sparc.elf"), tmp_path)
    data = bytearray(f.read_bytes())
    pos = data.find(bytes.fromhex("60000019 00000200"))
    assert pos > 0 and data.find(bytes.fromhex("60000019"), pos + 1) < 0
    data[pos : pos + 4] = bytes.fromhex("6000001b")
    f.write_bytes(bytes(data))
    phnum = len(re.findall(r"^\s+[A-Z]\w+\s+0x", readelf("-l", str(f)), re.M))
    value = "/usr/lib/with/a/path/longer/than/anything/in/dynstr:" + "/x" * 40
    argv = [
        "edit",
        str(f),
        "--set-runpath",
        value,
        *[arg for i in range(11) for arg in ("--add-needed", f"l{i}.so")],
    ]
    assert main([*argv, "--write"]) == 0
    phdrs = re.findall(
        r"^\s+([A-Z]\w+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x[0-9a-f]+ (\S+)",
        readelf("-l", str(f)),
        re.M,
    )
    assert len(phdrs) == phnum + 2  # read-only .dynstr segment + writable .dynamic segment
    loads = [(int(o, 16), int(v, 16), int(sz, 16), flg) for t, o, v, sz, flg in phdrs if t == "LOAD"]
    assert [v for _o, v, _s, _f in loads] == sorted(v for _o, v, _s, _f in loads)
    assert loads[-2][3] == "R" and loads[-1][3] == "RW"
    # PT_PHDR stays first and now lies at the start of the new read-only segment, as does e_phoff.
    assert phdrs[0][0] == "PHDR" and int(phdrs[0][1], 16) == loads[-2][0]
    assert f"starting at offset {loads[-2][0]}" in readelf("-l", str(f))
    dstr_off, dstr_size = readelf_section(f, ".dynstr")
    # .dynstr follows the headers, then 512 zero bytes are left for later edits (docs: GROW_SLACK).
    assert loads[-2][0] < dstr_off and dstr_off + dstr_size + 512 == loads[-2][0] + loads[-2][2]
    tail = f.read_bytes()[dstr_off + dstr_size : dstr_off + dstr_size + 512]
    assert tail == bytes(512)
    dyn = readelf_dynamic(f)
    assert dict(dyn)["RUNPATH"] == f"Library runpath: [{value}]"
    assert sum(1 for t, _ in dyn if t == "NEEDED") == 12
    with open(f, "rb") as fh:
        elf = ELFFile(fh)
        sec = elf.get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        tags = {t.entry.d_tag: t for t in sec.iter_tags()}
        assert tag_string(tags["DT_RUNPATH"], "runpath") == value
        dynstr = section(elf, ".dynstr", StringTableSection)
        assert tags["DT_STRTAB"].entry.d_val == dynstr["sh_addr"]
        assert tags["DT_STRSZ"].entry.d_val == dynstr["sh_size"]
        seg = next(s for s in elf.iter_segments() if s["p_type"] == "PT_DYNAMIC")
        assert seg["p_offset"] == sec["sh_offset"] and seg["p_filesz"] == sec["sh_size"]


def test_grow_refused_when_the_layout_is_already_unusual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Swap PT_INTERP behind the first PT_LOAD (a gABI violation); growing such a file is refused."""
    prog = copy(build_rust(HELLO, "edhello", "-O"), tmp_path)
    data = bytearray(prog.read_bytes())
    phoff, entsize = 64, 56  # ELF64: e_phoff of a rustc/lld program, Elf64_Phdr size
    types = [int.from_bytes(data[phoff + i * entsize : phoff + i * entsize + 4], "little") for i in range(4)]
    assert types[:3] == [6, 3, 1]  # PHDR, INTERP, LOAD (readelf -l shows the same order)
    a, b = phoff + entsize, phoff + 2 * entsize
    data[a:b], data[b : b + entsize] = data[b : b + entsize], data[a:b]
    prog.write_bytes(bytes(data))
    _refused(
        ["edit", str(prog), "--set-runpath", "/a/new/long/path" * 4, "--write"],
        prog,
        capsys,
        "INTERP (program header 2) comes after a PT_LOAD",
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_write_keeps_owner_and_setuid_mode(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    os.chown(f, 1234, 5678)
    f.chmod(0o4751)
    assert main(["edit", str(f), "--runpath", "/o", "--write"]) == 0
    st = f.stat()
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)) == (1234, 5678, oct(0o4751))


def test_lld_built_illumos_program_grows_and_is_marked_edited(tmp_path: Path) -> None:
    """The illumos-rust fixture (rust-lld, EI_OSABI 0, interpreter ld.so.1) has no reserve: it grows."""
    f = copy(shared_path("fixtures", "illumos-rust", "bin", "illumos", "hello"), tmp_path)
    before = readelf_dynamic(f)
    assert "FLAGS_1" not in dict(before) and "SUNW_STRPAD" not in dict(before)
    assert main(["edit", str(f), "--runpath", "$ORIGIN/../lib", "--write"]) == 0
    after = readelf_dynamic(f)
    assert dict(after)["RUNPATH"] == "Library runpath: [$ORIGIN/../lib]"
    assert dict(after)["FLAGS_1"] == "Flags: EDITED"
    assert [v for t, v in after if t == "NEEDED"] == [v for t, v in before if t == "NEEDED"]
    assert "/usr/lib/amd64/ld.so.1" in readelf("-l", str(f))


def test_drop_runpath_prefix_alone_deletes_or_trims(tmp_path: Path) -> None:
    f = copy(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), tmp_path)
    assert (
        main(["edit", str(f), "--runpath", "/opt/local/lib:/usr/lib/64:/opt/local/gcc13/lib", "--write"]) == 0
    )
    assert main(["edit", str(f), "--drop-runpath-prefix", "/opt/local/", "--write"]) == 0
    assert dict(readelf_dynamic(f))["RUNPATH"] == "Library runpath: [/usr/lib/64]"
    assert main(["edit", str(f), "--drop-runpath-prefix", "/usr/lib", "--write"]) == 0
    assert "RUNPATH" not in dict(readelf_dynamic(f))
    # /opt/localfoo is not under /opt/local.
    assert main(["edit", str(f), "--runpath", "/opt/localfoo/lib", "--write"]) == 0
    assert main(["edit", str(f), "--drop-runpath-prefix", "/opt/local", "--write"]) == 0
    assert dict(readelf_dynamic(f))["RUNPATH"] == "Library runpath: [/opt/localfoo/lib]"


def test_remove_stale_only_takes_this_files_copies(tmp_path: Path) -> None:
    """A dead editor's copy of ``a-b`` must not be taken for one of ``a`` (names are
    ``.illumos-rust-edit-<pid>-<file>-<mkstemp random>.tmp``; the random part has no '-')."""
    from illumos_rust.edit.transaction import TEMP_PREFIX, remove_stale

    dead = 2**22 + 12345  # above Linux's default pid_max (4,194,304 = 2**22): no such process
    mine = tmp_path / f"{TEMP_PREFIX}{dead}-a-k3x_9q.tmp"
    other = tmp_path / f"{TEMP_PREFIX}{dead}-a-b-k3x_9q.tmp"
    for p in (mine, other):
        p.write_bytes(b"x")
    assert remove_stale(str(tmp_path / "a")) == [mine.name]
    assert other.exists() and not mine.exists()
    assert remove_stale(str(tmp_path / "a-b")) == [other.name]
