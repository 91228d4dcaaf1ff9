"""Symbol versioning: GNU ``.gnu.version_r``/``.gnu.version_d`` and Solaris ``.SUNW_version``.

Both families share the on-disk structures (illumos ``sys/link.h``: ``Elf64_Verneed``, ``Elf64_Vernaux``,
``Elf64_Verdef``, ``Elf64_Verdaux``), so one parser serves both. ``vn_file`` offsets are kept because a
NEEDED rename must rename the version-need file name too: glibc's ld.so aborts otherwise
(``shared/notes/elf-tooling.md``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import constants as C
from .reader import ElfFile, Section

MAX_VERSION_ENTRIES = 1 << 16


@dataclass(frozen=True)
class VernAux:
    name: str
    hash: int
    flags: int
    other: int
    offset: int
    name_value: int = 0  # the vna_name string offset itself, for editors that must know who uses a string


@dataclass(frozen=True)
class VerNeed:
    version: int
    file: str
    file_offset: int  # file offset of the vn_file field, for editors
    file_value: int  # the vn_file string offset itself
    offset: int
    aux: list[VernAux] = field(default_factory=list)


@dataclass(frozen=True)
class VerDef:
    version: int
    flags: int
    ndx: int
    hash: int
    names: list[str]
    offset: int
    name_values: list[int] = field(default_factory=list)  # vda_name offsets, as above


def _entries(elf: ElfFile, sec: Section, what: str) -> tuple[int, int, int, int]:
    count = sec.sh_info
    strtab = elf.sections[sec.sh_link] if 0 < sec.sh_link < len(elf.sections) else None
    if strtab is None:
        raise elf.error(sec.header_offset, f"{sec.name}: {what} sh_link {sec.sh_link} is not a section")
    elf.check_range(sec.sh_offset, sec.sh_size, sec.name)
    return count, sec.sh_offset, strtab.sh_offset, strtab.sh_offset + strtab.sh_size


def verneed(elf: ElfFile) -> list[VerNeed]:
    out: list[VerNeed] = []
    e = elf.endian
    need_s = struct.Struct(e + "HHIII")
    aux_s = struct.Struct(e + "IHHII")
    for sec in elf.sections_of_type(C.SHT_GNU_VERNEED):
        if sec.sh_size == 0:
            continue
        count, pos, s_off, s_end = _entries(elf, sec, "verneed")
        end = sec.sh_offset + sec.sh_size
        for _ in range(min(count or MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES)):
            if pos + need_s.size > end:
                raise elf.error(pos, f"{sec.name}: version need entry runs past its section")
            vn_version, vn_cnt, vn_file, vn_aux, vn_next = elf.unpack(need_s, pos, sec.name)
            auxes = []
            apos = pos + vn_aux
            for _a in range(vn_cnt):
                if apos + aux_s.size > end or apos < sec.sh_offset:
                    raise elf.error(apos, f"{sec.name}: version need aux entry outside its section")
                h, fl, other, name, nxt = elf.unpack(aux_s, apos, sec.name)
                auxes.append(
                    VernAux(elf.cstring(s_off + name, s_end, "version name"), h, fl, other, apos, name)
                )
                if nxt == 0:
                    break
                apos += nxt
            out.append(
                VerNeed(
                    vn_version,
                    elf.cstring(s_off + vn_file, s_end, "version file"),
                    pos + 4,
                    vn_file,
                    pos,
                    auxes,
                )
            )
            if vn_next == 0:
                break
            pos += vn_next
    return out


def verdef(elf: ElfFile) -> list[VerDef]:
    out: list[VerDef] = []
    e = elf.endian
    def_s = struct.Struct(e + "HHHHIII")
    aux_s = struct.Struct(e + "II")
    for sec in elf.sections_of_type(C.SHT_GNU_VERDEF):
        if sec.sh_size == 0:
            continue
        count, pos, s_off, s_end = _entries(elf, sec, "verdef")
        end = sec.sh_offset + sec.sh_size
        for _ in range(min(count or MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES)):
            if pos + def_s.size > end:
                raise elf.error(pos, f"{sec.name}: version definition runs past its section")
            vd_version, vd_flags, vd_ndx, vd_cnt, vd_hash, vd_aux, vd_next = elf.unpack(def_s, pos, sec.name)
            names: list[str] = []
            values: list[int] = []
            apos = pos + vd_aux
            for _a in range(vd_cnt):
                if apos + aux_s.size > end or apos < sec.sh_offset:
                    raise elf.error(apos, f"{sec.name}: version definition aux outside its section")
                name, nxt = elf.unpack(aux_s, apos, sec.name)
                names.append(elf.cstring(s_off + name, s_end, "version name"))
                values.append(name)
                if nxt == 0:
                    break
                apos += nxt
            out.append(VerDef(vd_version, vd_flags, vd_ndx, vd_hash, names, pos, values))
            if vd_next == 0:
                break
            pos += vd_next
    return out
