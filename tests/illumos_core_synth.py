"""Synthetic illumos amd64 cores, built from the documented layouts around a real illumos binary.

No public illumos core exists to test with (fixtures/cores/README.md), so the tests write one the way the
kernel's ``elfcore()`` lays it out (notes/observability.md §4.1–4.3): ``PT_NOTE[0]`` with old-style notes,
``PT_NOTE[1]`` with the new ones in ``write_elfnotes()`` order (PSINFO, PSTATUS, PLATFORM, AUXV, UTSNAME,
CONTENT, ZONENAME, FDINFO, then per LWP: LWPSINFO, LWPSTATUS, and newer kernels' LWPNAME, SECFLAGS),
``PT_LOAD``s with text included (coreadm default), and per-object ``.symtab`` section headers whose
``sh_addr`` is the load address (libproc ``Pgcore.c``). Offsets are the ones of §4.3 (``lwpstatus_t``
1296 B with ``pr_reg`` @544, ``pstatus_t`` 1680 B with ``pr_lwp`` @384, ``psinfo_t`` 416 B, …).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

GREGS = (  # noqa: SIM905 - sys/regset.h order reads best as one string
    "r15 r14 r13 r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax trapno err rip cs rfl rsp ss fs gs es ds "
    "fsbase gsbase"
).split()


@dataclass
class Lwp:
    lwpid: int
    regs: dict[str, int]
    name: str = ""
    cursig: int = 0
    signo: int = 0
    code: int = 0
    addr: int = 0
    altstack: tuple[int, int, int] = (0, 0, 0)  # stack_t {ss_sp, ss_size, ss_flags}
    ustack: int = 0  # pr_ustack: address of the LWP's stack_t in its memory


@dataclass
class Segment:
    vaddr: int
    data: bytes
    flags: int  # PF_R 4, PF_W 2, PF_X 1
    memsz: int = 0
    p_flags_extra: int = 0


@dataclass
class SymSection:
    base: int
    symtab: bytes
    strtab: bytes
    ctf: bytes | None = None  # the object's .SUNW_ctf (coreadm content ``ctf``), sh_link = its .symtab


@dataclass
class IllumosCore:
    pid: int = 4242
    uid: int = 0
    fname: str = "panicky-abort"
    psargs: str = "./panicky-abort"
    lwps: list[Lwp] = field(default_factory=list)
    representative: int = 1
    segments: list[Segment] = field(default_factory=list)
    symbols: list[SymSection] = field(default_factory=list)
    auxv: list[tuple[int, int]] = field(default_factory=list)
    zonename: str = "global"
    platform: str = "i86pc"
    fds: list[tuple[int, str]] = field(default_factory=list)
    with_lwpname: bool = True
    upanic: bytes | None = None  # NT_UPANIC (26, UNVERIFIED number/layout): {u32 version; u32 flags; data}
    upanic_flags: int = 0
    start_time: int = 0  # psinfo pr_start (timestruc_t tv_sec @88)
    new_notes: bool = True  # False: only the old-style PT_NOTE (prpsinfo_t, prstatus_t, prfpregset_t)
    xnum: bool = False  # extended program-header numbering: e_phnum = PN_XNUM, count in shdr[0].sh_info


def _note(ntype: int, desc: bytes, name: bytes = b"CORE\0") -> bytes:
    return struct.pack("<3I", len(name), len(desc), ntype) + _pad4(name) + _pad4(desc)


def _pad4(b: bytes) -> bytes:
    """Core notes are 4-byte aligned (name and desc), 64-bit processes included."""
    return b + b"\0" * (-len(b) % 4)


def lwpstatus(lwp: Lwp) -> bytes:
    buf = bytearray(1296)
    struct.pack_into("<iihhh", buf, 0, 0, lwp.lwpid, 0, 0, lwp.cursig)
    struct.pack_into("<iii4xQ", buf, 16, lwp.signo, lwp.code, 0, lwp.addr)  # pr_info: siginfo_t
    struct.pack_into("<28Q", buf, 544, *(lwp.regs.get(r, 0) for r in GREGS))
    struct.pack_into("<HxxxxxxxxxxxxxxxxxxxxxxI", buf, 768, 0x37F, 0x1F80)  # fxsave: fcw @0, mxcsr @24
    struct.pack_into("<QQi", buf, 336, *lwp.altstack)  # pr_altstack
    struct.pack_into("<Q", buf, 528, lwp.ustack)  # pr_ustack
    return bytes(buf)


def old_prstatus(core: IllumosCore, lwp: Lwp) -> bytes:
    """``prstatus_t`` of ``sys/old_procfs.h`` for amd64 (824 B), laid out from the header's field order
    with LP64 sizes: pr_flags @0, pr_why @4, pr_what @6, pr_info @8 (siginfo_t, 256 B), pr_cursig @264,
    pr_nlwp @266, pr_sigpend @268, pr_sighold @284, pr_altstack @304 (stack_t 24 B), pr_action @328
    (sigaction 32 B), pr_pid @360, pr_ppid @364, pr_pgrp @368, pr_sid @372, 4 timestruc_t @376..439,
    pr_clname[8] @440, pr_syscall @448, pr_nsysarg @450, pr_sysarg[8] @456, pr_who @520, pr_lwppend @524,
    pr_oldcontext @544, pr_brkbase @552, pr_brksize @560, pr_stkbase @568, pr_stksize @576,
    pr_processor @584, pr_bind @586, pr_instr @592, pr_reg @600 (28 × u64)."""
    buf = bytearray(824)
    struct.pack_into("<ihh", buf, 0, 0, 0, 0)
    struct.pack_into("<iii4xQ", buf, 8, lwp.signo, lwp.code, 0, lwp.addr)
    struct.pack_into("<hH", buf, 264, lwp.cursig, len(core.lwps))
    struct.pack_into("<QQi", buf, 304, *lwp.altstack)
    struct.pack_into("<iiii", buf, 360, core.pid, 1, core.pid, core.pid)
    struct.pack_into("<i", buf, 520, lwp.lwpid)
    struct.pack_into("<28Q", buf, 600, *(lwp.regs.get(r, 0) for r in GREGS))
    return bytes(buf)


def old_prpsinfo(core: IllumosCore) -> bytes:
    """``prpsinfo_t`` of ``sys/old_procfs.h`` for amd64 (328 B): pr_uid @8, pr_gid @12, pr_pid @16,
    pr_ppid @20, pr_start @64, pr_fname[16] @120, pr_psargs[80] @136, pr_wstat @280, pr_dmodel @300."""
    buf = bytearray(328)
    struct.pack_into("<IIii", buf, 8, core.uid, 0, core.pid, 1)
    struct.pack_into("<qq", buf, 64, core.start_time, 0)
    buf[120 : 120 + len(core.fname)] = core.fname.encode()
    buf[136 : 136 + len(core.psargs)] = core.psargs.encode()
    buf[300] = 2  # PR_MODEL_LP64
    return bytes(buf)


def old_prfpregset(lwp: Lwp) -> bytes:
    """``prfpregset_t`` (amd64: the 512-byte fxsave image, status, xstatus; 528 B): fcw @0, mxcsr @24."""
    buf = bytearray(528)
    struct.pack_into("<H", buf, 0, 0x27F)
    struct.pack_into("<I", buf, 24, 0x1F80)
    return bytes(buf)


def build(core: IllumosCore) -> bytes:
    rep = next(lwp for lwp in core.lwps if lwp.lwpid == core.representative)
    psinfo = bytearray(416)
    struct.pack_into("<iiii", psinfo, 0, 0, len(core.lwps), core.pid, 1)
    struct.pack_into("<i", psinfo, 24, core.uid)
    psinfo[136 : 136 + len(core.fname)] = core.fname.encode()
    psinfo[152 : 152 + len(core.psargs)] = core.psargs.encode()
    struct.pack_into("<i", psinfo, 256, 2)  # PR_MODEL_LP64
    struct.pack_into("<qq", psinfo, 88, core.start_time, 0)  # pr_start
    pstatus = bytearray(1680)
    struct.pack_into("<iiii", pstatus, 0, 0, len(core.lwps), core.pid, 1)
    struct.pack_into("<i", pstatus, 304, 2)
    pstatus[384 : 384 + 1296] = lwpstatus(rep)
    auxv = b"".join(struct.pack("<i4xQ", t, v) for t, v in [*core.auxv, (0, 0)])
    uts = b"".join(
        s.encode().ljust(257, b"\0") for s in ("SunOS", "testzone", "5.11", "illumos-synthetic", "i86pc")
    )
    new = [
        _note(13, bytes(psinfo)),
        _note(10, bytes(pstatus)),
        _note(5, core.platform.encode() + b"\0"),
        _note(6, auxv),
        _note(15, uts),
        _note(20, struct.pack("<Q", 0x1FFF & ~0x4)),  # CC_CONTENT default: all but SHFILE
        _note(21, core.zonename.encode() + b"\0"),
    ]
    for fd, path in core.fds:
        rec = bytearray(1088)
        struct.pack_into("<i", rec, 0, fd)
        rec[64 : 64 + len(path)] = path.encode()
        new.append(_note(22, bytes(rec)))
    for lwp in core.lwps:
        info = bytearray(128)
        struct.pack_into("<ii", info, 0, 0, lwp.lwpid)
        info[26] = ord("T" if lwp.lwpid == core.representative else "S")
        new.append(_note(17, bytes(info)))
        new.append(_note(16, lwpstatus(lwp)))
        if core.with_lwpname and lwp.name:
            new.append(_note(25, struct.pack("<Q", lwp.lwpid) + lwp.name.encode().ljust(32, b"\0")))
    new.append(_note(24, struct.pack("<II", 1, 0) + b"\0" * 32))
    if core.upanic is not None:
        new.append(_note(26, struct.pack("<II", 1, core.upanic_flags) + core.upanic.ljust(1024, b"\0")))
    # write_old_elfnotes(): prpsinfo_t first, then per LWP its prstatus_t and prfpregset_t
    old = [_note(3, old_prpsinfo(core))]
    for lwp in core.lwps:
        old += [_note(1, old_prstatus(core, lwp)), _note(2, old_prfpregset(lwp))]
    notes = [b"".join(old), b"".join(new)] if core.new_notes else [b"".join(old)]

    # Section headers: null, then .symtab/.strtab (and .SUNW_ctf) per object, then .shstrtab.
    shstr = b"\0.symtab\0.strtab\0.shstrtab\0.SUNW_ctf\0"
    n_ph = len(notes) + len(core.segments)
    ehsize, phsize = 64, 56
    offset = ehsize + n_ph * phsize
    note_offs = []
    for n in notes:
        note_offs.append(offset)
        offset += len(n)
    offset = (offset + 4095) & ~4095
    seg_offs = []
    for s in core.segments:
        seg_offs.append(offset)
        offset += (len(s.data) + 4095) & ~4095
    sect_data = []
    sections = [(0, 0, 0, 0, 0, 0, 0, n_ph if core.xnum else 0, 0, 0)]
    for sym in core.symbols:
        symtab_index = len(sections)
        sect_data.append((offset, sym.symtab))
        sections.append((1, 2, 2, sym.base, offset, len(sym.symtab), symtab_index + 1, 1, 8, 24))
        offset += len(sym.symtab)
        sect_data.append((offset, sym.strtab))
        sections.append((9, 3, 0, 0, offset, len(sym.strtab), 0, 0, 1, 0))
        offset += len(sym.strtab)
        if sym.ctf is not None:  # SHT_PROGBITS, sh_addr = load base, sh_link = the .symtab (core(5))
            sect_data.append((offset, sym.ctf))
            sections.append((27, 1, 0, sym.base, offset, len(sym.ctf), symtab_index, 0, 4, 0))
            offset += len(sym.ctf)
    sect_data.append((offset, shstr))
    sections.append((17, 3, 0, 0, offset, len(shstr), 0, 0, 1, 0))
    offset += len(shstr)
    offset = (offset + 7) & ~7
    shoff = offset
    out = bytearray(shoff + 64 * len(sections))
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    struct.pack_into(
        "<16sHHIQQQIHHHHHH",
        out,
        0,
        ident,
        4,
        62,
        1,
        0,
        ehsize,
        shoff,
        0,
        ehsize,
        phsize,
        0xFFFF if core.xnum else n_ph,  # PN_XNUM: the real count is in section 0 sh_info
        64,
        len(sections),
        len(sections) - 1,
    )
    ph = ehsize
    for n, off in zip(notes, note_offs, strict=True):
        struct.pack_into("<IIQQQQQQ", out, ph, 4, 0, off, 0, 0, len(n), 0, 4)
        out[off : off + len(n)] = n
        ph += phsize
    for s, off in zip(core.segments, seg_offs, strict=True):
        memsz = max(s.memsz, len(s.data))
        struct.pack_into(
            "<IIQQQQQQ", out, ph, 1, s.flags | s.p_flags_extra, off, s.vaddr, 0, len(s.data), memsz, 4096
        )
        out[off : off + len(s.data)] = s.data
        ph += phsize
    for where, blob in sect_data:
        out[where : where + len(blob)] = blob
    for i, sh in enumerate(sections):
        struct.pack_into("<IIQQQQIIQQ", out, shoff + 64 * i, *sh)
    return bytes(out)


def symtab(symbols: list[tuple[str, int, int]]) -> tuple[bytes, bytes]:
    """A minimal ``.symtab`` of global functions (name, value, size) and its ``.strtab``."""
    strtab = bytearray(b"\0")
    entries = [b"\0" * 24]
    for name, value, size in symbols:
        off = len(strtab)
        strtab += name.encode() + b"\0"
        entries.append(struct.pack("<IBBHQQ", off, 0x12, 0, 1, value, size))  # STB_GLOBAL|STT_FUNC, shndx 1
    return b"".join(entries), bytes(strtab)
