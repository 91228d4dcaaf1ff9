"""Property: random edit sequences on the fixtures leave files that readelf, pyelftools and our reader
accept, and applying the inverse edits in reverse restores the original dynamic entries.

Each example copies a fixture, so nothing under ../shared is written. Bounded for ``make test``; ``make fuzz``
sets FUZZ_EXAMPLES for long runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.dynamic import DynamicSection as PyDynamic
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED, require_tool
from illumos_rust.edit import Op, plan_edits, write
from illumos_rust.edit.ops import OpKind
from illumos_rust.elf.dynamic import dynamic
from illumos_rust.elf.reader import ElfFile
from illumos_rust.errors import FormatError, UnsafeEditError

FIXTURES = [
    ("elf", "exe_solaris64_cc.elf"),
    ("elf", "exe_solaris32_cc.elf"),
    ("elf", "exe_solaris64_cc.sparc.elf"),
    ("elf", "exe_solaris32_cc.sparc.elf"),
    ("illumos-rust", "bin", "illumos", "hello"),  # rust-lld output: no reserve, so edits grow the file
    ("illumos-rust", "bin", "illumos", "libcexport.so"),
]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# Each sequence example writes and re-reads several files and runs readelf (~0.1 s), so `make fuzz`'s
# FUZZ_EXAMPLES=50000 is capped here to keep a long run to minutes; EDIT_FUZZ_CAP raises the cap.
SEQUENCES = min(EXAMPLES, int(os.environ.get("EDIT_FUZZ_CAP", "2000")))
# DT_FLAGS_1 bits from illumos sys/link.h: NOW, NODELETE, ORIGIN, NODEFLIB.
FLAG_BITS = [0x1, 0x8, 0x80, 0x800]
IGNORED = {"DT_STRTAB", "DT_STRSZ", "DT_SUNW_STRPAD", "DT_CHECKSUM"}
DF_1_EDITED = 0x200000

paths = st.lists(
    st.sampled_from(["$ORIGIN", "$ORIGIN/../lib", "/opt/local/lib", "/usr/lib/64", "/a", "/" + "d" * 40]),
    min_size=1,
    max_size=4,
).map(":".join)
libs = st.sampled_from(["libfoo.so.1", "libbar.so.2", "libm.so.2", "libc.so.1", "libgcc_s.so.1", "l.so"])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set-runpath"), paths),
        st.tuples(st.just("runpath"), paths),
        st.tuples(st.just("add-needed"), libs),
        st.tuples(st.just("replace-needed"), st.tuples(st.integers(0, 7), libs)),
        st.tuples(st.just("set-flags-1"), st.sampled_from(FLAG_BITS)),
    ),
    min_size=1,
    max_size=6,
)


def _tags(path: Path) -> list[tuple[str, Any]]:
    """(tag name, string or value) per dynamic entry, read by pyelftools (the independent oracle)."""
    with open(path, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".dynamic")
        assert isinstance(sec, PyDynamic)
        out: list[tuple[str, Any]] = []
        for t in sec.iter_tags():
            name = t.entry.d_tag
            if name == "DT_NULL":
                break
            value = next(
                (getattr(t, a) for a in ("needed", "runpath", "rpath", "soname") if hasattr(t, a)),
                t.entry.d_val,
            )
            out.append((name, value))
        return out


def _normal(tags: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Entries an inverse edit must restore: bookkeeping tags and the DF_1_EDITED marker are left out."""
    out = []
    for name, value in tags:
        if name in IGNORED:
            continue
        if name == "DT_FLAGS_1":
            value &= ~DF_1_EDITED
            if not value:
                continue
        out.append((name, value))
    return out


def _readelf_warnings(path: Path) -> set[str]:
    r = subprocess.run(
        ["readelf", "-W", "-d", "-V", "-l", "-S", "--dyn-syms", str(path)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return set(r.stderr.splitlines())


def _check_readable(path: Path, baseline: set[str]) -> None:
    assert _readelf_warnings(path) <= baseline
    tags = _tags(path)
    with ElfFile(path) as elf:
        d = dynamic(elf)
        assert d.needed == [v for n, v in tags if n == "DT_NEEDED"]
        assert d.runpath == next((v for n, v in tags if n == "DT_RUNPATH"), None)
        assert [e.tag for e in d.entries if e.tag] != []


def _inverse(kind: OpKind, arg: Any, tags: list[tuple[str, Any]]) -> tuple[Op | None, Op | None]:
    """The operation to apply and its inverse, both decided from the pre-state pyelftools reads."""
    needed = [v for n, v in tags if n == "DT_NEEDED"]
    runpath = next((v for n, v in tags if n == "DT_RUNPATH"), None)
    if kind in ("set-runpath", "runpath"):
        undo = Op("delete-runpath") if runpath is None else Op("set-runpath", runpath)
        return Op(kind, arg), undo
    if kind == "add-needed":
        return Op(kind, arg), None if arg in needed else Op("remove-needed", arg)
    if kind == "replace-needed":
        i, new = arg
        if not needed:
            return None, None
        old = needed[i % len(needed)]
        if new in needed:
            return None, None
        return Op(kind, old, new), Op(kind, new, old)
    flags = next((v for n, v in tags if n == "DT_FLAGS_1"), 0)
    return Op(kind, hex(arg)), None if flags & arg else Op("clear-flags-1", hex(arg))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@settings(max_examples=SEQUENCES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fixture=st.sampled_from(FIXTURES), sequence=ops)
def test_fuzz_edit_sequences_stay_readable_and_invert(fixture: tuple[str, ...], sequence: list[Any]) -> None:
    require_tool("readelf")
    src = SHARED.joinpath("fixtures", *fixture)
    if not src.exists():
        pytest.skip(f"{src} not present")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / src.name
        shutil.copyfile(src, f)
        baseline = _readelf_warnings(f)
        original = _normal(_tags(f))
        undo: list[Op] = []
        for kind, arg in sequence:
            op, inverse = _inverse(kind, arg, _tags(f))
            if op is None:
                continue
            digest = _digest(f)
            try:
                write(plan_edits(str(f), [op]))
            except UnsafeEditError:
                assert _digest(f) == digest  # a refusal never touches the file
                continue
            _check_readable(f, baseline)
            if inverse is not None:
                undo.append(inverse)
        for op in reversed(undo):
            write(plan_edits(str(f), [op]))
            _check_readable(f, baseline)
        assert _normal(_tags(f)) == original


RUNNABLE_LIBS = ["libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"]  # all present with glibc 2.34+
run_ops = st.lists(
    st.one_of(
        st.tuples(st.just("set-runpath"), paths),
        st.tuples(st.just("runpath"), paths),
        st.tuples(st.just("add-needed"), st.sampled_from(RUNNABLE_LIBS)),
        st.tuples(st.just("set-flags-1"), st.sampled_from([0x1, 0x8])),  # NOW, NODELETE: harmless to run
    ),
    min_size=1,
    max_size=5,
)
HELLO = 'fn main() { println!("fuzzed {}", std::env::args().count()); }'


@pytest.fixture(scope="module")
def runnable() -> Path:
    from conftest import build_rust

    return build_rust(HELLO, "edfuzzhello", "-O")


@pytest.mark.slow
@settings(
    max_examples=max(3, SEQUENCES // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=run_ops)
def test_fuzz_edited_rust_program_keeps_running(runnable: Path, sequence: list[Any]) -> None:
    """Same property on a rustc-built PIE, which must also still run after every edit and after the undo."""
    require_tool("readelf")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "hello"
        shutil.copyfile(runnable, f)
        f.chmod(0o755)
        baseline = _readelf_warnings(f)
        original = _normal(_tags(f))
        undo: list[Op] = []
        for kind, arg in sequence:
            op, inverse = _inverse(kind, arg, _tags(f))
            assert op is not None
            write(plan_edits(str(f), [op]))
            _check_readable(f, baseline)
            run = subprocess.run([str(f), "x"], capture_output=True, text=True)
            assert (run.returncode, run.stdout) == (0, "fuzzed 2\n"), run.stderr
            if inverse is not None:
                undo.append(inverse)
        for op in reversed(undo):
            write(plan_edits(str(f), [op]))
        assert _normal(_tags(f)) == original
        assert subprocess.run([str(f)], capture_output=True, text=True).stdout == "fuzzed 1\n"


def _regions(path: Path) -> list[tuple[int, int]]:
    """Byte ranges an edit depends on: headers, .dynamic, .dynstr, version and symbol tables."""
    with ElfFile(path) as elf:
        h = elf.header
        out = [(0, 64), (h.e_phoff, h.e_phnum * h.e_phentsize), (h.e_shoff, h.e_shnum * h.e_shentsize)]
        for s in elf.sections:
            if s.sh_type in (6, 3, 11, 0x6FFFFFF3, 0x6FFFFFFE, 0x6FFFFFFC) and s.sh_size and s.is_alloc:
                out.append((s.sh_offset, s.sh_size))
    return [r for r in out if r[1] > 0]


@pytest.mark.slow
@settings(
    max_examples=min(EXAMPLES * 3, 10 * SEQUENCES),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    fixture=st.sampled_from(FIXTURES[:4] + FIXTURES[4:5]),
    mutations=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1, max_size=6),
    op=st.sampled_from(
        [
            Op("runpath", "/opt/x"),
            Op("set-runpath", "/a" * 60),
            Op("add-needed", "libz.so.1"),
            Op("replace-needed", "libc.so.1", "libc.so.2"),
            Op("delete-runpath"),
        ]
    ),
)
def test_fuzz_hostile_inputs_fail_cleanly(
    fixture: tuple[str, ...], mutations: list[tuple[int, int]], op: Op
) -> None:
    """Damaged files are refused with FormatError/UnsafeEditError, or edited into something that verifies."""
    src = SHARED.joinpath("fixtures", *fixture)
    if not src.exists():
        pytest.skip(f"{src} not present")
    regions = _regions(src)
    data = bytearray(src.read_bytes())
    for where, value in mutations:
        start, size = regions[where % len(regions)]
        data[min(start + (where >> 8) % size, len(data) - 1)] = value
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / src.name
        f.write_bytes(bytes(data))
        try:
            write(plan_edits(str(f), [op]))
        except (FormatError, UnsafeEditError):
            assert f.read_bytes() == bytes(data)
