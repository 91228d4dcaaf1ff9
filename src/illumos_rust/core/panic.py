"""Recovering a Rust panic's message, thread name and location from a core (notes §5.3).

With ``panic=abort`` (and before an unwinding panic aborts) std's default hook formats the whole report into
a 512-byte stack buffer and writes it once (``library/std/src/panicking.rs`` ``default_hook``), so the text
stays in the crashing thread's stack pages:

* current std (≥ 1.73): ``thread '{name}' panicked at {file}:{line}:{col}:\\n{msg}\\n``; 1.90+ adds the
  thread id: ``thread 'main' (4611) panicked at …``;
* older std: ``thread '{name}' panicked at '{msg}', {file}:{line}:{col}``.

Independently, the ``&'static core::panic::Location`` (``{file: &str, line: u32, col: u32}``, 24 bytes,
``library/core/src/panic/location.rs``) is pointed to from the stack; its file string is in the binary's
``.rodata`` (read from the file on Linux, where the core lacks it). The message is also looked for in the
heap (the lazily formatted payload ``String``), which confirms it and is the only copy when the stack buffer
was overwritten.
"""

from __future__ import annotations

import re
import struct

from ..elf.core_memory import CoreMemory
from ..elf.core_model import CoreImage
from .model import Fact, PanicReport
from .objects import ObjectMap

CURRENT = re.compile(
    rb"thread '([^'\n\x00]{0,256})'(?: \((\d{1,10})\))? panicked at "
    rb"([^\n\x00]{1,1024}?):(\d{1,9}):(\d{1,9}):\n"
    rb"([^\x00]{0,4096}?)\n"
)
OLD = re.compile(
    rb"thread '([^'\n\x00]{0,256})' panicked at '([^\x00]{0,4096}?)', "
    rb"([^\n\x00:]{1,1024}):(\d{1,9}):(\d{1,9})"
)
OVERFLOW = re.compile(rb"thread '([^'\n\x00]{0,256})' has overflowed its stack")
MAX_STACK_SCAN = 16 << 20
MAX_HEAP_SCAN = 64 << 20
PAYLOAD_SCAN = 4096  # bytes above sp: the panic machinery's frames (panic_fmt … panic_with_hook)
MAX_PAYLOAD = 1 << 20  # a formatted message can be long (panic!("{}", big)); beyond 1 MiB is not taken


def stack_bytes(image: CoreImage, sp: int) -> tuple[int, bytes] | None:
    """The in-core bytes of the stack segment holding ``sp`` (the whole segment: the hook's buffer lies
    in frames that have already returned, below the current ``sp``)."""
    seg = image.memory.segment_at(sp)
    if seg is None or seg.filesz == 0:
        return None
    view = image.memory.core_view(seg)
    size = min(len(view), MAX_STACK_SCAN)
    start = max(0, min(sp - seg.vaddr, len(view)) - size // 2) if len(view) > size else 0
    return seg.vaddr + start, bytes(view[start : start + size])


def recover_panic(
    image: CoreImage, objects: ObjectMap, sp: int, panic_frames_end: int | None = None
) -> PanicReport | None:
    """Message, thread and location. ``panic_frames_end``: the stack pointer of the frame that called
    the panic (std's panic frames lie in ``[sp, panic_frames_end)``); when known, the payload is looked
    for in those frames only: a ``String`` or ``&'static str`` above them belongs to the program (a
    closure's captured ``String`` is not the message), and in a plain abort there is no payload at all."""
    found = stack_bytes(image, sp)
    report = PanicReport()
    if found is not None:
        base, data = found
        _from_buffer(report, base, data)
        _location(report, image.memory, objects, base, data, sp)
        if report.thread is None:
            m = OVERFLOW.search(data)
            if m:
                report.thread = Fact(
                    m.group(1).decode("utf-8", "replace"), f"stack overflow report @0x{base + m.start():x}"
                )
                report.format = "stack overflow"
        if report.message is None and panic_frames_end is not None:
            _payload_string(report, image, base, data, sp, panic_frames_end)
        if report.message is None and panic_frames_end is not None:
            _static_str(report, image, objects, base, data, sp, panic_frames_end)
    if report.message is not None:
        _heap_copy(report, image)
    if report.message is None and report.location is None and report.thread is None:
        return None
    return report


def _from_buffer(report: PanicReport, base: int, data: bytes) -> None:
    m = CURRENT.search(data)
    if m is not None:
        name, _tid, file, line, col, msg = m.groups()
        where = f"stack buffer @0x{base + m.start():x}"
        report.thread = Fact(name.decode("utf-8", "replace"), where)
        report.location = Fact(f"{file.decode('utf-8', 'replace')}:{int(line)}:{int(col)}", where)
        report.message = Fact(msg.decode("utf-8", "replace"), where)
        report.format = "std >= 1.73 (thread id)" if _tid else "std >= 1.73"
        return
    m = OLD.search(data)
    if m is not None:
        name, msg, file, line, col = m.groups()
        where = f"stack buffer @0x{base + m.start():x}"
        report.thread = Fact(name.decode("utf-8", "replace"), where)
        report.message = Fact(msg.decode("utf-8", "replace"), where)
        report.location = Fact(f"{file.decode('utf-8', 'replace')}:{int(line)}:{int(col)}", where)
        report.format = "std < 1.73"


def _payload_string(
    report: PanicReport, image: CoreImage, base: int, data: bytes, sp: int, end_sp: int
) -> None:
    """The message as the lazily formatted payload ``String`` in the heap, when the stack buffer lacks it.

    With ``RUST_BACKTRACE`` set, or a message over 512 bytes, std's ``default_hook`` writes straight to
    stderr, but it first asks the payload for its text: ``FormatStringPayload`` (``library/std/src/
    panicking.rs``) formats the ``fmt::Arguments`` into an ``Option<String>`` that lives in
    ``panic_with_hook``'s frame, a few hundred bytes above ``sp``. A ``String`` is ``{cap, ptr, len}``
    (three words, rustc's field order for ``RawVec``/``Vec``); the first triple whose ``ptr`` is in writable
    anonymous memory (the heap, not a stack) and whose bytes are printable UTF-8 is taken, searched only
    in std's panic frames below ``end_sp`` (the caller's frame and those above it hold the program's own
    Strings: a thread closure's captured ``String`` sits there).
    """
    start = max(0, (sp - base) & ~7)
    end = min(len(data), start + PAYLOAD_SCAN, max(0, end_sp - base))
    if end - start < 24:
        return
    words = struct.unpack_from(f"<{(end - start) // 8}Q", data, start)
    stack = image.mapping_at(sp)
    for i in range(len(words) - 2):
        cap, ptr, length = words[i], words[i + 1], words[i + 2]
        if not (0 < length <= cap <= MAX_PAYLOAD):
            continue
        m = image.mapping_at(ptr)
        if m is None or m is stack or m.path is not None or m.flags & 6 != 6:
            continue
        text = _printable_text(image, ptr, length)
        if text is None:
            continue
        where = base + start + 8 * i
        report.message = Fact(
            text,
            f"panic payload String @0x{ptr:x} in the heap ({{cap, ptr, len}} on the stack @0x{where:x}, "
            f"in std's panic frames below the caller's sp 0x{end_sp:x})",
        )
        return


def _printable_text(image: CoreImage, ptr: int, length: int) -> str | None:
    """``length`` bytes at ``ptr`` if they read as printable UTF-8 text (newlines and tabs allowed): what a
    panic message candidate must be before it is believed."""
    raw = image.memory.read(ptr, length)
    if raw is None or b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.replace("\n", " ").replace("\t", " ").isprintable() else None


def _static_str(
    report: PanicReport, image: CoreImage, objects: ObjectMap, base: int, data: bytes, sp: int, end_sp: int
) -> None:
    """The message as a ``&'static str`` payload in std's panic frames, when nothing formatted it.

    A message without arguments (``panic!("literal")``, ``Option::unwrap`` on ``None``) never becomes a
    ``String``: ``panic_handler`` wraps ``fmt::Arguments::as_str()`` in ``StaticStrPayload(&'static str)``
    and ``begin_panic`` (edition 2015, ``panic_any``) in ``Payload<&str>`` (``library/std/src/
    panicking.rs``), both ``{ptr, len}`` on the stack pointing into the executable's read-only data. The
    first such pair in ``[sp, end_sp)`` whose bytes are printable UTF-8 is taken; the ``Location`` (also in
    that data, also pointed to from these frames) is skipped.
    """
    main = objects.main
    if main is None:
        return
    start = max(0, (sp - base) & ~7)
    end = min(len(data), start + PAYLOAD_SCAN, max(0, end_sp - base))
    if end - start < 16:
        return
    words = struct.unpack_from(f"<{(end - start) // 8}Q", data, start)
    located = report.location.source if report.location is not None else ""
    skip = {int(x, 16) for x in re.findall(r"Location 0x([0-9a-f]+)", located)}
    for i in range(len(words) - 1):
        ptr, length = words[i], words[i + 1]
        if not (main.start <= ptr < main.end) or not 0 < length <= MAX_PAYLOAD or ptr in skip:
            continue
        m = image.mapping_at(ptr)
        # read-only data, not code (r-x) nor writable: rustc/GNU ld give .rodata its own r-- segment; an
        # object that keeps .rodata in its text segment (illumos ld's default) is not searched here
        if m is None or m.flags & 7 != 4:
            continue
        text = _printable_text(image, ptr, length)
        if text is None:
            continue
        where = base + start + 8 * i
        report.message = Fact(
            text,
            f"&'static str payload @0x{ptr:x} in the executable's read-only data ({{ptr, len}} on the stack "
            f"@0x{where:x}, in std's panic frames below the caller's sp 0x{end_sp:x})",
        )
        return


def _location(
    report: PanicReport, mem: CoreMemory, objects: ObjectMap, base: int, data: bytes, sp: int
) -> None:
    """First stack word at or above ``sp`` pointing at a plausible ``Location`` in the executable."""
    main = objects.main
    if main is None:
        return
    start = max(0, (sp - base) & ~7)
    words = struct.unpack_from(f"<{(len(data) - start) // 8}Q", data, start)
    for i, w in enumerate(words):
        if not (main.start <= w < main.end) or w & 3:
            continue
        loc = _read_location(mem, w)
        if loc is None:
            continue
        text = f"{loc[0]}:{loc[1]}:{loc[2]}"
        source = f"&'static Location 0x{w:x} (pointed to from the stack @0x{base + start + 8 * i:x})"
        if report.location is None:
            report.location = Fact(text, source)
        elif report.location.value == text:
            report.location = Fact(text, f"{report.location.source}; {source}")
        else:
            continue
        return


def _read_location(mem: CoreMemory, addr: int) -> tuple[str, int, int] | None:
    raw = mem.read(addr, 24)
    if raw is None:
        return None
    ptr, length, line, col = struct.unpack("<QQII", raw)
    if not (0 < length <= 1024 and 0 < line < 10_000_000 and 0 < col < 100_000):
        return None
    name = mem.read(ptr, length)
    if name is None or not name.endswith(b".rs") or not name.isascii() or not name.decode().isprintable():
        return None
    return name.decode(), line, col


def _heap_copy(report: PanicReport, image: CoreImage) -> None:
    """Look for the message in writable anonymous memory other than the stack buffer's page."""
    assert report.message is not None
    needle = report.message.value.encode()
    if len(needle) < 8:
        return
    scanned = 0
    for m in image.mappings:
        if m.path is not None or not m.flags & 2 or m.in_core == 0:
            continue
        seg = image.memory.segment_at(m.start)
        if seg is None:
            continue
        view = image.memory.core_view(seg)
        scanned += len(view)
        if scanned > MAX_HEAP_SCAN:
            return
        pos = bytes(view).find(needle) if len(view) < (8 << 20) else -1
        addr = m.start + pos
        if (
            pos >= 0
            and f"@0x{addr:x}" not in report.message.source
            and not _near(report.message.source, addr)
        ):
            report.message = Fact(report.message.value, f"{report.message.source}; heap copy @0x{addr:x}")
            return


def _near(source: str, addr: int) -> bool:
    m = re.search(r"stack buffer @0x([0-9a-f]+)", source)
    return m is not None and abs(int(m.group(1), 16) - addr) < 4096
