"""Contents of ``SHF_COMPRESSED`` sections (gABI "Section Compression": ``Elf32_Chdr``/``Elf64_Chdr``).

``gcc -gz`` and ``ld --compress-debug-sections`` store ``.debug_*`` as a compression header followed by a zlib
stream; GNU's older ``.zdebug_*`` convention puts ``"ZLIB"`` and a big-endian 64-bit size in front instead.
Both inflate to exactly the announced size, which bounds the memory a hostile header can make us spend.
"""

from __future__ import annotations

import struct
import zlib

from . import constants as C
from .reader import ElfFile, Section

ELFCOMPRESS_ZLIB = 1
ELFCOMPRESS_ZSTD = 2
# A debug section larger than this would not fit the 32-bit DWARF of any toolchain we read; refuse earlier
# than the allocation would fail.
MAX_INFLATED = 1 << 32
_GNU_ZDEBUG = struct.Struct(">4sQ")


def is_compressed(section: Section) -> bool:
    return bool(section.sh_flags & C.SHF_COMPRESSED) or section.name.startswith(".zdebug")


def section_contents(elf: ElfFile, section: Section) -> memoryview | bytes:
    """The section's bytes as the program sees them: a view of the file, or the inflated copy."""
    data = elf.section_data(section)
    if section.sh_flags & C.SHF_COMPRESSED:
        chdr = struct.Struct(elf.endian + ("IIQQ" if elf.is64 else "III"))
        if len(data) < chdr.size:
            raise elf.error(section.sh_offset, f"{section.name}: compression header is truncated")
        fields = chdr.unpack_from(data, 0)
        ch_type, ch_size = fields[0], fields[2] if elf.is64 else fields[1]
        if ch_type != ELFCOMPRESS_ZLIB:
            what = "zstd" if ch_type == ELFCOMPRESS_ZSTD else f"type {ch_type}"
            raise elf.error(section.sh_offset, f"{section.name}: unsupported compression ({what})")
        return _inflate(elf, section, data[chdr.size :], ch_size)
    if section.name.startswith(".zdebug") and len(data) >= _GNU_ZDEBUG.size:
        magic, size = _GNU_ZDEBUG.unpack_from(data, 0)
        if magic == b"ZLIB":
            return _inflate(elf, section, data[_GNU_ZDEBUG.size :], size)
    return data


def _inflate(elf: ElfFile, section: Section, stream: memoryview, size: int) -> bytes:
    if size > MAX_INFLATED:
        raise elf.error(section.sh_offset, f"{section.name}: announced inflated size {size} is implausible")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stream, size + 1)  # one byte more than announced reveals a lie
    except zlib.error as exc:
        raise elf.error(section.sh_offset, f"{section.name}: corrupt zlib stream ({exc})") from None
    if len(out) != size or not inflater.eof:
        raise elf.error(
            section.sh_offset,
            f"{section.name}: zlib stream inflates to {len(out)}{'+' if not inflater.eof else ''} bytes, "
            f"header says {size}",
        )
    return out
