"""What ``analyze`` returns: plain dataclasses, the same values the CLI prints as text or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Frame:
    """One stack frame. ``method`` says how it was found, so a doubtful frame never looks certain:
    ``regs`` (the thread's registers), ``fp`` (frame-pointer chain; CFI agreed where CFI exists),
    ``cfi`` (``.eh_frame`` rules, no frame pointer), ``sigframe`` (the context a signal handler saved),
    ``scan`` (a return address found by scanning the stack: may be stale), ``lr`` (aarch64: the link
    register of the innermost frame, unchecked), ``inline`` (a function inlined
    into the physical frame that follows it, from DWARF: same pc and sp)."""

    index: int
    pc: int
    sp: int
    method: str
    module: str | None = None
    symbol: str | None = None  # demangled, without the legacy hash
    mangled: str | None = None
    offset: int = 0
    crate: str | None = None
    note: str | None = None
    file: str | None = None  # from the DWARF line table, when the object has one
    line: int | None = None
    column: int | None = None

    def source(self) -> str | None:
        if self.file is None or self.line is None:
            return None
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")

    def location(self) -> str:
        """``module`symbol+0xoff`` as mdb's ``$C`` writes it (``module`` omitted for the executable)."""
        if self.symbol is None:  # no symbol: the offset into the module, what addr2line -e MODULE takes
            return f"{self.module}`+0x{self.offset:x}" if self.module else f"0x{self.pc:x}"
        where = f"{self.symbol}+0x{self.offset:x}" if self.offset else self.symbol
        return f"{self.module}`{where}" if self.module else where


@dataclass
class ThreadReport:
    tid: int
    frames: list[Frame]
    name: str | None = None
    signal: int = 0
    crashing: bool = False
    stop: str | None = None  # why the unwind stopped, when not at the outermost frame
    name_source: str | None = None  # where ``name`` was read (a core note, std's TLS handle, the panic text)
    stack: str | None = None  # illumos: the LWP's stack from its pr_ustack stack_t
    on_altstack: bool = False  # illumos: running on its alternate signal stack (pr_altstack, SS_ONSTACK)
    #: x87/SSE control state from the FP notes (Linux NT_FPREGSET ``fcw``/``mxcsr``, NT_X86_XSTATE
    #: ``xstate_bv``): what a SIGFPE or a changed rounding mode is read against
    fp_state: dict[str, int] = field(default_factory=dict)


@dataclass
class Fact:
    """A recovered value and where it came from (e.g. ``stack buffer @0x7ffd…``)."""

    value: str
    source: str


@dataclass
class PanicReport:
    message: Fact | None = None
    thread: Fact | None = None
    location: Fact | None = None  # "file:line:col"
    format: str | None = None  # which std output format matched


@dataclass
class CoreReport:
    core: str
    system: str
    executable: str | None
    pid: int | None
    uid: int | None
    psargs: str | None
    signal: int | None
    signal_name: str
    signal_text: str
    si_code: int | None
    si_code_text: str | None
    fault_address: int | None
    fault_mapping: str | None
    crash_kind: str  # "panic", "abort", "segfault", "stack overflow", "upanic", …
    panic: PanicReport | None
    threads: list[ThreadReport]
    objects: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    platform: str | None = None
    zonename: str | None = None
    sender_pid: int | None = None  # si_code <= 0: the signal was sent by this process (kill, tgkill, …)
    sender_uid: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for t in data["threads"]:
            for f in t["frames"]:
                f["pc"] = f"0x{f['pc']:x}"
                f["sp"] = f"0x{f['sp']:x}"
        if self.fault_address is not None:
            data["fault_address"] = f"0x{self.fault_address:x}"
        return data
