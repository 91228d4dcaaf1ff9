"""The notes of one ``SHT_NOTE`` section, with the entry alignment that section declares.

``ElfFile.notes()`` walks every note section of a file; the probe lister only wants ``.note.stapsdt``
(4-aligned, ``sys/sdt.h``), and must not fail on an unrelated note section it never needed. gABI "Note
Section": ``namesz``, ``descsz``, ``type``, then the name and the descriptor, each padded to the alignment.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .reader import ElfFile, Note, Section


def section_notes(elf: ElfFile, section: Section) -> Iterator[Note]:
    """Every note of ``section``; a note that runs past the section raises ``FormatError``."""
    align = 8 if section.sh_addralign == 8 else 4
    elf.check_range(section.sh_offset, section.sh_size, f"note section {section.name}")
    head = struct.Struct(elf.endian + "III")
    pos, end = section.sh_offset, section.sh_offset + section.sh_size
    while pos + head.size <= end:
        namesz, descsz, ntype = head.unpack_from(elf.buf, pos)
        name_start = pos + head.size
        desc_start = name_start + -(-namesz // align) * align
        desc_end = desc_start + descsz
        if desc_end > end:
            raise elf.error(pos, f"note in {section.name} runs past its section")
        name = bytes(elf.buf[name_start : name_start + namesz]).rstrip(b"\0").decode("utf-8", "replace")
        yield Note(name, ntype, bytes(elf.buf[desc_start:desc_end]), section.name, pos)
        pos = desc_start + -(-descsz // align) * align
