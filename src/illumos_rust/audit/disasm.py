"""Optional x86 decoding through iced-x86 (the ``disasm`` extra), with a byte-only fallback.

``shared/notes/elf-tooling.md`` §1 measured iced-x86 2-4x faster than capstone; neither ships illumos wheels,
so the audit works without a decoder: frame pointers from CFI only, syscall candidates reported as
unverified. Only the few functions that need it are decoded (the containing function of a byte hit, leaf
candidates), never the whole text: a full sweep of librustc_driver costs 8 s, targeted decoding 0.5 s.
"""

from __future__ import annotations

import importlib
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


def has_call(code: bytes, ip: int, bitness: int = 64) -> bool | None:
    """Whether the function body contains a CALL (None without a decoder)."""
    if _iced is None:
        return None
    if b"\xe8" not in code and b"\xff" not in code and b"\x9a" not in code:
        return False  # every CALL encoding (e8, ff /2, ff /3, 9a) needs one of these bytes
    fc = _iced.FlowControl
    calls = (fc.CALL, fc.INDIRECT_CALL)
    dec = _decoder(code, ip, bitness)
    ins = _iced.Instruction()
    while dec.can_decode:
        dec.decode_out(ins)
        if ins.flow_control in calls:
            return True
    return False


def frame_of(code: bytes, ip: int, bitness: int = 64) -> str | None:
    """Classify a function that has no FDE from its instructions (None without a decoder).

    FP: ``push rbp`` then ``mov rbp, rsp`` before the first CALL, anywhere (after ``endbr64`` or an
    early-return fast path: shrink-wrapping); RBP_CLOBBER: rbp written otherwise; LEAF: no CALL;
    NO_FP: calls without a frame pointer.
    """
    if _iced is None:
        return None
    R, M, K, F = _iced.Register, _iced.Mnemonic, _iced.OpKind, _iced.FlowControl
    dec = _decoder(code, ip, bitness)
    ins = _iced.Instruction()
    pushed = -1  # instructions since ``push rbp`` with no rsp change since; -1: none pending
    called = clobbered = False
    while dec.can_decode:
        dec.decode_out(ins)
        fc = ins.flow_control
        if fc in (F.CALL, F.INDIRECT_CALL):
            called = True
        mn = ins.mnemonic
        if mn == M.PUSH and ins.op0_kind == K.REGISTER and ins.op0_register in (R.RBP, R.EBP):
            pushed = 0
            continue
        if pushed >= 0:
            pushed += 1
            # elf-tooling.md §2: the mov must follow within 8 instructions with rsp unchanged in between
            # (GCC interleaves unrelated moves; a push or sub in between means rbp is a plain register).
            moves_rsp = mn in (M.PUSH, M.POP) or (
                ins.op_count >= 1 and ins.op0_kind == K.REGISTER and ins.op0_register in (R.RSP, R.ESP)
            )
            if moves_rsp or pushed > 8:
                pushed = -1
        if (
            ins.op_count >= 1
            and ins.op0_kind == K.REGISTER
            and ins.op0_register in (R.RBP, R.EBP, R.BP, R.BPL)
        ):
            if (
                mn == M.MOV
                and pushed >= 0
                and ins.op1_kind == K.REGISTER
                and ins.op1_register in (R.RSP, R.ESP)
                and not called
            ):
                return "FP"
            if mn != M.POP:
                clobbered = True
    if clobbered:
        return "RBP_CLOBBER"
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
