"""The CTF reader against an independent libctf: every fixture decodes to exactly the oracle's dump.

The ``*.expected.txt`` files were printed by Sun's libctf (the 2012 Linux port, see the fixtures README);
this test parses that text and compares it field by field with what ``ctf.reader`` + ``ctf.names`` give.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from conftest import shared_path
from illumos_rust.ctf.constants import CTF_K_FUNCTION, KIND_NAMES, REFERENCE_KINDS
from illumos_rust.ctf.load import CtfFile, load_ctf
from illumos_rust.ctf.names import type_name, type_size
from illumos_rust.ctf.reader import read_container
from illumos_rust.errors import FormatError

TYPE_LINE = re.compile(r'^([<\[])(\d+)[>\]] (\w+) "(.*)" size=(-?\d+)$')


def parse_oracle(text: str) -> dict[str, object]:
    """The oracle dump as plain data: types (id -> fields), labels, objects, functions."""
    types: dict[int, dict[str, object]] = {}
    labels: list[tuple[str, int]] = []
    objects: list[tuple[int, str, int, str]] = []
    functions: list[tuple[int, str, int, tuple[int, ...], int]] = []
    current: dict[str, object] | None = None
    for line in text.splitlines():
        if m := TYPE_LINE.match(line):
            current = {
                "root": m[1] == "<",
                "kind": m[3],
                "name": m[4],
                "size": int(m[5]),
                "details": [],
            }
            types[int(m[2])] = current
        elif line.startswith("    "):
            assert current is not None
            current["details"].append(line.strip())  # type: ignore[attr-defined]
        elif m := re.match(r"^label (\S+) typeidx=(\d+)$", line):
            labels.append((m[1], int(m[2])))
        elif m := re.match(r"^object \[(\d+)\] (\S+) : <(\d+)> (.*)$", line):
            objects.append((int(m[1]), m[2], int(m[3]), m[4]))
        elif m := re.match(r"^func \[(\d+)\] (\S+) : ret <(\d+)> argc=(\d+) flags=(\S+) args:(.*)$", line):
            args = tuple(int(a) for a in re.findall(r"<(\d+)>", m[6]))
            assert len(args) == int(m[4])
            functions.append((int(m[1]), m[2], int(m[3]), args, int(m[5], 16)))
        else:
            assert line.startswith("model=") or not line, line
    return {"types": types, "labels": labels, "objects": objects, "functions": functions}


def our_dump(f: CtfFile) -> dict[str, object]:
    """The same structure built from our reader, detail lines spelled like the oracle's."""
    c = f.container
    types: dict[int, dict[str, object]] = {}
    for tid, t in zip(c.ids(), c.types, strict=True):
        details: list[str] = []
        if t.encoding is not None:
            e = t.encoding
            details.append(f"encoding format=0x{e.format:x} offset={e.offset} bits={e.bits}")
        if t.array is not None:
            a = t.array
            details.append(f"array contents={a.contents} index={a.index} nelems={a.nelems}")
        for mem in t.members:
            details.append(f"member {mem.name} type={mem.type} <{type_name(c, mem.type)}> off={mem.offset}")
        for en in t.enumerators:
            details.append(f"enumerator {en.name} = {en.value}")
        if t.kind in REFERENCE_KINDS:
            details.append(f"ref={t.ref}")
        if t.kind == CTF_K_FUNCTION:
            details.append("ref=-1")  # the oracle's old API cannot report a function's return here
        types[tid] = {
            "root": t.root,
            "kind": KIND_NAMES[t.kind],
            "name": type_name(c, tid),
            "size": type_size(c, tid, f.pointer_size),
            "details": details,
        }
    objects = [(i, n, ty, type_name(c, ty)) for i, n, ty in f.objects if ty]
    functions = [
        (i, n, fi.return_type, fi.args, int(fi.varargs)) for i, n, fi in f.functions if fi is not None
    ]
    return {
        "types": types,
        "labels": [(lb.name, lb.typeidx) for lb in c.labels],
        "objects": objects,
        "functions": functions,
    }


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("created.ctf", "created.expected.txt"),
        ("created_z.ctf", "created.expected.txt"),
        ("objfunc.o", "objfunc.expected.txt"),
        ("ctfconv_t.o", "ctfconv_t.expected.txt"),
        ("ctfconv_t.ctf", "ctfconv_t.expected.txt"),
    ],
)
def test_fixture_reads_to_oracle_dump(fixture: str, expected: str) -> None:
    path = shared_path("fixtures", "ctf", fixture)
    want = parse_oracle(shared_path("fixtures", "ctf", expected).read_text())
    got = our_dump(load_ctf(path))
    if fixture.endswith(".ctf"):  # a raw container has no symbol table to pair entries with
        want["objects"] = want["functions"] = []
    assert got == want


def test_compressed_and_plain_agree() -> None:
    plain = load_ctf(shared_path("fixtures", "ctf", "created.ctf")).container
    packed = load_ctf(shared_path("fixtures", "ctf", "created_z.ctf")).container
    assert packed.compressed and not plain.compressed
    assert plain == packed


def test_ctfconv_sections_and_label() -> None:
    f = load_ctf(shared_path("fixtures", "ctf", "ctfconv_t.o"))
    assert f.container.compressed
    assert f.symtab_name == ".symtab"
    # Independent: readelf lists the symbols the object entries belong to, in this order.
    assert [n for _, n, _ in f.objects] == ["gp", "gpp", "gc", "gu", "cvi", "arr", "gb", "gbits"]


def test_gnu_ctf_is_refused_clearly() -> None:
    with pytest.raises(FormatError, match=r"GNU CTF \(magic 0xdff2"):
        load_ctf(shared_path("fixtures", "ctf", "gnu_ctf.o"))


def _blob() -> bytes:
    return shared_path("fixtures", "ctf", "created.ctf").read_bytes()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:20], "header truncated"),
        (lambda b: b[:100], "body truncated"),
        (lambda b: b[:2] + b"\x03" + b[3:], "FreeBSD CTF v3"),
        (lambda b: b[:2] + b"\x01" + b[3:], "CTF version 1"),
        (lambda b: b[:3] + b"\x80" + b[4:], "unknown CTF header flags"),
        (lambda b: b"\x00\x00" + b[2:], "not a CTF container"),
        (lambda b: b[:3] + b"\x01" + b[4:36] + zlib.compress(b[36:])[:-3], "zlib"),
        (lambda b: b[:3] + b"\x01" + b[4:36] + bytes(b[36:]), "zlib"),
        (lambda b: b[:24] + (2).to_bytes(4, "little") + b[28:], "aligned|order"),
        (lambda b: b[:36] + b"\x00\x00\x00\x00\xff\xff\x00\x00" + b[44:], "undefined kind|refers|truncated"),
    ],
)
def test_malformed_containers_raise_format_error(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError, match=message):
        read_container(mutate(_blob()), "x.ctf")


def test_missing_file_is_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read"):
        load_ctf(tmp_path / "nope")
