"""``fde_count``: the FDE count ``inspect`` shows, from ``.eh_frame_hdr`` (or entry lengths), never decoded.

Oracle: the number of ``FDE cie=`` entries ``readelf --debug-dump=frames`` prints, on files with a header
(GNU ld, rust-lld, the illumos fixture) and without one (a relocatable object, ``--no-eh-frame-hdr``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import build_rust, require_tool, shared_path
from illumos_rust.elf import ElfFile
from illumos_rust.elf.eh_frame import fde_count
from illumos_rust.inspect import inspect_path

SRC = '#include <stdio.h>\nstatic int f(int x) { return x * 3; }\nint main(void) { printf("%d", f(2)); }\n'


def readelf_fdes(path: Path) -> int:
    return len(
        re.findall(
            r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=", ro.readelf("--debug-dump=frames", str(path)), re.M
        )
    )


def _check(path: Path, has_hdr: bool) -> None:
    want = readelf_fdes(path)
    assert want > 0
    with ElfFile(path) as elf:
        assert (elf.section(".eh_frame_hdr") is not None) == has_hdr
        assert fde_count(elf) == want
    assert inspect_path(path).fdes == want


@pytest.mark.parametrize("flags", [(), ("-Wl,--no-eh-frame-hdr",), ("-c",)], ids=["hdr", "no-hdr", "object"])
def test_gcc_outputs(tmp_path: Path, flags: tuple[str, ...]) -> None:
    gcc = require_tool("gcc")
    src = tmp_path / "p.c"
    src.write_text(SRC)
    out = tmp_path / "p.o"
    subprocess.run([gcc, "-O1", *flags, "-o", str(out), str(src)], check=True)
    _check(out, has_hdr=not flags)


def test_rust_binary() -> None:
    _check(build_rust('fn main() { println!("hi"); }', "fdes_hello", "-O"), has_hdr=True)


def test_illumos_fixture() -> None:
    _check(shared_path("fixtures", "illumos-rust", "bin", "illumos", "hello"), has_hdr=True)
