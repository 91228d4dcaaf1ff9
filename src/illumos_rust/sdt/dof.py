"""DOF (DTrace Object Format) for USDT providers: the writer ``register_probes()`` mirrors, and a reader.

Layouts from illumos ``usr/src/uts/common/sys/dtrace.h`` (shared/notes/observability.md §2.1-§2.2):
``dof_hdr_t`` 64 bytes, ``dof_sec_t`` 32, ``dof_provider_t`` 44 (40 in DOF v1, without ``dofpv_prenoffs``),
``dof_probe_t`` 48. The writer uses the usdt crate's section order, with argument types added: [0] STRTAB,
[1] PRARGS, [2] PROFFS, [3] PRENOFFS, one PROBES section per provider, then one PROVIDER per provider; each
section is padded to its alignment at the end of the previous one, outside ``dofs_size``. The generated
Rust ``register_probes()`` builds the same bytes, so a test can compare the two.

The reader checks every count, index and offset against the buffer before using it and raises
``FormatError`` naming what is wrong, so hostile DOF never raises anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import FormatError

DOF_MAG = b"\x7fDOF"
DOF_MODEL_ILP32, DOF_MODEL_LP64 = 1, 2
DOF_ENCODE_LSB, DOF_ENCODE_MSB = 1, 2
DOF_VERSION_1, DOF_VERSION_2 = 1, 2
DOF_SECF_LOAD = 1
DOF_SECIDX_NONE = 0xFFFFFFFF

# dof_sec_t dofs_type values (sys/dtrace.h DOF_SECT_*).
SECT_NAMES = {
    0: "NONE",
    1: "COMMENTS",
    2: "SOURCE",
    3: "ECBDESC",
    4: "PROBEDESC",
    5: "ACTDESC",
    6: "DIFOHDR",
    7: "DIF",
    8: "STRTAB",
    9: "VARTAB",
    10: "RELTAB",
    11: "TYPTAB",
    12: "URELHDR",
    13: "KRELHDR",
    14: "OPTDESC",
    15: "PROVIDER",
    16: "PROBES",
    17: "PRARGS",
    18: "PROFFS",
    19: "INTTAB",
    20: "UTSNAME",
    21: "XLTAB",
    22: "XLMEMBERS",
    23: "XLIMPORT",
    24: "XLEXPORT",
    25: "PREXPORT",
    26: "PRENOFFS",
}
SECT_STRTAB, SECT_URELHDR, SECT_PROVIDER, SECT_PROBES = 8, 12, 15, 16
SECT_PRARGS, SECT_PROFFS, SECT_PRENOFFS = 17, 18, 26

HDR_SIZE, SEC_SIZE, PROBE_SIZE = 64, 32, 48
PROVIDER_SIZE_V2, PROVIDER_SIZE_V1 = 44, 40
MAX_SECTIONS = 1 << 16

# Stability and dependency classes (sys/dtrace.h DTRACE_STABILITY_*, DTRACE_CLASS_*).
STABILITY = ("Internal", "Private", "Obsolete", "External", "Unstable", "Evolving", "Stable", "Standard")
DEPCLASS = ("Unknown", "CPU", "Platform", "Group", "ISA", "Common")
ATTR_ENTITIES = ("provider", "module", "function", "name", "args")


def encode_attr(text: str) -> int:
    """sys/dtrace.h ``DOF_ATTR(name, data, class)`` = name << 24 | data << 16 | class << 8.

    From the pragma spelling, e.g. ``"Evolving/Evolving/Common"``.
    """
    name, data, cls = text.split("/")
    return STABILITY.index(name) << 24 | STABILITY.index(data) << 16 | DEPCLASS.index(cls) << 8


def decode_attr(value: int) -> str:
    def pick(table: tuple[str, ...], i: int) -> str:
        return table[i] if i < len(table) else str(i)

    return "/".join(
        (
            pick(STABILITY, value >> 24 & 0xFF),
            pick(STABILITY, value >> 16 & 0xFF),
            pick(DEPCLASS, value >> 8 & 0xFF),
        )
    )


@dataclass
class DofProbe:
    name: str
    function: str
    address: int  # dofpr_addr: the function's start (or the lowest site); sites are address + offset
    arg_types: list[str] = field(default_factory=list)  # native types
    offsets: list[int] = field(default_factory=list)
    enabled_offsets: list[int] = field(default_factory=list)
    xarg_types: list[str] | None = None  # translated types; None = same as native
    argmap: list[int] | None = None  # PRARGS entries; None = identity


@dataclass
class DofProvider:
    name: str
    probes: list[DofProbe] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)  # entity -> "name/data/class"


@dataclass
class DofImage:
    providers: list[DofProvider]
    model: int = DOF_MODEL_LP64
    encoding: int = DOF_ENCODE_LSB
    version: int = DOF_VERSION_2
    sections: list[tuple[str, int, int]] = field(default_factory=list)  # (type name, offset, size)
    relocatable: bool = False  # URELHDR present: dofpr_addr is link-time, the loader adds the base


# -- writer ----------------------------------------------------------------------------------------------
def encode(providers: list[DofProvider]) -> bytes:
    """DOF v2, little-endian LP64, in the section order described above (no relocations: addresses are
    absolute, as in the DOF the usdt crate hands to the helper device)."""
    strtab = bytearray(b"\0")
    interned: dict[str, int] = {}

    def intern(s: str) -> int:
        if s not in interned:
            interned[s] = len(strtab)
            strtab.extend(s.encode() + b"\0")
        return interned[s]

    prargs, proffs, prenoffs = bytearray(), bytearray(), bytearray()
    probe_secs: list[bytes] = []
    names: list[int] = []
    probe_struct = struct.Struct("<QIIIIIIBBHIH6x")
    for prov in providers:
        names.append(intern(prov.name))
        sec = bytearray()
        for p in prov.probes:
            func, name = intern(p.function), intern(p.name)
            argv = len(strtab) if p.arg_types else 0
            for t in p.arg_types:
                strtab.extend(t.encode() + b"\0")
            xargv = argv
            xtypes = p.arg_types if p.xarg_types is None else p.xarg_types
            if p.xarg_types is not None and xtypes:
                xargv = len(strtab)
                for t in xtypes:
                    strtab.extend(t.encode() + b"\0")
            argmap = list(range(len(xtypes))) if p.argmap is None else p.argmap
            sec += probe_struct.pack(
                p.address,
                func,
                name,
                argv,
                xargv,
                len(prargs),
                len(proffs) // 4,
                len(p.arg_types),
                len(xtypes),
                len(p.offsets),
                len(prenoffs) // 4,
                len(p.enabled_offsets),
            )
            prargs += bytes(argmap)
            proffs += struct.pack(f"<{len(p.offsets)}I", *p.offsets)
            prenoffs += struct.pack(f"<{len(p.enabled_offsets)}I", *p.enabled_offsets)
        probe_secs.append(bytes(sec))
    if not prargs:
        prargs.append(0)  # as usdt: an empty PRARGS would be a zero-sized section
    sections: list[tuple[int, int, int, bytes]] = [
        (SECT_STRTAB, 1, 0, bytes(strtab)),
        (SECT_PRARGS, 1, 1, bytes(prargs)),
        (SECT_PROFFS, 4, 4, bytes(proffs)),
        (SECT_PRENOFFS, 4, 4, bytes(prenoffs)),
    ]
    sections += [(SECT_PROBES, 8, PROBE_SIZE, s) for s in probe_secs]
    for i, (prov, name_idx) in enumerate(zip(providers, names, strict=True)):
        attrs = [encode_attr(prov.attributes[e]) if e in prov.attributes else 0 for e in ATTR_ENTITIES]
        sections.append((SECT_PROVIDER, 4, 0, struct.pack("<11I", 0, 4 + i, 1, 2, name_idx, *attrs, 3)))
    offset = HDR_SIZE + SEC_SIZE * len(sections)
    headers, body = bytearray(), bytearray()
    for kind, align, entsize, data in sections:
        pad = -offset % align
        body += bytes(pad)
        offset += pad
        headers += struct.pack("<IIIIQQ", kind, align, DOF_SECF_LOAD, entsize, offset, len(data))
        body += data
        offset += len(data)
    ident = bytes([0x7F, 0x44, 0x4F, 0x46, DOF_MODEL_LP64, DOF_ENCODE_LSB, DOF_VERSION_2, 2, 8, 8]) + bytes(6)
    header = ident + struct.pack(
        "<IIIIQQQQ", 0, HDR_SIZE, SEC_SIZE, len(sections), HDR_SIZE, offset, offset, 0
    )
    return header + bytes(headers) + bytes(body)


# -- reader ----------------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, buf: bytes | memoryview, path: str, base: int) -> None:
        self.buf = buf
        self.path = path
        self.base = base  # file offset of the DOF inside its container, for error messages

    def fail(self, off: int, what: str) -> FormatError:
        return FormatError(self.path, self.base + off, f"DOF: {what}")

    def need(self, off: int, size: int, what: str) -> None:
        if off < 0 or size < 0 or off + size > len(self.buf):
            raise self.fail(off, f"{what} runs past the end of the DOF ({size} bytes at 0x{off:x})")


def decode(buf: bytes | memoryview, path: str = "<dof>", file_offset: int = 0) -> DofImage:
    """Parse a DOF image: its providers with probes, argument types, offsets and is-enabled offsets."""
    r = _Reader(buf, path, file_offset)
    r.need(0, HDR_SIZE, "header")
    if bytes(buf[0:4]) != DOF_MAG:
        raise r.fail(0, "bad magic (expected 7f 'D' 'O' 'F')")
    model, encoding, version = buf[4], buf[5], buf[6]
    if encoding not in (DOF_ENCODE_LSB, DOF_ENCODE_MSB):
        raise r.fail(5, f"unknown data encoding {encoding}")
    if model not in (DOF_MODEL_ILP32, DOF_MODEL_LP64):
        raise r.fail(4, f"unknown data model {model}")
    e = "<" if encoding == DOF_ENCODE_LSB else ">"
    _flags, hdrsize, secsize, secnum, secoff, _loadsz, _filesz = struct.unpack_from(e + "IIIIQQQ", buf, 16)
    if hdrsize < HDR_SIZE:
        raise r.fail(20, f"dofh_hdrsize {hdrsize} is smaller than a dof_hdr_t ({HDR_SIZE})")
    if secsize < SEC_SIZE:
        raise r.fail(24, f"dofh_secsize {secsize} is smaller than a dof_sec_t ({SEC_SIZE})")
    if secnum > MAX_SECTIONS:
        raise r.fail(28, f"dofh_secnum {secnum} is implausibly large")
    r.need(secoff, secsize * secnum, "section header table")
    sec_struct = struct.Struct(e + "IIIIQQ")
    secs = [sec_struct.unpack_from(buf, secoff + i * secsize) for i in range(secnum)]
    image = DofImage([], model, encoding, version)
    for i, (kind, _align, _fl, _ent, off, size) in enumerate(secs):
        if kind != 0:
            r.need(off, size, f"section {i} ({SECT_NAMES.get(kind, kind)})")
        image.sections.append((SECT_NAMES.get(kind, str(kind)), off, size))
        if kind == SECT_URELHDR:
            image.relocatable = True

    def section(index: int, want: int, what: str) -> tuple[int, int, int]:
        if index >= len(secs):
            raise r.fail(secoff, f"{what} refers to section {index}, but there are {len(secs)}")
        kind, _a, _f, entsize, off, size = secs[index]
        if kind != want:
            raise r.fail(
                secoff + index * secsize,
                f"{what} refers to section {index} of type {SECT_NAMES.get(kind, kind)}, "
                f"expected {SECT_NAMES[want]}",
            )
        return off, size, entsize

    u32s = struct.Struct(e + "I")
    probe_struct = struct.Struct(e + "QIIIIIIBBHIH")
    for i, (kind, _a, _f, _ent, off, size) in enumerate(secs):
        if kind != SECT_PROVIDER:
            continue
        if size < PROVIDER_SIZE_V1:
            raise r.fail(off, f"provider section {i} is {size} bytes, smaller than a dof_provider_t")
        fields = struct.unpack_from(e + "10I", buf, off)
        strtab_i, probes_i, prargs_i, proffs_i, name_i = fields[:5]
        prenoffs_i = u32s.unpack_from(buf, off + 40)[0] if size >= PROVIDER_SIZE_V2 else DOF_SECIDX_NONE
        st_off, st_size, _ = section(strtab_i, SECT_STRTAB, f"provider {i} dofpv_strtab")

        def string(idx: int, what: str, st_off: int = st_off, st_size: int = st_size) -> str:
            if idx >= st_size:
                raise r.fail(
                    st_off, f"{what}: string offset {idx} outside the string table ({st_size} bytes)"
                )
            end = bytes(buf[st_off + idx : st_off + st_size]).find(b"\0")
            if end < 0:
                raise r.fail(st_off + idx, f"{what}: string is not NUL-terminated in its table")
            return bytes(buf[st_off + idx : st_off + idx + end]).decode("utf-8", "replace")

        def strings(idx: int, count: int, what: str) -> list[str]:
            out = []
            for _ in range(count):
                s = string(idx, what)
                out.append(s)
                idx += len(s.encode("utf-8", "replace")) + 1
            return out

        def u32_array(sec_i: int, want: int, start: int, count: int, what: str) -> list[int]:
            if count == 0:
                return []
            a_off, a_size, _ = section(sec_i, want, what)
            if (start + count) * 4 > a_size:
                raise r.fail(
                    a_off, f"{what}: entries {start}..{start + count} past the table ({a_size // 4})"
                )
            return list(struct.unpack_from(f"{e}{count}I", buf, a_off + start * 4))

        prov = DofProvider(string(name_i, f"provider {i} name"))
        for ent, entity in enumerate(ATTR_ENTITIES):
            if fields[5 + ent]:
                prov.attributes[entity] = decode_attr(fields[5 + ent])
        pr_off, pr_size, pr_ent = section(probes_i, SECT_PROBES, f"provider {prov.name} dofpv_probes")
        pr_ent = pr_ent or PROBE_SIZE
        if pr_ent < probe_struct.size:
            raise r.fail(pr_off, f"probe entry size {pr_ent} is smaller than a dof_probe_t")
        for k in range(pr_size // pr_ent):
            (addr, func, name, nargv, xargv, argidx, offidx, nargc, xargc, noffs, enoffidx, nenoffs) = (
                probe_struct.unpack_from(buf, pr_off + k * pr_ent)
            )
            what = f"provider {prov.name} probe {k}"
            probe = DofProbe(string(name, what + " name"), string(func, what + " function"), addr)
            probe.arg_types = strings(nargv, nargc, what + " native argument types")
            xtypes = strings(xargv, xargc, what + " translated argument types")
            probe.xarg_types = None if xtypes == probe.arg_types else xtypes
            if xargc:
                a_off, a_size, _ = section(prargs_i, SECT_PRARGS, what + " dofpv_prargs")
                if argidx + xargc > a_size:
                    raise r.fail(a_off, f"{what}: argument map {argidx}..{argidx + xargc} past PRARGS")
                amap = list(bytes(buf[a_off + argidx : a_off + argidx + xargc]))
                probe.argmap = None if amap == list(range(xargc)) else amap
            probe.offsets = u32_array(proffs_i, SECT_PROFFS, offidx, noffs, what + " offsets")
            if nenoffs and prenoffs_i == DOF_SECIDX_NONE:
                raise r.fail(pr_off, f"{what} has is-enabled offsets but the provider has no PRENOFFS")
            probe.enabled_offsets = u32_array(
                prenoffs_i, SECT_PRENOFFS, enoffidx, nenoffs, what + " is-enabled"
            )
            prov.probes.append(probe)
        image.providers.append(prov)
    return image
