"""A synthetic Linux aarch64 core: ``elf_prstatus`` with ``user_pt_regs`` (x0–x30, sp, pc, pstate) at 112,
and a stack of AAPCS64 frame records (x29 → {previous x29, saved x30}).

Layouts: kernel ``include/uapi/linux/elfcore.h`` (``elf_prstatus``: pr_info @0, pr_cursig @12, pr_pid @32,
pr_reg @112, 392 bytes on arm64) and ``arch/arm64/include/uapi/asm/ptrace.h`` (``user_pt_regs``); the
frame record layout is AAPCS64 §6.2.3. No aarch64 machine is at hand, so the core is written here.
"""

from __future__ import annotations

import struct
from pathlib import Path

from illumos_rust.core import analyze, read_core

STACK = 0x7FF0000000
PC, LR1, LR2 = 0x400100, 0x400204, 0x400308


def _note(ntype: int, desc: bytes) -> bytes:
    name = b"CORE\0"
    return (
        struct.pack("<3I", len(name), len(desc), ntype) + name + b"\0" * 3 + desc + b"\0" * (-len(desc) % 4)
    )


def _core(path: Path) -> None:
    prstatus = bytearray(392)
    struct.pack_into("<3ih", prstatus, 0, 11, 1, 0, 11)  # si_signo, si_code SEGV_MAPERR, si_errno, cursig
    struct.pack_into("<i", prstatus, 32, 777)
    regs = [0] * 34
    regs[0] = 0xDEAD
    regs[29] = STACK + 0x100  # x29: frame record
    regs[30] = LR1  # x30: link register (a leaf: still the caller's return address)
    regs[31], regs[32], regs[33] = STACK + 0xF0, PC, 0x60000000
    struct.pack_into("<34Q", prstatus, 112, *regs)
    psinfo = bytearray(136)
    struct.pack_into("<i", psinfo, 24, 777)
    psinfo[40:45] = b"armed"
    siginfo = struct.pack("<3i4xQ", 11, 0, 1, 0x18) + b"\0" * 104
    notes = _note(1, bytes(prstatus)) + _note(3, bytes(psinfo)) + _note(0x53494749, siginfo)
    stack = bytearray(0x1000)
    struct.pack_into("<QQ", stack, 0x100, STACK + 0x180, LR1)  # record of frame 0 -> caller 1
    struct.pack_into("<QQ", stack, 0x180, STACK + 0x200, LR2)  # caller 1 -> caller 2
    struct.pack_into("<QQ", stack, 0x200, 0, 0)  # end of chain
    text = b"\0" * 0x1000
    phnum, note_off = 3, 64 + 3 * 56
    text_off = (note_off + len(notes) + 0xFFF) & ~0xFFF
    stack_off = text_off + 0x1000
    out = bytearray(stack_off + len(stack))
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    struct.pack_into("<16sHHIQQQIHHHHHH", out, 0, ident, 4, 183, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    struct.pack_into("<IIQQQQQQ", out, 64, 4, 0, note_off, 0, 0, len(notes), 0, 4)
    struct.pack_into("<IIQQQQQQ", out, 120, 1, 5, text_off, 0x400000, 0, 0x1000, 0x1000, 0x1000)
    struct.pack_into("<IIQQQQQQ", out, 176, 1, 6, stack_off, STACK, 0, len(stack), len(stack), 0x1000)
    out[note_off : note_off + len(notes)] = notes
    out[text_off : text_off + 0x1000] = text
    out[stack_off:] = stack
    path.write_bytes(bytes(out))


def test_aarch64_registers_and_frame_records(tmp_path: Path) -> None:
    path = tmp_path / "core.arm64"
    _core(path)
    image = read_core(str(path))
    assert image.system == "linux" and image.machine == 183
    t = image.threads[0]
    assert t.tid == 777 and t.signal == 11
    assert t.registers["pc"] == PC and t.registers["sp"] == STACK + 0xF0 and t.registers["x0"] == 0xDEAD
    assert t.registers["x29"] == STACK + 0x100 and t.registers["pstate"] == 0x60000000
    assert image.si_addr == 0x18 and image.fname == "armed"
    report = analyze(str(path))
    assert [f.pc for f in report.threads[0].frames] == [PC, LR1, LR2]
    assert report.fault_mapping is not None and report.fault_mapping.startswith("null page")
