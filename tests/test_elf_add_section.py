"""``elf.add_section``: the new section is what readelf and objcopy see, and the program still runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import build_rust, require_tool
from illumos_rust.elf.add_section import add_section, write_atomically
from illumos_rust.elf.reader import ElfFile
from illumos_rust.errors import UnsafeEditError

PROGRAM = 'fn main() { println!("still runs {}", std::env::args().count()); }'


def _dump_section(path: Path, name: str, tmp: Path) -> bytes:
    out = tmp / "dumped.bin"
    subprocess.run(
        [require_tool("objcopy"), "--dump-section", f"{name}={out}", str(path), str(tmp / "scratch")],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def test_add_then_replace(tmp_path: Path) -> None:
    exe = build_rust(PROGRAM, "addsec", "-g")
    payload = os.urandom(1001)
    with ElfFile(exe) as elf:
        symtab = next(s.index for s in elf.sections if s.name == ".symtab")
        count = len(elf.sections)
        image = add_section(elf, ".SUNW_ctf", payload, sh_link=symtab)
    out = tmp_path / "prog"
    out.write_bytes(image)
    out.chmod(0o755)
    listing = subprocess.run(
        [require_tool("readelf"), "-SW", str(out)], check=True, capture_output=True, text=True
    ).stdout
    line = next(ln for ln in listing.splitlines() if ".SUNW_ctf" in ln)
    fields = line.split("]", 1)[1].split()
    # readelf columns: name type address offset size entsize flags? link info align
    assert fields[0] == ".SUNW_ctf" and fields[1] == "PROGBITS"
    assert int(fields[4], 16) == len(payload)
    assert fields[-3:] == [str(symtab), "0", "4"]
    assert f"There are {count + 1} section headers" in listing
    assert _dump_section(out, ".SUNW_ctf", tmp_path) == payload
    run = subprocess.run([str(out), "a"], check=True, capture_output=True, text=True)
    assert run.stdout == "still runs 2\n"

    # Replacing keeps the index and the count.
    second = b"\x01" * 77
    with ElfFile(out) as elf:
        image2 = add_section(elf, ".SUNW_ctf", second, sh_link=symtab)
    out.write_bytes(image2)
    with ElfFile(out) as elf:
        assert len(elf.sections) == count + 1
        assert [s.name for s in elf.sections].index(".SUNW_ctf") == count
    assert _dump_section(out, ".SUNW_ctf", tmp_path) == second
    assert subprocess.run([str(out)], check=True, capture_output=True).returncode == 0


def test_write_atomically_refusal_leaves_original(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    target.chmod(0o750)

    def refuse(_tmp: str) -> None:
        raise UnsafeEditError(str(target), "verification failed")

    with pytest.raises(UnsafeEditError):
        write_atomically(str(target), b"new", refuse)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]
    write_atomically(str(target), b"new", lambda _tmp: None)
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o750
