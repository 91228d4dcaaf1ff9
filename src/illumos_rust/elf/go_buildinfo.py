"""``.go.buildinfo``: the Go toolchain version and build settings (GOOS, GOARCH, …) the Go linker records.

Layout, from the Go source (``src/debug/buildinfo/buildinfo.go`` and ``cmd/link/internal/ld/data.go``): a
16-byte header, the 14-byte magic ``"\\xff Go buildinf:"``, the pointer size (1 byte) and a flags byte (bit 0:
big-endian, bit 1: strings inline). Since Go 1.18 the strings are inline: at offset 32, the version and then
the module information, each as a uvarint length and its bytes. Older binaries hold two pointers at offset 16
to Go string headers (data pointer, length) instead. The module information is wrapped in 16-byte
sentinels and is tab-separated lines; ``build\\tGOOS=illumos`` and ``build\\tGOARCH=amd64`` are the target,
recorded since Go 1.18.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from .reader import ElfFile

MAGIC = b"\xff Go buildinf:"
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
_DATA_SECTIONS = (".go.buildinfo", ".rodata", ".noptrdata", ".data")
_GO_VERSION = re.compile(rb"\x00(go1\.\d+(?:\.\d+)?(?:rc\d+|beta\d+)?)\x00")
FLAG_BIG_ENDIAN, FLAG_INLINE = 0x1, 0x2
_MAX_STRING = 1 << 20  # module info of real binaries is a few kB; a larger length is corruption


@dataclass(frozen=True)
class GoBuildInfo:
    version: str  # e.g. "go1.19.8"
    module: str | None  # the main module path ("path" line)
    settings: dict[str, str] = field(default_factory=dict)  # "build" lines: GOOS, GOARCH, CGO_ENABLED, …

    @property
    def goos(self) -> str | None:
        return self.settings.get("GOOS")

    @property
    def goarch(self) -> str | None:
        return self.settings.get("GOARCH")


def go_buildinfo(elf: ElfFile) -> GoBuildInfo | None:
    """The build information of a Go binary, or None when there is none or it cannot be read.

    Never raises for a malformed blob: this is evidence for a summary, and a damaged one is simply absent.
    """
    found = _from_header(elf)
    return found if found is not None else _from_sentinels(elf)


def _from_header(elf: ElfFile) -> GoBuildInfo | None:
    sec = elf.section(".go.buildinfo")
    if sec is None or sec.file_size < 32:
        return None
    data = bytes(elf.section_data(sec)[: min(sec.sh_size, 64 * 1024)])
    start = data.find(MAGIC)
    if start < 0 or start + 32 > len(data):
        return None
    ptr_size, flags = data[start + 14], data[start + 15]
    if flags & FLAG_INLINE:
        version, pos = _uvarint_string(data, start + 32)
        if version is None:
            return None
        mod, _ = _uvarint_string(data, pos)
    else:
        if ptr_size not in (4, 8):
            return None
        version = _pointed_string(elf, data, start + 16, ptr_size, bool(flags & FLAG_BIG_ENDIAN))
        mod = _pointed_string(elf, data, start + 16 + ptr_size, ptr_size, bool(flags & FLAG_BIG_ENDIAN))
        if version is None:
            return None
    return _parse(version, mod or "")


def _from_sentinels(elf: ElfFile) -> GoBuildInfo | None:
    buf = elf.buf
    for name in _DATA_SECTIONS:
        sec = elf.section(name)
        if sec is None or not sec.file_size or sec.sh_offset + sec.sh_size > elf.size:
            continue
        end = sec.sh_offset + sec.sh_size
        start = buf.find(INFO_START, sec.sh_offset, end)
        if start < 0:
            continue
        stop = buf.find(INFO_END, start, min(end, start + _MAX_STRING))
        if stop < 0:
            continue
        mod = bytes(buf[start : stop + len(INFO_END)]).decode("utf-8", "replace")
        info = _parse("", mod)
        return GoBuildInfo(_version_string(elf) or "", info.module, info.settings)
    return None


def _version_string(elf: ElfFile) -> str | None:
    """The one ``go1.N[.M]`` string (``runtime.buildVersion``) in the read-only data, if unambiguous."""
    sec = elf.section(".rodata")
    if sec is None or not sec.file_size or sec.sh_offset + sec.sh_size > elf.size:
        return None
    found = {m.group(1) for m in _GO_VERSION.finditer(elf.section_data(sec))}
    return found.pop().decode() if len(found) == 1 else None


def _parse(version: str, mod: str) -> GoBuildInfo:
    # Sentinels: 16 bytes each side, the text ends with "\n" just before the closing one.
    if len(mod) >= 33 and mod[-17] == "\n":
        mod = mod[16:-16]
    module = None
    settings: dict[str, str] = {}
    for line in mod.splitlines():
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) > 1:
            module = parts[1]
        elif parts[0] == "build" and len(parts) > 1 and "=" in parts[1]:
            key, _, value = parts[1].partition("=")
            settings[key] = value
    return GoBuildInfo(version, module, settings)


def _uvarint_string(data: bytes, pos: int) -> tuple[str | None, int]:
    length = shift = 0
    while True:
        if pos >= len(data) or shift > 35:
            return None, pos
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    if length > _MAX_STRING or pos + length > len(data):
        return None, pos
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _pointed_string(elf: ElfFile, data: bytes, pos: int, ptr_size: int, big: bool) -> str | None:
    """A Go string header (data pointer, length) at the virtual address stored at ``pos``."""
    addr_fmt = struct.Struct((">" if big else "<") + ("Q" if ptr_size == 8 else "I"))
    if pos + ptr_size > len(data):
        return None
    (header_addr,) = addr_fmt.unpack_from(data, pos)
    header_off = elf.vaddr_to_offset(header_addr)
    if header_off is None or header_off + 2 * ptr_size > elf.size:
        return None
    str_addr, length = (
        addr_fmt.unpack_from(elf.buf, header_off)[0],
        addr_fmt.unpack_from(elf.buf, header_off + ptr_size)[0],
    )
    str_off = elf.vaddr_to_offset(str_addr)
    if str_off is None or length > _MAX_STRING or str_off + length > elf.size:
        return None
    return bytes(elf.buf[str_off : str_off + length]).decode("utf-8", "replace")
