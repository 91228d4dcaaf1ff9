"""Per-thread stack unwinding over core memory: CFI first, the frame-pointer chain where CFI agrees or is
absent, signal frames decoded, and a stack scan only as a last, labelled resort.

amd64 (System V psABI §3.6.2 DWARF register numbers: rax 0, rdx 1, rcx 2, rbx 3, rsi 4, rdi 5, rbp 6,
rsp 7, r8–r15 8–15, return address 16). A frame whose CFA is defined from rbp keeps a frame pointer; the
naive chain (``[rbp]`` = caller's rbp, ``[rbp+8]`` = return address) is then checked against the CFI result.
glibc's own functions and ``-C force-frame-pointers=no`` Rust code have no frame pointer, and
``.eh_frame`` is the only way through them (notes §5.2: a plain rbp walk dies at ``raise``).

Signal frames: the handler returns into the ``sa_restorer`` trampoline (``mov $15,%rax; syscall``, i.e.
``rt_sigreturn``); there ``%rsp`` points at the ``ucontext`` the kernel pushed (``struct rt_sigframe`` minus
its ``pretcode``, ``arch/x86/include/asm/sigframe.h``), whose ``uc_mcontext`` (``struct sigcontext``) at +40
holds r8–r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip … cr2 (glibc ``REG_R8`` … ``REG_CR2`` = 0 … 22).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from ..dwarf.inline import Frame as SourceFrame
from ..elf.core_memory import CoreMemory
from .model import Frame
from .objects import ObjectMap
from .symbolize import Symbolizer, crate_of, demangle_name
from .unwind_aarch64 import AARCH64_NAMES, step_aarch64

DWARF_AMD64 = (
    "rax",
    "rdx",
    "rcx",
    "rbx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    *(f"r{i}" for i in range(8, 16)),
    "rip",
)
CALLEE_SAVED = ("rbx", "rbp", "r12", "r13", "r14", "r15")
SIGRETURN_AMD64 = bytes.fromhex("48c7c00f0000000f05")  # mov $0xf,%rax; syscall (rt_sigreturn)
_SIGCONTEXT = struct.Struct("<23Q")
_SIGCONTEXT_REGS = [
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rdi",
    "rsi",
    "rbp",
    "rbx",
    "rdx",
    "rax",
    "rcx",
    "rsp",
    "rip",
]
UCONTEXT_MCONTEXT = 40
UCONTEXT_SIZE = 304  # uc_flags, uc_link, uc_stack (24), sigcontext (256), uc_sigmask (8)
MAX_FRAMES = 4096
SOURCE_BUDGET = 1.0  # CPU seconds of DWARF decoding per analysis; frames after that get no file:line
SCAN_WORDS = 2048
SCAN_BUDGET = 4 * SCAN_WORDS  # stack words a thread may scan in all (scans are the last resort)


@dataclass
class SignalContext:
    """What a signal frame on the stack recorded: the signal and fault address the handler was given."""

    signo: int | None
    fault_address: int | None
    frame_index: int
    sp: int | None = None  # the interrupted stack pointer


class Unwinder:
    def __init__(
        self, memory: CoreMemory, objects: ObjectMap, symbolize: Symbolizer, machine: str = "amd64"
    ) -> None:
        self.mem = memory
        self.objects = objects
        self.symbolize = symbolize
        self.machine = machine
        self.signal_contexts: list[SignalContext] = []
        self._scan_left = SCAN_BUDGET
        self.source_lines = True  # file:line and inlined frames from DWARF where the objects have it
        self.source_budget = SOURCE_BUDGET
        self.source_truncated = False
        self._source_start = time.process_time()

    def unwind(
        self, registers: dict[str, int], max_frames: int = MAX_FRAMES
    ) -> tuple[list[Frame], str | None]:
        """Frames from the innermost out, and why the walk stopped early (None at the outermost frame)."""
        self.signal_contexts = []
        self._scan_left = SCAN_BUDGET
        aarch64 = self.machine == "aarch64"
        names = AARCH64_NAMES if aarch64 else DWARF_AMD64
        pc_key, sp_key = ("pc", "sp") if aarch64 else ("rip", "rsp")
        regs = {k: v for k, v in registers.items() if k in names}
        if pc_key not in regs or sp_key not in regs:
            return [], f"no {pc_key}/{sp_key} for this thread"
        frames: list[Frame] = []
        method, exact_pc = "regs", True
        stop: str | None = None
        while True:
            pc, sp = regs[pc_key], regs[sp_key]
            frames.extend(self._frames(len(frames), pc, sp, method, exact_pc))
            if len(frames) >= max_frames:  # inlined frames count: --max-frames N prints N lines
                del frames[max_frames:]
                stop = f"stopped after {max_frames} frames"
                break
            if aarch64:
                nxt, how, why = step_aarch64(self, regs, exact_pc, method == "regs")
            else:
                nxt, how, why = self._step(regs, exact_pc, len(frames) - 1)
            if how == "sigframe" and nxt is not None:
                top = frames[-1]
                top.note = "signal trampoline (rt_sigreturn)"
                if top.symbol is None:
                    top.symbol, top.offset = "<signal handler called>", 0
            if nxt is None:
                stop = why
                break
            if nxt[pc_key] == 0:
                break
            # a leaf (aarch64: return address still in x30, no frame of its own) leaves sp where it was
            leaf = method == "regs" and nxt[sp_key] == sp and nxt[pc_key] != pc
            if how != "sigframe" and nxt[sp_key] <= sp and not leaf:
                stop = f"stack pointer did not move up at 0x{pc:x} ({how}); stopping"
                break
            exact_pc = how == "sigframe"
            regs, method = nxt, how
        return frames, stop

    def _frames(self, index: int, pc: int, sp: int, method: str, exact: bool) -> list[Frame]:
        """The physical frame at ``pc`` preceded by the frames DWARF says were inlined into it there."""
        frame = self._frame(index, pc, sp, method, exact)
        source = self._source(pc if exact else pc - 1)
        if method == "scan" and source:
            # a return address found by scanning may be stale: its own line is shown (as gdb does), but no
            # inlined frames are built on top of a frame that is not certain
            last = source[-1]
            frame.file, frame.line, frame.column = last.file, last.line, last.column
            return [frame]
        if not source:
            return [frame]
        out: list[Frame] = []
        for sf in source[:-1]:
            name = demangle_name(sf.linkage_name) if sf.linkage_name else sf.function
            out.append(
                Frame(
                    index + len(out),
                    pc,
                    sp,
                    "inline",
                    frame.module,
                    name,
                    sf.linkage_name,
                    0,
                    crate_of(sf.linkage_name or "", name or ""),
                    None,
                    sf.file,
                    sf.line,
                    sf.column,
                )
            )
        last = source[-1]
        frame.index = index + len(out)
        frame.file, frame.line, frame.column = last.file, last.line, last.column
        out.append(frame)
        return out

    def _source(self, pc: int) -> list[SourceFrame]:
        """DWARF source frames at ``pc`` within the time budget: decoding a big line program (std's units
        take ~0.3 s each here) must not turn a 1 s answer into a 20 s one on a hostile or huge core."""
        if not self.source_lines:
            return []
        if time.process_time() - self._source_start > self.source_budget:
            if not self.source_truncated:
                self.source_truncated = True
            return []
        obj = self.objects.at(pc)
        return obj.source_frames(pc) if obj is not None else []

    def _frame(self, index: int, pc: int, sp: int, method: str, exact: bool = False) -> Frame:
        # A return address may be one past the end of its function (a call to a noreturn function is
        # its last instruction), so it is looked up at pc-1, as gdb does; the offset stays pc's.
        module, name, mangled, off, crate = self.symbolize(pc if exact else pc - 1)
        return Frame(index, pc, sp, method, module, name, mangled, off if exact else off + 1, crate)

    # -- one step ----------------------------------------------------------------------------------------
    def _step(
        self, regs: dict[str, int], exact_pc: bool, index: int
    ) -> tuple[dict[str, int] | None, str, str | None]:
        pc = regs["rip"]
        code = self.mem.read(pc, len(SIGRETURN_AMD64))
        if code == SIGRETURN_AMD64:
            return self._sigframe(regs["rsp"], index)
        lookup = pc if exact_pc else pc - 1
        obj = self.objects.at(lookup)
        row = obj.cfi_row(lookup) if obj is not None else None
        if row is not None:
            if row.cfa_reg is None:
                return None, "cfi", f"CFA at 0x{pc:x} is a DWARF expression (not evaluated)"
            nxt = self._apply_cfi(regs, row.cfa_reg, row.cfa_offset, row.regs)
            if nxt is None:
                return (
                    None,
                    "cfi",
                    "end of stack (return address undefined)"
                    if 16 in row.regs
                    else (f"CFI at 0x{pc:x} names registers the core does not hold"),
                )
            if row.cfa_reg == 6:
                fp = self._fp_step(regs)
                if fp is not None and fp["rip"] == nxt["rip"] and fp["rsp"] == nxt["rsp"]:
                    return nxt, "fp", None
            return nxt, "cfi", None
        fp = self._fp_step(regs)
        if fp is not None and self.objects.at(fp["rip"]) is not None:
            return fp, "fp", None
        scanned = self._scan(regs)
        if scanned is not None:
            return scanned, "scan", None
        return None, "fp", f"no CFI, frame pointer or return address found above 0x{regs['rsp']:x}"

    def _apply_cfi(
        self, regs: dict[str, int], cfa_reg: int, cfa_off: int, rules: dict[int, str]
    ) -> dict[str, int] | None:
        base_name = DWARF_AMD64[cfa_reg] if 0 <= cfa_reg < len(DWARF_AMD64) else None
        if base_name is None or base_name not in regs:
            return None
        cfa = regs[base_name] + cfa_off
        nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
        for reg, rule in rules.items():
            name = DWARF_AMD64[reg] if 0 <= reg < len(DWARF_AMD64) else None
            if name is None:
                continue
            value: int | None
            if rule == "u":
                if name == "rip":
                    return None
                nxt.pop(name, None)
                continue
            if rule == "s":
                value = regs.get(name)
            elif rule.startswith("c"):
                value = self.mem.u64(cfa + int(rule[1:]))
            elif rule.startswith("v"):
                value = cfa + int(rule[1:])
            elif rule.startswith("r") and rule[1:].isdigit():
                src = int(rule[1:])
                value = regs.get(DWARF_AMD64[src]) if src < len(DWARF_AMD64) else None
            else:
                value = None
            if value is None:
                nxt.pop(name, None)
            else:
                nxt[name] = value
        if "rip" not in nxt:
            return None
        nxt["rsp"] = cfa
        return nxt

    def _fp_step(self, regs: dict[str, int]) -> dict[str, int] | None:
        bp = regs.get("rbp")
        if bp is None or bp < regs["rsp"] or bp & 7:
            return None
        saved_bp, ra = self.mem.u64(bp), self.mem.u64(bp + 8)
        if saved_bp is None or ra is None:
            return None
        nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
        nxt.update(rbp=saved_bp, rip=ra, rsp=bp + 16)
        return nxt

    def _plausible_return(self, addr: int) -> bool:
        """``addr`` lies in a known object just after a call instruction (e8 rel32, ff /2 forms)."""
        if self.objects.at(addr) is None:
            return False
        before = self.mem.read(addr - 7, 7)
        if before is None:
            return False
        return (
            before[2] == 0xE8
            or (before[5] == 0xFF and before[6] & 0x38 == 0x10)
            or (before[4] == 0xFF and before[5] & 0x38 == 0x10)
            or (before[1] == 0xFF and before[2] & 0x38 == 0x10)
            or (before[0] == 0xFF and before[1] & 0x38 == 0x10)
        )

    def _scan(self, regs: dict[str, int]) -> dict[str, int] | None:
        sp = regs["rsp"]
        budget = min(SCAN_WORDS, self._scan_left)
        if budget <= 0:
            return None  # a thread whose every frame needs a scan is garbage: stop rather than crawl
        raw = self.mem.read(sp, budget * 8)
        words = len(raw) // 8 if raw is not None else 0
        if raw is None:
            for n in (512, 64, 8):  # the stack may end sooner
                if n > budget:
                    continue
                raw = self.mem.read(sp, n * 8)
                if raw is not None:
                    words = n
                    break
        if raw is None:
            return None
        for i, word in enumerate(struct.unpack_from(f"<{words}Q", raw)):
            self._scan_left -= 1
            if word > 0x1000 and self._plausible_return(word):
                nxt = {k: regs[k] for k in CALLEE_SAVED if k in regs}
                nxt.update(rip=word, rsp=sp + 8 * i + 8)
                return nxt
        return None

    def _sigframe(self, sp: int, index: int) -> tuple[dict[str, int] | None, str, str | None]:
        raw = self.mem.read(sp + UCONTEXT_MCONTEXT, _SIGCONTEXT.size)
        if raw is None:
            return None, "sigframe", f"signal frame at 0x{sp:x} is not in the core"
        values = _SIGCONTEXT.unpack(raw)
        nxt = dict(zip(_SIGCONTEXT_REGS, values[:17], strict=True))
        info = self.mem.read(sp + UCONTEXT_SIZE, 24)
        signo = struct.unpack_from("<i", info)[0] if info is not None else None
        self.signal_contexts.append(SignalContext(signo, values[22], index, nxt["rsp"]))
        return nxt, "sigframe", None
