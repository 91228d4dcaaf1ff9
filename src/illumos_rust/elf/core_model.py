"""One model of a process core file, whichever kernel wrote it (Linux or illumos).

Both core readers (``core_linux``, ``core_illumos``) decode their notes into these values, so the analysis in
``illumos_rust.core`` never branches on the note layouts. Registers are kept by their usual names (``rip``,
``rsp``, ``rbp`` … on amd64; ``pc``, ``sp``, ``x29`` … on aarch64). Everything a damaged file could not
provide is said in ``problems`` instead of being guessed: a core written onto a full disk still yields
whatever notes and segments it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .core_memory import CoreMemory, FileBacking
from .reader import ElfFile


@dataclass
class CoreThread:
    """One thread (Linux task, illumos LWP) with the registers its status note recorded."""

    tid: int
    registers: dict[str, int]
    signal: int = 0  # pr_cursig: the signal this thread was handling when the core was written
    name: str | None = None  # illumos NT_LWPNAME / lwpsinfo pr_name; Linux cores carry none
    name_source: str | None = None  # which note gave ``name``
    state: str | None = None  # illumos lwpsinfo pr_sname
    fp_state: dict[str, int] = field(default_factory=dict)  # a few decoded FP control fields
    notes: list[str] = field(default_factory=list)  # the per-thread note types seen, in order
    altstack: tuple[int, int, int] | None = None  # illumos pr_altstack: (ss_sp, ss_size, ss_flags)
    ustack_ptr: int = 0  # illumos lwpstatus pr_ustack: where the LWP's stack_t lives in its memory
    stack: tuple[int, int] | None = None  # (base, size) of the LWP's stack, read through pr_ustack


@dataclass(frozen=True)
class Mapping:
    """One mapping of the process address space and, when known, the file behind it."""

    start: int
    end: int
    file_offset: int  # bytes into ``path`` where the mapping starts
    path: str | None
    flags: int  # PF_R/PF_W/PF_X of the core's PT_LOAD (0 = PROT_NONE, e.g. a guard page)
    in_core: int  # how many bytes of it the core itself holds (p_filesz)


@dataclass(frozen=True)
class SymbolSection:
    """An illumos core's per-object ``.symtab``/``.dynsym`` section header (libproc ``Pgcore.c``):
    the symbols of an object mapped at ``base`` (``sh_addr``), stored in the core itself."""

    index: int
    name: str
    base: int
    symtab_index: int


@dataclass
class CoreImage:
    """Everything decoded from a core file's notes and program headers."""

    path: str
    system: str  # "linux" or "illumos"
    machine: int  # e_machine
    memory: CoreMemory
    threads: list[CoreThread] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    files: list[FileBacking] = field(default_factory=list)  # NT_FILE entries (or objects from a link map)
    pid: int | None = None
    ppid: int | None = None
    uid: int | None = None
    start_time: float | None = None  # illumos psinfo pr_start: when the process started (Unix seconds)
    fname: str | None = None
    psargs: str | None = None
    signal: int | None = None
    si_code: int | None = None
    si_errno: int | None = None
    si_addr: int | None = None
    si_pid: int | None = None  # the sender's, when si_code says a process sent the signal (<= 0)
    si_uid: int | None = None
    crashing_tid: int | None = None
    auxv: dict[int, int] = field(default_factory=dict)
    platform: str | None = None
    zonename: str | None = None
    uname: list[str] = field(default_factory=list)
    content: int | None = None  # illumos NT_CONTENT (coreadm content bits)
    upanic: bytes | None = None  # illumos NT_UPANIC message
    upanic_flags: int | None = None
    secflags: tuple[int, ...] | None = None
    fds: list[tuple[int, str]] = field(default_factory=list)
    data_model: str | None = None  # "LP64" / "ILP32"
    note_types: list[str] = field(default_factory=list)  # every note seen, in file order
    old_notes: dict[str, object] = field(default_factory=dict)  # illumos old-style notes, decoded
    symbol_sections: list[SymbolSection] = field(default_factory=list)
    ctf_sections: list[SymbolSection] = field(default_factory=list)  # .SUNW_ctf; symtab_index = sh_link
    failed_segments: list[tuple[int, int, str]] = field(default_factory=list)  # (vaddr, memsz, why)
    problems: list[str] = field(default_factory=list)
    elf: ElfFile | None = field(default=None, repr=False)  # the core file itself (its mmap backs ``memory``)

    def thread(self, tid: int) -> CoreThread | None:
        return next((t for t in self.threads if t.tid == tid), None)

    def mapping_at(self, addr: int) -> Mapping | None:
        for m in self.mappings:
            if m.start <= addr < m.end:
                return m
        return None
