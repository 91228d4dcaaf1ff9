"""Planning an edit: every byte to change is computed, and every refusal raised, before anything is written.

Strategy for a string, in this order (``shared/notes/elf-tooling.md`` §5, illumos ``elfedit_dynstr_insert``):

1. reuse an identical string already in ``.dynstr`` (outside the reserve) - nothing is written;
2. on Solaris/illumos objects, write it into the ``DT_SUNW_STRPAD`` reserve and lower STRPAD;
3. shorten an existing string in place, only when a scan of every reference into ``.dynstr`` proves no
   symbol, version entry or other tag shares any of its bytes (linkers tail-merge strings);
4. extend ``.dynstr`` into unowned zero bytes up to the end of its segment (the slack a grow leaves);
5. for files with no reserve (GNU ld, lld, Go), grow: copy ``.dynstr`` plus the new strings into a new
   read-only ``PT_LOAD`` appended to the file. A new dynamic tag with no spare ``DT_NULL`` moves ``.dynamic``
   into a second, writable ``PT_LOAD`` (ld.so writes ``DT_DEBUG``). The program header table moves with
   them so there is room for the new entries; PT_PHDR stays first and describes the moved table.

A file that has a reserve is never grown (elfedit never grows either, and illumos objects have
``.SUNW_*`` consumers we cannot test here): it is refused with the reason instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..elf import constants as C
from ..elf.dynamic import DynamicSection, dynamic
from ..elf.editor import (
    DT_POSFLAG_1,
    StringRef,
    dynstr_section,
    ehdr_phdr_fields,
    layout_problems,
    pack_phdr,
    pack_shdr,
    static_string_refs,
    syminfo_boundto,
    with_section,
    with_segment,
)
from ..elf.reader import ElfFile, Segment
from ..elf.versions import verneed
from ..errors import FormatError, UnsafeEditError
from .ops import Op

# Spare DT_NULL slots left in a relocated .dynamic, like illumos ld's DYNAMIC_EXTRA_ELTS, so later edits of
# the same file need not move it again.
SPARE_DYNAMIC_SLOTS = 10
MAX_GROW_PADDING = 256 << 20
# Zero bytes left after a relocated .dynstr, inside its segment, for later edits (see _Planner._tail_room);
# the same size as illumos ld's DYNSTR_EXTRA_PAD reserve.
GROW_SLACK = 512
ET_EXEC, ET_DYN = 2, 3


@dataclass(frozen=True)
class EntryView:
    """One ``.dynamic`` slot as elfedit prints it: index, tag, value and the string it names."""

    index: int
    tag: int
    value: int
    string: str | None

    @property
    def tag_name(self) -> str:
        return C.DT.get(self.tag, f"0x{self.tag:x}")

    def text(self) -> str:
        extra = ""
        if self.string is not None:
            extra = f"  {self.string}"
        elif self.tag == C.DT_FLAGS_1:
            extra = "  " + " ".join(C.flag_names(self.value, C.DF_1))
        return f"[{self.index}]  {self.tag_name:<15} 0x{self.value:<8x}{extra}".rstrip()


@dataclass
class Plan:
    """Everything a transaction needs: byte patches, appended bytes, and what the result must read back as."""

    path: str
    size_before: int
    patches: list[tuple[int, bytes]] = field(default_factory=list)
    append: bytes = b""
    before: list[EntryView] = field(default_factory=list)
    after: list[EntryView] = field(default_factory=list)
    strategies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected_entries: list[tuple[int, int]] = field(default_factory=list)
    expected_strings: list[str | None] = field(default_factory=list)
    expected_verneed: list[str] = field(default_factory=list)
    dynsym_names: list[str] = field(default_factory=list)
    layout_before: list[str] = field(default_factory=list)
    bytes_changed: int = 0
    grew: bool = False
    # The file the plan was computed from: (st_dev, st_ino, st_size, st_mtime_ns) after following symlinks.
    # A write refuses when it no longer matches, so an edit is never applied to bytes it was not planned on.
    identity: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def changed(self) -> bool:
        return bool(self.patches or self.append)

    @property
    def size_after(self) -> int:
        return self.size_before + len(self.append)

    def changed_entries(self) -> list[tuple[EntryView | None, EntryView | None]]:
        """Slots whose tag or value differ, paired before/after (None: past the terminating DT_NULL)."""
        out = []
        for i in range(max(len(self.before), len(self.after))):
            b = self.before[i] if i < len(self.before) else None
            a = self.after[i] if i < len(self.after) else None
            # Views end at the terminating DT_NULL; a slot past it is a DT_NULL too, so that is no change.
            key_b = (b.tag, b.value) if b else (C.DT_NULL, 0)
            key_a = (a.tag, a.value) if a else (C.DT_NULL, 0)
            if key_b != key_a:
                out.append((b, a))
        return out


def _align(value: int, align: int) -> int:
    return (value + align - 1) // align * align


class _Planner:
    def __init__(self, elf: ElfFile, no_grow: bool) -> None:
        self.elf = elf
        self.path = elf.path
        self.no_grow = no_grow
        dyn = dynamic(elf)
        if not dyn.present:
            raise UnsafeEditError(self.path, "no dynamic section (static executable or relocatable object)")
        if dyn.strtab_size == 0:
            raise UnsafeEditError(self.path, "no dynamic string table (DT_STRTAB/.dynstr)")
        self.dyn: DynamicSection = dyn
        self.entries: list[list[int]] = [[e.tag, e.value] for e in dyn.entries if e.tag != C.DT_NULL]
        self.capacity = dyn.slots
        self.strtab = bytearray(elf.read(dyn.strtab_offset, dyn.strtab_size, ".dynstr"))
        self.orig_strtab = bytes(self.strtab)
        # elfedit uses the reserve only on Solaris-ABI objects (elfedit_test_osabi); so do we.
        self.has_reserve = elf.is_solaris and dyn.strpad is not None
        self.strpad = (dyn.strpad or 0) if self.has_reserve else 0
        if self.strpad > len(self.strtab) or any(self.strtab[len(self.strtab) - self.strpad :]):
            raise UnsafeEditError(
                self.path,
                f"DT_SUNW_STRPAD {self.strpad} does not describe a NUL reserve at the "
                f"end of .dynstr ({len(self.strtab)} bytes)",
            )
        self.grown = False
        self.move_dynamic = False
        self.tail_room = 0 if self.has_reserve else self._tail_room()
        self.tail_used = 0
        self.static_refs, self.blind = static_string_refs(elf, dyn.strtab_offset)
        self.needs = verneed(elf)
        self.vn_file = {n.file_offset: n.file_value for n in self.needs}
        self.syminfo = syminfo_boundto(elf)
        self.strategies: list[str] = []
        self.notes: list[str] = []
        self.scrubbed: list[tuple[int, int]] = []

    # -- strings ---------------------------------------------------------------------------------------
    def string_at(self, off: int) -> str:
        end = self.strtab.find(b"\0", off)
        if off >= len(self.strtab) or end < 0:
            raise FormatError(self.path, None, f".dynstr offset {off} is outside the string table")
        return self.strtab[off:end].decode("utf-8", "surrogateescape")

    def _sharers(self, off: int, length: int, skip_dyn: set[int], skip_vn: set[int]) -> list[str]:
        """Who else reads any byte of the string at ``off`` (``length`` bytes, NUL excluded)."""
        refs = list(self.static_refs)
        refs += [
            StringRef(v, f"version need file {self.string_at(v)!r}")
            for fo, v in self.vn_file.items()
            if fo not in skip_vn
        ]
        refs += [
            StringRef(v, f"DT_{C.DT.get(t, hex(t))} {self.string_at(v)!r}")
            for i, (t, v) in enumerate(self.entries)
            if t in C.DT_STRING_TAGS and i not in skip_dyn
        ]
        out = list(self.blind)
        for ref in refs:
            if ref.value >= off + length:
                continue
            end = self.strtab.find(b"\0", ref.value)
            if end > off:
                out.append(ref.owner)
        return out

    def place(self, text: str, old: list[int], skip_dyn: set[int], skip_vn: set[int]) -> int:
        """Offset of ``text`` in the (edited) string table, using the first strategy that works."""
        raw = text.encode("utf-8", "surrogateescape") + b"\0"
        limit = len(self.strtab) - self.strpad
        found = self.strtab.find(raw, 0, limit)
        if found >= 0:
            self.strategies.append(f"reuse: {text!r} already in .dynstr at offset 0x{found:x}")
            return found
        if self.has_reserve and len(raw) <= self.strpad:
            pos = len(self.strtab) - self.strpad
            self.strtab[pos : pos + len(raw)] = raw
            self.strpad -= len(raw)
            self.strategies.append(
                f"reserve: {text!r} written at .dynstr offset 0x{pos:x}, "
                f"DT_SUNW_STRPAD {self.strpad + len(raw)} -> {self.strpad}"
            )
            return pos
        shared_reason = ""
        for off in sorted(set(old)):
            cur = self.string_at(off).encode("utf-8", "surrogateescape")
            if len(raw) - 1 > len(cur):
                continue
            sharers = self._sharers(off, len(cur), skip_dyn, skip_vn)
            if sharers:
                shared_reason = (
                    f"the string {cur.decode('utf-8', 'replace')!r} at .dynstr offset 0x{off:x} is "
                    f"shared with {sharers[0]}"
                    + (f" and {len(sharers) - 1} more" if len(sharers) > 1 else "")
                )
                continue
            self.strtab[off : off + len(cur)] = raw[:-1] + bytes(len(cur) - len(raw) + 1)
            self.strategies.append(
                f"in place: {text!r} overwrites the unshared {cur.decode('utf-8', 'replace')!r} "
                f"at .dynstr offset 0x{off:x} ({len(cur) - len(raw) + 1} bytes blanked)"
            )
            return off
        if not self.grown and len(raw) <= self.tail_room - self.tail_used:
            pos = len(self.strtab)
            self.strtab += raw
            self.tail_used += len(raw)
            self.strategies.append(
                f"tail: {text!r} written into unused zero bytes after .dynstr (offset 0x{pos:x}); "
                f"DT_STRSZ grows by {len(raw)}"
            )
            return pos
        if self.has_reserve:
            raise UnsafeEditError(
                self.path,
                f"no room: {_short(text)!r} needs {len(raw)} bytes and the DT_SUNW_STRPAD "
                f"reserve has {self.strpad} left; files with a reserve are never "
                f"grown (relink with a longer -R placeholder)"
                + (f"; in place is unsafe: {shared_reason}" if shared_reason else ""),
            )
        if self.no_grow:
            if shared_reason:
                why = shared_reason
            elif old:
                why = f"{text!r} is not in .dynstr and longer than the string it replaces"
            else:
                why = f"{text!r} is not in .dynstr"
            raise UnsafeEditError(self.path, f"no room without growing the file (--no-grow): {why}")
        pos = len(self.strtab)
        self.strtab += raw
        self.grown = True
        self.strategies.append(
            f"grow: {text!r} appended to a relocated .dynstr at offset 0x{pos:x}"
            + (f" (in place refused: {shared_reason})" if shared_reason else "")
        )
        return pos

    def _tail_room(self) -> int:
        """Zero bytes from the end of ``.dynstr`` to the end of its PT_LOAD's file image, owned by nothing.

        A grown file leaves such room (``GROW_SLACK``) so a later edit extends ``.dynstr`` in place instead
        of adding yet another segment. In ordinary linker output another section follows: 0.
        """
        elf, dyn = self.elf, self.dyn
        dstr = dynstr_section(elf, dyn.strtab_offset)
        if dstr is None or dstr.sh_size != dyn.strtab_size or not self.indices(C.DT_STRSZ):
            return 0
        end = dstr.sh_offset + dstr.sh_size
        load = next(
            (
                p
                for p in elf.segments
                if p.p_type == C.PT_LOAD and p.p_offset <= dstr.sh_offset and end <= p.p_offset + p.p_filesz
            ),
            None,
        )
        if load is None:
            return 0
        limit = load.p_offset + load.p_filesz
        h = elf.header
        starts = [s.sh_offset for s in elf.sections if s.index != dstr.index and s.file_size]
        starts += [p.p_offset for p in elf.segments if p.p_type != C.PT_LOAD and p.p_filesz]
        starts += [h.e_phoff, h.e_shoff]
        for s in elf.sections:
            if s.index != dstr.index and s.file_size and s.sh_offset < end < s.sh_offset + s.sh_size:
                return 0  # something overlaps the end of .dynstr
        # Only zero bytes that run to the end of the segment's file image count: padding between two sections
        # could still be read by something no header describes, the end of a segment we wrote ourselves not.
        if min([limit, *(x for x in starts if x >= end)]) != limit or limit <= end:
            return 0
        return limit - end if not any(elf.buf[end:limit]) else 0

    # -- dynamic entries -------------------------------------------------------------------------------
    def indices(self, *tags: int) -> list[int]:
        return [i for i, (t, _v) in enumerate(self.entries) if t in tags]

    def strings_of(self, tag: int) -> list[str]:
        return [self.string_at(self.entries[i][1]) for i in self.indices(tag)]

    def add_entry(self, tag: int, value: int) -> None:
        if len(self.entries) + 2 > self.capacity:  # the new entry plus the terminating DT_NULL
            if self.has_reserve:
                raise UnsafeEditError(
                    self.path,
                    f"no spare DT_NULL slot in .dynamic for DT_{C.DT.get(tag, tag)} "
                    f"({self.capacity} slots, {len(self.entries) + 1} used); "
                    f"files with a reserve are never grown",
                )
            if self.no_grow:
                raise UnsafeEditError(
                    self.path,
                    f"no spare DT_NULL slot for DT_{C.DT.get(tag, tag)} and "
                    f"--no-grow forbids moving .dynamic",
                )
            if not self.move_dynamic:
                self.strategies.append(
                    "grow: no spare DT_NULL slot, .dynamic moves to a new writable PT_LOAD"
                )
                self.notes.append(
                    "the _DYNAMIC symbol and GOT[0] keep the old .dynamic address (ld.so reads PT_DYNAMIC)"
                )
            self.move_dynamic = True
        self.entries.append([tag, value])

    def remove_entry(self, i: int) -> None:
        tag = self.entries[i][0]
        name = C.DT.get(tag, hex(tag))
        if i > 0 and self.entries[i - 1][0] == DT_POSFLAG_1:
            raise UnsafeEditError(
                self.path, f"DT_{name} [{i}] is qualified by the DT_POSFLAG_1 before it; delete refused"
            )
        bound = sorted({b for b in self.syminfo if b == i or i < b < len(self.entries)})
        if bound:
            raise UnsafeEditError(
                self.path,
                f".SUNW_syminfo binds symbols to .dynamic entry [{bound[0]}] by index;"
                f" deleting DT_{name} [{i}] would shift or orphan it",
            )
        del self.entries[i]

    def set_string(self, tags: tuple[int, ...], add_tag: int | None, text: str) -> None:
        idx = self.indices(*tags)
        if idx and all(self.string_at(self.entries[i][1]) == text for i in idx):
            return
        off = self.place(text, [self.entries[i][1] for i in idx], set(idx), set())
        for i in idx:
            self.entries[i][1] = off
        if not idx and add_tag is not None:
            self.add_entry(add_tag, off)

    def delete(self, tag: int) -> None:
        for i in reversed(self.indices(tag)):
            self.remove_entry(i)

    # -- operations ------------------------------------------------------------------------------------
    def apply(self, ops: list[Op]) -> None:
        prefixes = [op.value for op in ops if op.kind == "drop-runpath-prefix"]
        rest = ops
        if prefixes:
            runpaths = [op.value for op in ops if op.kind == "runpath"]
            self._drop_prefixes(prefixes, runpaths[-1] if runpaths else None)
            rest = [op for op in ops if op.kind not in ("drop-runpath-prefix", "runpath")]
        for op in rest:
            self._apply(op)

    def _drop_prefixes(self, prefixes: list[str], replacement: str | None) -> None:
        """Policy: remove path components under any prefix; put ``replacement`` where the first one was."""
        for tag in (C.DT_RPATH, C.DT_RUNPATH):
            for current in dict.fromkeys(self.strings_of(tag)):
                comps = current.split(":")
                kept: list[str] = []
                first = -1
                for comp in comps:
                    if any(comp == p.rstrip("/") or comp.startswith(p.rstrip("/") + "/") for p in prefixes):
                        first = len(kept) if first < 0 else first
                    else:
                        kept.append(comp)
                if first < 0:
                    self.notes.append(
                        f"DT_{C.DT[tag]} {current!r} has no component under {', '.join(prefixes)}: kept"
                    )
                    continue
                if replacement:
                    kept[first:first] = [c for c in replacement.split(":") if c not in kept]
                new = ":".join(dict.fromkeys(kept))
                if new:
                    self.set_string((tag,), None, new)
                else:
                    self.delete(tag)

    def _apply(self, op: Op) -> None:
        k = op.kind
        if k == "runpath":
            present = self.indices(C.DT_RPATH, C.DT_RUNPATH)
            self.set_string((C.DT_RPATH, C.DT_RUNPATH), None if present else C.DT_RUNPATH, op.value)
        elif k == "set-runpath":
            self.set_string((C.DT_RUNPATH,), C.DT_RUNPATH, op.value)
        elif k == "set-rpath":
            self.set_string((C.DT_RPATH,), C.DT_RPATH, op.value)
        elif k == "delete-runpath":
            self.delete(C.DT_RUNPATH)
        elif k == "delete-rpath":
            self.delete(C.DT_RPATH)
        elif k == "set-soname":
            self.set_string((C.DT_SONAME,), C.DT_SONAME, op.value)
        elif k == "add-needed":
            if op.value in self.strings_of(C.DT_NEEDED):
                self.notes.append(f"DT_NEEDED {op.value!r} already present")
                return
            off = self.place(op.value, [], set(), set())
            self.add_entry(C.DT_NEEDED, off)
        elif k == "remove-needed":
            self._remove_needed(op.value)
        elif k == "replace-needed":
            self._replace_needed(op.value, op.new)
        elif k in ("set-flags-1", "clear-flags-1"):
            bits = int(op.value, 0)
            idx = self.indices(C.DT_FLAGS_1)
            if idx:
                for i in idx:
                    v = self.entries[i][1]
                    self.entries[i][1] = v | bits if k == "set-flags-1" else v & ~bits
            elif k == "set-flags-1":
                self.add_entry(C.DT_FLAGS_1, bits)
        else:  # pragma: no cover - ops.py and this dispatcher are kept in step by the type checker's Literal
            raise AssertionError(k)

    def _vn_offsets(self, name: str) -> list[int]:
        return [fo for fo, v in self.vn_file.items() if self.string_at(v) == name]

    def _remove_needed(self, name: str) -> None:
        idx = [i for i in self.indices(C.DT_NEEDED) if self.string_at(self.entries[i][1]) == name]
        if not idx:
            self.notes.append(f"DT_NEEDED {name!r} not present")
            return
        if self._vn_offsets(name):
            raise UnsafeEditError(
                self.path,
                f"symbols are bound to versions of {name!r} (version need entry); "
                f"removing it would make the runtime linker fail version checks",
            )
        for i in reversed(idx):
            self.remove_entry(i)

    def _replace_needed(self, old: str, new: str) -> None:
        idx = [i for i in self.indices(C.DT_NEEDED) if self.string_at(self.entries[i][1]) == old]
        if not idx:
            self.notes.append(f"DT_NEEDED {old!r} not present")
            return
        if new == old:
            return
        if new in self.strings_of(C.DT_NEEDED):
            raise UnsafeEditError(
                self.path, f"DT_NEEDED {new!r} is already present; replacing {old!r} would duplicate it"
            )
        vns = self._vn_offsets(old)
        olds = [self.entries[i][1] for i in idx] + [self.vn_file[fo] for fo in vns]
        off = self.place(new, olds, set(idx), set(vns))
        for i in idx:
            self.entries[i][1] = off
        for fo in vns:
            self.vn_file[fo] = off
        if vns:
            self.strategies.append(f"version need file {old!r} -> {new!r} ({len(vns)} entry)")

    # -- result ----------------------------------------------------------------------------------------
    def _dirty(self) -> bool:
        orig = [[e.tag, e.value] for e in self.dyn.entries if e.tag != C.DT_NULL]
        return (
            self.entries != orig
            or self.strtab != self.orig_strtab
            or any(self.vn_file[n.file_offset] != n.file_value for n in self.needs)
        )

    def scrub(self) -> None:
        """Blank strings this edit stopped using, when a full reference scan shows nothing else reads them.

        Removed strings otherwise linger (patchelf #453), and a path such as ``/opt/local`` left in the file
        still shows up when a package is scanned for build paths. The reserve's bytes are never scrubbed.
        """
        before = {e.value for e in self.dyn.entries if e.tag in C.DT_STRING_TAGS}
        before |= {n.file_value for n in self.needs}
        now = {v for t, v in self.entries if t in C.DT_STRING_TAGS} | set(self.vn_file.values())
        reserve_start = len(self.orig_strtab) - ((self.dyn.strpad or 0) if self.has_reserve else 0)
        for off in sorted(before - now):
            text = self.string_at(off)
            raw = text.encode("utf-8", "surrogateescape")
            if not raw or off + len(raw) > reserve_start or self._sharers(off, len(raw), set(), set()):
                if raw:
                    self.notes.append(f"not scrubbed: {_short(text)!r} is still referenced")
                continue
            self.strtab[off : off + len(raw)] = bytes(len(raw))
            self.scrubbed.append((off, len(raw)))
            self.strategies.append(f"scrub: blanked the unused {_short(text)!r} at .dynstr offset 0x{off:x}")

    def _for_illumos(self) -> bool:
        """Solaris-ABI, or built for illumos by another linker (lld, Go): ld.so.1 interpreter or libc.so.1.

        The reserve rule keeps elfedit's narrower OSABI test; the DF_1_EDITED marker, which only informs
        auditors, goes on every object meant for illumos.
        """
        interp = self.elf.interpreter or ""
        return self.elf.is_solaris or interp.endswith("/ld.so.1") or "libc.so.1" in self.dyn.needed

    def mark_edited(self) -> None:
        """elfedit records ``DF_1_EDITED`` on Solaris/illumos objects it changed; auditors look for it.

        It takes a spare DT_NULL slot when there is no DT_FLAGS_1 yet, but never makes ``.dynamic`` move by
        itself: without a slot (and no move already planned) the marker is skipped with a note.
        """
        if not self._for_illumos() or not self._dirty():
            return
        idx = self.indices(C.DT_FLAGS_1)
        if idx:
            for i in idx:
                self.entries[i][1] |= C.DF_1_EDITED
        elif len(self.entries) + 2 <= self.capacity or self.move_dynamic:
            self.entries.append([C.DT_FLAGS_1, C.DF_1_EDITED])
        else:
            self.notes.append("DF_1_EDITED not recorded: no spare DT_NULL slot for a DT_FLAGS_1 entry")

    def build(self) -> Plan:
        elf, dyn = self.elf, self.dyn
        plan = Plan(elf.path, elf.size, strategies=self.strategies, notes=self.notes)
        plan.before = [EntryView(e.index, e.tag, e.value, e.string) for e in dyn.entries]
        plan.layout_before = layout_problems(elf)
        plan.dynsym_names = list(elf.dynsym.names)
        if not self._dirty():
            plan.after = plan.before
            plan.expected_entries = [(e.tag, e.value) for e in dyn.entries if e.tag != C.DT_NULL]
            return plan
        if self.has_reserve:
            for i in self.indices(C.DT_SUNW_STRPAD):
                self.entries[i][1] = self.strpad
        if any(t == C.DT_CHECKSUM for t, _v in self.entries):
            self.notes.append(
                "DT_CHECKSUM is now stale (elfedit leaves it too; `elfedit -e dyn:checksum` "
                "recomputes it on illumos)"
            )
        patches: list[tuple[int, bytes]] = []
        append = bytearray()
        dyn_off = dyn.offset
        capacity = self.capacity
        if self.grown or self.move_dynamic:
            dyn_off, capacity = self._relocate(patches, append)
            plan.grew = True
            if self.grown:  # the old table stays in the file, unreferenced: scrub the same bytes there too
                patches.extend((dyn.strtab_offset + off, bytes(n)) for off, n in self.scrubbed)
        else:
            orig = self.orig_strtab + bytes(len(self.strtab) - len(self.orig_strtab))  # the tail was zero
            for i, (a, b) in enumerate(zip(orig, self.strtab, strict=True)):
                if a != b:
                    patches.append((dyn.strtab_offset + i, bytes([b])))
            if self.tail_used:
                for i in self.indices(C.DT_STRSZ):
                    self.entries[i][1] = len(self.strtab)
                dstr = dynstr_section(elf, dyn.strtab_offset)
                if dstr is not None:
                    patches.append(
                        (dstr.header_offset, pack_shdr(elf, with_section(dstr, sh_size=len(self.strtab))))
                    )
        # .dynamic: every slot, DT_NULL-filled up to its capacity.
        fmt = elf.dyn_struct
        slots = [fmt.pack(t, v) for t, v in self.entries] + [fmt.pack(0, 0)] * (capacity - len(self.entries))
        if dyn_off == dyn.offset:
            for i, raw in enumerate(slots):
                at = dyn_off + i * fmt.size
                if bytes(elf.buf[at : at + fmt.size]) != raw:
                    patches.append((at, raw))
        else:
            _put(append, dyn_off - elf.size, b"".join(slots))
        for n in self.needs:
            if self.vn_file[n.file_offset] != n.file_value:
                patches.append((n.file_offset, elf.word.pack(self.vn_file[n.file_offset])))
        plan.patches = _merge(patches)
        plan.append = bytes(append)
        plan.bytes_changed = sum(
            sum(1 for x, y in zip(raw, elf.buf[off : off + len(raw)], strict=True) if x != y)
            for off, raw in plan.patches
        ) + len(plan.append)
        plan.expected_entries = [(t, v) for t, v in self.entries]
        plan.expected_strings = [
            self.string_at(v) if t in C.DT_STRING_TAGS else None for t, v in self.entries
        ]
        plan.expected_verneed = [self.string_at(self.vn_file[n.file_offset]) for n in self.needs]
        plan.after = [
            EntryView(i, t, v, s)
            for i, ((t, v), s) in enumerate(zip(self.entries, plan.expected_strings, strict=True))
        ]
        plan.after.append(EntryView(len(self.entries), C.DT_NULL, 0, None))
        return plan

    def _relocate(self, patches: list[tuple[int, bytes]], append: bytearray) -> tuple[int, int]:
        """Append a read-only PT_LOAD (program headers + .dynstr) and, if needed, a writable one (.dynamic).

        Placement keeps ``p_vaddr - p_offset`` of the new read-only segment equal to the lowest PT_LOAD's, so
        even kernels older than Linux 5.18, which compute AT_PHDR as that segment's base plus e_phoff, hand
        ld.so the right program header address. Returns the new .dynamic offset and slot count.
        """
        elf, dyn, path = self.elf, self.dyn, self.path
        h = elf.header
        if h.e_type not in (ET_EXEC, ET_DYN):
            raise UnsafeEditError(
                path,
                f"cannot grow a {elf.type_name} file: only executables and shared "
                f"objects have a layout to extend",
            )
        segs = elf.segments
        loads = [p for p in segs if p.p_type == C.PT_LOAD]
        if not loads:
            raise UnsafeEditError(path, "cannot grow: no PT_LOAD segments")
        if layout_problems(elf):
            raise UnsafeEditError(
                path, f"cannot grow a file whose layout is already unusual: {layout_problems(elf)[0]}"
            )
        if not any(p.p_type == C.PT_DYNAMIC for p in segs):
            raise UnsafeEditError(path, "cannot grow: no PT_DYNAMIC program header")
        if self.grown and not (self.indices(C.DT_STRTAB) and self.indices(C.DT_STRSZ)):
            raise UnsafeEditError(path, "cannot move .dynstr: DT_STRTAB or DT_STRSZ is missing")
        page = max([0x1000, *(p.p_align for p in loads)])
        lowest = min(loads, key=lambda p: p.p_vaddr)
        delta = lowest.p_vaddr - lowest.p_offset
        if delta % page:
            raise UnsafeEditError(
                path, f"cannot grow: the first PT_LOAD is not page-congruent (page 0x{page:x})"
            )
        top = _align(max(p.p_vaddr + p.p_memsz for p in loads), page)
        # binutils strip/objcopy re-pack this segment later and warn "lma adjusted" whatever its alignment;
        # their output still runs (tested), so the segment starts right after the file's end.
        off_r = _align(elf.size, 16)
        has_interp = any(p.p_type == C.PT_INTERP for p in segs)
        if has_interp:
            # A program: the kernel computes AT_PHDR, so keep the lowest PT_LOAD's address-offset delta.
            if off_r + delta < top:
                off_r = top - delta
            vaddr_r = off_r + delta
        else:
            # A shared object: ld.so finds the headers through the PT_LOAD covering e_phoff, so any address
            # congruent to the offset works, and no padding is needed.
            vaddr_r = top + off_r % page
        if off_r - elf.size > MAX_GROW_PADDING:
            raise UnsafeEditError(
                path,
                f"cannot grow: the new segment would need {off_r - elf.size} bytes of "
                f"padding to stay above the address space in use",
            )
        if top >= (1 << (64 if elf.is64 else 32)) - (1 << 24):
            raise UnsafeEditError(path, "cannot grow: no address space left above the last PT_LOAD")
        new_loads = 1 + int(self.move_dynamic)
        phnum = len(segs) + new_loads
        if phnum >= 0xFFFF:
            raise UnsafeEditError(path, "cannot grow: too many program headers")
        phsize = phnum * h.e_phentsize
        str_off = off_r + phsize if self.grown else dyn.strtab_offset
        end_r = off_r + phsize + (len(self.strtab) + GROW_SLACK if self.grown else 0)
        out_segs: list[Segment] = []
        dyn_off, capacity = dyn.offset, self.capacity
        new_w: Segment | None = None
        if self.move_dynamic:
            capacity = len(self.entries) + 1 + SPARE_DYNAMIC_SLOTS
            dyn_off = _align(end_r, 16)
            dyn_size = capacity * dyn.entsize
            vaddr_w = _align(vaddr_r + (end_r - off_r), page) + dyn_off % page
            new_w = Segment(
                0, C.PT_LOAD, C.PF_R | C.PF_W, dyn_off, vaddr_w, vaddr_w, dyn_size, dyn_size, page, 0
            )
        new_r = Segment(0, C.PT_LOAD, C.PF_R, off_r, vaddr_r, vaddr_r, end_r - off_r, end_r - off_r, page, 0)
        last_load = max(p.index for p in loads)
        for p in segs:
            if p.p_type == C.PT_PHDR:
                p = with_segment(
                    p, p_offset=off_r, p_vaddr=vaddr_r, p_paddr=vaddr_r, p_filesz=phsize, p_memsz=phsize
                )
            elif p.p_type == C.PT_DYNAMIC and new_w is not None:
                p = with_segment(
                    p,
                    p_offset=new_w.p_offset,
                    p_vaddr=new_w.p_vaddr,
                    p_paddr=new_w.p_vaddr,
                    p_filesz=new_w.p_filesz,
                    p_memsz=new_w.p_filesz,
                    p_flags=C.PF_R | C.PF_W,
                )
            out_segs.append(p)
            if p.index == last_load:
                out_segs.append(new_r)
                if new_w is not None:
                    out_segs.append(new_w)
        table = b"".join(
            pack_phdr(elf, p) + bytes(h.e_phentsize - (56 if elf.is64 else 32)) for p in out_segs
        )
        start = elf.size
        _put(append, off_r - start, table)
        if self.grown:
            _put(append, str_off - start, bytes(self.strtab))
            _put(append, end_r - start, b"")  # the zero slack after it is part of the segment
            for i in self.indices(C.DT_STRTAB):
                self.entries[i][1] = vaddr_r + phsize
            for i in self.indices(C.DT_STRSZ):
                self.entries[i][1] = len(self.strtab)
        if new_w is not None:
            _put(append, dyn_off - start, bytes(new_w.p_filesz))
        patches.extend(ehdr_phdr_fields(elf, off_r, phnum))
        dstr = dynstr_section(elf, dyn.strtab_offset)
        if self.grown and dstr is not None:
            patches.append(
                (
                    dstr.header_offset,
                    pack_shdr(
                        elf,
                        with_section(
                            dstr, sh_offset=str_off, sh_addr=vaddr_r + phsize, sh_size=len(self.strtab)
                        ),
                    ),
                )
            )
        if new_w is not None and dyn.section is not None:
            patches.append(
                (
                    dyn.section.header_offset,
                    pack_shdr(
                        elf,
                        with_section(
                            dyn.section, sh_offset=dyn_off, sh_addr=new_w.p_vaddr, sh_size=new_w.p_filesz
                        ),
                    ),
                )
            )
        interp = elf.interpreter or ""
        if elf.is_solaris or interp.endswith("ld.so.1"):
            self.notes.append(
                "grown layout: tests run such files under Linux ld.so only; not yet run under illumos ld.so.1"
            )
        self.strategies.append(
            f"layout: new R PT_LOAD at offset 0x{off_r:x} / 0x{vaddr_r:x} holds {phnum} program headers"
            + (f" and .dynstr ({len(self.strtab)} bytes)" if self.grown else "")
            + (
                f"; new RW PT_LOAD at 0x{dyn_off:x} / 0x{new_w.p_vaddr:x} holds .dynamic ({capacity} slots)"
                if new_w is not None
                else ""
            )
        )
        return dyn_off, capacity


def _short(text: str, limit: int = 60) -> str:
    """Strings in one-line messages stay readable even when a user passes a 600-byte path."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _put(buf: bytearray, at: int, data: bytes) -> None:
    """Write ``data`` at ``at`` in ``buf``, zero-filling any gap (slice assignment past the end would not)."""
    if len(buf) < at:
        buf.extend(bytes(at - len(buf)))
    buf[at : at + len(data)] = data


def _merge(patches: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Adjacent single-byte patches into runs, sorted, refusing overlaps (they would mean a planner bug)."""
    out: list[tuple[int, bytes]] = []
    for off, raw in sorted(patches):
        if out and out[-1][0] + len(out[-1][1]) > off:
            raise AssertionError(f"overlapping patches at 0x{off:x}")
        if out and out[-1][0] + len(out[-1][1]) == off:
            out[-1] = (out[-1][0], out[-1][1] + raw)
        else:
            out.append((off, raw))
    return out


def plan_edits(path: str, ops: list[Op], *, no_grow: bool = False, scrub: bool = False) -> Plan:
    """Plan ``ops`` for the file at ``path``; raises ``UnsafeEditError``/``FormatError``, writes nothing."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
    with ElfFile(path) as elf:
        planner = _Planner(elf, no_grow)
        planner.apply(ops)
        if scrub:
            planner.scrub()
        planner.mark_edited()
        plan = planner.build()
    plan.identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return plan
