"""illumos process cores (``elfcore()`` in the kernel's ELF exec module, or gcore via libproc ``Pgcore.c``).

Layout (notes/observability.md §4.1–4.3; illumos ``sys/elf.h``, ``sys/procfs.h``, ``sys/old_procfs.h``,
``sys/regset.h``): ``PT_NOTE[0]`` holds the old SVR4 notes (``prstatus_t``/``prpsinfo_t``, listed here, not
decoded: the new notes say the same), ``PT_NOTE[1]`` the new ones, which this reader decodes:

* ``NT_PSINFO`` (13, ``psinfo_t`` 416 B): uid @24, ``pr_fname[16]`` @136, ``pr_psargs[80]`` @152;
* ``NT_PSTATUS`` (10, ``pstatus_t`` 1680 B): nlwp @4, pid @8, ppid @12, ``pr_dmodel`` @304 (1 ILP32,
  2 LP64), ``pr_lwp`` @384: the *representative* LWP's ``lwpstatus_t``, whose ``pr_info`` says what killed
  the process;
* ``NT_LWPSTATUS`` (16, ``lwpstatus_t`` 1296 B) per LWP: lwpid @4, cursig i16 @12, ``pr_info`` @16
  (signo +0, code +4, errno +8, addr +16), ``pr_reg`` @544 (28 × u64 in ``regset.h`` order: r15 r14 r13
  r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax trapno err rip cs rfl rsp ss fs gs es ds fsbase gsbase);
* ``NT_LWPSINFO`` (17, 128 B): lwpid @4, ``pr_sname`` @26, ``pr_name[16]`` @80; ``NT_LWPNAME`` (25):
  ``{u64 lwpid; char name[32]}``;
* ``NT_PLATFORM`` (5), ``NT_ZONENAME`` (21): strings; ``NT_UTSNAME`` (15): 5 × 257 B; ``NT_CONTENT`` (20):
  u64 coreadm mask; ``NT_AUXV`` (6): (i32 type, pad, u64 value) pairs; ``NT_FDINFO`` (22): fd @0,
  ``pr_path`` @64; ``NT_SECFLAGS`` (24); ``NT_UPANIC`` (26, UNVERIFIED number and layout:
  ``{u32 version; u32 flags; u8 data[1024]}``).

Symbols: the core's own section headers name a ``.symtab``/``.dynsym`` per mapped object with ``sh_addr``
at the object's load address (libproc ``Pgcore.c``); they become ``symbol_sections``.
"""

from __future__ import annotations

import struct

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
    representative: int | None = None
    saw_new = False
    for note in walk_notes(elf, problems):
        label = NOTE_NAMES.get(note.type, f"0x{note.type:x}") + (" (old)" if note.segment == 0 else "")
        image.note_types.append(label)
        if note.segment == 0 and note.type in (1, 2, 3):
            continue  # old-style notes: the new set (segment 1) carries the same facts
        saw_new = True
        try:
            lwp = _apply(image, note, threads)
            if lwp is not None:
                representative = lwp
        except (struct.error, ValueError, IndexError) as exc:
            problems.append(f"note {label} at offset 0x{note.offset:x} is malformed ({exc}); ignored")
    if not saw_new:
        problems.append("no new-style notes (second PT_NOTE): no per-LWP registers")
    image.threads = list(threads.values())
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
