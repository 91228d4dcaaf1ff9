"""The address space of a dumped process: a core's ``PT_LOAD`` bytes, then the mapped files' pages.

A Linux core leaves out file-backed text and read-only data (default ``coredump_filter`` 0x33: such a
``PT_LOAD`` has ``p_filesz`` 0 or covers only the first page), so reads of code, ``.rodata`` strings and
``.eh_frame`` must come from the objects the core names in ``NT_FILE``. An illumos core normally holds text
and rodata itself (coreadm default content), but a mapping excluded by its content mask or lost on write
(``PF_SUNW_FAILURE``) keeps ``p_filesz`` 0 and can be refilled the same way. Everything is read over
``mmap``: a core of a process with a 1 GiB heap is never copied, only the pages asked for are touched.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

_U64 = struct.Struct("<Q")
_U64BE = struct.Struct(">Q")


@dataclass(frozen=True)
class LoadSegment:
    """One core ``PT_LOAD``: ``filesz`` bytes at ``offset`` in the core stand for ``[vaddr, vaddr+memsz)``."""

    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int


@dataclass(frozen=True)
class FileBacking:
    """``[start, end)`` of the process maps ``path`` from byte ``file_offset`` (``NT_FILE`` or a link map)."""

    start: int
    end: int
    file_offset: int
    path: str


class CoreMemory:
    """Reads of process memory: ``None`` for an address no byte source covers (never a guess)."""

    def __init__(
        self, buf: bytes | mmap.mmap | memoryview, loads: list[LoadSegment], little: bool = True
    ) -> None:
        self._buf = buf
        self._size = len(buf)
        self.loads = sorted(loads, key=lambda s: s.vaddr)
        self._starts = [s.vaddr for s in self.loads]
        self._files: list[FileBacking] = []
        self._file_starts: list[int] = []
        self._maps: dict[str, mmap.mmap | None] = {}
        self._u64 = _U64 if little else _U64BE
        # Paths of the core's NT_FILE are this machine's paths unless a resolver maps them (--sysroot).
        self.resolve: Callable[[str], str | None] = lambda p: p
        self.missing_files: set[str] = set()

    def add_file_backing(self, backings: list[FileBacking]) -> None:
        self._files = sorted([*self._files, *backings], key=lambda b: b.start)
        self._file_starts = [b.start for b in self._files]

    def close(self) -> None:
        for m in self._maps.values():
            if m is not None:
                with contextlib.suppress(BufferError):
                    m.close()
        self._maps.clear()

    # -- reads -------------------------------------------------------------------------------------------
    def read(self, addr: int, size: int, *, files: bool = True) -> bytes | None:
        """``size`` bytes at ``addr``, or None when any of them is in neither the core nor a mapped file.

        ``files=False`` reads only what the core itself holds (to compare it with a file on disk)."""
        if size <= 0 or addr < 0:
            return b"" if size == 0 else None
        out = []
        while size > 0:
            piece = self._piece(addr, size, files)
            if piece is None:
                return None
            out.append(piece)
            addr += len(piece)
            size -= len(piece)
        return out[0] if len(out) == 1 else b"".join(out)

    def u64(self, addr: int) -> int | None:
        raw = self.read(addr, 8)
        return None if raw is None else self._u64.unpack(raw)[0]

    def cstring(self, addr: int, limit: int = 4096) -> bytes | None:
        """A NUL-terminated string of at most ``limit`` bytes (read page by page, stops at the NUL)."""
        out = b""
        while len(out) < limit:
            chunk = self.read(addr + len(out), min(256, limit - len(out)))
            if chunk is None:
                # A string may end just before an unreadable page: retry byte by byte up to it.
                chunk = b""
                for i in range(min(256, limit - len(out))):
                    b = self.read(addr + len(out) + i, 1)
                    if b is None:
                        break
                    chunk += b
                if not chunk:
                    return None
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
            if len(chunk) < 256 and len(out) < limit:
                return None
        return out

    def covers(self, addr: int) -> bool:
        return self.read(addr, 1) is not None

    def segment_at(self, addr: int) -> LoadSegment | None:
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.loads[i].vaddr + self.loads[i].memsz:
            return self.loads[i]
        return None

    def core_view(self, seg: LoadSegment) -> memoryview:
        """The bytes the core holds for ``seg`` (its first ``filesz`` bytes, cut to what the file has)."""
        end = min(seg.offset + seg.filesz, self._size)
        start = min(seg.offset, end)
        return memoryview(self._buf)[start:end]

    def _piece(self, addr: int, size: int, files: bool = True) -> bytes | None:
        seg = self.segment_at(addr)
        if seg is not None:
            rel = addr - seg.vaddr
            avail = min(seg.filesz, self._size - seg.offset)  # a truncated core holds less than promised
            if rel < avail:
                n = min(size, avail - rel, seg.memsz - rel)
                off = seg.offset + rel
                return bytes(self._buf[off : off + n])
            limit = seg.vaddr + seg.memsz - addr
        else:
            limit = size
        return self._file_piece(addr, min(size, limit)) if files else None

    def _file_piece(self, addr: int, size: int) -> bytes | None:
        i = bisect_right(self._file_starts, addr) - 1
        if i < 0:
            return None
        b = self._files[i]
        if addr >= b.end:
            return None
        mm = self._map(b.path)
        if mm is None:
            return None
        off = b.file_offset + (addr - b.start)
        n = min(size, b.end - addr, len(mm) - off)
        if n <= 0:
            return None  # past the end of the file: the mapping's tail is zero-fill (bss), not file bytes
        return bytes(mm[off : off + n])

    def _map(self, path: str) -> mmap.mmap | None:
        if path in self._maps:
            return self._maps[path]
        real = self.resolve(path)
        mm: mmap.mmap | None = None
        if real is not None:
            try:
                with open(real, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size > 0:
                        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except OSError:
                mm = None
        if mm is None:
            self.missing_files.add(path)
        self._maps[path] = mm
        return mm
