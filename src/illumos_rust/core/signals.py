"""Signal names and ``si_code`` meanings, per system: the numbers differ after 6 (notes §4.3).

Linux: ``include/uapi/asm-generic/signal.h`` and ``siginfo.h`` (SI_USER 0, SI_KERNEL 0x80, SI_QUEUE -1,
SI_TKILL -6; SEGV_MAPERR 1, SEGV_ACCERR 2; BUS_ADRALN 1, BUS_ADRERR 2). illumos: ``sys/iso/signal_iso.h``
and ``sys/siginfo.h`` (SI_USER 0, SI_LWP -1, SI_QUEUE -2, SI_NOINFO 32767; the same SEGV_/BUS_ codes).
"""

from __future__ import annotations

LINUX_SIGNALS = {
    1: ("SIGHUP", "Hangup"),
    2: ("SIGINT", "Interrupt"),
    3: ("SIGQUIT", "Quit"),
    4: ("SIGILL", "Illegal instruction"),
    5: ("SIGTRAP", "Trace/breakpoint trap"),
    6: ("SIGABRT", "Aborted"),
    7: ("SIGBUS", "Bus error"),
    8: ("SIGFPE", "Floating point exception"),
    9: ("SIGKILL", "Killed"),
    10: ("SIGUSR1", "User defined signal 1"),
    11: ("SIGSEGV", "Segmentation fault"),
    12: ("SIGUSR2", "User defined signal 2"),
    13: ("SIGPIPE", "Broken pipe"),
    14: ("SIGALRM", "Alarm clock"),
    15: ("SIGTERM", "Terminated"),
    24: ("SIGXCPU", "CPU time limit exceeded"),
    25: ("SIGXFSZ", "File size limit exceeded"),
    31: ("SIGSYS", "Bad system call"),
}
ILLUMOS_SIGNALS = {
    1: ("SIGHUP", "Hangup"),
    2: ("SIGINT", "Interrupt"),
    3: ("SIGQUIT", "Quit"),
    4: ("SIGILL", "Illegal Instruction"),
    5: ("SIGTRAP", "Trace/Breakpoint Trap"),
    6: ("SIGABRT", "Abort"),
    7: ("SIGEMT", "Emulation Trap"),
    8: ("SIGFPE", "Arithmetic Exception"),
    9: ("SIGKILL", "Killed"),
    10: ("SIGBUS", "Bus Error"),
    11: ("SIGSEGV", "Segmentation Fault"),
    12: ("SIGSYS", "Bad System Call"),
    13: ("SIGPIPE", "Broken Pipe"),
    14: ("SIGALRM", "Alarm Clock"),
    15: ("SIGTERM", "Terminated"),
    16: ("SIGUSR1", "User Signal 1"),
    17: ("SIGUSR2", "User Signal 2"),
    18: ("SIGCHLD", "Child Status Changed"),
    30: ("SIGXCPU", "CPU time limit exceeded"),
    31: ("SIGXFSZ", "File size limit exceeded"),
}
_FAULT_CODES = {
    "SIGSEGV": {1: "SEGV_MAPERR: address not mapped", 2: "SEGV_ACCERR: no permission for this access"},
    "SIGBUS": {
        1: "BUS_ADRALN: misaligned address",
        2: "BUS_ADRERR: no such physical address",
        3: "BUS_OBJERR",
    },
    "SIGFPE": {1: "FPE_INTDIV: integer divide by zero", 2: "FPE_INTOVF: integer overflow"},
    "SIGILL": {1: "ILL_ILLOPC: illegal opcode", 2: "ILL_ILLOPN: illegal operand"},
}
_LINUX_CODES = {
    0: "SI_USER: kill()",
    0x80: "SI_KERNEL",
    -1: "SI_QUEUE: sigqueue()",
    -6: "SI_TKILL: tkill/tgkill",
}
_ILLUMOS_CODES = {0: "SI_USER: kill()", -1: "SI_LWP: _lwp_kill()", -2: "SI_QUEUE", 32767: "SI_NOINFO"}


def signal_name(system: str, signo: int | None) -> tuple[str, str]:
    if not signo:
        return ("none", "no signal recorded")
    table = ILLUMOS_SIGNALS if system == "illumos" else LINUX_SIGNALS
    return table.get(signo, (f"SIG{signo}", f"signal {signo}"))


def code_meaning(system: str, signo: int | None, code: int | None) -> str | None:
    if code is None:
        return None
    name = signal_name(system, signo)[0]
    if code > 0 and code != 0x80 and name in _FAULT_CODES:
        return _FAULT_CODES[name].get(code)
    return (_ILLUMOS_CODES if system == "illumos" else _LINUX_CODES).get(code)
