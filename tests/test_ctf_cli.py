"""``illumos-rust ctf dump``: ctfdump layout, JSON, exit codes; facts checked against the oracle dumps."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from conftest import shared_path
from illumos_rust.cli.main import main
from illumos_rust.ctf.reader import read_container
from test_ctf_reader import parse_oracle


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["ctf", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dump_text_layout(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_path("fixtures", "ctf", "objfunc.o")
    oracle = parse_oracle(shared_path("fixtures", "ctf", "objfunc.expected.txt").read_text())
    code, out, _ = run(capsys, "dump", str(path))
    assert code == 0
    lines = out.splitlines()
    titles = [ln for ln in lines if ln.startswith("- ")]
    assert [t.split(" -")[0][2:] for t in titles] == [
        "CTF Header",
        "Label Table",
        "Data Objects",
        "Functions",
        "Types",
        "String Table",
    ]
    # ctfdump.c ctfdump_title: "- %s %.*s" with 78 - strlen(title) dashes (81 columns in all).
    assert all(t == f"- {t[2:].split(' -')[0]} " + "-" * (78 - len(t[2:].split(" -")[0])) for t in titles)
    # Header values: read independently from the section bytes (readelf gives its offset).
    blob = path.read_bytes()[0x1A8 : 0x1A8 + 0x22D]
    magic, version, flags, *_rest, stroff, strlen = struct.unpack("<HBB8I", blob[:36])
    assert f"  cth_magic    = 0x{magic:04x}" in lines and f"  cth_stroff   = {stroff}" in lines
    assert f"  cth_version  = {version}" in lines and f"  cth_flags    = 0x{flags:02x}" in lines
    assert f"  cth_strlen   = {strlen}" in lines
    # Data objects and functions: the oracle's symbol -> type map, in ctfdump's column layout.
    objects = [
        ln for ln in lines if ln.startswith("  [") and "(" in ln and "returns" not in ln and "] \\0" not in ln
    ]
    entries: list[tuple[int, str, int, str]] = oracle["objects"]  # type: ignore[assignment]
    for n, entry in enumerate(entries):
        symidx, name, tid = entry[:3]
        lead = f"  [{n}] {tid}"
        assert f"{lead} {' ' * (15 - len(lead))}{name} ({symidx})" in objects
    (symidx, name, ret, args, fl) = oracle["functions"][0]  # type: ignore[index]
    want_args = ", ".join([*(str(a) for a in args), *(["..."] if fl else [])])
    assert f"  [0] {name} ({symidx}) returns: {ret} args: ({want_args})" in lines
    # Types: every oracle type appears with its id, root marker and libctf name.
    for tid, t in oracle["types"].items():  # type: ignore[attr-defined]
        lead = f"  <{tid}> " if t["root"] else f"  [{tid}] "
        assert any(ln.startswith(lead) and t["name"] in ln for ln in lines), (tid, t)
    assert "\tBLUE = -1" in lines and "\ttail type=3 off=560000" in lines


def test_dump_selected_sections_and_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "dump", "-t", "-S", str(shared_path("fixtures", "ctf", "ctfconv_t.o")))
    assert code == 0
    assert "- Types " in out and "- CTF Header" not in out and "- CTF Statistics" in out
    assert "  total number of types               = 19" in out.splitlines()


def test_dump_json_matches_oracle(capsys: pytest.CaptureFixture[str]) -> None:
    oracle = parse_oracle(shared_path("fixtures", "ctf", "ctfconv_t.expected.txt").read_text())
    code, out, _ = run(capsys, "dump", "--format", "json", str(shared_path("fixtures", "ctf", "ctfconv_t.o")))
    assert code == 0
    data = json.loads(out)
    assert {t["id"]: t["c_name"] for t in data["types"]} == {
        i: t["name"]
        for i, t in oracle["types"].items()  # type: ignore[attr-defined]
    }
    assert [(o["symidx"], o["name"], o["type"]) for o in data["objects"]] == [
        o[:3]
        for o in oracle["objects"]  # type: ignore[attr-defined]
    ]
    assert data["labels"] == [{"name": "mylabel", "typeidx": 19}]


def test_dump_writes_uncompressed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = shared_path("fixtures", "ctf", "created_z.ctf")
    out = tmp_path / "raw.ctf"
    code, _, _ = run(capsys, "dump", "-H", "-u", str(out), str(src))
    assert code == 0
    raw = out.read_bytes()
    assert raw[3] == 0  # flags: not compressed
    assert read_container(raw) == read_container(src.read_bytes())


@pytest.mark.parametrize("fixture", ["gnu_ctf.o", "rustypes.rs"])
def test_bad_input_exit_2_one_line(fixture: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "dump", str(shared_path("fixtures", "ctf", fixture)))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fixture in err


def test_elf_without_ctf(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "dump", str(shared_path("fixtures", "ctf", "rustbin")))
    assert code == 2 and "no .SUNW_ctf section" in err
