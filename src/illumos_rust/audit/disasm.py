"""Optional x86 decoding through iced-x86 (the ``disasm`` extra), with a byte-only fallback.

``shared/notes/elf-tooling.md`` §1 measured iced-x86 2-4x faster than capstone; neither ships illumos wheels,
so the audit works without a decoder: frame pointers from CFI only, syscall candidates reported as
unverified. Only the few functions that need it are decoded (the containing function of a byte hit, leaf
candidates), never the whole text: a full sweep of librustc_driver costs 8 s, targeted decoding 0.5 s.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_iced: Any
try:  # typed as Any: the extra may be absent where mypy runs
    _iced = importlib.import_module("iced_x86")
except ImportError:  # pragma: no cover - exercised on hosts without the extra
    _iced = None

AVAILABLE = _iced is not None
_FAMILIES: dict[int, int] = {}
if _iced is not None:
    _R = _iced.Register
    _FAMILIES = {r: _R.RAX for r in (_R.EAX, _R.RAX, _R.AX, _R.AL)} | {
        r: _R.RDI for r in (_R.EDI, _R.RDI, _R.DI, _R.DIL)
    }
_CALL_FLOWS: tuple[int, ...] = ()
_KERNEL_ENTRIES: tuple[int, ...] = ()
if _iced is not None:
    _CALL_FLOWS = (_iced.FlowControl.CALL, _iced.FlowControl.INDIRECT_CALL)
    _KERNEL_ENTRIES = (_iced.Mnemonic.SYSCALL, _iced.Mnemonic.SYSENTER)
SCAN = 64  # bytes before a hit in which the number load is looked for
MAX_DECODE = 1 << 20  # never decode more than 1 MiB of one "function" (hostile sizes)


@dataclass(frozen=True)
class Insn:
    ip: int
    length: int
    text: str


def _decoder(code: bytes, ip: int, bitness: int) -> Any:
    assert _iced is not None
    return _iced.Decoder(bitness, code[:MAX_DECODE], ip=ip)


def instructions(code: bytes, ip: int, bitness: int = 64) -> Iterator[Any]:
    if _iced is None:
        return iter(())
    return iter(_decoder(code, ip, bitness))


def _is_call(ins: Any) -> bool:
    """A CALL that pushes a return address: iced-x86 files ``syscall``/``sysenter`` under CALL flow
    control too, but they enter the kernel and come back without touching the stack (Intel SDM vol. 2B,
    SYSCALL), so a function whose only "call" is a syscall is still a leaf."""
    assert _iced is not None
    return ins.flow_control in _CALL_FLOWS and ins.mnemonic not in _KERNEL_ENTRIES


def has_call(code: bytes, ip: int, bitness: int = 64) -> bool | None:
    """Whether the function body contains a CALL (None without a decoder)."""
    if _iced is None:
        return None
    if b"\xe8" not in code and b"\xff" not in code and b"\x9a" not in code:
        return False  # every CALL encoding (e8, ff /2, ff /3, 9a) needs one of these bytes
    dec = _decoder(code, ip, bitness)
    ins = _iced.Instruction()
    flows, kernel = _CALL_FLOWS, _KERNEL_ENTRIES  # _is_call, inlined: this loop sees ~1M instructions
    while dec.can_decode:
        dec.decode_out(ins)
        if ins.flow_control in flows and ins.mnemonic not in kernel:
            return True
    return False


PENDING_WINDOW = 8  # instructions between saving rbp and pointing it at the save (elf-tooling.md §2)


def frame_of(code: bytes, ip: int, bitness: int = 64) -> str | None:
    """Classify a function from its instructions (None without a decoder).

    FP only when rbp becomes the frame base and stays it: the caller's rbp is saved at the slot rbp then
    points to, with the return address right above, which is what every frame-pointer walker reads
    (``[rbp]`` = caller's rbp, ``[rbp+8]`` = return address). Two prologues do that: ``push rbp; mov rbp,
    rsp`` (C, Rust; after ``endbr64`` or an early-return fast path: shrink-wrapping) and Go's ``sub rsp,
    N; mov [rsp+K], rbp; lea rbp, [rsp+K]`` with K = N - 8 (Go ABI internal, "frame pointer" section),
    before the first CALL. After that rbp may only be restored (``pop rbp``, ``leave``, ``mov rbp, [rsp+K]``)
    or set up again; any other write (Go and OpenSSL assembly that saves rbp then uses it as a general
    register) makes the function RBP_CLOBBER. Without a frame base: RBP_CLOBBER when rbp is written, NO_FP
    when it calls, else LEAF.
    """
    if _iced is None:
        return None
    R, M, K = _iced.Register, _iced.Mnemonic, _iced.OpKind
    rbp_family = (R.RBP, R.EBP, R.BP, R.BPL)
    sp = (R.RSP, R.ESP)
    word = bitness // 8
    dec = _decoder(code, ip, bitness)
    ins = _iced.Instruction()
    pushed = -1  # instructions since ``push rbp`` with no rsp change since; -1: none pending
    stored = -1  # Go: instructions since ``mov [rsp+K], rbp``; -1: none pending
    stored_at = 0
    spills: set[int] = set()  # [rsp+K] slots rbp was stored to: loading one back restores rbp
    sub_by: int | None = None  # the last ``sub rsp, imm``: Go's K must be that minus one word
    called = based = clobbered = False
    while dec.can_decode:
        dec.decode_out(ins)
        if _is_call(ins):
            called = True
        mn = ins.mnemonic
        op0_reg = ins.op0_register if ins.op_count >= 1 and ins.op0_kind == K.REGISTER else None
        if mn == M.PUSH and op0_reg in (R.RBP, R.EBP):
            pushed = 0
            continue
        if (
            mn == M.MOV
            and ins.op_count == 2
            and ins.op0_kind == K.MEMORY
            and ins.memory_base in sp
            and ins.op1_kind == K.REGISTER
            and ins.op1_register in (R.RBP, R.EBP)
        ):
            stored, stored_at = 0, ins.memory_displacement
            spills.add(stored_at)
            continue
        moves_rsp = mn in (M.PUSH, M.POP) or op0_reg in sp
        if pushed >= 0:
            pushed += 1
            if moves_rsp or pushed > PENDING_WINDOW:
                pushed = -1
        if stored >= 0:
            stored += 1
            if moves_rsp or stored > PENDING_WINDOW:
                stored = -1
        if mn == M.SUB and op0_reg in sp and ins.op_count == 2 and ins.op1_kind != K.REGISTER:
            sub_by = ins.immediate(1) & 0xFFFFFFFF
        if op0_reg not in rbp_family:
            continue
        if pushed >= 0 and mn == M.MOV and ins.op1_kind == K.REGISTER and ins.op1_register in sp:
            based = based or not called  # push rbp; mov rbp, rsp
            continue
        if (
            stored >= 0
            and mn == M.LEA
            and ins.memory_base in sp
            and ins.memory_index == R.NONE
            and ins.memory_displacement == stored_at
        ):
            # Go: mov [rsp+K], rbp; lea rbp, [rsp+K]. As the prologue (K = frame size - 8, before any
            # call) it makes rbp the frame base; later, around duffzero/duffcopy calls, it pushes a
            # temporary frame record that ``mov rbp, [rbp]`` pops: a valid chain either way.
            if not called and (sub_by is None or sub_by == stored_at + word):
                based = True
            continue
        if mn == M.POP:
            continue  # the epilogue's restore
        if mn == M.MOV and ins.op1_kind == K.MEMORY and ins.memory_index == R.NONE:
            base, disp = ins.memory_base, ins.memory_displacement
            if (base in sp and disp in spills) or (base in (R.RBP, R.EBP) and disp == 0):
                continue  # a restore: Go's epilogue mov rbp, [rsp+K], or mov rbp, [rbp] after duffzero
        clobbered = True
    if clobbered:
        return "RBP_CLOBBER"
    if based:
        return "FP"
    return "NO_FP" if called else "LEAF"


def _reg_family(reg: int) -> int | None:
    assert _iced is not None
    found: int | None = _FAMILIES.get(reg)
    return found


@dataclass(frozen=True)
class Located:
    """The instruction at a byte hit and the constant last loaded into the number register before it."""

    confirmed: bool  # an instruction of the expected kind starts exactly at the hit
    mnemonic: str
    number: int | None
    loader: str | None  # the instruction that loaded the number, as text


def _skip(dec: Any, code: bytes, ip: int, skip_to: int, bitness: int) -> None:
    """Move ``dec`` to an instruction boundary at most one instruction before ``skip_to``, the same one
    stepping instruction by instruction reaches, at C speed.

    A second decoder over the bytes up to ``skip_to`` only is drained by ``deque`` (no Python bytecode per
    instruction: 1,800 instructions per syscall hit in librustc_driver). Every instruction it yields but
    the last lies wholly before the cut, so it decodes exactly as in the full buffer; the last one may be
    cut short, so ``dec`` resumes at its start, a true boundary, and the caller's loop steps from there.
    """
    assert _iced is not None
    begin, cut = dec.position, min(skip_to - ip, dec.max_position)
    if cut <= begin:
        return
    last = deque(_iced.Decoder(bitness, code[begin:cut], ip=ip + begin), maxlen=1)
    if last:
        dec.position = last[0].ip - ip
        dec.ip = last[0].ip


def locate(code: bytes, ip: int, target: int, number_reg: str, bitness: int = 64) -> Located | None:
    """``locate_many`` for one target."""
    found = locate_many(code, ip, [target], number_reg, bitness)
    return None if found is None else found[target]


def locate_many(
    code: bytes, ip: int, targets: list[int], number_reg: str, bitness: int = 64
) -> dict[int, Located] | None:
    """Decode from ``ip`` (an instruction boundary) through every target (None without a decoder).

    For each target: whether an instruction starts exactly there, and the number, i.e. the last write to
    ``number_reg`` (``eax`` for syscall/int, ``edi`` for a call to libc ``syscall()``) before it in
    straight-line order: ``mov eax, imm`` or ``xor eax, eax``; any other write makes it unknown, and a call,
    return or unconditional jump forgets it. Instructions more than ``SCAN`` bytes before the next target
    are only stepped over (``decode_out`` into one reused object), which is most of the work.
    """
    if _iced is None:
        return None
    R, M, K, F = _iced.Register, _iced.Mnemonic, _iced.OpKind, _iced.FlowControl
    want = R.RAX if number_reg == "eax" else R.RDI
    forget = {F.CALL, F.INDIRECT_CALL, F.RETURN, F.UNCONDITIONAL_BRANCH, F.INDIRECT_BRANCH, F.INTERRUPT}
    imm_kinds = {K.IMMEDIATE32, K.IMMEDIATE32TO64, K.IMMEDIATE64, K.IMMEDIATE8TO32, K.IMMEDIATE8TO64}
    fmt = _iced.Formatter(_iced.FormatterSyntax.INTEL)
    dec = _decoder(code, ip, bitness)
    ins = _iced.Instruction()
    out: dict[int, Located] = {}
    number: int | None = None
    loader: str | None = None
    for target in sorted(set(targets)):
        if target in out:
            continue
        skip_to = target - SCAN
        if dec.ip < skip_to:
            number, loader = None, None
            _skip(dec, code, ip, skip_to, bitness)
            while dec.can_decode and dec.ip < skip_to:
                dec.decode_out(ins)
        result = Located(False, "", None, None)
        while dec.can_decode:
            if dec.ip == target:
                dec.decode_out(ins)
                result = Located(True, fmt.format_mnemonic(ins), number, loader)
                if ins.flow_control in forget:
                    number, loader = None, None
                break
            if dec.ip > target:
                break
            dec.decode_out(ins)
            if ins.ip + ins.len > target:  # the hit is inside this instruction: not a real trap
                result = Located(False, fmt.format_mnemonic(ins), None, None)
                break
            if ins.flow_control in forget:
                number, loader = None, None
            elif ins.op_count >= 1 and ins.op0_kind == K.REGISTER and _FAMILIES.get(ins.op0_register) == want:
                mn = ins.mnemonic
                if mn in (M.CMP, M.TEST, M.PUSH):
                    pass
                elif mn == M.MOV and ins.op_count == 2 and ins.op1_kind in imm_kinds:
                    number, loader = ins.immediate(1), fmt.format(ins)
                elif (
                    mn == M.XOR
                    and ins.op_count == 2
                    and ins.op1_kind == K.REGISTER
                    and ins.op1_register == ins.op0_register
                ):
                    number, loader = 0, fmt.format(ins)
                else:
                    number, loader = None, fmt.format(ins)
        out[target] = result
    return out
