"""The illumos/FreeBSD backend, run on Linux with ``--cfg illumos_rust_probes_standard``: usdt-layout records
(checked against ``readelf -r``/``-S``/``nm`` and the instruction bytes at each site), the DOF the running
program builds equals the DOF ``probes dof encode`` builds offline from the file, ``dof decode`` gives back
providers, probes, types and offsets, and ``register_probes()`` says clearly that DTrace is absent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import build_rust, require_tool
from illumos_rust.elf import ElfFile
from illumos_rust.sdt import dof as D
from illumos_rust.sdt.listing import (
    list_probes,
    registers_probes,
    to_dof_providers,
    usdt_probes,
    usdt_sites,
)
from probes_helpers import DOF_DUMP, PROVIDER, program_source

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and __import__("platform").machine() == "x86_64"),
    reason="the standard backend's asm is x86-64",
)
CLI = str(Path(sys.executable).parent / "illumos-rust")
FORCE = ("--cfg", "illumos_rust_probes_standard", "-O")
TYPES = {
    "bar": ["int", "char *"],
    "neg": ["long", "short", "signed char"],
    "big": ["unsigned long long", "int32_t", "uint32_t"],
    "tick-tock": [],
}


@pytest.fixture(scope="module")
def pie() -> Path:
    require_tool("rustc")
    return build_rust(program_source(DOF_DUMP), "probes_std_pie", *FORCE)


@pytest.fixture(scope="module")
def nopie() -> Path:
    # Non-PIE and exported, so dladdr(3C) at run time names the same function the symbol table does.
    return build_rust(
        program_source(DOF_DUMP),
        "probes_std_nopie",
        *FORCE,
        "-C",
        "relocation-model=static",
        "-C",
        "link-args=-rdynamic",
    )


def readelf_section(path: Path, name: str) -> tuple[int, int, str]:
    out = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 7 and fields[1] == name:
            return int(fields[3], 16), int(fields[5], 16), fields[7]
    raise AssertionError(f"{name} not in readelf -S")


def relative_relocs(path: Path) -> dict[int, int]:
    """r_offset -> addend of the R_X86_64_RELATIVE entries, as readelf decodes them."""
    out = subprocess.run(["readelf", "-rW", str(path)], capture_output=True, text=True, check=True).stdout
    found = {}
    for m in re.finditer(r"^([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_RELATIVE\s+([0-9a-f]+)", out, re.M):
        found[int(m.group(1), 16)] = int(m.group(2), 16)
    return found


def code_bytes(path: Path, addr: int, n: int) -> bytes:
    """Bytes at a virtual address, through pyelftools' view of the PT_LOAD segments (independent reader)."""
    with open(path, "rb") as fh:
        for seg in ELFFile(fh).iter_segments("PT_LOAD"):
            if seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_filesz"]:
                return seg.data()[addr - seg["p_vaddr"] : addr - seg["p_vaddr"] + n]
    raise AssertionError(f"0x{addr:x} is in no PT_LOAD")


def test_pie_records_use_relocations(pie: Path) -> None:
    require_tool("readelf")
    addr, size, flags = readelf_section(pie, "set_dtrace_probes")
    assert "W" in flags and "A" in flags
    with open(
        pie, "rb"
    ) as fh:  # SHF_GNU_RETAIN (0x200000) keeps it through --gc-sections; readelf 2.40 says "o"
        sec = ELFFile(fh).get_section_by_name("set_dtrace_probes")
        assert sec is not None and sec["sh_flags"] & 0x200000
    relocs = {off: val for off, val in relative_relocs(pie).items() if addr <= off < addr + size}
    with ElfFile(pie) as elf:
        sites = usdt_sites(elf)
    assert len(sites) == 8  # 4 probes x (is-enabled site + probe site)
    assert {s.address for s in sites} == set(relocs.values())  # every address came from a RELATIVE entry
    for s in sites:
        assert s.version == 1
        want = b"\x48\x31\xc0" if s.is_enabled else b"\x90"  # xor rax,rax / nop
        assert code_bytes(pie, s.address, len(want)) == want
        if s.is_enabled:
            assert s.arg_types == []
        else:
            assert s.arg_types == TYPES[s.probe]


def nm_symbol(path: Path, name: str) -> int:
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(ln.split()[0] for ln in out.splitlines() if ln.endswith(" " + name)), 16)


def test_runtime_dof_equals_offline_dof(nopie: Path, tmp_path: Path) -> None:
    require_tool("nm")
    out = subprocess.run([str(nopie)], capture_output=True, text=True, check=True).stdout
    runtime = bytes.fromhex(re.search(r"^dof=([0-9a-f]+)$", out, re.M).group(1))  # type: ignore[union-attr]
    assert re.search(r"^module=probes_std_nopie$", out, re.M)
    assert "register_probes: cannot open /dev/dtrace/helper" in out
    assert "DTrace is not available here, so the 8 probe site(s) stay unregistered" in out
    offline = tmp_path / "offline.dof"
    provider_file = tmp_path / "foo.d"
    provider_file.write_text(PROVIDER)
    encode = [CLI, "probes", "dof", "encode", str(nopie), "-o", str(offline)]
    subprocess.run([*encode, "--provider-file", str(provider_file)], check=True)
    assert offline.read_bytes() == runtime
    subprocess.run(encode, check=True)  # without the provider file: same but no stability attributes
    assert offline.read_bytes() != runtime and D.decode(offline.read_bytes()).providers[0].attributes == {}

    image = D.decode(runtime)
    work = nm_symbol(nopie, "probe_work")
    with ElfFile(nopie) as elf:
        sites = usdt_sites(elf)
    (prov,) = image.providers
    assert prov.name == "foo"
    # DOF_ATTR(name, data, class) by hand: Evolving=5, Private=1, Common=5, Unknown=0, ISA=4 (sys/dtrace.h)
    assert prov.attributes == {
        "provider": "Evolving/Evolving/Common",
        "function": "Private/Private/Unknown",
        "args": "Evolving/Evolving/ISA",
    }
    attr_words = runtime[-44:][20:40]  # the PROVIDER section is last: dofpv_provattr .. dofpv_argsattr
    assert [int.from_bytes(attr_words[i : i + 4], "little") for i in range(0, 20, 4)] == [
        5 << 24 | 5 << 16 | 5 << 8,
        0,
        1 << 24 | 1 << 16 | 0 << 8,
        0,
        5 << 24 | 5 << 16 | 4 << 8,
    ]
    assert sorted(p.name for p in prov.probes) == sorted(TYPES)
    for p in prov.probes:
        assert p.function == "probe_work" and p.address == work
        assert p.arg_types == TYPES[p.name]
        mine = [s for s in sites if s.probe == p.name]
        assert sorted(work + o for o in p.offsets) == sorted(s.address for s in mine if not s.is_enabled)
        assert sorted(work + o for o in p.enabled_offsets) == sorted(s.address for s in mine if s.is_enabled)


def test_dof_layout_follows_the_header(nopie: Path) -> None:
    out = subprocess.run([str(nopie)], capture_output=True, text=True, check=True).stdout
    raw = bytes.fromhex(re.search(r"^dof=([0-9a-f]+)$", out, re.M).group(1))  # type: ignore[union-attr]
    # dof_hdr_t by hand (sys/dtrace.h): magic, LP64, LSB, DOF v2, DIF v2, 8 int / 8 tuple regs
    assert raw[:10] == bytes([0x7F, 0x44, 0x4F, 0x46, 2, 1, 2, 2, 8, 8])
    hdrsize, secsize, secnum = (int.from_bytes(raw[o : o + 4], "little") for o in (20, 24, 28))
    assert (hdrsize, secsize, secnum) == (64, 32, 6)
    kinds = [int.from_bytes(raw[64 + 32 * i : 68 + 32 * i], "little") for i in range(secnum)]
    assert kinds == [8, 17, 18, 26, 16, 15]  # STRTAB PRARGS PROFFS PRENOFFS PROBES PROVIDER
    filesz = int.from_bytes(raw[48:56], "little")
    assert filesz == len(raw)


def test_list_and_decode_cli(pie: Path, tmp_path: Path) -> None:
    text = subprocess.run(
        [CLI, "probes", "list", str(pie)], capture_output=True, text=True, check=True
    ).stdout
    assert "usdt     foo:bar  in probe_work" in text
    assert "args (int, char *)" in text
    dof_file = tmp_path / "pie.dof"
    subprocess.run([CLI, "probes", "dof", "encode", str(pie), "-o", str(dof_file)], check=True)
    import json

    decoded = json.loads(
        subprocess.run(
            [CLI, "probes", "dof", "decode", "--format", "json", str(dof_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    with ElfFile(pie) as elf:
        listed = {p.name: p for p in list_probes(elf)}
        expected = D.encode(to_dof_providers(usdt_probes(elf)))
    assert dof_file.read_bytes() == expected
    for p in decoded[0]["providers"][0]["probes"]:
        q = listed[p["name"]]
        assert [p["address"] + o for o in p["offsets"]] == q.sites
        assert [p["address"] + o for o in p["is_enabled_offsets"]] == q.enabled_sites
        assert p["arguments"] == TYPES[p["name"]]


def test_dof_section_in_an_elf_file(pie: Path, tmp_path: Path) -> None:
    """A DOF section as ``dtrace -G`` leaves one (``.SUNW_dof``), added with objcopy: listed and decoded."""
    require_tool("objcopy")
    dof_file = tmp_path / "x.dof"
    subprocess.run([CLI, "probes", "dof", "encode", str(pie), "-o", str(dof_file)], check=True)
    with_dof = tmp_path / "with_dof"
    add = [
        "objcopy",
        "--add-section",
        f".SUNW_dof={dof_file}",
        "--set-section-flags",
        ".SUNW_dof=alloc,readonly",
    ]
    subprocess.run([*add, str(pie), str(with_dof)], check=True)
    with ElfFile(with_dof) as elf:
        listed = list_probes(elf)
        assert registers_probes(elf)
    from_dof = {p.name: p for p in listed if p.source == "dof"}
    from_records = {p.name: p for p in listed if p.source == "usdt"}
    assert sorted(from_dof) == sorted(from_records) == sorted(TYPES)
    for name, p in from_dof.items():
        q = from_records[name]
        assert (p.sites, p.enabled_sites, p.arg_types) == (q.sites, q.enabled_sites, q.arg_types)
        assert p.function == q.function and p.section == ".SUNW_dof"
    text = subprocess.run(
        [CLI, "probes", "dof", "decode", str(with_dof)], capture_output=True, text=True, check=True
    )
    assert "(section .SUNW_dof): DOF version 2, LP64, little-endian, 6 sections" in text.stdout
