"""``analyze``: a core file and the binaries → what crashed, where, why, every thread's stack."""

from __future__ import annotations

import os
import re
from typing import Any

from ..elf import constants as C
from ..elf.core_illumos import OLD_PRPSINFO_SIZE, OLD_PRSTATUS_SIZE, read_illumos_core
from ..elf.core_linux import read_linux_core
from ..elf.core_model import CoreImage, CoreThread, Mapping
from ..elf.core_notes import walk_notes
from ..elf.reader import ElfFile
from ..errors import FormatError
from .linkmap import link_map_objects
from .model import CoreReport, Fact, Frame, PanicReport, ThreadReport
from .objects import DWARF_LIMIT, ObjectMap, ObjectResolver, core_build_id, linux_objects
from .panic import recover_panic
from .signals import code_meaning, signal_name
from .symbolize import Symbolizer
from .thread_names import thread_names
from .unwind import MAX_FRAMES, Unwinder

# std's panic path across releases (notes §5.2: match patterns, not exact names); not `catch_unwind`,
# which every thread's start-up frames contain.
_PANIC_FRAME = re.compile(
    r"rust_panic|panicking::panic|panic_fmt|__rust_start_panic|begin_panic|panic_with_hook"
)
_OVERFLOW_FRAME = re.compile(r"stack_overflow::.*signal_handler")


def read_core(path: str) -> CoreImage:
    """Open ``path`` and decode it with the reader for the system that wrote it."""
    elf = ElfFile(path)
    if elf.header.e_type != C.ET_CORE:
        kind = elf.type_name
        elf.close()
        raise FormatError(path, 0x10, f"not a core file (e_type {kind})")
    if _is_illumos(elf):
        return read_illumos_core(elf)
    return read_linux_core(elf)


def _is_illumos(elf: ElfFile) -> bool:
    if elf.osabi == C.ELFOSABI_SOLARIS:
        return True
    for n in walk_notes(elf, []):
        if n.type in (10, 13, 16):  # NT_PSTATUS, NT_PSINFO, NT_LWPSTATUS: illumos only
            return True
        # a core with only old-style notes: sys/old_procfs.h prstatus_t is 824 bytes and prpsinfo_t 328 on
        # amd64, where Linux's elf_prstatus is 336 and elf_prpsinfo 136
        if (n.type, len(n.desc)) in ((1, OLD_PRSTATUS_SIZE), (3, OLD_PRPSINFO_SIZE)):
            return True
    return False


def analyze(
    core: str,
    binary: str | None = None,
    *,
    sysroot: str | None = None,
    search: tuple[str, ...] = (),
    max_frames: int = MAX_FRAMES,
    source_lines: bool = True,
    dwarf_limit: int = DWARF_LIMIT,
) -> CoreReport:
    if binary is not None:
        _check_binary(binary)
    image = read_core(core)
    resolver = ObjectResolver(binary, sysroot, search)
    if image.system == "illumos" or not image.files:
        objects = link_map_objects(image, resolver)
        if image.system == "linux":
            image.problems.append("no NT_FILE note: objects found from the runtime linker's r_debug list")
    else:
        objects = linux_objects(image, resolver)
    for obj in objects.objects:
        obj.dwarf_limit = dwarf_limit
    try:
        return _report(image, objects, max_frames, source_lines)
    finally:
        objects.close()
        image.memory.close()
        if image.elf is not None:
            image.elf.close()


def _check_binary(binary: str) -> None:
    """A BINARY the user named must be a readable ELF file: an empty or truncated one is an error (exit 2),
    never silently replaced by "no symbols" advice to pass the binary that was passed."""
    if not os.path.isfile(binary):
        raise FormatError(binary, None, "binary not found")
    elf = ElfFile(binary)  # FormatError: empty, not ELF, header beyond the end
    try:
        if elf.header.e_type not in (C.ET_EXEC, C.ET_DYN):
            raise FormatError(binary, 0x10, f"not an executable or shared object (e_type {elf.type_name})")
        loads = elf.segments_of_type(C.PT_LOAD)
        if not loads:
            raise FormatError(binary, None, "no PT_LOAD segment: not a loadable executable")
        for p in loads:
            if p.p_offset + p.p_filesz > elf.size:
                raise FormatError(
                    binary,
                    p.p_offset,
                    f"truncated: a PT_LOAD segment ends past the end of the file ({elf.size} bytes)",
                )
        elf.sections  # noqa: B018 - a section header table past the end of the file is a truncated file
    finally:
        elf.close()


def executable_identity(core: str) -> tuple[str | None, str | None]:
    """(path of the executable as the core names it, its build-id from the core's memory), to find the
    matching binary in a Cargo target directory (``cargo illumos core``)."""
    image = read_core(core)
    try:
        entry = image.auxv.get(9) or image.auxv.get(3)  # AT_ENTRY, AT_PHDR
        for b in image.files:
            if entry is not None and b.start <= entry < b.end:
                base = min(f.start for f in image.files if f.path == b.path)
                return b.path, core_build_id(image, base)
        return image.fname, None
    finally:
        image.memory.close()
        if image.elf is not None:
            image.elf.close()


def _ctf_notes(threads: list[ThreadReport], objects: ObjectMap) -> None:
    """Frames of an object whose file is missing or has no CTF get their C signature from the CTF the
    core carries for it (``core_ctf``), as a note: ``ctf: int foo(char *, size_t)``."""
    for t in threads:
        for f in t.frames:
            if f.note is not None or f.mangled is None:
                continue
            obj = objects.at(f.pc)
            if obj is None or obj.ctf is None:
                continue
            if obj.elf is not None and obj.elf.section(".SUNW_ctf") is not None:
                continue
            sig = obj.ctf.signatures.get(f.mangled)
            if sig is not None:
                f.note = f"ctf: {sig}"


def _report(image: CoreImage, objects: ObjectMap, max_frames: int, source_lines: bool) -> CoreReport:
    symbolize = Symbolizer(objects)
    machine = "aarch64" if image.machine == C.EM_AARCH64 else "amd64"
    unwinder = Unwinder(image.memory, objects, symbolize, machine)
    unwinder.source_lines = source_lines
    threads: list[ThreadReport] = []
    names = thread_names(image, objects, machine)
    overflow_ctx = None
    for t in image.threads:
        frames, stop = unwinder.unwind(t.registers, max_frames)
        crashing = t.tid == image.crashing_tid
        if crashing and unwinder.signal_contexts:
            overflow_ctx = unwinder.signal_contexts[0]
        for f in frames:
            obj = objects.at(f.pc)
            if obj is not None and obj.mismatch and f.note is None:
                # the name and line come from a file the process did not run: say so on the frame itself
                f.note = f"{obj.name} on disk is not the file that ran: name and line may be wrong"
        sp_now = t.registers.get("rsp", t.registers.get("sp"))
        if len(frames) <= 1 and sp_now is not None and image.memory.read(sp_now, 8, files=False) is None:
            # nothing of this thread's stack is in the core: a core cut short (a full disk) or not dumped
            stop = (
                f"the stack at sp 0x{sp_now:x} is not in this core (the core is truncated, or that memory "
                "was not dumped): no callers can be found"
            )
        report = ThreadReport(t.tid, frames, t.name, t.signal, crashing, stop)
        report.stack, report.on_altstack = _stack_facts(t)
        report.fp_state = dict(t.fp_state)
        if t.name is not None:
            report.name_source = t.name_source or "the core's thread note"
        threads.append(report)
    _ctf_notes(threads, objects)
    for report in threads:
        named = names.get(report.tid)
        if report.name is None and named is not None:
            report.name, report.name_source = named.value, named.source
    threads.sort(key=lambda r: not r.crashing)
    crash = threads[0] if threads and threads[0].crashing else None
    panic: PanicReport | None = None
    dumper = image.thread(image.crashing_tid) if image.crashing_tid is not None else None
    sp = dumper.registers.get("rsp", dumper.registers.get("sp")) if dumper is not None else None
    panicking = crash is not None and any(_PANIC_FRAME.search(f.symbol or "") for f in crash.frames)
    if crash is not None and sp is not None and (panicking or image.signal == 6):
        found = recover_panic(image, objects, sp, _panic_caller_sp(crash.frames) if panicking else None)
        # A SIGABRT without panic frames is a plain abort(); a stale Location alone does not make a panic.
        if found is not None and (panicking or found.message is not None):
            panic = found
    if image.upanic is not None:
        # upanic(2) put the message in the core itself (illumos NT_UPANIC): what the process chose to say as
        # it died outranks any text left in its memory
        flags = image.upanic_flags or 0
        note = (
            "NT_UPANIC note"
            + (" (truncated)" if flags & 8 else "")
            + (" (message invalid)" if flags & 4 else "")
        )
        panic = panic or PanicReport()
        panic.message = Fact(image.upanic.decode("utf-8", "replace"), note)
        panic.format = panic.format or "upanic"
    if crash is not None and panic is not None and panic.thread is not None and crash.name is None:
        crash.name, crash.name_source = panic.thread.value, f"panic text ({panic.thread.source})"
    elif crash is not None and panic is not None and panic.thread is None and crash.name is not None:
        # no panic text named the thread (std wrote straight to stderr): the name read for the crashing
        # thread is the one std printed, "main" and "<unnamed>" rules included
        panic.thread = Fact(crash.name, crash.name_source or "the crashing thread's name")
    fault = image.si_addr
    kind = _crash_kind(image, crash, panic)
    overflow = crash is not None and any(_OVERFLOW_FRAME.search(f.symbol or "") for f in crash.frames)
    if overflow and overflow_ctx is not None and overflow_ctx.fault_address is not None:
        fault = overflow_ctx.fault_address
    extra_sps = [overflow_ctx.sp] if overflow_ctx is not None and overflow_ctx.sp is not None else []
    where = describe_address(image, fault, extra_sps) if fault is not None else None
    on_alt_overflow = (
        crash is not None and crash.on_altstack and panic is not None and panic.format == "stack overflow"
    )
    if overflow or on_alt_overflow or (where is not None and "stack overflow" in where):
        kind = "stack overflow"
    name, text = signal_name(image.system, image.signal)
    main = objects.main
    problems = list(image.problems)
    objs = []
    for o in objects.objects:
        entry: dict[str, Any] = {
            "path": o.path,
            "file": o.disk_path,
            "start": f"0x{o.start:x}",
            "bias": f"0x{o.bias:x}",
        }
        if o.debug_note:
            entry["debug"] = o.debug_note
        if o.mismatch:
            entry["mismatch"] = True
        if o.ctf is not None:
            entry["ctf"] = o.ctf.summary()
        objs.append(entry)
        problems.extend(o.problems)
    if panic is not None and panic.message is None and kind == "panic":
        problems.append(
            "the panic message was not found: no report text in the crashing thread's stack (std's hook "
            "writes to stderr, and frames called after it reuse that stack), and no String or &'static str "
            'payload in std\'s panic frames (an empty message, panic!(""), leaves none)'
        )
    if unwinder.source_truncated:
        problems.append(
            f"file:line and inlined frames stop after {unwinder.source_budget:.0f} s of DWARF decoding; "
            "later frames show symbols only (--no-source skips DWARF)"
        )
    missing = sorted(image.memory.missing_files)
    if missing:
        problems.append(
            "mapped files not available here (their pages read as missing): " + ", ".join(missing)
        )
    if main is None or main.symbols is None:
        problems.append("the executable's file was not loaded: its frames have no symbols (pass BINARY)")
    return CoreReport(
        core=image.path,
        system=image.system,
        executable=main.path if main else image.fname,
        pid=image.pid,
        uid=image.uid,
        psargs=image.psargs,
        signal=image.signal,
        signal_name=name,
        signal_text=text,
        si_code=image.si_code,
        si_code_text=code_meaning(image.system, image.signal, image.si_code),
        fault_address=fault,
        fault_mapping=where,
        crash_kind=kind,
        panic=panic,
        threads=threads,
        objects=objs,
        problems=problems,
        platform=image.platform,
        zonename=image.zonename,
        sender_pid=image.si_pid,
        sender_uid=image.si_uid,
    )


def _panic_caller_sp(frames: list[Frame]) -> int | None:
    """The stack pointer of the program's frame that called the panic: the first frame outside std after
    the last of std's panic frames (the payload lives in the frames below it)."""
    last = max((i for i, f in enumerate(frames) if _PANIC_FRAME.search(f.symbol or "")), default=None)
    if last is None:
        return None
    for f in frames[last + 1 :]:
        if f.crate not in (None, "std") and f.method != "inline":
            return f.sp
    return None


def _crash_kind(image: CoreImage, crash: ThreadReport | None, panic: PanicReport | None) -> str:
    if image.upanic is not None:
        return "upanic"
    frames: list[Frame] = crash.frames if crash else []
    if any(_PANIC_FRAME.search(f.symbol or "") for f in frames) or (panic and panic.message):
        return "panic"
    name = signal_name(image.system, image.signal)[0]
    fault_signal = name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE")
    if fault_signal and image.si_code is not None and image.si_code <= 0:
        return f"{name} sent by a process"  # kill(2), tgkill, sigqueue: nothing faulted
    return {
        "SIGABRT": "abort",
        "SIGSEGV": "segfault",
        "SIGBUS": "bus error",
        "SIGILL": "illegal instruction",
        "SIGFPE": "arithmetic exception",
    }.get(name, name)


def describe_address(image: CoreImage, addr: int, extra_sps: list[int] | None = None) -> str:
    """Which mapping a fault address falls in: null page, a guard page (stack overflow), unmapped …"""
    if addr < 0x1000:
        return "null page (a null pointer, or a small offset from one)"
    m = image.mapping_at(addr)
    stacks = _stack_mappings(image, extra_sps or [])
    if m is not None:
        if m.flags & 7 == 0:
            above = image.mapping_at(m.end)
            if above is not None and (above in stacks or (above.path is None and above.flags & 6 == 6)):
                # glibc puts a PROT_NONE guard right below each thread stack (an anonymous rw mapping)
                return f"guard page 0x{m.start:x}-0x{m.end:x} below a thread stack: stack overflow"
            return f"inaccessible (PROT_NONE) mapping 0x{m.start:x}-0x{m.end:x}"
        perms = "".join(c if m.flags & bit else "-" for c, bit in (("r", 4), ("w", 2), ("x", 1)))
        return f"mapped {perms} 0x{m.start:x}-0x{m.end:x} {m.path or '[anon]'}"
    for t in image.threads:
        if t.stack is not None and t.stack[0] - GUARD_GAP <= addr < t.stack[0]:
            # illumos: the LWP's own stack_t (lwpstatus pr_ustack) says where its stack ends, even when its
            # stack pointer has already left it (an overflow leaves rsp in the guard page)
            return (
                f"unmapped, just below LWP {t.tid}'s stack 0x{t.stack[0]:x}-0x{t.stack[0] + t.stack[1]:x} "
                "(pr_ustack): stack overflow"
            )
    for s in stacks:
        if s.start - GUARD_GAP <= addr < s.start:
            return f"unmapped, just below the stack at 0x{s.start:x}: stack overflow"
    return "unmapped"


def _stack_facts(t: CoreThread) -> tuple[str | None, bool]:
    """The LWP's stack as its ``pr_ustack`` ``stack_t`` says (``ss_sp`` its lowest address, as libc's
    ``stack_inbounds()`` reads it; not checked on a real illumos core), and whether it runs on its alternate
    signal stack (``pr_altstack`` with ``SS_ONSTACK``, 1 in illumos ``sys/signal.h``): where std's
    stack-overflow handler runs before it aborts."""
    stack = f"0x{t.stack[0]:x}-0x{t.stack[0] + t.stack[1]:x} (pr_ustack)" if t.stack else None
    sp = t.registers.get("rsp")
    alt = t.altstack
    on_alt = bool(alt and alt[2] & 1 and sp is not None and alt[0] <= sp < alt[0] + alt[1])
    return stack, on_alt


#: Linux keeps this gap below a growing stack (``stack_guard_gap``: 256 pages by default); illumos threads
#: have a guard page of their own. A fault within it, just below a stack, is that stack's overflow.
GUARD_GAP = 1 << 20


def _stack_mappings(image: CoreImage, extra_sps: list[int]) -> list[Mapping]:
    out = []
    sps = [t.registers.get("rsp", t.registers.get("sp")) for t in image.threads] + extra_sps
    for sp in sps:
        if sp is None:
            continue
        m = image.mapping_at(sp)
        if m is None:
            # the stack pointer has already left its stack (a main-thread overflow in C: the kernel would
            # not grow [stack] into the guard gap, and rsp points just below it): the writable mapping
            # right above it, within the guard gap, is the stack it came from
            above = [x for x in image.mappings if sp < x.start <= sp + GUARD_GAP and x.flags & 6 == 6]
            m = min(above, key=lambda x: x.start) if above else None
        if m is not None:
            out.append(m)
    return out
