"""Raw system calls: instructions that enter the kernel directly, and constant calls to libc ``syscall()``.

On illumos only libc symbols are a stable ABI; a raw ``syscall`` with a hard-coded number breaks when numbers
move, and some numbers mean something else on Solaris: rand 0.5 issued getrandom as 143 (Solaris), which
illumos answers with ENOSYS and SIGSYS (rust-random/rand#637, RFD 0161). Detection is the hybrid measured in
``elf-tooling.md`` §1: a byte scan finds candidates, then the containing function is decoded from its start
to confirm an instruction really begins there and to read the number from the preceding constant load.
"""

from __future__ import annotations

import re
import struct
from bisect import bisect_right
from collections import defaultdict
from typing import Any

from ..elf import constants as C
from ..elf.eh_frame import eh_frame
from ..elf.relocations import R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, relocations
from . import disasm
from .context import Context, Function, display
from .model import Emitter
from .syscall_table import ILLUMOS, ILLUMOS_ONLY, SOLARIS_DIFFERENT, UNASSIGNED

_KIND = {
    b"\x0f\x05": "syscall",
    b"\x0f\x34": "sysenter",
    b"\xcd\x91": "int 0x91",
    b"\xcd\xd2": "int 0xd2",
    b"\xcd\x80": "int 0x80",
}
_SYSCALL_FUNCS = frozenset({"syscall", "__syscall", "_syscall"})
SWEEP_LIMIT = 32 << 20  # bytes of symbol-less text swept linearly (about 2 s per 32 MiB)
WINDOW = 96  # bytes decoded before a hit, at least: the number load sits just before the trap


def describe(number: int | None, os_name: str | None = None) -> tuple[str, bool]:
    """Human meaning of an illumos syscall number and whether it is a Solaris/illumos trap.

    In a Linux binary the number is Linux's; the illumos meaning is still given, since that is what the
    kernel would do with it if the code ran unchanged (lx aside).
    """
    if number is None:
        return "number not a constant in straight-line code", False
    if os_name in ("linux", "freebsd"):
        text, bad = describe(number)
        return f"{number} ({os_name} numbering; on illumos: {text.removeprefix(f'{number} ')})", bad
    if number in SOLARIS_DIFFERENT:
        sol = SOLARIS_DIFFERENT[number]
        return (
            f"{number} is {sol} on Solaris but unassigned on illumos (ENOSYS + SIGSYS kills the "
            f"process; illumos {sol} is {_illumos_number(sol)})"
        ), True
    if number in UNASSIGNED:
        return f"{number} is unassigned on illumos (formerly {UNASSIGNED[number]}; ENOSYS + SIGSYS)", True
    if number in ILLUMOS:
        name, note = ILLUMOS[number]
        text = f"{number} = {name} on illumos"
        if number in ILLUMOS_ONLY:
            text += " (illumos-only; means something else on Solaris)"
        elif note:
            text += f" ({note})"
        return text, False
    return f"{number} is not in the illumos table", True


def _illumos_number(name: str) -> str:
    for n, (nm, _) in ILLUMOS.items():
        if nm == name:
            return str(n)
    return "absent"


def _containing(funcs: list[Function], starts: list[int], addr: int) -> Function | None:
    i = bisect_right(starts, addr) - 1
    if i >= 0 and funcs[i].addr <= addr < funcs[i].addr + funcs[i].size:
        return funcs[i]
    return None


_GOT_CALL = re.compile(rb"\xff[\x15\x25]")  # call/jmp *disp(%rip): calls and tail calls
_I32 = struct.Struct("<i")
_SYSCALL_BYTES = re.compile(rb"\x0f[\x05\x34]")
_TRAP_BYTES = re.compile(rb"\xcd[\x80\x91\xd2]")


def _byte_hits(ctx: Context) -> list[tuple[int, str]]:
    """Every candidate (address, instruction) in executable sections.

    One regex per leading byte: ``re`` scans for a single literal prefix at memchr speed, which measured
    0.10 s on librustc_driver's 97 MB of text against 0.45 s for five ``find`` loops.
    """
    hits: list[tuple[int, str]] = []
    for pat in (_SYSCALL_BYTES, _TRAP_BYTES):
        hits.extend((addr, _KIND[m.group()]) for addr, m in ctx.scan(pat, overlap=2))
    hits.sort()
    return hits


def _locate(ctx: Context, fn: Function, addr: int, reg: str, bitness: int) -> disasm.Located | None:
    """Decode from the nearest known instruction boundary at least ``WINDOW`` bytes before ``addr``.

    CFA row locations are instruction boundaries (the compiler advances the location after an
    instruction), so starting there is exact while sparing the decode of a whole 100 KiB function.
    """
    begin = fn.addr
    eh = eh_frame(ctx.elf)
    fde = eh.fde_for(addr) if eh is not None else None
    if fde is not None and fde.pc_begin >= fn.addr:
        for row in fde.rows():
            if row.loc <= addr - WINDOW and row.loc > begin:
                begin = row.loc
    end = min(fn.addr + fn.size, addr + 16)
    return disasm.locate(ctx.bytes_at(begin, end - begin), begin, addr, reg, bitness)


def _got_slots(ctx: Context) -> set[int]:
    """GOT addresses the dynamic linker fills with libc ``syscall`` (GLOB_DAT / JUMP_SLOT relocations)."""
    elf = ctx.elf
    slots: set[int] = set()
    if ctx.machine != C.EM_AMD64 or not elf.is64:
        return slots
    dynsym = elf.dynsym
    wanted = {i for i, n in enumerate(dynsym.names) if n.split("@", 1)[0] in _SYSCALL_FUNCS}
    if not wanted:
        return slots
    for sec in elf.sections_of_type(C.SHT_RELA):
        if sec.sh_link >= len(elf.sections) or elf.sections[sec.sh_link].sh_type != C.SHT_DYNSYM:
            continue
        for rel in relocations(elf, sec):
            if rel.type in (R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT) and rel.sym in wanted:
                slots.add(rel.offset)
    return slots


def _plt_stubs(ctx: Context, slots: set[int]) -> set[int]:
    """Addresses of PLT entries that jump through one of ``slots`` (``jmp *disp(%rip)``, 16-byte entries)."""
    stubs: set[int] = set()
    for sec in ctx.elf.sections:
        if not sec.name.startswith(".plt") or not sec.is_exec or sec.sh_type == C.SHT_NOBITS:
            continue
        data = bytes(ctx.elf.section_data(sec))
        for m in re.finditer(rb"\xff\x25", data):
            pos = m.start()
            if pos + 6 > len(data):
                break
            disp = int.from_bytes(data[pos + 2 : pos + 6], "little", signed=True)
            if sec.sh_addr + pos + 6 + disp in slots:
                stubs.add(sec.sh_addr + (pos // 16) * 16 if sec.sh_entsize in (0, 16) else sec.sh_addr + pos)
    return stubs


def check(ctx: Context, emit: Emitter, os_name: str | None = None) -> dict[str, Any]:
    soname = ctx.dyn.soname or ""
    if soname.startswith("libc.so"):
        return {"skipped": "libc itself makes the system calls"}
    if ctx.machine not in (C.EM_AMD64, C.EM_386):
        return {"skipped": f"no raw-syscall scan for {ctx.elf.machine_name}"}
    if ctx.elf.header.e_type == C.ET_REL:
        return {"skipped": "relocatable object: audit the linked file"}
    bitness = 64 if ctx.elf.is64 else 32
    funcs = ctx.functions
    starts = [f.addr for f in funcs]
    confirmed: list[dict[str, Any]] = []
    dismissed = 0
    unverified: dict[str, list[int]] = defaultdict(list)
    orphans: dict[str, list[tuple[int, str]]] = defaultdict(list)
    skipped: set[str] = set()
    for addr, kind in _byte_hits(ctx):
        fn = _containing(funcs, starts, addr)
        if fn is None:
            sec = ctx.elf.section_at(addr)
            name = sec.name if sec is not None else "?"
            if name.startswith(".bolt.org."):
                skipped.add(name)  # BOLT's preserved original text: never executed
            else:
                orphans[name].append((addr, kind))
            continue
        if not disasm.AVAILABLE:
            unverified[fn.name].append(addr)
            continue
        loc = _locate(ctx, fn, addr, "eax", bitness)
        if loc is None or not loc.confirmed:
            dismissed += 1
            continue
        confirmed.append(
            {"kind": kind, "addr": addr, "function": fn.name, "number": loc.number, "loader": loc.loader}
        )
    for secname, items in orphans.items():
        # No symbol covers these bytes (stripped or Go-built text): sweep the section from its start, once,
        # which is exact (a section starts on an instruction boundary) and cheap below SWEEP_LIMIT.
        sec = ctx.elf.section(secname)
        located = None
        if sec is not None and disasm.AVAILABLE and sec.sh_size <= SWEEP_LIMIT:
            code = bytes(ctx.elf.section_data(sec))
            located = disasm.locate_many(code, sec.sh_addr, [a for a, _ in items], "eax", bitness)
        for addr, kind in items:
            if located is None:
                unverified[f"({secname}, no symbol)"].append(addr)
                continue
            loc = located[addr]
            if not loc.confirmed:
                dismissed += 1
                continue
            confirmed.append(
                {
                    "kind": kind,
                    "addr": addr,
                    "function": f"({secname})",
                    "number": loc.number,
                    "loader": loc.loader,
                }
            )
    # Every site is a finding (no cap): the text renderer groups them, JSON and SARIF keep each one.
    for item in confirmed:
        kind, number = item["kind"], item["number"]
        if kind == "int 0xd2":
            meaning, bad = f"illumos fast trap {number if number is not None else '?'}", False
        elif kind == "int 0x80":
            meaning, bad = "Linux int 0x80 ABI (lx brand only on illumos)", True
        else:
            meaning, bad = describe(number, os_name)
        rule = "syscall-solaris-number" if bad and number is not None else "syscall-raw"
        name = display(item["function"])
        emit.add(
            rule,
            f"raw {kind} in {name}: {meaning}",
            evidence=f"0x{item['addr']:x}: {kind}" + (f" after `{item['loader']}`" if item["loader"] else ""),
            symbol=name,
            address=item["addr"],
            number=number,
            instruction=kind,
        )
    indirect = _indirect(ctx, funcs, starts, bitness, emit, os_name)
    for fname, addrs in unverified.items():
        shown = display(fname)
        emit.add(
            "syscall-unverified",
            f"{len(addrs)} syscall-like byte sequence(s) in {shown} (no decoder to confirm)",
            evidence=", ".join(f"0x{a:x}" for a in addrs),
            symbol=shown,
            address=addrs[0],
        )
    return {
        "decoder": "iced-x86" if disasm.AVAILABLE else None,
        "confirmed": [
            {**{k: v for k, v in c.items() if k != "loader"}, "symbol": display(c["function"])}
            for c in confirmed
        ],
        "dismissed_byte_hits": dismissed,
        "skipped_sections": sorted(skipped),
        "unverified": sum(len(v) for v in unverified.values()),
        "libc_syscall_calls": indirect,
    }


REL_CHUNK = 1 << 16  # bytes per scan step: a rel32's upper half then takes at most 2 values per target


def _rust_runs(ctx: Context) -> tuple[list[int], list[int]]:
    """Address runs covered by consecutive Rust functions (alignment filler between them included), as
    (starts, ends): rustc's x86-64 targets call external functions through the GOT (plt-by-default:
    false), so ``call rel32`` to a PLT stub is looked for in the rest (C, C++, assembly, unknown bytes)."""
    starts: list[int] = []
    ends: list[int] = []
    owners = ctx.owners
    for fn in ctx.functions:
        if owners[fn.addr][0] != "crate":
            continue
        if ends and 0 <= fn.addr - ends[-1] < 64:
            ends[-1] = max(ends[-1], fn.addr + fn.size)
        else:
            starts.append(fn.addr)
            ends.append(fn.addr + fn.size)
    return starts, ends


def _displacement_sites(
    ctx: Context,
    targets: set[int],
    opcodes: tuple[bytes, ...],
    skip: tuple[list[int], list[int]] = ([], []),
) -> list[int]:
    """Every instruction ``opcode rel32`` in the executable sections whose target (the address after the
    instruction plus the signed 32-bit displacement) is one of ``targets``.

    Used for ``call``/``jmp rel32`` (e8/e9) to a PLT stub: walking every e8 byte of 100 MB of text in
    Python costs seconds; instead, within each 64 KiB step the displacement to a target has one or two
    possible upper halves, which ``find`` (memmem over the mapping, no copy) locates; only those
    candidates are checked exactly. Steps wholly inside one of the ``skip`` runs are not searched.
    """
    sites: list[int] = []
    if not targets:
        return sites
    skip_starts, skip_ends = skip
    buf = ctx.elf.buf
    width = len(opcodes[0])
    length = width + 4  # the instruction: opcode then rel32
    lo32, hi32 = -(1 << 31), (1 << 31) - 1
    for sec, _data, start, _end, stop in ctx.windows(overlap=length):
        if sec.name.startswith(".plt"):
            continue
        base, off = sec.sh_addr, sec.sh_offset
        limit = off + sec.sh_size
        for c in range(start, stop, REL_CHUNK):
            c_end = min(c + REL_CHUNK, stop)  # candidate instructions start in [c, c_end)
            k = bisect_right(skip_starts, base + c) - 1
            if k >= 0 and base + c_end + length <= skip_ends[k]:
                continue
            highs: set[bytes] = set()
            for t in targets:
                lo, hi = t - (base + c_end - 1 + length), t - (base + c + length)
                if hi < lo32 or lo > hi32:
                    continue  # out of rel32 reach from this chunk
                for h in range(max(lo, lo32) >> 16, (min(hi, hi32) >> 16) + 1):
                    highs.add((h & 0xFFFF).to_bytes(2, "little"))
            shift = width + 2  # the upper half's offset in the instruction
            stop_at = min(off + c_end + shift + 2, limit)
            for hh in highs:
                q = buf.find(hh, off + c + shift, stop_at)
                while q >= 0:
                    p = q - shift
                    if buf[p : p + width] in opcodes:
                        rel = int.from_bytes(buf[p + width : p + length], "little", signed=True)
                        if base + (p - off) + length + rel in targets:
                            sites.append(base + (p - off))
                    q = buf.find(hh, q + 1, stop_at)
    return sorted(set(sites))


def _got_call_sites(ctx: Context, slots: set[int]) -> list[int]:
    """``call``/``jmp *disp(%rip)`` through one of ``slots``. One regex over the text: measured faster than
    ``_displacement_sites`` here, because GOT slots sit right after the text, where the displacement's
    upper half is a common byte pair."""
    sites: list[int] = []
    if not slots:
        return sites
    unpack = _I32.unpack_from
    for sec, data, start, end, stop in ctx.windows(overlap=6):
        if sec.name.startswith(".plt"):
            continue
        base = sec.sh_addr
        for m in _GOT_CALL.finditer(data, start, end):
            p = m.start()
            if p < stop and p + 6 <= end and base + p + 6 + unpack(data, p + 2)[0] in slots:
                sites.append(base + p)
    return sites


def _indirect(
    ctx: Context, funcs: list[Function], starts: list[int], bitness: int, emit: Emitter, os_name: str | None
) -> int:
    """Calls to libc ``syscall()`` with a constant number: through the PLT (``call``/``jmp rel32``) or the GOT
    (``call``/``jmp *disp(%rip)``); the jump forms are tail calls, which rustc emits for thin wrappers."""
    if not (ctx.imports & _SYSCALL_FUNCS) or bitness != 64:
        return 0
    slots = _got_slots(ctx)
    stubs = _plt_stubs(ctx, slots)
    # A statically bound definition (the file defines syscall) is called directly.
    for f in funcs:
        if f.name in _SYSCALL_FUNCS:
            stubs.add(f.addr)
    # rustc's x86-64 targets call external functions through the GOT (plt-by-default: false); C and C++
    # code calls through the PLT.
    sites = _got_call_sites(ctx, slots)
    sites += _displacement_sites(ctx, stubs, (b"\xe8", b"\xe9"), _rust_runs(ctx) if stubs else ([], []))
    count = 0
    for site in sites:
        owner = _containing(funcs, starts, site)
        if owner is None or owner.name in _SYSCALL_FUNCS:
            continue
        loc = _locate(ctx, owner, site, "edi", bitness)
        if loc is None or not loc.confirmed or loc.number is None:
            continue  # no decoder, a false e8/ff15 hit, or a computed number (not "a constant")
        number = loc.number
        meaning, _bad = describe(number, os_name)
        name = display(owner.name)
        count += 1
        emit.add(
            "syscall-libc-indirect",
            f"libc syscall() called from {name} with constant {meaning}",
            evidence=f"0x{site:x}: call syscall" + (f" after `{loc.loader}`" if loc.loader else ""),
            symbol=name,
            address=site,
            number=number,
        )
    return count
