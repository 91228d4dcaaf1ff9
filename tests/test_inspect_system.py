"""``inspect`` and ``audit`` on the ELF files of the machine the tests run on (issue 11).

Up to 300 ELF files of /usr/bin and /usr/lib/x86_64-linux-gnu, sampled evenly over the sorted list so every
run on one machine sees the same files (skips if fewer than 20 exist). For each, GNU readelf is the oracle,
field by field: NEEDED (in order), SONAME, RUNPATH, RPATH, the number of section headers and of ``.dynsym``
entries. The library result and the JSON CLI (a few subprocesses over batches of files) must both agree.
``audit`` runs in process through the library on every sampled file (measured: 15 s for the 300, libLLVM
included, within the test budget) and must never raise: a ``FormatError`` there is exactly what makes
``illumos-rust audit`` exit 2.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import elf_oracle as ro
from conftest import require_tool
from illumos_rust.audit import audit
from illumos_rust.inspect import inspect_path
from test_cli_inspect import cli

ROOTS = ("/usr/bin", "/usr/lib/x86_64-linux-gnu")
SAMPLE = 300
BATCH = 60


def _system_elf_files() -> list[Path]:
    found: list[Path] = []
    for root in ROOTS:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                p = Path(dirpath, name)
                try:
                    if p.is_symlink() or not p.is_file():
                        continue
                    with p.open("rb") as fh:
                        if fh.read(4) == b"\x7fELF":
                            found.append(p)
                except OSError:
                    continue
    found.sort()
    if len(found) <= SAMPLE:
        return found
    step = len(found) / SAMPLE
    return [found[int(i * step)] for i in range(SAMPLE)]


@dataclass
class Expected:
    needed: list[str]
    soname: str | None
    runpath: str | None
    rpath: str | None
    sections: int
    dynsym: int


def _readelf(path: Path) -> Expected:
    text = ro.readelf("-S", "-d", "--dyn-syms", str(path))
    m = re.search(r"There (?:are|is) (\d+) section headers?", text)
    sections = int(m[1]) if m else 0
    needed, soname, runpath, rpath = [], None, None, None
    for line in text.splitlines():
        d = re.match(r"^\s*0x[0-9a-f]+\s+\((NEEDED|SONAME|RUNPATH|RPATH)\)\s+.*?\[(.*)\]\s*$", line)
        if not d:
            continue
        if d[1] == "NEEDED":
            needed.append(d[2])
        elif d[1] == "SONAME":
            soname = d[2]
        elif d[1] == "RUNPATH":
            runpath = d[2]
        else:
            rpath = d[2]
    m = re.search(r"Symbol table '\.dynsym' contains (\d+) entr", text)
    return Expected(needed, soname, runpath, rpath, sections, int(m[1]) if m else 0)


@pytest.fixture(scope="module")
def sample() -> list[tuple[Path, Expected]]:
    require_tool("readelf")
    files = _system_elf_files()
    if len(files) < 20:
        pytest.skip(f"only {len(files)} ELF files under {', '.join(ROOTS)}; the walk needs at least 20")
    return [(p, _readelf(p)) for p in files]


def _same(got: dict[str, object], want: Expected) -> dict[str, tuple[object, object]]:
    """Field name -> (ours, readelf's) for every disagreement."""
    pairs = {
        "needed": (got["needed"], want.needed),
        "soname": (got["soname"], want.soname),
        "runpath": (got["runpath"], want.runpath),
        "rpath": (got["rpath"], want.rpath),
        "sections": (got["sections"], want.sections),
        "dynsym": (got["dynsym"], want.dynsym),
    }
    return {k: v for k, v in pairs.items() if v[0] != v[1]}


def test_library_agrees_with_readelf(sample: list[tuple[Path, Expected]]) -> None:
    wrong = {}
    for path, want in sample:
        diff = _same(inspect_path(path).to_dict(), want)
        if diff:
            wrong[str(path)] = diff
    assert not wrong, f"{len(wrong)} of {len(sample)} files disagree with readelf: {wrong}"


def test_json_cli_agrees_with_readelf(sample: list[tuple[Path, Expected]]) -> None:
    wrong = {}
    for start in range(0, len(sample), BATCH):
        batch = sample[start : start + BATCH]
        res = cli("inspect", "--format", "json", *(str(p) for p, _ in batch))
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        rows = data if isinstance(data, list) else [data]
        assert [r["path"] for r in rows] == [str(p) for p, _ in batch]
        for row, (path, want) in zip(rows, batch, strict=True):
            diff = _same(row, want)
            if diff:
                wrong[str(path)] = diff
    assert not wrong, f"{len(wrong)} of {len(sample)} files disagree with readelf: {wrong}"


def test_audit_never_rejects_a_system_file(sample: list[tuple[Path, Expected]]) -> None:
    failures = {}
    for path, _ in sample:
        try:
            audit(path)
        except Exception as exc:  # a FormatError here is an exit 2; anything else would be a crash
            failures[str(path)] = f"{type(exc).__name__}: {exc}"
    assert not failures, failures
