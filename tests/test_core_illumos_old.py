"""illumos old-style notes (``sys/old_procfs.h``) decoded and used, and ``pr_ustack``/``pr_altstack``.

The synthetic cores are built by ``illumos_core_synth`` from the header layouts (amd64 LP64: ``prstatus_t``
824 B with ``pr_who`` @520 and ``pr_reg`` @600, ``prpsinfo_t`` 328 B, ``prfpregset_t`` 528 B). Oracle for the
``prstatus_t`` layout, independent of our reader: GNU BFD (``objdump -h``), whose Solaris core support turns
each old ``NT_PRSTATUS`` into a ``.reg/<pr_who>`` section at the file offset of ``pr_reg`` and each
``NT_PRFPREG`` into ``.reg2/<lwp>``; the register values the test wrote are the other oracle.
"""

from __future__ import annotations

import contextlib
import re
import struct
import subprocess
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_tool
from illumos_core_synth import GREGS
from illumos_rust.core import analyze, read_core
from illumos_rust.errors import FormatError
from test_core_illumos import CHAIN, FUZZ, LIBC, LINKMAP, STACK_SIZE, STACK_TOP, _make


def _solaris_osabi(path: Path) -> Path:
    """EI_OSABI = ELFOSABI_SOLARIS (6), which BFD needs to read the notes the Solaris way."""
    data = bytearray(path.read_bytes())
    data[7] = 6
    path.write_bytes(bytes(data))
    return path


def _bfd_reg_sections(core: Path) -> dict[str, tuple[int, int]]:
    """{section name: (size, file offset)} of BFD's note pseudo-sections (``.reg/N``, ``.reg2/N``)."""
    require_tool("objdump")
    out = subprocess.run(["objdump", "-h", str(core)], capture_output=True, text=True, check=True).stdout
    found = {}
    for m in re.finditer(
        r"^\s*\d+\s+(\.reg2?/\d+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", out, re.M
    ):
        found[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16))
    return found


def test_old_notes_only_give_status_registers_and_psinfo(tmp_path: Path) -> None:
    core = _solaris_osabi(_make(tmp_path, new_notes=False, start_time=1_700_000_000))
    image = read_core(str(core))
    assert image.system == "illumos"
    assert all(n.endswith("(old)") for n in image.note_types)
    assert any("old-style notes" in p for p in image.problems)
    assert image.pid == 4242 and image.ppid == 1 and image.uid == 0
    assert image.fname == "panicky-abort" and image.psargs == "./panicky-abort"
    assert image.start_time == 1_700_000_000 and image.data_model == "LP64"
    assert image.signal == 6 and image.si_code == -1 and image.crashing_tid == 1
    assert [t.tid for t in image.threads] == [1, 2, 3]
    lwp1 = image.thread(1)
    assert lwp1 is not None and lwp1.registers["rip"] == LIBC + 0x10A
    assert lwp1.fp_state == {"fcw": 0x27F, "mxcsr": 0x1F80}  # from the old NT_PRFPREG
    # BFD: one .reg/<pr_who> per LWP, 28 × 8 bytes at pr_reg; the bytes there are the registers we decoded
    sections = _bfd_reg_sections(core)
    raw = core.read_bytes()
    for t in image.threads:
        size, offset = sections[f".reg/{t.tid}"]
        assert size == 28 * 8
        bfd_regs = dict(zip(GREGS, struct.unpack_from("<28Q", raw, offset), strict=True))
        assert bfd_regs == t.registers
        assert sections[f".reg2/{t.tid}"][0] == 528  # prfpregset_t


def test_old_notes_only_unwind_as_mdb(tmp_path: Path) -> None:
    report = analyze(str(_make(tmp_path, new_notes=False)))
    assert report.signal_name == "SIGABRT" and report.crash_kind == "panic" and report.pid == 4242
    crash = report.threads[0]
    assert crash.tid == 1 and crash.crashing
    assert [f.symbol for f in crash.frames] == ["_lwp_kill", "raise", "abort", *CHAIN]
    assert report.panic is not None and report.panic.message is not None
    assert report.panic.message.value == "fixture panic: explicit uncaught panic"


def test_old_notes_decoded_beside_new_ones(tmp_path: Path) -> None:
    image = read_core(str(_make(tmp_path)))
    status = image.old_notes["status"]
    assert isinstance(status, list) and [s["lwpid"] for s in status] == [1, 2, 3]
    assert status[0]["cursig"] == 6 and status[0]["pid"] == 4242
    assert not any("old-style notes" in p for p in image.problems)  # the new notes were used


def _overflow_core(tmp_path: Path, *, ustack: bool) -> Path:
    """LWP 1 took SIGSEGV with rsp and the fault address below its stack (an overflow leaves rsp in the
    unmapped guard page); its ``pr_ustack`` points at a ``stack_t`` in the link-map page."""
    low = STACK_TOP - STACK_SIZE
    fault = low - 0x80
    stack_t = LINKMAP + 0x800
    path = _make(tmp_path)
    data = bytearray(path.read_bytes())
    image = read_core(str(path))
    assert image.elf is not None
    seg = next(p for p in image.elf.segments if p.p_type == 1 and p.p_vaddr == LINKMAP)
    struct.pack_into(
        "<QQi", data, seg.p_offset + 0x800, low, STACK_SIZE, 0
    )  # stack_t {ss_sp, ss_size, flags}
    image.memory.close()
    image.elf.close()
    for note_seg in (p for p in read_core(str(path)).elf.segments if p.p_type == 4):  # type: ignore[union-attr]
        pos, end = note_seg.p_offset, note_seg.p_offset + note_seg.p_filesz
        while pos < end:
            namesz, descsz, ntype = struct.unpack_from("<3I", data, pos)
            desc = pos + 12 + ((namesz + 3) & ~3)
            lwpid = struct.unpack_from("<i", data, desc + 4)[0] if ntype == 16 else None
            if ntype == 16 and lwpid == 1:  # NT_LWPSTATUS of LWP 1
                struct.pack_into("<iii4xQ", data, desc + 16, 11, 1, 0, fault)  # pr_info: SIGSEGV SEGV_MAPERR
                struct.pack_into("<h", data, desc + 12, 11)
                struct.pack_into("<Q", data, desc + 528, stack_t if ustack else 0)  # pr_ustack
                struct.pack_into("<Q", data, desc + 544 + 8 * GREGS.index("rsp"), fault)
            if ntype == 10:  # NT_PSTATUS: the representative LWP's pr_info says what killed the process
                struct.pack_into("<iii4xQ", data, desc + 384 + 16, 11, 1, 0, fault)
                struct.pack_into("<h", data, desc + 384 + 12, 11)
            pos = desc + ((descsz + 3) & ~3)
    path.write_bytes(bytes(data))
    return path


def test_pr_ustack_gives_the_stack_overflow_verdict(tmp_path: Path) -> None:
    low = STACK_TOP - STACK_SIZE
    with_stack = analyze(str(_overflow_core(tmp_path, ustack=True)), source_lines=False)
    assert with_stack.signal_name == "SIGSEGV" and with_stack.fault_address == low - 0x80
    assert with_stack.crash_kind == "stack overflow"
    assert with_stack.fault_mapping is not None and "pr_ustack" in with_stack.fault_mapping
    crash = with_stack.threads[0]
    assert crash.tid == 1 and crash.stack == f"0x{low:x}-0x{STACK_TOP:x} (pr_ustack)"
    # without pr_ustack only the other LWPs' stack pointers hint at where stacks are
    without = analyze(str(_overflow_core(tmp_path, ustack=False)), source_lines=False)
    assert without.fault_mapping is not None and "pr_ustack" not in without.fault_mapping
    assert without.threads[0].stack is None


def test_altstack_overflow_report_is_a_stack_overflow(tmp_path: Path) -> None:
    """std's overflow handler runs on the alternate signal stack, says "has overflowed its stack" and
    aborts: LWP 1's rsp inside its ``pr_altstack`` (``SS_ONSTACK`` set) makes that a stack overflow."""
    text = b"\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n"
    path = _make(tmp_path, panic_text=text)
    data = bytearray(path.read_bytes())
    image = read_core(str(path))
    lwp1 = image.thread(1)
    assert lwp1 is not None and image.elf is not None
    rsp = lwp1.registers["rsp"]
    for note_seg in (p for p in image.elf.segments if p.p_type == 4):
        pos, end = note_seg.p_offset, note_seg.p_offset + note_seg.p_filesz
        while pos < end:
            namesz, descsz, ntype = struct.unpack_from("<3I", data, pos)
            desc = pos + 12 + ((namesz + 3) & ~3)
            if ntype == 16 and struct.unpack_from("<i", data, desc + 4)[0] == 1:
                struct.pack_into("<QQi", data, desc + 336, rsp - 0x1000, 0x2000, 1)  # pr_altstack, SS_ONSTACK
            pos = desc + ((descsz + 3) & ~3)
    path.write_bytes(bytes(data))
    report = analyze(str(path), source_lines=False)
    assert report.threads[0].tid == 1 and report.threads[0].on_altstack
    assert report.panic is not None and report.panic.format == "stack overflow"
    assert report.crash_kind == "stack overflow"


_OLD_ONLY: bytes | None = None


@settings(
    max_examples=FUZZ,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=32))
def test_fuzz_mutated_old_notes(tmp_path: Path, edits: list[tuple[float, int]]) -> None:
    """Mutated old-style notes (the only notes of the core): a report or one FormatError, bounded CPU."""
    global _OLD_ONLY
    if _OLD_ONLY is None:
        _OLD_ONLY = _make(tmp_path, new_notes=False).read_bytes()
    data = bytearray(_OLD_ONLY)
    phdr = struct.unpack_from("<IIQQQQQQ", data, 64)  # the one PT_NOTE: the old-style notes
    start, size = phdr[2], phdr[5]
    for where, value in edits:
        data[start + int(where * size)] = value
    core = tmp_path / "core.fuzz-old"
    core.write_bytes(bytes(data))
    began = time.process_time()
    with contextlib.suppress(FormatError):
        analyze(str(core), max_frames=256, source_lines=False)
    assert time.process_time() - began < 2


def test_old_and_new_notes_disagreeing_is_said(tmp_path: Path) -> None:
    path = _make(tmp_path)
    assert not [p for p in read_core(str(path)).problems if "disagree" in p]  # consistent as written
    data = bytearray(path.read_bytes())
    image = read_core(str(path))
    assert image.elf is not None
    note_seg = next(p for p in image.elf.segments if p.p_type == 4)  # the first PT_NOTE: old-style
    pos = note_seg.p_offset
    while pos < note_seg.p_offset + note_seg.p_filesz:
        namesz, descsz, ntype = struct.unpack_from("<3I", data, pos)
        desc = pos + 12 + ((namesz + 3) & ~3)
        if ntype == 1 and struct.unpack_from("<i", data, desc + 520)[0] == 2:  # LWP 2's prstatus_t
            struct.pack_into("<Q", data, desc + 600 + 8 * GREGS.index("rip"), 0xBAD)
        pos = desc + ((descsz + 3) & ~3)
    path.write_bytes(bytes(data))
    problems = read_core(str(path)).problems
    assert any("LWP 2: old prstatus_t and NT_LWPSTATUS disagree on rip" in p for p in problems), problems
