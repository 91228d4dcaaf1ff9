"""Compressed debug sections: gABI ``SHF_COMPRESSED`` (``gcc -gz``) and GNU ``.zdebug_*`` (``-gz=zlib-gnu``)
read exactly like the plain object; damaged or unsupported compression is a ``FormatError``."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from dwarf_inputs import build_c
from illumos_rust.dwarf import DwarfInfo
from illumos_rust.elf import ElfFile
from illumos_rust.elf import constants as C
from illumos_rust.errors import FormatError


def dump(path: Path) -> list[tuple[int, int, dict[int, object]]]:
    with DwarfInfo.open(path) as dwarf:
        rows: list[tuple[int, int, dict[int, object]]] = [
            (d.offset, d.tag, {k: a.value for k, a in d.attributes.items()}) for d in dwarf.iter_dies()
        ]
        for unit in dwarf.compile_units:
            table = dwarf.line_table(unit)
            assert table is not None
            rows.append((-1, len(table.rows), {0: table.rows}))
    return rows


@pytest.mark.parametrize("style", ["zlib", "zlib-gnu"])
def test_compressed_objects_read_like_the_plain_one(style: str, tmp_path: Path) -> None:
    plain = build_c("plain5", "gcc", "-g", "-gdwarf-5")
    packed = tmp_path / f"{style}.o"
    objcopy = require_tool("objcopy")
    subprocess.run([objcopy, f"--compress-debug-sections={style}", str(plain), str(packed)], check=True)
    with ElfFile(packed) as elf:
        names = [s.name for s in elf.sections]
        if style.endswith("gnu"):
            assert ".zdebug_info" in names
        else:
            assert any(s.sh_flags & C.SHF_COMPRESSED for s in elf.sections if s.name == ".debug_info")
    assert dump(packed) == dump(plain)


def _patched(tmp_path: Path, field: int, value: int) -> Path:
    obj = build_c("packed5-gz=zlib", "gcc", "-g", "-gdwarf-5", "-gz=zlib")
    data = bytearray(obj.read_bytes())
    with ElfFile(obj) as elf:
        sec = elf.section(".debug_info")
        assert sec is not None and sec.sh_flags & C.SHF_COMPRESSED
        off = sec.sh_offset
    # Elf64_Chdr: ch_type u32, ch_reserved u32, ch_size u64, ch_addralign u64 (gABI).
    fmt = {0: "<I", 8: "<Q"}[field]
    struct.pack_into(fmt, data, off + field, value)
    out = tmp_path / "patched.o"
    out.write_bytes(data)
    return out


def test_zstd_is_reported_not_misread(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"\.debug_info: unsupported compression \(zstd\)"):
        DwarfInfo.open(_patched(tmp_path, 0, 2))


def test_a_wrong_inflated_size_is_reported(tmp_path: Path) -> None:
    obj = _patched(tmp_path, 8, 5)
    with pytest.raises(FormatError, match=r"inflates to 6\+ bytes, header says 5"):
        DwarfInfo.open(obj)
    with pytest.raises(FormatError, match=r"implausible"):
        DwarfInfo.open(_patched(tmp_path, 8, 1 << 40))
