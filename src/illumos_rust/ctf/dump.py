"""``ctf dump``: a container in the layout of illumos ``ctfdump`` (``usr/src/cmd/ctfdump/ctfdump.c``), and the
same facts as a JSON-ready dict.

Text sections, in ctfdump's order: CTF Header, Label Table, Data Objects, Functions, Types, String Table,
and CTF Statistics on request. Each is introduced by ``- Title -----`` padded to 80 columns between blank
lines; types print ``<id>`` when root and ``[id]`` otherwise; struct, union, enum and forward entries end
with a blank line as ctfdump's do. Everything here is a pure function of a ``CtfFile``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .constants import (
    CTF_INT_BOOL,
    CTF_INT_CHAR,
    CTF_INT_SIGNED,
    CTF_INT_VARARGS,
    CTF_K_ARRAY,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_POINTER,
    CTF_K_STRUCT,
    CTF_K_TYPEDEF,
    CTF_K_UNION,
    CTF_K_UNKNOWN,
    FP_NAMES,
    KIND_NAMES,
    REFERENCE_KINDS,
)
from .load import CtfFile
from .names import type_name, type_size

SECTIONS = ("header", "labels", "objects", "functions", "types", "strings")
_TITLES = {
    "header": "CTF Header",
    "labels": "Label Table",
    "objects": "Data Objects",
    "functions": "Functions",
    "types": "Types",
    "strings": "String Table",
    "stats": "CTF Statistics",
}


def _title(name: str) -> list[str]:
    return ["", f"- {name} " + "-" * max(78 - len(name), 0), ""]


def _int_encoding(fmt: int) -> str:
    known = CTF_INT_SIGNED | CTF_INT_CHAR | CTF_INT_BOOL | CTF_INT_VARARGS
    if fmt == 0 or fmt & ~known:
        return f"0x{fmt:x}"
    flags = (
        (CTF_INT_SIGNED, "SIGNED"),
        (CTF_INT_CHAR, "CHAR"),
        (CTF_INT_BOOL, "BOOL"),
        (CTF_INT_VARARGS, "VARARGS"),
    )
    return " ".join(word for bit, word in flags if fmt & bit)


def iter_strings(table: bytes) -> Iterator[tuple[int, str]]:
    """(offset, string) for each NUL-terminated string of a CTF string table (``ctf_string_iter``)."""
    pos = 0
    while pos < len(table):
        end = table.find(b"\0", pos)
        if end < 0:
            end = len(table)
        yield pos, table[pos:end].decode("utf-8", "replace")
        pos = end + 1


def _args(args: Iterable[int], varargs: bool) -> str:
    listed = [str(a) for a in args]
    if varargs:
        listed.append("...")
    return ", ".join(listed)


def dump_lines(f: CtfFile, sections: Iterable[str] = SECTIONS, stats: bool = False) -> list[str]:
    c = f.container
    want = set(sections)
    out: list[str] = []
    if "header" in want:
        h = c.header
        out += _title(_TITLES["header"])
        if h is not None:
            out += [
                f"  cth_magic    = 0x{h.magic:04x}",
                f"  cth_version  = {h.version}",
                f"  cth_flags    = 0x{h.flags:02x}",
                f"  cth_parlabel = {c.parent_label or '(anon)'}",
                f"  cth_parname  = {c.parent_name or '(anon)'}",
                f"  cth_lbloff   = {h.lbloff}",
                f"  cth_objtoff  = {h.objtoff}",
                f"  cth_funcoff  = {h.funcoff}",
                f"  cth_typeoff  = {h.typeoff}",
                f"  cth_stroff   = {h.stroff}",
                f"  cth_strlen   = {h.strlen}",
            ]
    if "labels" in want:
        out += _title(_TITLES["labels"])
        out += [f"  {lb.typeidx:5d} {lb.name}" for lb in c.labels]
    if "objects" in want:
        out += _title(_TITLES["objects"])
        n = 0
        for symidx, name, tid in f.objects:
            if not tid:
                continue  # libctf ctf_lookup_by_symbol: id 0 is "no type data"
            lead = f"  [{n}] {tid}"
            out.append(f"{lead} {' ' * max(15 - len(lead), 0)}{name} ({symidx})")
            n += 1
    if "functions" in want:
        out += _title(_TITLES["functions"])
        n = 0
        for symidx, name, info in f.functions:
            if info is None:
                continue
            args = _args(info.args, info.varargs)
            out.append(f"  [{n}] {name} ({symidx}) returns: {info.return_type} args: ({args})")
            n += 1
    if "types" in want:
        out += _title(_TITLES["types"])
        for tid, t in zip(c.ids(), c.types, strict=True):
            out += _type_lines(f, tid, t)
    if "strings" in want:
        out += _title(_TITLES["strings"])
        out += [f"  [{off}] {s or chr(92) + '0'}" for off, s in iter_strings(c.strings)]
    if stats:
        out += _stats_lines(f)
    return out


def _type_lines(f: CtfFile, tid: int, t: Any) -> list[str]:
    c = f.container
    lead = f"  <{tid}> " if t.root else f"  [{tid}] "
    name = type_name(c, tid)
    kind = t.kind
    if kind == CTF_K_INTEGER:
        e = t.encoding
        return [f"{lead}{name} encoding={_int_encoding(e.format)} offset={e.offset} bits={e.bits}"]
    if kind == CTF_K_FLOAT:
        e = t.encoding
        enc = FP_NAMES[e.format] if 1 <= e.format < len(FP_NAMES) else "unknown"
        return [f"{lead}{name} encoding={enc} offset={e.offset} bits={e.bits}"]
    if kind == CTF_K_ARRAY:
        return [f"{lead}{name} contents: {t.array.contents}, index: {t.array.index}"]
    if kind == CTF_K_FUNCTION:
        return [f"{lead}{name} returns: {t.ref} args: ({_args(t.args, t.varargs)})"]
    if kind in (CTF_K_STRUCT, CTF_K_UNION):
        size = type_size(c, tid, f.pointer_size)
        lines = [f"{lead}{name} ({size} bytes)"]
        lines += [f"\t{m.name} type={m.type} off={m.offset}" for m in t.members]
        return [*lines, ""]
    if kind == CTF_K_ENUM:
        return [f"{lead}{name}", *(f"\t{e.name} = {e.value}" for e in t.enumerators), ""]
    if kind == CTF_K_FORWARD:
        return [f"{lead}forward {name}", ""]
    if kind == CTF_K_TYPEDEF:
        return [f"{lead}typedef {name} refers to {t.ref}"]
    if kind in REFERENCE_KINDS:
        return [f"{lead}{name} refers to {t.ref}"]
    return [lead]  # CTF_K_UNKNOWN: ctfdump prints only the id


def _stats_lines(f: CtfFile) -> list[str]:
    c = f.container
    out = _title(_TITLES["stats"])

    def num(label: str, value: int) -> None:
        out.append(f"  {label:<36}= {value}")

    def avg(label: str, value: float) -> None:
        out.append(f"  {label:<36}= {value:.2f}")

    nobj = sum(1 for _, _, t in f.objects if t)
    funcs = [fi for _, _, fi in f.functions if fi is not None]
    nargs = sum(len(fi.args) for fi in funcs)
    num("total number of data objects", nobj)
    out.append("")
    num("total number of functions", len(funcs))
    num("total number of function arguments", nargs)
    num("maximum argument list length", max((len(fi.args) for fi in funcs), default=0))
    if funcs:
        avg("average argument list length", nargs / len(funcs))
    out.append("")
    counts = {k: 0 for k in KIND_NAMES}
    for t in c.types:
        counts[t.kind] += 1
    num("total number of types", len(c.types))
    labels = (
        (CTF_K_INTEGER, "integers"),
        (CTF_K_FLOAT, "floats"),
        (CTF_K_POINTER, "pointers"),
        (CTF_K_ARRAY, "arrays"),
        (CTF_K_FUNCTION, "func types"),
        (CTF_K_STRUCT, "structs"),
        (CTF_K_UNION, "unions"),
        (CTF_K_ENUM, "enums"),
        (CTF_K_FORWARD, "forward tags"),
        (CTF_K_TYPEDEF, "typedefs"),
        (11, "volatile types"),
        (12, "const types"),
        (13, "restrict types"),
        (CTF_K_UNKNOWN, "unknowns (holes)"),
    )
    for kind, label in labels:
        num(f"total number of {label}", counts[kind])
    for kind, word in ((CTF_K_STRUCT, "struct"), (CTF_K_UNION, "union")):
        sous = [t for t in c.types if t.kind == kind]
        members = [len(t.members) for t in sous]
        sizes = [t.size for t in sous]
        out.append("")
        num(f"total number of {word} members", sum(members))
        num(f"maximum number of {word} members", max(members, default=0))
        num(f"total size of all {word}s", sum(sizes))
        num(f"maximum size of a {word}", max(sizes, default=0))
        if sous:
            avg(f"average number of {word} members", sum(members) / len(sous))
            avg(f"average size of a {word}", sum(sizes) / len(sous))
    enums = [len(t.enumerators) for t in c.types if t.kind == CTF_K_ENUM]
    out.append("")
    num("total number of enum members", sum(enums))
    num("maximum number of enum members", max(enums, default=0))
    if enums:
        avg("average number of enum members", sum(enums) / len(enums))
    out.append("")
    strings = [len(s.encode()) + 1 for _, s in iter_strings(c.strings)]
    num("total number of strings", len(strings))
    num("bytes of string data", sum(strings))
    num("maximum string length", max(strings, default=0))
    if strings:
        avg("average string length", sum(strings) / len(strings))
    out.append("")
    return out


def dump_json(f: CtfFile) -> dict[str, Any]:
    """Every fact of the container, ids as numbers and names both raw and as libctf renders them."""
    c = f.container
    h = c.header
    types = []
    for tid, t in zip(c.ids(), c.types, strict=True):
        entry: dict[str, Any] = {
            "id": tid,
            "kind": KIND_NAMES[t.kind],
            "name": t.name,
            "c_name": type_name(c, tid),
            "root": t.root,
        }
        size = type_size(c, tid, f.pointer_size)
        if t.kind not in (CTF_K_FORWARD,) and size is not None:
            entry["size"] = size
        if t.encoding is not None:
            entry["encoding"] = {
                "format": t.encoding.format,
                "offset": t.encoding.offset,
                "bits": t.encoding.bits,
            }
        if t.array is not None:
            entry["array"] = {"contents": t.array.contents, "index": t.array.index, "nelems": t.array.nelems}
        if t.kind in (CTF_K_STRUCT, CTF_K_UNION):
            entry["members"] = [{"name": m.name, "type": m.type, "offset_bits": m.offset} for m in t.members]
        if t.kind == CTF_K_ENUM:
            entry["enumerators"] = [{"name": e.name, "value": e.value} for e in t.enumerators]
        if t.kind in REFERENCE_KINDS:
            entry["ref"] = t.ref
        if t.kind == CTF_K_FUNCTION:
            entry.update(returns=t.ref, args=list(t.args), varargs=t.varargs)
        if t.kind == CTF_K_FORWARD:
            entry["forward_kind"] = KIND_NAMES[t.forward_kind]
        types.append(entry)
    return {
        "file": f.path,
        "header": None
        if h is None
        else {
            "magic": h.magic,
            "version": h.version,
            "flags": h.flags,
            "parlabel": c.parent_label,
            "parname": c.parent_name,
            "lbloff": h.lbloff,
            "objtoff": h.objtoff,
            "funcoff": h.funcoff,
            "typeoff": h.typeoff,
            "stroff": h.stroff,
            "strlen": h.strlen,
        },
        "symtab": f.symtab_name,
        "labels": [{"name": lb.name, "typeidx": lb.typeidx} for lb in c.labels],
        "objects": [{"symidx": i, "name": n, "type": t} for i, n, t in f.objects if t],
        "functions": [
            {"symidx": i, "name": n, "returns": fi.return_type, "args": list(fi.args), "varargs": fi.varargs}
            for i, n, fi in f.functions
            if fi is not None
        ],
        "types": types,
    }
