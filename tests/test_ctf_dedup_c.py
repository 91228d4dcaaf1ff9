"""Whole-binary dedup of C programs built from several units with ``gcc -g``: one CTF type per C type.

The failure this guards against (seen on glibc's debug file): a unit that only saw ``struct node;`` has a
forward where another unit has the definition, so every type pointing at ``struct node`` — and everything
pointing at those — was emitted once per variant. Checked against DWARF read by pyelftools (the forward
really is there; sizes and member offsets) and against ``gcc -gctf`` linked by GNU ld, whose CTF
deduplicator merges the same program (``objdump --ctf``). Also: genuinely different types that share a
name stay apart, and a forward never completes to a struct private to another unit's ``.c`` file.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import require_tool
from illumos_rust.ctf.constants import CTF_K_FORWARD, CTF_K_POINTER, CTF_K_STRUCT
from illumos_rust.ctf.load import load_ctf
from illumos_rust.ctf.model import Container
from illumos_rust.ctf.names import type_name
from illumos_rust.ctfconvert.convert import convert

HEADER = """
struct holder { struct node *n; int x; };
struct ring { struct ring *next; const volatile struct node *cv; unsigned flag : 3; unsigned rest : 29; };
typedef struct holder holder_t;
"""
UNIT_A = """
#include "common.h"
struct node;
struct holder h_a;
struct ring r_a;
holder_t t_a;
int use_a(struct holder *h) { return h->x; }
"""
UNIT_B = """
#include "common.h"
struct node { int v; struct node *next; };
struct holder h_b;
struct ring r_b;
holder_t t_b;
extern struct holder h_a;
int use_a(struct holder *h);
int use_b(struct holder *h) { return h->n->v; }
int main(void) { return use_a(&h_b) + use_b(&h_a); }
"""


def build(tmp: Path, files: dict[str, str], *flags: str) -> Path:
    gcc = require_tool("gcc")
    for name, text in files.items():
        (tmp / name).write_text(text)
    out = tmp / ("gnu" if "-gctf" in flags else "prog")
    sources = [n for n in files if n.endswith(".c")]
    proc = subprocess.run(
        [gcc, "-O0", *flags, "-o", out.name, *sources], cwd=tmp, capture_output=True, text=True
    )
    if proc.returncode and "-gctf" in flags:
        pytest.skip(f"this gcc cannot build with -gctf: {proc.stderr.strip()[:200]}")
    proc.check_returncode()
    return out


def dwarf_structs(path: Path) -> list[tuple[str, bool, int | None, list[tuple[str, int]]]]:
    """(name, is a declaration, byte size, [(member, byte offset)]) of every named struct, per unit."""
    out = []
    with path.open("rb") as fh:
        for cu in ELFFile(fh).get_dwarf_info().iter_CUs():
            for die in cu.get_top_DIE().iter_children():
                if die.tag != "DW_TAG_structure_type" or "DW_AT_name" not in die.attributes:
                    continue
                members = [
                    (
                        m.attributes["DW_AT_name"].value.decode(),
                        m.attributes["DW_AT_data_member_location"].value,
                    )
                    for m in die.iter_children()
                    if m.tag == "DW_TAG_member" and "DW_AT_data_member_location" in m.attributes
                ]
                size = die.attributes.get("DW_AT_byte_size")
                out.append(
                    (
                        die.attributes["DW_AT_name"].value.decode(),
                        "DW_AT_declaration" in die.attributes,
                        None if size is None else size.value,
                        members,
                    )
                )
    return out


def gnu_linked_structs(path: Path) -> Counter[str]:
    """How many times each struct name appears in the CTF GNU ld wrote (its deduplicator's answer)."""
    dump = subprocess.run(
        [require_tool("objdump"), "--ctf=.ctf", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return Counter(re.findall(r"^\s+0x[0-9a-f]+: \(kind 6\) struct (\w+) \(size", dump, re.MULTILINE))


def structs(c: Container) -> Counter[str]:
    return Counter(t.name for t in c.types if t.kind == CTF_K_STRUCT and t.name)


def test_forward_in_one_unit_and_definition_in_another_give_one_type(tmp_path: Path) -> None:
    files = {"common.h": HEADER, "a.c": UNIT_A, "b.c": UNIT_B}
    prog = build(tmp_path, files, "-g")
    facts = dwarf_structs(prog)
    # The input really has the two shapes: a forward of node in one unit, the definition in the other,
    # and holder/ring defined (identically, as far as their own members go) in both.
    assert ("node", True, None, []) in facts
    (node_def,) = [f for f in facts if f[0] == "node" and not f[1]]
    assert Counter(f[0] for f in facts if not f[1]) == {"node": 1, "holder": 2, "ring": 2}
    out = tmp_path / "prog.ctf"
    convert(str(prog), str(out))
    c = load_ctf(out).container
    # One of each, no forward left (GNU ld's CTF deduplicator agrees on the same program).
    assert structs(c) == {"node": 1, "holder": 1, "ring": 1}
    assert not [t for t in c.types if t.kind == CTF_K_FORWARD]
    gnu = build(tmp_path, files, "-gctf")
    assert gnu_linked_structs(gnu) == structs(c)
    by_name = {t.name: (i, t) for i, t in zip(c.ids(), c.types, strict=True) if t.kind == CTF_K_STRUCT}
    for name, _decl, size, members in (f for f in facts if not f[1]):
        _, t = by_name[name]
        assert t.size == size, name
        # Bit-fields have no DW_AT_data_member_location in DWARF 5 (data_bit_offset): compare the rest.
        ours = {m.name: m.offset for m in t.members}
        assert all(ours[m] == 8 * off for m, off in members), name
    # holder.n is a pointer to the complete node (16 bytes), not to a forward.
    node_id, node = by_name["node"]
    assert node.size == node_def[2] == 16
    (n_member,) = [m for m in by_name["holder"][1].members if m.name == "n"]
    pointer = c.lookup(n_member.type)
    assert pointer is not None and pointer.kind == CTF_K_POINTER and pointer.ref == node_id
    # The qualifier chain through the completed forward and the typedef resolve to the same types.
    (cv,) = [m for m in by_name["ring"][1].members if m.name == "cv"]
    assert type_name(c, cv.type) in ("const volatile struct node *", "volatile const struct node *")
    typedefs = [t for t in c.types if t.name == "holder_t"]
    assert len(typedefs) == 1 and typedefs[0].ref == by_name["holder"][0]


GROUP_H = "struct group { char *gr_name; int gr_gid; };\n"
NSS = """
struct group;
struct gholder { struct group *g; int n; };
struct gholder gh;
"""
MAIN_SEES_HEADER = """
#include "group.h"
struct group grp;
int main(void) { return grp.gr_gid; }
"""
PRIVATE = """
struct group { long a, b, c; };  /* this unit's own type, declared in the .c file */
struct group private_grp;
"""
OTHER_HEADER = """
#include "group2.h"
struct group other_grp;
"""


@pytest.mark.parametrize("conflict", ["private", "header"])
def test_one_name_two_types(tmp_path: Path, conflict: str) -> None:
    """Two different ``struct group``s stay two types. The forward in nss.c completes to the header one when
    the other is private to its unit's .c file; when both come from headers the forward cannot be resolved
    without guessing and stays a forward."""
    files = {"group.h": GROUP_H, "nss.c": NSS, "main.c": MAIN_SEES_HEADER}
    if conflict == "private":
        files["private.c"] = PRIVATE
    else:
        files["group2.h"] = "struct group { long a, b, c; };\n"
        files["other.c"] = OTHER_HEADER
    prog = build(tmp_path, files, "-g")
    facts = dwarf_structs(prog)
    assert sorted(f[2] or 0 for f in facts if f[0] == "group" and not f[1]) == [16, 24]
    assert ("group", True, None, []) in facts
    out = tmp_path / "prog.ctf"
    convert(str(prog), str(out))
    c = load_ctf(out).container
    groups = sorted(t.size for t in c.types if t.kind == CTF_K_STRUCT and t.name == "group")
    assert groups == [16, 24]  # both definitions kept: different layouts under one name
    (holder_id,) = [i for i, t in zip(c.ids(), c.types, strict=True) if t.name == "gholder"]
    holder = c.lookup(holder_id)
    assert holder is not None
    target = c.lookup(c.lookup(holder.members[0].type).ref)  # type: ignore[union-attr]
    assert target is not None
    if conflict == "private":
        assert (target.kind, target.size) == (CTF_K_STRUCT, 16)
        assert not [t for t in c.types if t.kind == CTF_K_FORWARD]
    else:
        assert target.kind == CTF_K_FORWARD and target.name == "group"
