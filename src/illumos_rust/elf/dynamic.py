"""The dynamic section: entries, their strings, and the spare capacity elfedit-style edits rely on.

illumos ld leaves ``DT_SUNW_STRPAD`` bytes unused at the end of ``.dynstr`` and 10 spare ``DT_NULL`` slots at
the end of ``.dynamic`` (libld ``DYNSTR_EXTRA_PAD``/``DYNAMIC_EXTRA_ELTS``; see
``shared/notes/illumos-target.md``
§4), so both numbers are reported: they decide whether a RUNPATH can be added without growing the file.
"""

from __future__ import annotations

from typing import NamedTuple

from . import constants as C
from .reader import ElfFile, Section


class DynEntry(NamedTuple):
    index: int  # type: ignore[assignment]  # position in .dynamic; shadows tuple.index
    tag: int
    value: int
    offset: int  # file offset of the entry
    string: str | None = None  # resolved for tags whose value is a .dynstr offset

    @property
    def tag_name(self) -> str:
        return C.DT.get(self.tag, f"0x{self.tag:x}")


class DynamicSection:
    """Parsed ``.dynamic`` (or PT_DYNAMIC when the section headers are stripped)."""

    def __init__(self, elf: ElfFile) -> None:
        self.elf = elf
        self.section: Section | None = None
        secs = elf.sections_of_type(C.SHT_DYNAMIC)
        if secs:
            self.section = secs[0]
            self.offset, self.size = secs[0].sh_offset, secs[0].sh_size
        else:
            segs = elf.segments_of_type(C.PT_DYNAMIC)
            if segs:
                self.offset, self.size = segs[0].p_offset, segs[0].p_filesz
            else:
                self.offset, self.size = 0, 0
        elf.check_range(self.offset, self.size, "dynamic section")
        fmt = elf.dyn_struct
        self.entsize = fmt.size
        self.slots = self.size // fmt.size
        raw: list[tuple[int, int, int]] = []
        for i in range(self.slots):
            off = self.offset + i * fmt.size
            tag, value = fmt.unpack_from(elf.buf, off)
            raw.append((i, tag, value))
        # The first DT_NULL ends the array; the runtime linker never looks past it.
        self.used = next((i + 1 for i, tag, _ in raw if tag == C.DT_NULL), self.slots)
        self.spare_nulls = sum(1 for i, tag, _ in raw[self.used :] if tag == C.DT_NULL)
        self.strtab_offset, self.strtab_size = self._locate_strtab(raw)
        entries = []
        for i, tag, value in raw[: self.used]:
            text = None
            if tag in C.DT_STRING_TAGS:
                text = self.string(value)
            entries.append(DynEntry(i, tag, value, self.offset + i * fmt.size, text))
        self.entries = entries

    @property
    def present(self) -> bool:
        return self.size > 0

    def _locate_strtab(self, raw: list[tuple[int, int, int]]) -> tuple[int, int]:
        """``.dynstr`` via the section's sh_link, else DT_STRTAB/DT_STRSZ through the PT_LOADs."""
        elf = self.elf
        if self.section is not None and 0 < self.section.sh_link < len(elf.sections):
            st = elf.sections[self.section.sh_link]
            if st.sh_type == C.SHT_STRTAB:
                elf.check_range(st.sh_offset, st.sh_size, f"dynamic string table {st.name}")
                return st.sh_offset, st.sh_size
        values = {tag: value for _, tag, value in raw[: self.used]}
        if C.DT_STRTAB in values:
            off = elf.vaddr_to_offset(values[C.DT_STRTAB])
            size = values.get(C.DT_STRSZ, 0)
            if off is None:
                raise elf.error(
                    self.offset, f"DT_STRTAB 0x{values[C.DT_STRTAB]:x} is not mapped by any PT_LOAD"
                )
            elf.check_range(off, size, "DT_STRTAB")
            return off, size
        return 0, 0

    def string(self, value: int) -> str:
        if value >= self.strtab_size:
            raise self.elf.error(
                self.offset, f"dynamic string offset {value} outside .dynstr ({self.strtab_size} bytes)"
            )
        return self.elf.cstring(
            self.strtab_offset + value, self.strtab_offset + self.strtab_size, "dynamic string"
        )

    def values(self, tag: int) -> list[int]:
        return [e.value for e in self.entries if e.tag == tag]

    def first(self, tag: int) -> DynEntry | None:
        return next((e for e in self.entries if e.tag == tag), None)

    def strings(self, tag: int) -> list[str]:
        return [e.string for e in self.entries if e.tag == tag and e.string is not None]

    @property
    def needed(self) -> list[str]:
        return self.strings(C.DT_NEEDED)

    @property
    def runpath(self) -> str | None:
        return next(iter(self.strings(C.DT_RUNPATH)), None)

    @property
    def rpath(self) -> str | None:
        return next(iter(self.strings(C.DT_RPATH)), None)

    @property
    def soname(self) -> str | None:
        return next(iter(self.strings(C.DT_SONAME)), None)

    @property
    def flags(self) -> int:
        return next(iter(self.values(C.DT_FLAGS)), 0)

    @property
    def flags_1(self) -> int:
        return next(iter(self.values(C.DT_FLAGS_1)), 0)

    @property
    def strpad(self) -> int | None:
        return next(iter(self.values(C.DT_SUNW_STRPAD)), None)

    @property
    def edited(self) -> bool:
        return bool(self.flags_1 & C.DF_1_EDITED)


def dynamic(elf: ElfFile) -> DynamicSection:
    """The file's dynamic section, parsed once and kept on the ``ElfFile``."""
    cache = elf.__dict__
    if "_dynamic" not in cache:
        cache["_dynamic"] = DynamicSection(elf)
    result: DynamicSection = cache["_dynamic"]
    return result
