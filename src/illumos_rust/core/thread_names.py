"""Every Rust thread's name, from std's per-thread handle in the thread's TLS block (not from a panic text).

A Linux core records no thread names (notes/observability.md §4.5). Its ``NT_PRPSINFO`` ``pr_fname`` is the
*group leader's* ``comm`` (kernel ``fs/binfmt_elf.c``: ``fill_psinfo(psinfo, current->group_leader, …)``),
not the dumping thread's, so it names no spawned thread. And when std writes a panic straight to stderr
(``RUST_BACKTRACE`` set, a message over 512 bytes) no panic text holds the name either. What every Rust
thread does have is std's handle of itself, reachable from the thread pointer the core *does* record:

* std ≥ 1.84 (``library/std/src/thread/current.rs``): ``#[thread_local] static CURRENT: Cell<*mut ()>``
  holds ``Thread::into_raw()`` — a pointer to ``Inner { name: Option<ThreadNameString>, id: ThreadId,
  parker }`` (``thread/thread.rs``; rustc may reorder those fields) — or 0/1/2 for none/busy/destroyed.
  ``ThreadNameString`` is a ``CString``, i.e. ``Box<[u8]>`` = ``{ptr, len}`` whose ``len`` counts the
  trailing NUL. The reader takes the first ``{ptr, len}`` word pair in ``Inner`` whose bytes are ``len - 1``
  printable UTF-8 bytes and a NUL, which does not depend on the field order.
* The main thread's ``Inner`` has no name: std calls it ``main`` when the thread's
  ``static ID: Cell<Option<ThreadId>>`` (``current.rs`` ``mod id``) equals the process-wide
  ``thread::main_thread::MAIN`` (``thread/main_thread.rs``).

Symbols are found by their mangled path segments, which legacy (``_ZN3std6thread7current7CURRENT17h…E``)
and v0 (``_RNvNtNtCs…_3std6thread7current7CURRENT``) manglings spell alike. A TLS symbol's value is its
offset in the executable's ``PT_TLS`` block; where that block sits relative to the thread pointer is the
psABI's TLS variant:

* amd64, variant II (Drepper, "ELF Handling For Thread-Local Storage" §3.4.2; glibc ``elf/dl-tls.c``
  ``_dl_determine_tlsoffset``, ``TLS_TCB_AT_TP``): the executable (module 1) is the first block below the
  thread pointer, at ``tp - off`` with ``off = roundup(memsz - firstbyte, align) + firstbyte`` and
  ``firstbyte = -(p_vaddr mod align) mod align``. The thread pointer is ``%fs`` base (Linux
  ``NT_PRSTATUS`` ``fs_base``).
* aarch64, variant I (``TLS_DTV_AT_TP``): the executable's block starts at ``tp + roundup(16, align)``
  (a 16-byte TCB), tp being ``TPIDR_EL0`` from the ``NT_ARM_TLS`` note.

On illumos std does not use ``#[thread_local]`` for these: in the fixture
``illumos-rust/bin/illumos/panicky-abort`` (rustc 1.96) ``CURRENT`` is an ordinary 16-byte ``STT_OBJECT``
(a ``LazyKey``: the value lives in libc's pthread thread-specific data, whose ``ulwp_t`` layout is
private), so nothing is found there and illumos names come from ``NT_LWPNAME`` — std names its threads with
``pthread_setname_np``, which is what the kernel writes into that note.

Older std kept a ``thread_info::THREAD_INFO`` or a lazily initialised ``OnceCell<Thread>``; those layouts
are not decoded (no name is then better than a wrong one), and the crashing thread still gets the name from
the panic text when there is one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..elf import constants as C
from ..elf.core_memory import CoreMemory
from ..elf.core_model import CoreImage
from ..elf.reader import ElfFile
from ..errors import FormatError
from .model import Fact
from .objects import ObjectMap

CURRENT_PATH = "3std6thread7current7CURRENT"
ID_PATH = "7current2id2ID"
MAIN_PATH = "11main_thread4MAIN"
INNER_SCAN = 64  # bytes of ``Inner`` searched for the name's {ptr, len}: name, id and parker fit in it
MAX_NAME = 4096  # std caps nothing, but a longer "name" is not one
AARCH64_TCB = 16


@dataclass(frozen=True)
class TlsLayout:
    """Where the executable's static TLS block starts relative to the thread pointer, and std's symbols."""

    block_offset: int  # add to the thread pointer: negative for variant II
    current: int | None  # offset of CURRENT in the block
    thread_id: int | None  # offset of current::id::ID in the block
    main_id: int | None  # process address of main_thread::MAIN (already relocated)


def thread_names(image: CoreImage, objects: ObjectMap, machine: str) -> dict[int, Fact]:
    """{tid: name and where it was read}, for the threads whose std handle could be read."""
    layout = _layout(objects, machine)
    if layout is None:
        return {}
    mem = image.memory
    main_value = mem.u64(layout.main_id) if layout.main_id is not None else None
    tp_reg = "tpidr_el0" if machine == "aarch64" else "fs_base"
    out: dict[int, Fact] = {}
    for t in image.threads:
        tp = t.registers.get(tp_reg)
        if not tp:
            if t.tid == image.pid and layout.main_id is not None and image.system == "linux":
                # no thread pointer in the core (qemu-user writes no NT_ARM_TLS): the initial thread
                # (Linux: tid == tgid) is still the one std's runtime started in and calls "main"
                out[t.tid] = Fact(
                    "main", f"the process's initial thread (tid == pid; no {tp_reg} in the core to read TLS)"
                )
            continue
        block = tp + layout.block_offset
        found = _named(mem, block, layout, tp_reg, tp)
        if found is None and layout.thread_id is not None and main_value:
            tid_value = mem.u64(block + layout.thread_id)
            if tid_value == main_value:
                found = Fact(
                    "main",
                    f"std's thread id (TLS std::thread::current::id::ID @0x{block + layout.thread_id:x}, "
                    f"{tp_reg} 0x{tp:x}) equals std::thread::main_thread::MAIN",
                )
        if found is None and layout.current is not None:
            found = _unnamed(mem, block + layout.current, tp_reg, tp)
        if found is not None:
            out[t.tid] = found
    return out


def _unnamed(mem: CoreMemory, where: int, tp_reg: str, tp: int) -> Fact | None:
    """A thread whose std handle is set but holds no name (and is not the main thread): std prints it
    as ``<unnamed>`` (``library/std/src/panicking.rs`` ``default_hook``: ``name.unwrap_or("<unnamed>")``)."""
    inner = mem.u64(where)
    if inner is None or inner <= 2 or inner & 7 or mem.read(inner, INNER_SCAN) is None:
        return None
    return Fact(
        "<unnamed>",
        f"std's thread handle (TLS std::thread::current::CURRENT @0x{where:x}, {tp_reg} 0x{tp:x}) → "
        f"Inner @0x{inner:x} holds no name: std says <unnamed>",
    )


def _named(mem: CoreMemory, block: int, layout: TlsLayout, tp_reg: str, tp: int) -> Fact | None:
    if layout.current is None:
        return None
    where = block + layout.current
    inner = mem.u64(where)
    if inner is None or inner <= 2 or inner & 7:  # NONE/BUSY/DESTROYED, or not Inner's 8-byte alignment
        return None
    raw = mem.read(inner, INNER_SCAN)
    if raw is None:
        return None
    words = struct.unpack(f"<{INNER_SCAN // 8}Q", raw)
    for i in range(len(words) - 1):
        ptr, length = words[i], words[i + 1]
        if not 2 <= length <= MAX_NAME or ptr < 0x1000:
            continue
        text = mem.read(ptr, length)
        if text is None or text[-1] != 0 or b"\0" in text[:-1]:
            continue
        try:
            name = text[:-1].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not name.isprintable():
            continue
        return Fact(
            name,
            f"std's thread handle (TLS std::thread::current::CURRENT @0x{where:x}, {tp_reg} 0x{tp:x}) "
            f"→ Inner @0x{inner:x} → name @0x{ptr:x}",
        )
    return None


def _layout(objects: ObjectMap, machine: str) -> TlsLayout | None:
    main = objects.main
    if main is None or main.elf is None:
        return None
    try:
        return _elf_layout(main.elf, main.bias, machine)
    except (FormatError, struct.error, ValueError):
        return None


def _elf_layout(elf: ElfFile, bias: int, machine: str) -> TlsLayout | None:
    tls = elf.segments_of_type(C.PT_TLS)
    if not tls:
        return None
    seg = tls[0]
    align = max(1, seg.p_align)
    if align & (align - 1):
        return None  # the gABI requires a power of two; anything else is a damaged header
    if machine == "aarch64":
        block_offset = (AARCH64_TCB + align - 1) & ~(align - 1)
    else:
        firstbyte = -(seg.p_vaddr & (align - 1)) & (align - 1)
        off = ((seg.p_memsz - firstbyte + align - 1) & ~(align - 1)) + firstbyte
        block_offset = -off
    current = thread_id = main_id = None
    for table in (elf.symtab, elf.dynsym):
        for s in table:
            kind = s.info & 0xF  # ELF64_ST_TYPE
            if kind == C.STT_TLS:
                if current is None and CURRENT_PATH in s.name:
                    current = s.value
                elif thread_id is None and ID_PATH in s.name and "3std" in s.name:
                    thread_id = s.value
            elif kind == C.STT_OBJECT and main_id is None and MAIN_PATH in s.name and "3std" in s.name:
                main_id = s.value + bias
        if current is not None:
            break
    if current is None and thread_id is None:
        return None
    return TlsLayout(block_offset, current, thread_id, main_id)
