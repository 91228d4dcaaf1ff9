"""illumos process cores (``elfcore()`` in the kernel's ELF exec module, or gcore via libproc ``Pgcore.c``).

Layout (notes/observability.md §4.1–4.3; illumos ``sys/elf.h``, ``sys/procfs.h``, ``sys/old_procfs.h``,
``sys/regset.h``): ``PT_NOTE[0]`` holds the old SVR4 notes (``prpsinfo_t``, then per LWP ``prstatus_t`` and
``prfpregset_t``; decoded below, and the only source of status, registers and psinfo when a core has no
new-style notes), ``PT_NOTE[1]`` the new ones, which are preferred:

* ``NT_PSINFO`` (13, ``psinfo_t`` 416 B): uid @24, ``pr_fname[16]`` @136, ``pr_psargs[80]`` @152;
* ``NT_PSTATUS`` (10, ``pstatus_t`` 1680 B): nlwp @4, pid @8, ppid @12, ``pr_dmodel`` @304 (1 ILP32,
  2 LP64), ``pr_lwp`` @384: the *representative* LWP's ``lwpstatus_t``, whose ``pr_info`` says what killed
  the process;
* ``NT_LWPSTATUS`` (16, ``lwpstatus_t`` 1296 B) per LWP: lwpid @4, cursig i16 @12, ``pr_altstack`` @336,
  ``pr_ustack`` @528 (the address of the LWP's ``stack_t``: its stack's base and size), ``pr_info`` @16
  (signo +0, code +4, errno +8, addr +16), ``pr_reg`` @544 (28 × u64 in ``regset.h`` order: r15 r14 r13
  r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax trapno err rip cs rfl rsp ss fs gs es ds fsbase gsbase);
* ``NT_LWPSINFO`` (17, 128 B): lwpid @4, ``pr_sname`` @26, ``pr_name[16]`` @80; ``NT_LWPNAME`` (25):
  ``{u64 lwpid; char name[32]}``;
* ``NT_PLATFORM`` (5), ``NT_ZONENAME`` (21): strings; ``NT_UTSNAME`` (15): 5 × 257 B; ``NT_CONTENT`` (20):
  u64 coreadm mask; ``NT_AUXV`` (6): (i32 type, pad, u64 value) pairs; ``NT_FDINFO`` (22): fd @0,
  ``pr_path`` @64; ``NT_SECFLAGS`` (24); ``NT_UPANIC`` (26, UNVERIFIED number and layout:
  ``{u32 version; u32 flags; u8 data[1024]}``).

Symbols: the core's own section headers name a ``.symtab``/``.dynsym`` per mapped object with ``sh_addr``
at the object's load address (libproc ``Pgcore.c``); they become ``symbol_sections``. With coreadm content
``ctf`` (``core(5)``) each object's ``.SUNW_ctf`` is there too, ``sh_addr`` its load base and ``sh_link`` its
``.symtab`` (whose function entries the CTF function section follows): they become ``ctf_sections``.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field

from . import constants as C
from .core_model import CoreImage, CoreThread, Mapping, SymbolSection
from .core_notes import CoreNote, core_memory, walk_notes
from .reader import ElfFile

NOTE_NAMES = {
    1: "NT_PRSTATUS",
    2: "NT_PRFPREG",
    3: "NT_PRPSINFO",
    4: "NT_PRXREG",
    5: "NT_PLATFORM",
    6: "NT_AUXV",
    7: "NT_GWINDOWS",
    8: "NT_ASRS",
    9: "NT_LDT",
    10: "NT_PSTATUS",
    13: "NT_PSINFO",
    14: "NT_PRCRED",
    15: "NT_UTSNAME",
    16: "NT_LWPSTATUS",
    17: "NT_LWPSINFO",
    18: "NT_PRPRIV",
    19: "NT_PRPRIVINFO",
    20: "NT_CONTENT",
    21: "NT_ZONENAME",
    22: "NT_FDINFO",
    23: "NT_SPYMASTER",
    24: "NT_SECFLAGS",
    25: "NT_LWPNAME",
    26: "NT_UPANIC",
    27: "NT_CWD",
}
GREGS_AMD64 = [
    "r15",
    "r14",
    "r13",
    "r12",
    "r11",
    "r10",
    "r9",
    "r8",
    "rdi",
    "rsi",
    "rbp",
    "rbx",
    "rdx",
    "rcx",
    "rax",
    "trapno",
    "err",
    "rip",
    "cs",
    "rfl",
    "rsp",
    "ss",
    "fs",
    "gs",
    "es",
    "ds",
    "fsbase",
    "gsbase",
]
LWPSTATUS_SIZE, LWPSTATUS_REG = 1296, 544
PSTATUS_LWP = 384
_LWP_HEAD = struct.Struct("<iih h h2xiii4xQ")  # flags lwpid why what cursig | signo code errno | addr
_PSINFO = struct.Struct("<4x i i i 8x i")  # nlwp pid ppid (pgid sid) uid


def read_illumos_core(elf: ElfFile) -> CoreImage:
    problems: list[str] = []
    memory, failed = core_memory(elf, problems)
    image = CoreImage(elf.path, "illumos", elf.header.e_machine, memory, problems=problems, elf=elf)
    image.failed_segments = failed
    if not elf.little or not elf.is64 or image.machine != C.EM_AMD64:
        problems.append("only 64-bit amd64 illumos cores are decoded; registers of this one are not")
    threads: dict[int, CoreThread] = {}
    old = _OldNotes()
    representative: int | None = None
    saw_new = False
    for note in walk_notes(elf, problems):
        label = NOTE_NAMES.get(note.type, f"0x{note.type:x}") + (" (old)" if note.segment == 0 else "")
        image.note_types.append(label)
        try:
            if note.type in (1, 2, 3):  # prstatus_t, prfpregset_t, prpsinfo_t exist only in the old set
                _apply_old(old, note)
                continue
            saw_new = saw_new or note.type in (10, 13, 16)  # NT_PSTATUS, NT_PSINFO, NT_LWPSTATUS
            lwp = _apply(image, note, threads)
            if lwp is not None:
                representative = lwp
        except (struct.error, ValueError, IndexError) as exc:
            problems.append(f"note {label} at offset 0x{note.offset:x} is malformed ({exc}); ignored")
    if not saw_new and (old.threads or old.psinfo is not None):
        problems.append(
            "no new-style notes (NT_PSINFO/NT_PSTATUS/NT_LWPSTATUS): status, registers and psinfo come from "
            "the old-style notes (prstatus_t, prpsinfo_t; sys/old_procfs.h)"
        )
        _use_old(image, old, threads)
    elif not saw_new:
        problems.append("no new-style notes (second PT_NOTE): no per-LWP registers")
    else:
        _cross_check(image, old, threads)
    image.old_notes = old.summary()
    image.threads = list(threads.values())
    for t in image.threads:
        if t.ustack_ptr:
            raw = memory.read(t.ustack_ptr, 24)  # stack_t {void *ss_sp; size_t ss_size; int ss_flags}
            if raw is not None:
                sp, size, _flags = struct.unpack("<QQi4x", raw)
                t.stack = (sp, size) if size else None
    if representative is not None:
        image.crashing_tid = representative
    elif image.threads:
        signalled = [t for t in image.threads if t.signal and t.signal != 9]
        image.crashing_tid = (signalled or image.threads)[0].tid
    if not image.threads:
        problems.append("no NT_LWPSTATUS note: no thread registers, so no stacks")
    _sections(image, elf)
    for seg in memory.loads:
        image.mappings.append(Mapping(seg.vaddr, seg.vaddr + seg.memsz, 0, None, seg.flags & 7, seg.filesz))
    return image


def _thread(threads: dict[int, CoreThread], lwpid: int) -> CoreThread:
    if lwpid not in threads:
        threads[lwpid] = CoreThread(lwpid, {})
    return threads[lwpid]


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _lwpstatus(desc: bytes, off: int) -> tuple[int, int, int, int, int, int, dict[str, int]]:
    _flags, lwpid, _why, _what, cursig, signo, code, errno, addr = _LWP_HEAD.unpack_from(desc, off)
    regs = struct.unpack_from("<28Q", desc, off + LWPSTATUS_REG)
    return lwpid, cursig, signo, code, errno, addr, dict(zip(GREGS_AMD64, regs, strict=True))


def _apply(image: CoreImage, note: CoreNote, threads: dict[int, CoreThread]) -> int | None:
    desc, t = note.desc, note.type
    if t == 13:  # NT_PSINFO
        _nlwp, pid, ppid, uid = _PSINFO.unpack_from(desc, 0)
        image.pid, image.ppid, image.uid = pid, ppid, uid
        image.fname = _cstr(desc[136:152])
        image.psargs = _cstr(desc[152:232]).rstrip()
        if len(desc) < 260:
            raise ValueError(f"psinfo_t is {len(desc)} bytes, expected 416")
        image.data_model = {1: "ILP32", 2: "LP64"}.get(struct.unpack_from("<i", desc, 256)[0])
        sec, nsec = struct.unpack_from("<qq", desc, 88)  # pr_start: timestruc_t {time_t; long}
        if sec > 0:
            image.start_time = sec + nsec / 1e9
    elif t == 10:  # NT_PSTATUS
        pid, ppid = struct.unpack_from("<ii", desc, 8)
        image.pid, image.ppid = image.pid or pid, image.ppid or ppid
        image.data_model = {1: "ILP32", 2: "LP64"}.get(
            struct.unpack_from("<i", desc, 304)[0], image.data_model
        )
        lwpid, cursig, signo, code, errno, addr, _regs = _lwpstatus(desc, PSTATUS_LWP)
        if signo or cursig:
            image.signal = signo or cursig
            image.si_code, image.si_errno = code, errno
            if code <= 0:
                # SI_USER 0, SI_LWP -1, SI_QUEUE -2 (``sys/siginfo.h`` SI_FROMUSER): sent by a process; the
                # union is ``_proc {pid_t _pid; uid_t _uid …}`` at 16, not a fault address
                image.si_pid, image.si_uid = addr & 0xFFFFFFFF, addr >> 32
            elif image.signal in (4, 5, 8, 10, 11):  # SIGILL SIGTRAP SIGFPE SIGBUS SIGSEGV carry si_addr
                image.si_addr = addr
        return lwpid
    elif t == 16:  # NT_LWPSTATUS
        lwpid, cursig, signo, _code, _errno, _addr, regs = _lwpstatus(desc, 0)
        th = _thread(threads, lwpid)
        th.registers, th.signal = regs, cursig or signo
        th.notes.append("NT_LWPSTATUS")
        th.altstack = struct.unpack_from("<QQi", desc, 336)  # pr_altstack: stack_t {ss_sp, ss_size, ss_flags}
        th.ustack_ptr = struct.unpack_from("<Q", desc, 528)[0]  # pr_ustack: address of the LWP's stack_t
        if len(desc) >= 768 + 32:
            th.fp_state["fcw"] = struct.unpack_from("<H", desc, 768)[0]
            th.fp_state["mxcsr"] = struct.unpack_from("<I", desc, 768 + 24)[0]
    elif t == 17:  # NT_LWPSINFO
        lwpid = struct.unpack_from("<i", desc, 4)[0]
        th = _thread(threads, lwpid)
        th.state = chr(desc[26]) if desc[26] else None
        if th.name is None and _cstr(desc[80:96]):
            th.name, th.name_source = _cstr(desc[80:96]), "NT_LWPSINFO pr_name"
        th.notes.append("NT_LWPSINFO")
    elif t == 25:  # NT_LWPNAME
        lwpid = struct.unpack_from("<Q", desc, 0)[0]
        name = _cstr(desc[8:40])
        th = _thread(threads, lwpid)
        if name:
            th.name, th.name_source = name, "NT_LWPNAME"
        th.notes.append("NT_LWPNAME")
    elif t == 5:
        image.platform = _cstr(desc)
    elif t == 21:
        image.zonename = _cstr(desc)
    elif t == 15:
        image.uname = [_cstr(desc[i * 257 : (i + 1) * 257]) for i in range(min(5, len(desc) // 257))]
    elif t == 20:
        image.content = struct.unpack_from("<Q", desc, 0)[0]
    elif t == 6:
        for i in range(0, len(desc) - 15, 16):
            a_type, a_val = struct.unpack_from("<i4xQ", desc, i)
            if a_type == 0:
                break
            image.auxv[a_type] = a_val
    elif t == 22:
        fd = struct.unpack_from("<i", desc, 0)[0]
        image.fds.append((fd, _cstr(desc[64:1088])))
    elif t == 24:
        image.secflags = struct.unpack_from(f"<{len(desc) // 4}I", desc, 0)
    elif t == 26:
        _version, flags = struct.unpack_from("<II", desc, 0)
        image.upanic_flags = flags
        image.upanic = desc[8:].split(b"\0", 1)[0]
    return None


# -- old-style notes (sys/old_procfs.h, amd64 LP64; offsets computed from the header's field order with the
# LP64 sizes: siginfo_t 256 B, sigset_t 16 B, stack_t 24 B, struct sigaction 32 B, timestruc_t 16 B, long and
# pointers 8 B, prgregset_t 28 × 8 B in sys/regset.h order) --------------------------------------------------
OLD_PRSTATUS_SIZE, OLD_PRSTATUS_REG = 824, 600
# prstatus_t: pr_flags @0, pr_why @4, pr_what @6, pr_info @8 (signo +0, code +4, errno +8, addr +16),
# pr_cursig @264, pr_nlwp @266, pr_altstack @304, pr_pid @360, pr_ppid @364, pr_who (the LWP id) @520,
# pr_brkbase/pr_brksize @552/560, pr_stkbase/pr_stksize @568/576, pr_reg @600
_OLD_STATUS_INFO = struct.Struct("<iii4xQ")
OLD_PRPSINFO_SIZE = 328
# prpsinfo_t: pr_uid @8, pr_gid @12, pr_pid @16, pr_ppid @20, pr_start @64, pr_fname[16] @120,
# pr_psargs[80] @136, pr_wstat @280, pr_dmodel @300


@dataclass
class _OldPsinfo:
    uid: int
    pid: int
    ppid: int
    start: float | None
    fname: str
    psargs: str
    wstat: int
    dmodel: str | None


@dataclass
class _OldNotes:
    threads: list[CoreThread] = field(default_factory=list)
    psinfo: _OldPsinfo | None = None
    status: list[dict[str, int]] = field(default_factory=list)  # per prstatus_t: pid, signal, code, addr …

    def summary(self) -> dict[str, object]:
        return {
            "psinfo": asdict(self.psinfo) if self.psinfo else None,
            "status": [dict(s) for s in self.status],
        }


def _apply_old(old: _OldNotes, note: CoreNote) -> None:
    desc = note.desc
    if note.type == 1:
        if len(desc) < OLD_PRSTATUS_SIZE:
            raise ValueError(f"prstatus_t is {len(desc)} bytes, expected {OLD_PRSTATUS_SIZE} (amd64)")
        signo, code, errno, addr = _OLD_STATUS_INFO.unpack_from(desc, 8)
        cursig, nlwp = struct.unpack_from("<hH", desc, 264)
        pid, ppid = struct.unpack_from("<ii", desc, 360)
        who = struct.unpack_from("<i", desc, 520)[0]
        brkbase, brksize, stkbase, stksize = struct.unpack_from("<4Q", desc, 552)
        regs = struct.unpack_from("<28Q", desc, OLD_PRSTATUS_REG)
        th = CoreThread(
            who, dict(zip(GREGS_AMD64, regs, strict=True)), cursig or signo, notes=["NT_PRSTATUS (old)"]
        )
        th.altstack = struct.unpack_from("<QQi", desc, 304)
        old.threads.append(th)
        old.status.append(
            {
                "lwpid": who,
                "pid": pid,
                "ppid": ppid,
                "nlwp": nlwp,
                "cursig": cursig,
                "signo": signo,
                "code": code,
                "errno": errno,
                "addr": addr,
                "brkbase": brkbase,
                "brksize": brksize,
                "stkbase": stkbase,
                "stksize": stksize,
            }
        )
    elif note.type == 2 and old.threads:
        old.threads[-1].notes.append("NT_PRFPREG (old)")
        if len(desc) >= 28:  # prfpregset_t on amd64 starts with the 512-byte fxsave image: fcw @0, mxcsr @24
            old.threads[-1].fp_state["fcw"] = struct.unpack_from("<H", desc, 0)[0]
            old.threads[-1].fp_state["mxcsr"] = struct.unpack_from("<I", desc, 24)[0]
    elif note.type == 3:
        if len(desc) < OLD_PRPSINFO_SIZE:
            raise ValueError(f"prpsinfo_t is {len(desc)} bytes, expected {OLD_PRPSINFO_SIZE} (amd64)")
        uid, _gid, pid, ppid = struct.unpack_from("<IIii", desc, 8)
        sec, nsec = struct.unpack_from("<qq", desc, 64)
        old.psinfo = _OldPsinfo(
            uid=uid,
            pid=pid,
            ppid=ppid,
            start=sec + nsec / 1e9 if sec > 0 else None,
            fname=_cstr(desc[120:136]),
            psargs=_cstr(desc[136:216]).rstrip(),
            wstat=struct.unpack_from("<i", desc, 280)[0],
            dmodel={1: "ILP32", 2: "LP64"}.get(desc[300]),
        )


def _use_old(image: CoreImage, old: _OldNotes, threads: dict[int, CoreThread]) -> None:
    """A core with only the old-style notes: its ``prstatus_t`` per LWP and ``prpsinfo_t`` stand in.

    The LWP handling the fatal signal (a ``pr_cursig`` other than the SIGKILL that stopped its siblings) is
    the crashing one, and its ``pr_info`` says what killed the process."""
    p = old.psinfo
    if p is not None:
        image.uid, image.pid, image.ppid = p.uid, p.pid, p.ppid
        image.fname, image.psargs = p.fname, p.psargs
        image.start_time, image.data_model = p.start, p.dmodel
    for th in old.threads:
        threads.setdefault(th.tid, th)
    dying = [s for s in old.status if s["cursig"] and s["cursig"] != 9]
    status = dying[0] if dying else (old.status[0] if old.status else None)
    if status is None:
        return
    image.pid = image.pid or status["pid"]
    image.ppid = image.ppid or status["ppid"]
    image.crashing_tid = status["lwpid"]
    signal = status["signo"] or status["cursig"]
    if signal:
        image.signal, image.si_code, image.si_errno = signal, status["code"], status["errno"]
        if status["code"] <= 0:
            image.si_pid, image.si_uid = status["addr"] & 0xFFFFFFFF, status["addr"] >> 32
        elif signal in (4, 5, 8, 10, 11):
            image.si_addr = status["addr"]


def _cross_check(image: CoreImage, old: _OldNotes, threads: dict[int, CoreThread]) -> None:
    """Both note sets describe the same dump (the kernel writes them from the same LWPs in one pass): a
    disagreement means a damaged or doctored core, so it is said, and the new notes are the ones used."""
    if old.psinfo is not None and image.pid is not None and old.psinfo.pid != image.pid:
        image.problems.append(f"old prpsinfo_t says pid {old.psinfo.pid}, NT_PSINFO says {image.pid}")
    for th in old.threads:
        new = threads.get(th.tid)
        if new is None:
            image.problems.append(f"LWP {th.tid} has an old prstatus_t but no NT_LWPSTATUS")
            continue
        differ = [r for r in ("rip", "rsp", "rbp") if new.registers.get(r) != th.registers.get(r)]
        if differ:
            image.problems.append(
                f"LWP {th.tid}: old prstatus_t and NT_LWPSTATUS disagree on {', '.join(differ)}; "
                "the NT_LWPSTATUS registers are used"
            )


def _sections(image: CoreImage, elf: ElfFile) -> None:
    """The per-object symbol tables the core carries (extended section numbering handled by ``ElfFile``)."""
    try:
        sections = elf.sections
    except Exception as exc:
        image.problems.append(f"section headers unusable ({exc}); symbols must come from the objects' files")
        return
    for s in sections:
        if s.sh_type in (C.SHT_SYMTAB, C.SHT_DYNSYM) and s.sh_addr:
            image.symbol_sections.append(SymbolSection(s.index, s.name, s.sh_addr, s.index))
        elif s.name == ".SUNW_ctf" and s.sh_addr:
            image.ctf_sections.append(SymbolSection(s.index, s.name, s.sh_addr, s.sh_link))
