"""illumos cores carrying an object's ``.SUNW_ctf`` (coreadm content ``ctf``, illumos ``core(5)``).

The synthetic core holds the real ``.symtab``/``.strtab``/``.SUNW_ctf`` of ``fixtures/ctf/ctfconv_t.o``
(``t.c`` converted by OpenBSD ctfconv) at a load base, and no object file. Oracle: the container's own dump
by Sun's libctf, ``ctfconv_t.expected.txt`` (type names per id, ``func [symidx] name : ret <id> ...
args: <id>...``), and pyelftools for the symbol values; the signature is spelled from those by hand below.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared_path
from illumos_core_synth import IllumosCore, Lwp, Segment, SymSection, build
from illumos_rust.core import analyze

BASE = 0xFED00000
STACK_TOP = 0x7FFFFFE00000
STACK_SIZE = 0x4000
FUZZ = min(int(os.environ.get("FUZZ_EXAMPLES", "30")), 2000)


def _fixture() -> Path:
    return shared_path("fixtures", "ctf", "ctfconv_t.o")


def _oracle() -> tuple[int, dict[str, str], int]:
    """(type count, name -> signature, function count) from libctf's dump of the container."""
    text = _fixture().with_name("ctfconv_t.expected.txt").read_text()
    names = {int(m[1]): m[2] for m in re.finditer(r'^[<\[](\d+)[>\]] \w+ "([^"]*)"', text, re.M)}
    sigs = {}
    for m in re.finditer(r"^func \[\d+\] (\w+) : ret <(\d+)> argc=(\d+) flags=\S+ args:(.*)$", text, re.M):
        args = [names[int(a)] for a in re.findall(r"<(\d+)>", m[4])]
        assert len(args) == int(m[3])
        sigs[m[1]] = f"{names[int(m[2])]} {m[1]}({', '.join(args) or 'void'})"  # C: f(void) takes none
    return len(names), sigs, len(sigs)


def _sections() -> tuple[bytes, bytes, bytes, dict[str, int]]:
    with _fixture().open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        strtab = elf.get_section_by_name(".strtab")
        ctf = elf.get_section_by_name(".SUNW_ctf")
        assert isinstance(symtab, SymbolTableSection) and strtab is not None and ctf is not None
        values = {s.name: s["st_value"] for s in symtab.iter_symbols() if s["st_info"]["type"] == "STT_FUNC"}
        return _linked(symtab.data()), strtab.data(), ctf.data(), values


def _linked(symtab: bytes) -> bytes:
    """The relocatable object's values are section-relative (``.data``/``.bss`` overlap ``.text`` at 0);
    place each section as a link would (section n at n * 64 KiB, ``.text`` = section 1 at 0) so the table
    looks like the linked object's a core carries. Order and count are kept: the CTF association is too."""
    out = bytearray(symtab)
    for off in range(0, len(out), 24):  # Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64 @8
        shndx = struct.unpack_from("<H", out, off + 6)[0]
        if 1 < shndx < 0xFF00:
            value = struct.unpack_from("<Q", out, off + 8)[0]
            struct.pack_into("<Q", out, off + 8, value + shndx * 0x10000)
    return bytes(out)


def _core(tmp: Path, ctf: bytes | None = None) -> Path:
    """LWP 1 stopped in ``fn`` called from ``fn2`` called from ``main``: a frame-pointer chain."""
    symtab, strtab, real_ctf, values = _sections()
    low = STACK_TOP - STACK_SIZE
    stack = bytearray(STACK_SIZE)
    sp = STACK_TOP - 0x1000
    struct.pack_into("<QQ", stack, sp + 0x10 - low, sp + 0x50, BASE + values["fn2"] + 5)
    struct.pack_into("<QQ", stack, sp + 0x50 - low, 0, BASE + values["main"] + 5)
    core = IllumosCore(
        fname="ctfprog",
        psargs="./ctfprog",
        lwps=[Lwp(1, {"rip": BASE + values["fn"] + 3, "rsp": sp, "rbp": sp + 0x10}, cursig=11, signo=11)],
        segments=[Segment(BASE, b"\xcc" * 0x1000, 5), Segment(low, bytes(stack), 6)],
        symbols=[SymSection(BASE, symtab, strtab, real_ctf if ctf is None else ctf)],
    )
    path = tmp / "core.ctf"
    path.write_bytes(build(core))
    return path


def test_object_ctf_counts_and_frame_signatures(tmp_path: Path) -> None:
    ntypes, sigs, nfuncs = _oracle()
    report = analyze(str(_core(tmp_path)))
    (obj,) = report.objects
    assert obj["ctf"] == {"types": ntypes, "functions": nfuncs}
    frames = report.threads[0].frames
    assert [f.symbol for f in frames] == ["fn", "fn2", "main"]
    assert [f.note for f in frames] == [f"ctf: {sigs[n]}" for n in ("fn", "fn2", "main")]
    assert frames[0].note == "ctf: signed fn(signed, char *)"  # t.c: int fn(int, char *), libctf's names


def test_cli_shows_signature(tmp_path: Path) -> None:
    _ntypes, sigs, _n = _oracle()
    cli = [sys.executable, "-m", "illumos_rust.cli.main", "core"]
    out = subprocess.run([*cli, str(_core(tmp_path))], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"ctf: {sigs['fn2']}" in out.stdout


def test_malformed_ctf_is_a_problem_line(tmp_path: Path) -> None:
    _symtab, _strtab, real, _values = _sections()
    for bad in (real[:20], b"\xf1\xcf\x02\x00" + b"\xff" * 40, real[:4] + b"\x00" * (len(real) - 4)):
        report = analyze(str(_core(tmp_path, bad)))
        assert "ctf" not in report.objects[0]
        assert [f.symbol for f in report.threads[0].frames] == ["fn", "fn2", "main"]  # symbols still used
        assert all(f.note is None for f in report.threads[0].frames)
        assert any("its CTF in the core is unusable" in p for p in report.problems), report.problems


@settings(
    max_examples=FUZZ,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=16))
def test_fuzz_mutated_core_ctf(tmp_path: Path, edits: list[tuple[float, int]]) -> None:
    """A mutated ``.SUNW_ctf`` in the core never fails the analysis: at worst a problem line, bounded CPU."""
    ctf = bytearray(_sections()[2])
    for where, value in edits:
        ctf[int(where * len(ctf))] = value
    began = time.process_time()
    report = analyze(str(_core(tmp_path, bytes(ctf))), max_frames=64, source_lines=False)
    assert time.process_time() - began < 2
    assert [f.symbol for f in report.threads[0].frames] == ["fn", "fn2", "main"]
    unusable = any("its CTF in the core is unusable" in p for p in report.problems)
    assert ("ctf" in report.objects[0]) != unusable
