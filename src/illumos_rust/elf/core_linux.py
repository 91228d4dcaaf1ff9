"""Linux process cores (``ET_CORE`` written by ``fs/binfmt_elf.c``), amd64 and aarch64.

Layouts (checked against the fixture with eu-readelf, notes/observability.md §4.5; kernel
``include/uapi/linux/elfcore.h``, ``include/linux/elfcore.h``, ``arch/x86/include/asm/user_64.h``):

* ``NT_PRSTATUS`` (``struct elf_prstatus``, 336 B on amd64): ``pr_info {si_signo, si_code, si_errno}`` @0,
  ``pr_cursig`` i16 @12, ``pr_pid`` @32 (the *thread* id), ``pr_ppid`` @36, ``pr_reg`` @112 (27 × u64 in
  ``user_regs_struct`` order), ``pr_fpvalid`` @328. On aarch64 ``pr_reg`` is x0..x30, sp, pc, pstate.
  One per thread; the dumping thread's comes first and is followed by the process notes.
* ``NT_PRPSINFO`` (136 B): ``pr_uid`` @16, ``pr_pid`` @24, ``pr_ppid`` @28, ``pr_fname[16]`` @40,
  ``pr_psargs[80]`` @56.
* ``NT_SIGINFO`` (kernel ``siginfo_t``, 128 B): signo @0, errno @4, code @8, fault address (or sender pid)
  @16.
* ``NT_AUXV``: (type, value) u64 pairs up to ``AT_NULL``.
* ``NT_FILE``: u64 count, u64 page size, count × (start, end, page offset), then count NUL-terminated paths.
* ``NT_FPREGSET`` (``user_fpregs_struct``, the 512-byte fxsave image: fcw @0, mxcsr @24) and
  ``NT_X86_XSTATE`` (owner ``LINUX``) follow each thread's ``NT_PRSTATUS``.
"""

from __future__ import annotations

import struct

from . import constants as C
from .core_memory import FileBacking
from .core_model import CoreImage, CoreThread, Mapping
from .core_notes import CoreNote, core_memory, walk_notes
from .reader import ElfFile

NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_SIGINFO, NT_FILE = 0x53494749, 0x46494C45
NT_X86_XSTATE, NT_ARM_VFP, NT_ARM_TLS, NT_ARM_PAC_MASK = 0x202, 0x400, 0x401, 0x406
NOTE_NAMES = {
    NT_PRSTATUS: "NT_PRSTATUS",
    NT_FPREGSET: "NT_FPREGSET",
    NT_PRPSINFO: "NT_PRPSINFO",
    NT_AUXV: "NT_AUXV",
    NT_SIGINFO: "NT_SIGINFO",
    NT_FILE: "NT_FILE",
    NT_X86_XSTATE: "NT_X86_XSTATE",
    0x205: "NT_X86_XSAVE_LAYOUT?",  # UNVERIFIED name (observability.md §4.5)
    NT_ARM_VFP: "NT_ARM_VFP",
    NT_ARM_TLS: "NT_ARM_TLS",
}

AMD64_REGS = [
    "r15",
    "r14",
    "r13",
    "r12",
    "rbp",
    "rbx",
    "r11",
    "r10",
    "r9",
    "r8",
    "rax",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "orig_rax",
    "rip",
    "cs",
    "eflags",
    "rsp",
    "ss",
    "fs_base",
    "gs_base",
    "ds",
    "es",
    "fs",
    "gs",
]
AARCH64_REGS = [f"x{i}" for i in range(31)] + ["sp", "pc", "pstate"]

_PRSTATUS_HEAD = struct.Struct(
    "<3ih2xQQ4i"
)  # si_signo si_code si_errno cursig sigpend sighold pid ppid pgrp sid
_PRPSINFO = struct.Struct("<bcbbxxxxQIIiiii16s80s")
_SIGINFO = struct.Struct("<3i4xQ")
_PRSTATUS_REG_OFF = 112


def read_linux_core(elf: ElfFile) -> CoreImage:
    """Decode a Linux core; what the damaged parts lost is listed in ``problems``."""
    problems: list[str] = []
    memory, _failed = core_memory(elf, problems)
    image = CoreImage(elf.path, "linux", elf.header.e_machine, memory, problems=problems, elf=elf)
    if not elf.little or not elf.is64:
        problems.append("only 64-bit little-endian Linux cores are decoded (amd64, aarch64)")
    regnames = AARCH64_REGS if image.machine == C.EM_AARCH64 else AMD64_REGS
    current: CoreThread | None = None
    for note in walk_notes(elf, problems):
        label = NOTE_NAMES.get(note.type, f"0x{note.type:x}")
        image.note_types.append(label)
        try:
            current = _apply(image, note, regnames, current)
        except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
            problems.append(f"note {label} at offset 0x{note.offset:x} is malformed ({exc}); ignored")
    if not image.threads:
        problems.append("no NT_PRSTATUS note: no thread registers, so no stacks")
    elif image.crashing_tid is None:
        image.crashing_tid = image.threads[0].tid  # the kernel writes the dumping thread first
    if image.signal is None and image.threads:
        image.signal = image.threads[0].signal or None
    _mappings(image)
    return image


def _apply(
    image: CoreImage, note: CoreNote, regnames: list[str], current: CoreThread | None
) -> CoreThread | None:
    desc, t = note.desc, note.type
    if note.name == "CORE" and t == NT_PRSTATUS:
        signo, code, errno, cursig, _pend, _hold, pid, ppid, _pgrp, _sid = _PRSTATUS_HEAD.unpack_from(desc, 0)
        count = len(regnames)
        regs = struct.unpack_from(f"<{count}Q", desc, _PRSTATUS_REG_OFF)
        thread = CoreThread(pid, dict(zip(regnames, regs, strict=True)), cursig, notes=["NT_PRSTATUS"])
        if not image.threads:
            image.crashing_tid = pid
            image.ppid = ppid
            if image.signal is None and cursig:
                image.signal = cursig
        image.threads.append(thread)
        return thread
    if note.name == "CORE" and t == NT_PRPSINFO:
        _st, _sn, _z, _n, _flag, uid, _gid, pid, ppid, _pg, _sid, fname, psargs = _PRPSINFO.unpack_from(
            desc, 0
        )
        image.pid, image.ppid, image.uid = pid, ppid, uid
        image.fname = fname.split(b"\0", 1)[0].decode("utf-8", "replace")
        image.psargs = psargs.split(b"\0", 1)[0].decode("utf-8", "replace").rstrip()
    elif note.name == "CORE" and t == NT_SIGINFO:
        signo, errno, code, addr = _SIGINFO.unpack_from(desc, 0)
        image.signal, image.si_errno, image.si_code = signo, errno, code
        if code <= 0:
            # SI_USER 0, SI_QUEUE -1, SI_TKILL -6 (<= 0: sent by a process, even a SIGSEGV from `kill`): the
            # union is ``_kill {pid_t si_pid; uid_t si_uid}`` at 16 (``asm-generic/siginfo.h``), no address
            image.si_pid, image.si_uid = addr & 0xFFFFFFFF, addr >> 32
        elif signo in (4, 5, 7, 8, 11):  # SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV: the union holds si_addr
            image.si_addr = addr
    elif note.name == "CORE" and t == NT_AUXV:
        words = struct.unpack_from(f"<{len(desc) // 8}Q", desc, 0)
        for i in range(0, len(words) - 1, 2):
            if words[i] == 0:
                break
            image.auxv[words[i]] = words[i + 1]
    elif note.name == "CORE" and t == NT_FILE:
        _file_note(image, desc)
    elif t == NT_FPREGSET and current is not None:
        current.notes.append("NT_FPREGSET")
        if len(desc) >= 28 and image.machine == C.EM_AMD64:
            current.fp_state["fcw"] = struct.unpack_from("<H", desc, 0)[0]
            current.fp_state["mxcsr"] = struct.unpack_from("<I", desc, 24)[0]
    elif note.name == "LINUX" and current is not None:
        current.notes.append(NOTE_NAMES.get(t, f"0x{t:x}"))
        if t == NT_X86_XSTATE and len(desc) >= 520:
            current.fp_state["xstate_bv"] = struct.unpack_from("<Q", desc, 512)[0]
        elif t == NT_ARM_TLS and len(desc) >= 8:
            # arch/arm64/kernel/ptrace.c tls_get(): TPIDR_EL0 first, the thread pointer of TLS variant I
            current.registers["tpidr_el0"] = struct.unpack_from("<Q", desc, 0)[0]
    return current


def _file_note(image: CoreImage, desc: bytes) -> None:
    count, _page = struct.unpack_from("<QQ", desc, 0)
    if count > (len(desc) - 16) // 24:
        raise ValueError(f"NT_FILE claims {count} mappings, room for {(len(desc) - 16) // 24}")
    triples = struct.unpack_from(f"<{3 * count}Q", desc, 16)
    names = desc[16 + 24 * count :].split(b"\0")
    page = _page or 4096
    backings = []
    for i in range(count):
        start, end, pgoff = triples[3 * i : 3 * i + 3]
        path = names[i].decode("utf-8", "surrogateescape") if i < len(names) else ""
        if start < end and path:
            backings.append(FileBacking(start, end, pgoff * page, path))
    image.memory.add_file_backing(backings)
    image.files.extend(backings)


def _mappings(image: CoreImage) -> None:
    """One ``Mapping`` per ``PT_LOAD``, named by the ``NT_FILE`` entry that covers it."""
    by_start = {b.start: b for b in image.files}
    for seg in image.memory.loads:
        b = by_start.get(seg.vaddr)
        image.mappings.append(
            Mapping(
                seg.vaddr,
                seg.vaddr + seg.memsz,
                b.file_offset if b else 0,
                b.path if b else None,
                seg.flags,
                seg.filesz,
            )
        )
