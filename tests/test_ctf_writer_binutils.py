"""The writer's output read by an implementation that is not ours: GNU binutils ``objdump --ctf``.

binutils reads only GNU CTF, but its version 1 is the illumos v2 record layout behind a 40-byte header
(``shared/notes/ctf.md`` §4.3, "Oracle B"): rewrite the header (magic 0xdff2, version 1, varoff = typeoff),
wrap the body in an ELF without a symbol table, and ``objdump`` prints every type with its size and every
member with its bit offset. binutils 2.40 asserts on v1 function records, so function types are replaced by a
0-bit integer before writing (same ids; pointers to them keep their size). GNU reports every enum as 4 bytes
(its data model's int), so enum sizes are not compared.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool, shared_path
from illumos_rust.ctf.constants import CTF_K_FUNCTION, CTF_K_INTEGER, CTF_K_STRUCT, CTF_K_UNION
from illumos_rust.ctf.model import Container, CtfType, Encoding
from illumos_rust.ctf.writer import write_container
from illumos_rust.ctfconvert.convert import build


def _objdump(c: Container, tmp: Path) -> str:
    stubbed = tuple(
        CtfType(CTF_K_INTEGER, "fnstub", True, 0, encoding=Encoding(0, 0, 0))
        if t.kind == CTF_K_FUNCTION
        else t
        for t in c.types
    )
    raw = write_container(dataclasses.replace(c, types=stubbed, objects=(), functions=()), compress=False)
    _magic, _version, flags, parlabel, parname, lbl, objt, func, typ, stro, strl = struct.unpack_from(
        "<HBB8I", raw
    )
    gnu = struct.pack("<HBB9I", 0xDFF2, 1, flags, parlabel, parname, lbl, objt, func, typ, typ, stro, strl)
    (tmp / "blob.bin").write_bytes(gnu + raw[36:])
    objcopy = require_tool("objcopy")
    obj = tmp / "wrapped.o"
    subprocess.run(
        [
            objcopy,
            "-I",
            "binary",
            "-O",
            "elf64-x86-64",
            "-B",
            "i386:x86-64",
            "--rename-section",
            ".data=.ctf,contents,readonly",
            "blob.bin",
            str(obj),
        ],
        check=True,
        capture_output=True,
        cwd=tmp,
    )
    subprocess.run([objcopy, "--strip-all", str(obj)], check=True, capture_output=True)
    return subprocess.run(
        [require_tool("objdump"), "--ctf=.ctf", str(obj)], check=True, capture_output=True, text=True
    ).stdout


def _gnu_types(dump: str) -> dict[int, tuple[int, int, list[tuple[str, int]]]]:
    """id -> (kind, size, [(member, bit offset)]) from the top-level entries of objdump's Types list."""
    out: dict[int, tuple[int, int, list[tuple[str, int]]]] = {}
    current: int | None = None
    indent = ""
    for line in dump.split("  Types:", 1)[1].splitlines():
        if m := re.match(r"^    (0x([0-9a-f]+)): \(kind (\d+)\) .*?\(size 0x([0-9a-f]+)\)", line):
            current = int(m[2], 16)
            out[current] = (int(m[3]), int(m[4], 16), [])
            indent = " " * (4 + len(m[1]) + 2)  # members of this type; nested members are indented further
        elif current is not None and (m := re.match(rf"^{indent}\[0x([0-9a-f]+)\] ([^:]*): ID", line)):
            out[current][2].append((m[2], int(m[1], 16)))
    return out


@pytest.mark.parametrize("fixture", ["rustypes.o", "rustbin"])
def test_binutils_reads_our_structs(fixture: str, tmp_path: Path) -> None:
    src = shared_path("fixtures", "ctf", fixture)
    work = tmp_path / fixture
    shutil.copy(src, work)
    container, _report, _ = build(str(work))
    gnu = _gnu_types(_objdump(container, tmp_path))
    compared = 0
    for tid, t in zip(container.ids(), container.types, strict=True):
        if t.kind not in (CTF_K_STRUCT, CTF_K_UNION):
            continue
        kind, size, members = gnu[tid]
        assert (kind, size) == (t.kind, t.size), (tid, t.name)
        assert members == [(m.name, m.offset) for m in t.members], (tid, t.name)
        compared += 1
    assert compared > 20
