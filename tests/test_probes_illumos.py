"""The generated module compiled for x86_64-unknown-illumos (``--emit obj``) against a real illumos std, built
from Debian's rust-web-src by ``scripts/probes-illumos-std.sh`` the way shared/fixtures/illumos-rust/regen.sh
builds the fixtures' std. ``probes list`` decodes the records (checked against ``readelf -r``/``-s`` and the
instruction bytes), and the DOF generated offline round-trips through ``dof decode``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from conftest import REPO, require_tool, shared_path
from illumos_rust.elf import ElfFile
from illumos_rust.sdt.listing import usdt_sites
from probes_helpers import program_source

SYSROOT = Path(os.environ.get("ILLUMOS_RUST_STD_SYSROOT", REPO / ".cache" / "illumos-std" / "sysroot"))
DEBIAN_RUSTC = "/usr/bin/rustc"  # std's source (rust-web-src) matches this compiler, not rustup's
CLI = str(Path(sys.executable).parent / "illumos-rust")
TYPES = {
    "bar": ["int", "char *"],
    "neg": ["long", "short", "signed char"],
    "big": ["unsigned long long", "int32_t", "uint32_t"],
    "tick-tock": [],
}


@pytest.fixture(scope="module")
def obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # `make e2e` sets ILLUMOS_RUST_REQUIRE_STD=1 after `make illumos-std`: there a missing std is a failure.
    missing = pytest.fail if os.environ.get("ILLUMOS_RUST_REQUIRE_STD") == "1" else pytest.skip
    if not (SYSROOT / "lib" / "rustlib" / "x86_64-unknown-illumos" / "lib").is_dir():
        missing(f"no illumos std at {SYSROOT}: run `make illumos-std` (builds it once, ~9 min)")
    if not os.path.exists(DEBIAN_RUSTC):
        missing("Debian rustc-web not installed (`make illumos-std` installs it)")
    require_tool("readelf")
    out = tmp_path_factory.mktemp("illumos") / "probes_illumos.o"
    src = out.with_suffix(".rs")
    src.write_text(program_source())
    proc = subprocess.run(
        [
            DEBIAN_RUSTC,
            "--edition=2021",
            "--target",
            "x86_64-unknown-illumos",
            "--sysroot",
            str(SYSROOT),
            "-O",
            "-C",
            "panic=abort",
            "--emit",
            "obj",
            "-o",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return out


def rela_targets(path: Path) -> list[tuple[str, int]]:
    """(symbol, symbol value + addend) of each R_X86_64_64 relocating the records, per readelf."""
    out = subprocess.run(["readelf", "-rW", str(path)], capture_output=True, text=True, check=True).stdout
    # LLVM names the relocation section ".rela" + "set_dtrace_probes" (no dot in between)
    m = re.search(r"Relocation section '\.rela\.?set_dtrace_probes'.*?\n\n", out + "\n\n", re.S)
    assert m, out
    return [
        (r.group(2), int(r.group(1), 16) + int(r.group(3), 16))
        for r in re.finditer(r"R_X86_64_64\s+([0-9a-f]+)\s+(\S+)\s+\+\s+([0-9a-f]+)", m.group())
    ]


def test_object_is_illumos_backend(obj: Path) -> None:
    with open(obj, "rb") as fh:
        elf = ELFFile(fh)
        assert elf["e_machine"] == "EM_X86_64" and elf["e_type"] == "ET_REL"
        rec = elf.get_section_by_name("set_dtrace_probes")
        assert rec is not None
        assert rec["sh_flags"] & 0x3 == 0x3  # SHF_WRITE | SHF_ALLOC, "aw" as the usdt crate on illumos
        assert rec["sh_flags"] & 0x200000 == 0  # no SHF_GNU_RETAIN on illumos
        assert elf.get_section_by_name(".note.stapsdt") is None
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        undefined = {s.name for s in symtab.iter_symbols() if s["st_shndx"] == "SHN_UNDEF"}
    # register_probes() is wired to the records and to the helper ioctl
    assert {"__start_set_dtrace_probes", "__stop_set_dtrace_probes", "dladdr", "ioctl", "open"} <= undefined


def test_records_against_readelf(obj: Path) -> None:
    targets = rela_targets(obj)
    with ElfFile(obj) as ours:
        sites = usdt_sites(ours)
    assert len(sites) == len(targets) == 8
    assert sorted(s.address for s in sites) == sorted(v for _sym, v in targets)
    with open(obj, "rb") as fh:
        theirs = ELFFile(fh)
        for s in sites:
            assert s.shndx is not None
            code = theirs.get_section(s.shndx).data()
            want = b"\x48\x31\xc0" if s.is_enabled else b"\x90"
            assert code[s.address : s.address + len(want)] == want
            assert s.arg_types == ([] if s.is_enabled else TYPES[s.probe])
        # the first record (usdt-impl record.rs): length, version 1, nargs, flags, address, strings
        rec = theirs.get_section_by_name("set_dtrace_probes")
        assert rec is not None
        raw = rec.data()
    length = int.from_bytes(raw[0:4], "little")
    assert raw[4] == 1 and length % 8 == 0
    strings = raw[16:length].split(b"\0")
    assert strings[0] == b"foo" and strings[1].decode() in TYPES
    assert raw[5] == len(TYPES[strings[1].decode()]) * (raw[6] == 0)


def test_list_and_dof_round_trip(obj: Path, tmp_path: Path) -> None:
    text = subprocess.run(
        [CLI, "probes", "list", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    assert "4 probes" in text and "usdt     foo:bar  in probe_work" in text
    dof = tmp_path / "illumos.dof"
    subprocess.run([CLI, "probes", "dof", "encode", str(obj), "-o", str(dof)], check=True)
    decoded = json.loads(
        subprocess.run(
            [CLI, "probes", "dof", "decode", "--format", "json", str(dof)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    (image,) = decoded
    assert (image["version"], image["model"], image["encoding"]) == (2, "LP64", "LSB")
    (prov,) = image["providers"]
    assert prov["name"] == "foo"
    # oracle: readelf's symbol value for probe_work and its relocation targets
    syms = subprocess.run(["readelf", "-sW", str(obj)], capture_output=True, text=True, check=True).stdout
    work = next(ln.split() for ln in syms.splitlines() if ln.endswith(" probe_work"))
    work_value = int(work[1], 16)
    with ElfFile(obj) as elf:
        sites = usdt_sites(elf)
    assert sorted(p["name"] for p in prov["probes"]) == sorted(TYPES)
    for p in prov["probes"]:
        assert p["function"] == "probe_work" and p["address"] == work_value
        assert p["arguments"] == TYPES[p["name"]]
        mine = [s for s in sites if s.probe == p["name"]]
        assert sorted(p["offsets"]) == sorted(s.address - work_value for s in mine if not s.is_enabled)
        assert sorted(p["is_enabled_offsets"]) == sorted(s.address - work_value for s in mine if s.is_enabled)
        assert len(p["offsets"]) == len(p["is_enabled_offsets"]) == 1


def test_objdump_sees_the_sites(obj: Path) -> None:
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    dis = subprocess.run(["objdump", "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    assert len(re.findall(r"48 31 c0\s+xor\s+%rax,%rax", dis)) >= 4


def test_fixture_binaries_without_probes() -> None:
    """The real illumos/Solaris fixtures carry no probes: listed as 0, exit 0 (JSON too)."""
    names = ["illumos/hello", "illumos/threads", "illumos/libcexport.so", "solaris/hello"]
    paths = [str(shared_path("fixtures", "illumos-rust", "bin", *n.split("/"))) for n in names]
    proc = subprocess.run([CLI, "probes", "list", "--format", "json", *paths], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [(r["file"], r["probes"]) for r in json.loads(proc.stdout)] == [(p, []) for p in paths]
