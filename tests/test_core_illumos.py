"""illumos cores, synthetic (built from the documented layouts) around the real illumos fixture binary.

Oracle for names: binutils ``c++filt`` on the binary's own symbols (v0 crate disambiguators ``[…]``
removed, as rustc-demangle's alternate form and mdb print them); the frame chain, registers and notes are
what the test wrote, laid out per notes/observability.md §4.3.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_tool, shared_path
from illumos_core_synth import IllumosCore, Lwp, Segment, SymSection, build, symtab
from illumos_rust.core import analyze, read_core
from illumos_rust.elf import ElfFile
from illumos_rust.errors import FormatError

LIBC = 0xFEE00000
LIBC_SYMS = [("_lwp_kill", 0x100, 0x20), ("raise", 0x200, 0x40), ("abort", 0x300, 0x80)]
STACK_TOP = 0x7FFFFFE00000
STACK_SIZE = 0x20000
LINKMAP = 0x500000
CHAIN = [
    "std::sys::pal::unix::abort_internal",
    "std::process::abort",
    "__rustc::__rust_abort",
    "__rustc::__rust_start_panic",
    "__rustc::rust_panic",
    "std::panicking::panic_with_hook",
    "std::panicking::panic_handler::{closure#0}",
    "core::panicking::panic_fmt",
    "panicky::main",
]
FUZZ = min(int(os.environ.get("FUZZ_EXAMPLES", "40")), 5000)
_SYNTH: bytes | None = None  # the synthetic core, built once for the fuzz run
PANIC_TEXT = b"\nthread 'main' panicked at src/main.rs:24:22:\nfixture panic: explicit uncaught panic\n"


def _cxxfilt_symbols(binary: Path) -> dict[str, tuple[str, int, int]]:
    """demangled-without-disambiguators → (mangled, value, size), demangled by c++filt."""
    require_tool("c++filt")
    nm = subprocess.run(
        ["nm", "-S", "--defined-only", str(binary)], capture_output=True, text=True, check=True
    )
    rows = [line.split() for line in nm.stdout.splitlines()]
    rows = [r for r in rows if len(r) == 4 and r[2] in "tT"]
    names = subprocess.run(
        ["c++filt"], input="\n".join(r[3] for r in rows), capture_output=True, text=True, check=True
    ).stdout.splitlines()
    out: dict[str, tuple[str, int, int]] = {}
    for r, name in zip(rows, names, strict=True):
        clean = re.sub(r"\[[0-9a-f]+\]", "", name)
        out.setdefault(clean, (r[3], int(r[0], 16), int(r[1], 16)))
    return out


def _binary() -> Path:
    return shared_path("fixtures", "illumos-rust", "bin", "illumos", "panicky-abort")


def _make(
    tmp: Path,
    *,
    panic_text: bytes = PANIC_TEXT,
    link_map: bool = True,
    lwpname: bool = True,
    **extra: object,
) -> Path:
    binary = _binary()
    syms = _cxxfilt_symbols(binary)
    raw = binary.read_bytes()
    elf = ElfFile(binary)
    segments = []
    for p in elf.segments_of_type(1):
        data = bytearray(raw[p.p_offset : p.p_offset + p.p_filesz])
        segments.append((p, data))
    # the runtime linker's list: r_debug → Link_map(a.out) → Link_map(libc.so.1); DT_DEBUG points at r_debug
    lm = bytearray(0x1000)
    struct.pack_into("<iiQ", lm, 0, 1, 0, LINKMAP + 0x100)
    struct.pack_into("<5Q", lm, 0x100, 0, LINKMAP + 0x300, 0, LINKMAP + 0x200, 0)
    struct.pack_into("<5Q", lm, 0x200, LIBC, LINKMAP + 0x320, 0, 0, LINKMAP + 0x100)
    lm[0x320 : 0x320 + 21] = b"/lib/amd64/libc.so.1\0"
    if link_map:
        dyn = elf.segments_of_type(2)[0]
        for p, data in segments:
            if p.p_vaddr <= dyn.p_vaddr < p.p_vaddr + p.p_filesz:
                base = dyn.p_vaddr - p.p_vaddr
                for i in range(0, dyn.p_filesz, 16):
                    if struct.unpack_from("<q", data, base + i)[0] == 21:  # DT_DEBUG
                        struct.pack_into("<Q", data, base + i + 8, LINKMAP)
    # LWP 1: _lwp_kill ← raise ← abort ← the Rust panic path, as a frame-pointer chain
    stack = bytearray(STACK_SIZE)
    low = STACK_TOP - STACK_SIZE
    sp = STACK_TOP - 0x4000
    returns = [LIBC + 0x200 + 0x22, LIBC + 0x300 + 0x58]
    for name in CHAIN:
        _mangled, value, size = syms[name]
        returns.append(value + max(1, size // 2))
    fp = sp + 0x20
    for i, ra in enumerate(returns):
        nxt = fp + 0x40 if i + 1 < len(returns) else 0
        struct.pack_into("<QQ", stack, fp - low, nxt, ra)
        fp = nxt
    stack[sp - 0x600 - low : sp - 0x600 - low + len(panic_text)] = panic_text
    # LWP 2 parked in level3 ← level2 ← level1
    sp2 = STACK_TOP - 0x10000
    l3, l2, l1 = (syms[f"panicky::level{i}"] for i in (3, 2, 1))
    struct.pack_into("<QQ", stack, sp2 + 0x10 - low, sp2 + 0x50, l2[1] + l2[2] // 2)
    struct.pack_into("<QQ", stack, sp2 + 0x50 - low, 0, l1[1] + l1[2] // 2)
    core = IllumosCore(
        lwps=[
            Lwp(1, {"rip": LIBC + 0x10A, "rsp": sp, "rbp": sp + 0x20}, "", cursig=6, signo=6, code=-1),
            Lwp(2, {"rip": l3[1] + 2, "rsp": sp2, "rbp": sp2 + 0x10}, "worker-1"),
            Lwp(3, {"rip": LIBC + 0x205, "rsp": sp2 - 0x800, "rbp": 0}, ""),
        ],
        segments=[
            *(Segment(p.p_vaddr, bytes(d), 5 if p.p_flags & 1 else 6, p.p_memsz) for p, d in segments),
            Segment(LINKMAP, bytes(lm), 6),
            Segment(LIBC, b"\xcc" * 0x1000, 5),
            Segment(low, bytes(stack), 6),
        ],
        auxv=[(3, 0x400040), (5, elf.header.e_phnum), (6, 4096), (9, elf.header.e_entry)],
        fds=[(0, "/dev/null"), (2, "/var/log/app.err")],
        with_lwpname=lwpname,
    )
    for key, setting in extra.items():
        setattr(core, key, setting)
    exe_symtab = elf.section(".symtab")
    exe_strtab = elf.section(".strtab")
    assert exe_symtab is not None and exe_strtab is not None
    libc_symtab, libc_strtab = symtab(LIBC_SYMS)
    core.symbols = [
        SymSection(0x400000, elf.section_bytes(exe_symtab), elf.section_bytes(exe_strtab)),
        SymSection(LIBC, libc_symtab, libc_strtab),
    ]
    elf.close()
    path = tmp / "core.synthetic"
    path.write_bytes(build(core))
    return path


def test_notes_and_status(tmp_path: Path) -> None:
    image = read_core(str(_make(tmp_path)))
    assert image.system == "illumos"
    old = ["NT_PRPSINFO (old)", *["NT_PRSTATUS (old)", "NT_PRFPREG (old)"] * 3]  # write_old_elfnotes order
    assert image.note_types[: len(old)] == old
    assert image.note_types[len(old) : len(old) + 3] == ["NT_PSINFO", "NT_PSTATUS", "NT_PLATFORM"]
    assert image.pid == 4242 and image.uid == 0 and image.psargs == "./panicky-abort"
    assert image.signal == 6 and image.si_code == -1 and image.crashing_tid == 1
    assert image.platform == "i86pc" and image.zonename == "global" and image.uname[0] == "SunOS"
    assert image.content == 0x1FFB and image.data_model == "LP64"
    assert image.fds == [(0, "/dev/null"), (2, "/var/log/app.err")]
    assert [t.tid for t in image.threads] == [1, 2, 3]
    assert image.thread(2) is not None and image.thread(2).name == "worker-1"  # type: ignore[union-attr]
    assert image.thread(1).registers["rip"] == LIBC + 0x10A  # type: ignore[union-attr]
    assert image.thread(1).fp_state == {"fcw": 0x37F, "mxcsr": 0x1F80}  # type: ignore[union-attr]
    assert [s.base for s in image.symbol_sections] == [0x400000, LIBC]


def test_panic_core_frames_as_mdb(tmp_path: Path) -> None:
    report = analyze(str(_make(tmp_path)))
    assert report.system == "illumos" and report.signal_name == "SIGABRT" and report.signal_text == "Abort"
    assert report.si_code_text is not None and report.si_code_text.startswith("SI_LWP")
    assert report.crash_kind == "panic"
    crash = report.threads[0]
    assert crash.tid == 1 and crash.crashing
    names = [f.symbol for f in crash.frames]
    assert names == ["_lwp_kill", "raise", "abort", *CHAIN]
    # libc frames carry the module name from the link map; the executable's own frames none (mdb $C)
    assert [f.module for f in crash.frames[:3]] == ["libc.so.1"] * 3
    assert all(f.module is None for f in crash.frames[3:])
    assert crash.frames[0].location() == "libc.so.1`_lwp_kill+0xa"
    assert crash.frames[1].location() == "libc.so.1`raise+0x22"
    assert {f.method for f in crash.frames[1:]} == {"fp"}
    assert crash.frames[-1].crate == "panicky" and crash.frames[3].crate == "std"
    p = report.panic
    assert p is not None and p.message is not None and p.location is not None
    assert p.message.value == "fixture panic: explicit uncaught panic"
    assert p.location.value == "src/main.rs:24:22"
    worker = next(t for t in report.threads if t.tid == 2)
    assert worker.name == "worker-1"
    assert [f.symbol for f in worker.frames] == ["panicky::level3", "panicky::level2", "panicky::level1"]


def test_old_std_panic_format(tmp_path: Path) -> None:
    text = (
        b"thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 7', src/main.rs:5:5\n"
    )
    report = analyze(str(_make(tmp_path, panic_text=text)))
    p = report.panic
    assert p is not None and p.format == "std < 1.73" and p.message is not None and p.location is not None
    assert p.message.value == "index out of bounds: the len is 3 but the index is 7"
    assert p.location.value == "src/main.rs:5:5"


def test_without_link_map_objects_named_by_address(tmp_path: Path) -> None:
    report = analyze(str(_make(tmp_path, link_map=False, lwpname=False)))
    crash = report.threads[0]
    assert [f.symbol for f in crash.frames][:3] == ["_lwp_kill", "raise", "abort"]
    assert crash.frames[0].module == f"object@0x{LIBC:x}"
    assert next(t for t in report.threads if t.tid == 2).name is None


def test_cli_on_synthetic_core(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "illumos_rust.cli.main"]  # never skips: no installed entry point needed
    out = subprocess.run([*cli, "core", str(_make(tmp_path))], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "status: process terminated by SIGABRT (Abort), pid=4242 uid=0 code=-1" in out.stdout
    assert "libc.so.1`_lwp_kill+0xa" in out.stdout


def test_extended_numbering_failed_segment_and_upanic(tmp_path: Path) -> None:
    """PN_XNUM program headers, a PF_SUNW_FAILURE segment (its pages lost) and an NT_UPANIC message."""
    path = _make(tmp_path, xnum=True, upanic=b"assertion failed: ring buffer full", upanic_flags=1 | 2)
    data = bytearray(path.read_bytes())
    # mark the link-map segment failed (PF_SUNW_FAILURE 0x00100000, illumos elf.c): its bytes are gone
    image = read_core(str(path))
    assert image.elf is not None
    seg = next(p for p in image.elf.segments if p.p_type == 1 and p.p_vaddr == LINKMAP)
    struct.pack_into("<I", data, seg.header_offset + 4, 6 | 0x00100000)
    path.write_bytes(bytes(data))
    report = analyze(str(path))
    assert report.crash_kind == "upanic"
    assert report.panic is not None and report.panic.message is not None
    assert report.panic.message.value == "assertion failed: ring buffer full"
    assert report.panic.message.source.startswith("NT_UPANIC")
    assert any("not written by the kernel" in p for p in report.problems)
    image = read_core(str(path))
    assert image.upanic == b"assertion failed: ring buffer full" and image.upanic_flags == 3
    assert image.failed_segments == [(LINKMAP, 0x1000, "write failed")]
    assert image.memory.read(LINKMAP, 8) is None  # lost pages read as unavailable, never as zeros
    # without the link map the objects are still found from the section headers
    assert [f.symbol for f in report.threads[0].frames][:3] == ["_lwp_kill", "raise", "abort"]


@settings(
    max_examples=FUZZ,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=32))
def test_fuzz_mutated_illumos_notes(tmp_path: Path, edits: list[tuple[float, int]]) -> None:
    """Mutated notes of the synthetic illumos core: a report or one FormatError, bounded CPU."""
    global _SYNTH
    if _SYNTH is None:
        _SYNTH = _make(tmp_path).read_bytes()
    data = bytearray(_SYNTH)
    notes = [struct.unpack_from("<IIQQQQQQ", data, 64 + 56 * i) for i in range(2)]
    start, size = notes[1][2], notes[1][5]  # the second PT_NOTE: the new-style notes
    for where, value in edits:
        data[start + int(where * size)] = value
    core = tmp_path / "core.fuzz"
    core.write_bytes(bytes(data))
    began = time.process_time()
    with contextlib.suppress(FormatError):
        analyze(str(core), max_frames=256, source_lines=False)
    assert time.process_time() - began < 2
