"""Objects named by the runtime linker's list: every illumos core, and Linux cores without ``NT_FILE``.

An illumos core has no ``NT_FILE`` (nor does a Linux core from a kernel older than 3.7). Object names
come from the runtime linker's ``r_debug``/``Link_map`` chain in core memory, found from auxv
``AT_PHDR`` (3) → the executable's ``PT_DYNAMIC`` → ``DT_DEBUG`` (``sys/link.h``: ``r_debug {int
r_version; Link_map *r_map; …}``, ``Link_map {l_addr, l_name, l_ld, l_next, l_prev}``, all 8-byte words
on amd64). Symbols come from the per-object ``.symtab`` sections the core carries (``sh_addr`` = load
address) and, when a file is given or found, from that file.
"""

from __future__ import annotations

import os
import struct

from ..elf import constants as C
from ..elf.core_memory import FileBacking
from ..elf.core_model import CoreImage
from ..elf.reader import ElfFile, SymbolIndex
from ..errors import FormatError
from .core_ctf import read_core_ctf
from .objects import LoadedObject, ObjectMap, ObjectResolver, _open, unopened_bias

MAX_LINK_MAP = 1024


def link_map(image: CoreImage) -> list[tuple[int, str]]:
    """(l_addr, l_name) of every object on the runtime linker's list, or [] when it cannot be walked."""
    mem = image.memory
    phdr = image.auxv.get(3)
    phnum = image.auxv.get(5, 0)
    if phdr is None or not 0 < phnum < 256:
        return []
    raw = mem.read(phdr, phnum * 56)
    if raw is None:
        return []
    phdrs = [struct.unpack_from("<IIQQQQQQ", raw, i * 56) for i in range(phnum)]
    self_ph = next((p for p in phdrs if p[0] == C.PT_PHDR), None)
    bias = phdr - self_ph[3] if self_ph else 0
    dyn = next((p for p in phdrs if p[0] == C.PT_DYNAMIC), None)
    if dyn is None:
        return []
    dyn_raw = mem.read(bias + dyn[3], min(dyn[5], 16 * 512))
    if dyn_raw is None:
        return []
    r_debug = None
    for i in range(0, len(dyn_raw) - 15, 16):
        tag, val = struct.unpack_from("<qQ", dyn_raw, i)
        if tag == 0:
            break
        if tag == 21:  # DT_DEBUG
            r_debug = val
    if not r_debug:
        return []
    node = mem.u64(r_debug + 8)
    out: list[tuple[int, str]] = []
    seen = set()
    while node and node not in seen and len(out) < MAX_LINK_MAP:
        seen.add(node)
        entry = mem.read(node, 40)
        if entry is None:
            break
        l_addr, l_name, _ld, l_next, _prev = struct.unpack("<5Q", entry)
        name = mem.cstring(l_name, 1024) if l_name else b""
        out.append((l_addr, (name or b"").decode("utf-8", "replace")))
        node = l_next
    return out


def link_map_objects(image: CoreImage, resolver: ObjectResolver) -> ObjectMap:
    core = image.elf if image.elf is not None else ElfFile(image.path)
    exe_base = _exe_base(image)
    if resolver.binary and exe_base is not None:
        # the walk starts from the executable's program headers and PT_DYNAMIC; a core that lacks its
        # read-only pages (qemu-user writes only the writable ones) has them in the binary given
        _binary_backing(image, resolver.binary, exe_base)
    bases: dict[int, str] = {}
    for l_addr, name in link_map(image):
        if name:  # the executable's entry has no name (and l_addr 0 for ET_EXEC): it is found from AT_PHDR
            bases.setdefault(l_addr, name)
    for s in image.symbol_sections:
        bases.setdefault(s.base, "")
    if exe_base is not None:
        bases[exe_base] = bases.get(exe_base) or image.fname or "a.out"
    ordered = sorted(bases)
    objects = []
    for i, base in enumerate(ordered):
        end = _extent(image, base, ordered[i + 1] if i + 1 < len(ordered) else None)
        name = bases[base] or f"object@0x{base:x}"
        obj = LoadedObject(name, base, end, is_main=base == exe_base)
        if obj.is_main:
            resolver.main_path = name
        if resolver(name) is not None or (obj.is_main and resolver.binary):
            _open(obj, image, resolver, base)
            if obj.elf is not None and obj.elf.header.e_type == C.ET_EXEC:
                obj.bias = obj.symbol_bias = 0
        _core_symbols(obj, image, core, base)
        _core_ctf(obj, image, core, base)
        if obj.elf is None and obj.symbols is None:
            obj.bias = obj.symbol_bias = unopened_bias(image, base)
        objects.append(obj)
    image.memory.resolve = resolver
    _file_backing(image, objects)
    return ObjectMap(objects)


def _file_backing(image: CoreImage, objects: list[LoadedObject]) -> None:
    """Each opened object's ``PT_LOAD`` file bytes back its range, for pages the core lacks (Linux text and
    rodata; illumos mappings excluded by the content mask or lost with ``PF_SUNW_FAILURE``)."""
    backings = []
    for o in objects:
        if o.elf is None:
            continue
        for p in o.elf.segments_of_type(C.PT_LOAD):
            if p.p_filesz:
                start = o.bias + p.p_vaddr
                backings.append(FileBacking(start, start + p.p_filesz, p.p_offset, o.path))
    image.memory.add_file_backing(backings)


def _binary_backing(image: CoreImage, path: str, base: int) -> None:
    try:
        elf = ElfFile(path)
        try:
            loads = [p for p in elf.segments_of_type(C.PT_LOAD) if p.p_filesz]
            is_exec = elf.header.e_type == C.ET_EXEC
        finally:
            elf.close()
    except FormatError:
        return  # reported when the object itself is opened
    if not loads:
        return
    bias = 0 if is_exec else base - (min(p.p_vaddr for p in loads) & ~0xFFF)
    image.memory.add_file_backing(
        [FileBacking(bias + p.p_vaddr, bias + p.p_vaddr + p.p_filesz, p.p_offset, path) for p in loads]
    )


def _exe_base(image: CoreImage) -> int | None:
    phdr = image.auxv.get(3)
    if phdr is None:
        return image.symbol_sections[0].base if image.symbol_sections else None
    m = image.mapping_at(phdr)
    return m.start if m is not None else None


def _extent(image: CoreImage, base: int, next_base: int | None) -> int:
    """The end of the mappings that follow ``base`` without a gap, before the next object."""
    end = base
    for m in sorted(image.mappings, key=lambda m: m.start):
        if m.end <= base:
            continue
        if m.start > end or (next_base is not None and m.start >= next_base):
            break
        end = m.end
    return max(end, base + 1)


def _core_symbols(obj: LoadedObject, image: CoreImage, core: ElfFile, base: int) -> None:
    """Prefer the symbols the core itself carries for this object (they are what the process ran)."""
    for s in image.symbol_sections:
        if s.base != base:
            continue
        try:
            table = core.symbols(core.sections[s.index])
            index = SymbolIndex(list(table))
        except (FormatError, IndexError) as exc:
            obj.problems.append(f"{obj.path}: its symbol section in the core is unusable ({exc})")
            continue
        if len(index):
            obj.symbols = index
            obj.symbol_bias = 0 if _is_exec(image, base) else base
            if obj.elf is None:
                obj.bias = obj.symbol_bias
            if obj.elf is None:
                obj.problems.append(
                    f"{os.path.basename(obj.path)}: symbols from the core's section headers only"
                )
            return


def _core_ctf(obj: LoadedObject, image: CoreImage, core: ElfFile, base: int) -> None:
    """The object's ``.SUNW_ctf`` from the core (``core(5)``); a malformed one is a problem line."""
    for s in image.ctf_sections:
        if s.base != base:
            continue
        try:
            obj.ctf = read_core_ctf(core, s)
        except FormatError as exc:
            obj.problems.append(f"{obj.name}: its CTF in the core is unusable: {exc}")
        return


def _is_exec(image: CoreImage, base: int) -> bool:
    head = image.memory.read(base, 18)
    return head is not None and head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 16)[0] == C.ET_EXEC
