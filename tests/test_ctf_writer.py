"""The CTF writer: ``read(write(g)) == g`` on random type graphs and on the fixtures, and the v2 limits.

The reader is the oracle here only because ``test_ctf_reader`` ties it to Sun's libctf on the fixtures; the
limits are the numbers of illumos ``sys/ctf.h`` (CTF_MAX_PTYPE, CTF_MAX_VLEN, int32 ``cte_value``).
"""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_path
from illumos_rust.ctf.constants import (
    CTF_K_ARRAY,
    CTF_K_CONST,
    CTF_K_ENUM,
    CTF_K_FLOAT,
    CTF_K_FORWARD,
    CTF_K_FUNCTION,
    CTF_K_INTEGER,
    CTF_K_POINTER,
    CTF_K_RESTRICT,
    CTF_K_STRUCT,
    CTF_K_TYPEDEF,
    CTF_K_UNION,
    CTF_K_UNKNOWN,
    CTF_K_VOLATILE,
)
from illumos_rust.ctf.model import (
    ArrayInfo,
    Container,
    CtfLimitError,
    CtfType,
    Encoding,
    Enumerator,
    FunctionInfo,
    Label,
    Member,
    trim_functions,
    trim_objects,
)
from illumos_rust.ctf.reader import read_container
from illumos_rust.ctf.writer import write_container

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
names = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=12)


@st.composite
def type_graphs(draw: st.DrawFn) -> Container:
    """A random, well-formed container: declaration chains only point backwards (no cycles), aggregates
    anywhere (as real C/Rust graphs do), sizes across the short/long record thresholds."""
    n = draw(st.integers(0, 30))
    any_id = st.integers(0, n)
    types: list[CtfType] = []
    for i in range(1, n + 1):
        earlier = st.integers(0, i - 1)
        kind = draw(st.sampled_from(range(14)))
        name = draw(names)
        root = draw(st.booleans())
        if kind in (CTF_K_INTEGER, CTF_K_FLOAT):
            enc = Encoding(draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF)))
            t = CtfType(kind, name, root, draw(st.integers(0, 16)), encoding=enc)
        elif kind in (CTF_K_POINTER, CTF_K_TYPEDEF, CTF_K_VOLATILE, CTF_K_CONST, CTF_K_RESTRICT):
            t = CtfType(kind, name, root, ref=draw(earlier))
        elif kind == CTF_K_ARRAY:
            info = ArrayInfo(draw(earlier), draw(any_id), draw(st.integers(0, 0xFFFFFFFF)))
            t = CtfType(kind, name, root, array=info)
        elif kind == CTF_K_FUNCTION:
            args = tuple(draw(st.lists(any_id, max_size=5)))
            while args and args[-1] == 0:  # a trailing 0 means "..." on disk
                args = args[:-1]
            t = CtfType(kind, name, root, ref=draw(earlier), args=args, varargs=draw(st.booleans()))
        elif kind in (CTF_K_STRUCT, CTF_K_UNION):
            size = draw(
                st.one_of(st.integers(0, 8191), st.integers(8192, 0xFFFE), st.integers(0xFFFF, 1 << 40))
            )
            limit = 0xFFFF if size < 8192 else 1 << 50
            members = tuple(
                Member(draw(names), draw(any_id), draw(st.integers(0, limit)))
                for _ in range(draw(st.integers(0, 4)))
            )
            t = CtfType(kind, name, root, size, members=members)
        elif kind == CTF_K_ENUM:
            values = st.integers(-(1 << 31), (1 << 31) - 1)
            enums = tuple(Enumerator(draw(names), draw(values)) for _ in range(draw(st.integers(0, 4))))
            t = CtfType(kind, name, root, draw(st.sampled_from([1, 2, 4, 8])), enumerators=enums)
        elif kind == CTF_K_FORWARD:
            t = CtfType(
                kind, name, root, ref=draw(st.sampled_from([0, CTF_K_STRUCT, CTF_K_UNION, CTF_K_ENUM]))
            )
        else:
            assert kind == CTF_K_UNKNOWN
            t = CtfType(kind, name, root, draw(st.integers(0, 1 << 33)))
        types.append(t)
    labels = tuple(Label(draw(names), draw(st.integers(0, n))) for _ in range(draw(st.integers(0, 2))))
    objects = tuple(draw(st.lists(any_id, max_size=6)))

    def func() -> FunctionInfo | None:
        if draw(st.booleans()):
            return None
        args = tuple(draw(st.lists(st.integers(1, n), max_size=4))) if n else ()
        return FunctionInfo(draw(any_id), args, draw(st.booleans()))

    functions = tuple(func() for _ in range(draw(st.integers(0, 5))))
    return Container(tuple(types), labels, objects, functions, draw(names))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=type_graphs(), compress=st.booleans(), big_endian=st.booleans())
def test_round_trip_random_graphs(g: Container, compress: bool, big_endian: bool) -> None:
    data = write_container(g, compress=compress, byte_order=">" if big_endian else "<")
    back = read_container(data, "random.ctf")
    want = dataclasses.replace(g, objects=trim_objects(g.objects), functions=trim_functions(g.functions))
    assert back == want
    assert back.compressed == compress


@pytest.mark.parametrize("fixture", ["created.ctf", "created_z.ctf", "ctfconv_t.ctf"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_fixtures(fixture: str, compress: bool) -> None:
    c = read_container(shared_path("fixtures", "ctf", fixture).read_bytes(), fixture)
    assert read_container(write_container(c, compress=compress)) == c


def test_objfunc_sections_round_trip() -> None:
    from illumos_rust.ctf.load import load_ctf

    f = load_ctf(shared_path("fixtures", "ctf", "objfunc.o"))
    back = read_container(write_container(f.container))
    assert back == f.container
    assert back.functions[0] == FunctionInfo(1, (1, 6), True)


def _int(name: str = "int") -> CtfType:
    return CtfType(CTF_K_INTEGER, name, size=4, encoding=Encoding(1, 0, 32))


def test_type_limit_32767() -> None:
    ok = Container(tuple(_int() for _ in range(0x7FFF)))
    assert len(read_container(write_container(ok)).types) == 0x7FFF
    with pytest.raises(CtfLimitError, match="32767"):
        write_container(Container(tuple(_int() for _ in range(0x8000))))


def test_vlen_limit_1023() -> None:
    fine = CtfType(CTF_K_STRUCT, "s", size=8, members=tuple(Member(f"m{i}", 1, 0) for i in range(1023)))
    assert read_container(write_container(Container((_int(), fine)))).types[1] == fine
    over = dataclasses.replace(fine, members=(*fine.members, Member("x", 1, 0)))
    with pytest.raises(CtfLimitError, match="1023"):
        write_container(Container((_int(), over)))
    enum = CtfType(CTF_K_ENUM, "e", size=4, enumerators=tuple(Enumerator(f"E{i}", i) for i in range(1024)))
    with pytest.raises(CtfLimitError, match="1023"):
        write_container(Container((enum,)))
    fn = CtfType(CTF_K_FUNCTION, ref=1, args=(1,) * 1023, varargs=True)  # the "..." is a 1,024th argument
    with pytest.raises(CtfLimitError, match="1023"):
        write_container(Container((_int(), fn)))
    with pytest.raises(CtfLimitError, match="1023"):
        write_container(Container((_int(),), functions=(FunctionInfo(1, (1,) * 1024),)))


@pytest.mark.parametrize("value", [1 << 31, -(1 << 31) - 1])
def test_enumerators_are_int32(value: int) -> None:
    enum = CtfType(CTF_K_ENUM, "e", size=8, enumerators=(Enumerator("BIG", value),))
    with pytest.raises(CtfLimitError, match="int32"):
        write_container(Container((enum,)))


def test_references_must_exist_in_a_parent() -> None:
    with pytest.raises(CtfLimitError, match="out of range"):
        write_container(Container((CtfType(CTF_K_POINTER, ref=0x8001),)))


def test_child_container_round_trips() -> None:
    child = Container(
        (CtfType(CTF_K_POINTER, ref=5), CtfType(CTF_K_TYPEDEF, "t", ref=0x8001)),
        parent_name="genunix",
        parent_label="illumos",
    )
    back = read_container(write_container(child))
    assert back == child and back.is_child and back.ids() == range(0x8001, 0x8003)
