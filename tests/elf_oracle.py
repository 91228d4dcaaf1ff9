"""Parse GNU readelf's ``-W`` output: the independent oracle the ELF core is compared against."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


@dataclass
class ReSection:
    index: int
    name: str
    addr: int
    offset: int
    size: int


_SEC = re.compile(
    r"^\s*\[\s*(\d+)\]\s(.{0,})?\s+(\S+)\s+([0-9a-f]{8,16})\s+([0-9a-f]{6,})\s+([0-9a-f]{6,})\s+[0-9a-f]{2}\s"
)


def sections(path: Path) -> list[ReSection]:
    out = []
    for line in readelf("-S", str(path)).splitlines():
        m = _SEC.match(line)
        if m:
            out.append(
                ReSection(int(m[1]), (m[2] or "").strip(), int(m[4], 16), int(m[5], 16), int(m[6], 16))
            )
    return out


@dataclass
class ReDyn:
    tag: int
    text: str


def dynamic(path: Path) -> tuple[int | None, list[ReDyn]]:
    """readelf -d: the announced entry count and each (tag, rendered value) up to the first DT_NULL."""
    text = readelf("-d", str(path))
    m = re.search(r"contains (\d+) entr", text)
    count = int(m[1]) if m else None
    rows = []
    for line in text.splitlines():
        mm = re.match(r"^\s*0x([0-9a-f]+)\s+\((\S+)\)\s+(.*)$", line)
        if mm:
            rows.append(ReDyn(int(mm[1], 16), mm[3].strip()))
    return count, rows


def bracketed(text: str) -> str | None:
    m = re.search(r"\[(.*)\]", text)
    return m[1] if m else None


@dataclass
class ReSym:
    num: int
    value: int
    size: int
    type: str
    bind: str
    ndx: str
    name: str


def symbols(path: Path) -> dict[str, list[ReSym]]:
    tables: dict[str, list[ReSym]] = {}
    current: list[ReSym] | None = None
    for line in readelf("-s", str(path)).splitlines():
        m = re.match(r"^Symbol table '([^']+)' contains (\d+) entr", line)
        if m:
            current = tables.setdefault(m[1], [])
            continue
        mm = re.match(
            r"^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(?:\[[^\]]*\]\s+)?(\S+)\s?(.*)$",
            line,
        )
        if mm and current is not None:
            size = int(mm[3], 16) if mm[3].startswith("0x") else int(mm[3])
            name = mm[8]
            name = re.sub(r"@{1,2}\S+( \(\d+\))?$", "", name)  # readelf appends @VERSION (n) to .dynsym names
            current.append(ReSym(int(mm[1]), int(mm[2], 16), size, mm[4], mm[5], mm[7], name))
    return tables


@dataclass
class ReFde:
    offset: int
    pc_begin: int
    pc_end: int
    rows: list[tuple[int, str, dict[str, str]]]


def frames_interp(path: Path) -> list[ReFde]:
    """readelf --debug-dump=frames-interp: every FDE with its CFA table (CIEs skipped)."""
    text = subprocess.run(
        ["readelf", "-W", "--debug-dump=frames-interp", str(path)], check=True, capture_output=True, text=True
    ).stdout
    out: list[ReFde] = []
    cur: ReFde | None = None
    columns: list[str] = []
    for line in text.splitlines():
        m = re.match(
            r"^([0-9a-f]{8}) [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", line
        )
        if m:
            cur = ReFde(int(m[1], 16), int(m[2], 16), int(m[3], 16), [])
            out.append(cur)
            continue
        if re.match(r"^[0-9a-f]{8} [0-9a-f]+ [0-9a-f]+ CIE", line):
            cur = None
            continue
        if not line.strip() or "ZERO terminator" in line:
            cur = None if not line.strip() and cur is not None and cur.rows else cur
            continue
        if line.strip().startswith("LOC"):
            columns = line.split()[2:]
            continue
        mm = re.match(r"^([0-9a-f]{8,16}) (\S+)\s*(.*)$", line)
        if mm and cur is not None:
            cells = mm[3].split()
            cur.rows.append((int(mm[1], 16), mm[2], dict(zip(columns, cells, strict=False))))
    return out
