"""ELF constants with the names the gABI and the illumos headers give them.

Sources: the System V gABI; illumos ``usr/src/uts/common/sys/elf.h`` (EM_*, SHT_SUNW_*, PT_SUNW*) and
``usr/src/uts/common/sys/link.h`` (DT_*, DT_SUNW_*, DF_1_*); GNU binutils ``include/elf/common.h`` for the GNU
extensions. Where Solaris and GNU reuse a number (0x6ffffff5..0x6ffffff8) the name depends on the file's ABI,
which ``section_type_name`` resolves.
"""

from __future__ import annotations

ELFMAG = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

ELFOSABI = {0: "SYSV", 1: "HPUX", 2: "NETBSD", 3: "GNU/Linux", 6: "Solaris", 9: "FreeBSD", 12: "OpenBSD"}
ELFOSABI_SOLARIS = 6

ET = {0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE"}
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4

EM = {
    0: "NONE",
    2: "SPARC",
    3: "386",
    18: "SPARC32PLUS",
    43: "SPARCV9",
    62: "AMD64",
    183: "AARCH64",
    243: "RISCV",
}
EM_386, EM_SPARC, EM_SPARC32PLUS, EM_SPARCV9, EM_AMD64, EM_AARCH64 = 3, 2, 18, 43, 62, 183

# Section types.
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_HASH, SHT_DYNAMIC = 0, 1, 2, 3, 4, 5, 6
SHT_NOTE, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 7, 8, 9, 11
SHT_GNU_HASH = 0x6FFFFFF6
SHT_SUNW_LDYNSYM = 0x6FFFFFF3
SHT_GNU_VERDEF = SHT_SUNW_VERDEF = 0x6FFFFFFD
SHT_GNU_VERNEED = SHT_SUNW_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = SHT_SUNW_VERSYM = 0x6FFFFFFF
SHT_AMD64_UNWIND = 0x70000001
SHT_SUNW_CTF_NAME = ".SUNW_ctf"

_SHT_COMMON = {
    0: "NULL",
    1: "PROGBITS",
    2: "SYMTAB",
    3: "STRTAB",
    4: "RELA",
    5: "HASH",
    6: "DYNAMIC",
    7: "NOTE",
    8: "NOBITS",
    9: "REL",
    10: "SHLIB",
    11: "DYNSYM",
    14: "INIT_ARRAY",
    15: "FINI_ARRAY",
    16: "PREINIT_ARRAY",
    17: "GROUP",
    18: "SYMTAB_SHNDX",
    0x6FFFFFFD: "VERDEF",
    0x6FFFFFFE: "VERNEED",
    0x6FFFFFFF: "VERSYM",
}
_SHT_GNU = {
    0x6FFFFFF5: "GNU_ATTRIBUTES",
    0x6FFFFFF6: "GNU_HASH",
    0x6FFFFFF7: "GNU_LIBLIST",
    0x6FFFFFF8: "CHECKSUM",
    0x6FFF4C00: "LLVM_ODRTAB",
    0x6FFF4C03: "LLVM_ADDRSIG",
    0x6FFF4C02: "LLVM_LINKER_OPTIONS",
}
_SHT_SUNW = {
    0x6FFFFFEE: "SUNW_ancillary",
    0x6FFFFFEF: "SUNW_capchain",
    0x6FFFFFF0: "SUNW_capinfo",
    0x6FFFFFF1: "SUNW_symsort",
    0x6FFFFFF2: "SUNW_tlssort",
    0x6FFFFFF3: "SUNW_LDYNSYM",
    0x6FFFFFF4: "SUNW_dof",
    0x6FFFFFF5: "SUNW_cap",
    0x6FFFFFF6: "SUNW_SIGNATURE",
    0x6FFFFFF7: "SUNW_ANNOTATE",
    0x6FFFFFF8: "SUNW_DEBUGSTR",
    0x6FFFFFF9: "SUNW_DEBUG",
    0x6FFFFFFA: "SUNW_move",
    0x6FFFFFFB: "SUNW_COMDAT",
    0x6FFFFFFC: "SUNW_syminfo",
    0x6FFFFFFD: "SUNW_verdef",
    0x6FFFFFFE: "SUNW_verneed",
    0x6FFFFFFF: "SUNW_versym",
}
_SHT_PROC = {0x70000001: "AMD64_UNWIND", 0x70000003: "ARM_ATTRIBUTES"}


def section_type_name(sh_type: int, solaris: bool) -> str:
    table = _SHT_SUNW if solaris else _SHT_GNU
    return table.get(sh_type) or _SHT_COMMON.get(sh_type) or _SHT_PROC.get(sh_type) or f"0x{sh_type:x}"


SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS = 0x1, 0x2, 0x4, 0x10, 0x20
SHF_INFO_LINK, SHF_LINK_ORDER, SHF_GROUP, SHF_TLS, SHF_COMPRESSED = 0x40, 0x80, 0x200, 0x400, 0x800
SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF

# Program header types.
PT_NULL, PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_SHLIB, PT_PHDR, PT_TLS = 0, 1, 2, 3, 4, 5, 6, 7
PT_GNU_EH_FRAME = PT_SUNW_EH_FRAME = 0x6474E550
PT_SUNW_UNWIND = 0x6464E550
PT = {
    0: "NULL",
    1: "LOAD",
    2: "DYNAMIC",
    3: "INTERP",
    4: "NOTE",
    5: "SHLIB",
    6: "PHDR",
    7: "TLS",
    0x6474E550: "GNU_EH_FRAME",
    0x6474E551: "GNU_STACK",
    0x6474E552: "GNU_RELRO",
    0x6474E553: "GNU_PROPERTY",
    0x6464E550: "SUNW_UNWIND",
    0x6FFFFFFA: "SUNWBSS",
    0x6FFFFFFB: "SUNWSTACK",
    0x6FFFFFFC: "SUNWDTRACE",
    0x6FFFFFFD: "SUNWCAP",
}
PF_X, PF_W, PF_R = 1, 2, 4

# Dynamic tags (illumos sys/link.h; GNU include/elf/common.h).
DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_PLTGOT, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 2, 3, 4, 5, 6
DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS = 10, 14, 15, 29, 30
DT_SUNW_AUXILIARY, DT_SUNW_FILTER = 0x6000000D, 0x6000000F
DT_SUNW_STRPAD, DT_SUNW_LDMACH, DT_SUNW_SYMTAB, DT_SUNW_SYMSZ = 0x60000019, 0x6000001B, 0x60000011, 0x60000012
DT_CHECKSUM = 0x6FFFFDF8
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM, DT_FLAGS_1, DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM = (
    0x6FFFFFF0,
    0x6FFFFFFB,
    0x6FFFFFFC,
    0x6FFFFFFD,
    0x6FFFFFFE,
    0x6FFFFFFF,
)
DT_AUXILIARY, DT_USED, DT_FILTER = 0x7FFFFFFD, 0x7FFFFFFE, 0x7FFFFFFF

DT = {
    0: "NULL",
    1: "NEEDED",
    2: "PLTRELSZ",
    3: "PLTGOT",
    4: "HASH",
    5: "STRTAB",
    6: "SYMTAB",
    7: "RELA",
    8: "RELASZ",
    9: "RELAENT",
    10: "STRSZ",
    11: "SYMENT",
    12: "INIT",
    13: "FINI",
    14: "SONAME",
    15: "RPATH",
    16: "SYMBOLIC",
    17: "REL",
    18: "RELSZ",
    19: "RELENT",
    20: "PLTREL",
    21: "DEBUG",
    22: "TEXTREL",
    23: "JMPREL",
    24: "BIND_NOW",
    25: "INIT_ARRAY",
    26: "FINI_ARRAY",
    27: "INIT_ARRAYSZ",
    28: "FINI_ARRAYSZ",
    29: "RUNPATH",
    30: "FLAGS",
    32: "PREINIT_ARRAY",
    33: "PREINIT_ARRAYSZ",
    34: "SYMTAB_SHNDX",
    35: "RELRSZ",
    36: "RELR",
    37: "RELRENT",
    0x6000000D: "SUNW_AUXILIARY",
    0x6000000E: "SUNW_RTLDINF",
    0x6000000F: "SUNW_FILTER",
    0x60000010: "SUNW_CAP",
    0x60000011: "SUNW_SYMTAB",
    0x60000012: "SUNW_SYMSZ",
    0x60000013: "SUNW_SORTENT",
    0x60000014: "SUNW_SYMSORT",
    0x60000015: "SUNW_SYMSORTSZ",
    0x60000016: "SUNW_TLSSORT",
    0x60000017: "SUNW_TLSSORTSZ",
    0x60000018: "SUNW_CAPINFO",
    0x60000019: "SUNW_STRPAD",
    0x6000001A: "SUNW_CAPCHAIN",
    0x6000001B: "SUNW_LDMACH",
    0x6000001D: "SUNW_CAPCHAINENT",
    0x6000001F: "SUNW_CAPCHAINSZ",
    0x60000021: "SUNW_PARENT",
    0x60000023: "SUNW_ASLR",
    0x60000025: "SUNW_RELAX",
    0x60000029: "SUNW_NXHEAP",
    0x6000002B: "SUNW_NXSTACK",
    0x6FFFFDF5: "GNU_PRELINKED",
    0x6FFFFDF6: "GNU_CONFLICTSZ",
    0x6FFFFDF7: "GNU_LIBLISTSZ",
    0x6FFFFDF8: "CHECKSUM",
    0x6FFFFDF9: "PLTPADSZ",
    0x6FFFFDFA: "MOVEENT",
    0x6FFFFDFB: "MOVESZ",
    0x6FFFFDFC: "FEATURE_1",
    0x6FFFFDFD: "POSFLAG_1",
    0x6FFFFDFE: "SYMINSZ",
    0x6FFFFDFF: "SYMINENT",
    0x6FFFFEF5: "GNU_HASH",
    0x6FFFFEF6: "TLSDESC_PLT",
    0x6FFFFEF7: "TLSDESC_GOT",
    0x6FFFFEF8: "GNU_CONFLICT",
    0x6FFFFEF9: "GNU_LIBLIST",
    0x6FFFFEFA: "CONFIG",
    0x6FFFFEFB: "DEPAUDIT",
    0x6FFFFEFC: "AUDIT",
    0x6FFFFEFD: "PLTPAD",
    0x6FFFFEFE: "MOVETAB",
    0x6FFFFEFF: "SYMINFO",
    0x6FFFFFF0: "VERSYM",
    0x6FFFFFF9: "RELACOUNT",
    0x6FFFFFFA: "RELCOUNT",
    0x6FFFFFFB: "FLAGS_1",
    0x6FFFFFFC: "VERDEF",
    0x6FFFFFFD: "VERDEFNUM",
    0x6FFFFFFE: "VERNEED",
    0x6FFFFFFF: "VERNEEDNUM",
    0x7FFFFFFD: "AUXILIARY",
    0x7FFFFFFE: "USED",
    0x7FFFFFFF: "FILTER",
}
# Tags whose value is an offset into the dynamic string table.
DT_STRING_TAGS = frozenset(
    {
        DT_NEEDED,
        DT_SONAME,
        DT_RPATH,
        DT_RUNPATH,
        DT_SUNW_AUXILIARY,
        DT_SUNW_FILTER,
        DT_AUXILIARY,
        DT_USED,
        DT_FILTER,
        0x6FFFFEFA,
        0x6FFFFEFB,
        0x6FFFFEFC,
    }
)

DF = {0x1: "ORIGIN", 0x2: "SYMBOLIC", 0x4: "TEXTREL", 0x8: "BIND_NOW", 0x10: "STATIC_TLS"}
DF_1 = {
    0x1: "NOW",
    0x2: "GLOBAL",
    0x4: "GROUP",
    0x8: "NODELETE",
    0x10: "LOADFLTR",
    0x20: "INITFIRST",
    0x40: "NOOPEN",
    0x80: "ORIGIN",
    0x100: "DIRECT",
    0x200: "TRANS",
    0x400: "INTERPOSE",
    0x800: "NODEFLIB",
    0x1000: "NODUMP",
    0x2000: "CONFALT",
    0x4000: "ENDFILTEE",
    0x8000: "DISPRELDNE",
    0x10000: "DISPRELPND",
    0x20000: "NODIRECT",
    0x40000: "IGNMULDEF",
    0x80000: "NOKSYMS",
    0x100000: "NOHDR",
    0x200000: "EDITED",
    0x400000: "NORELOC",
    0x800000: "SYMINTPOSE",
    0x1000000: "GLOBAUDIT",
    0x2000000: "SINGLETON",
    0x8000000: "PIE",  # GNU: DF_1_PIE
}
DF_1_EDITED = 0x00200000


def flag_names(value: int, table: dict[int, str]) -> list[str]:
    names = [name for bit, name in table.items() if value & bit]
    rest = value & ~sum(table)
    if rest:
        names.append(f"0x{rest:x}")
    return names


# Symbols.
STB = {0: "LOCAL", 1: "GLOBAL", 2: "WEAK", 10: "GNU_UNIQUE"}
STT = {
    0: "NOTYPE",
    1: "OBJECT",
    2: "FUNC",
    3: "SECTION",
    4: "FILE",
    5: "COMMON",
    6: "TLS",
    10: "IFUNC",
    13: "SPARC_REGISTER",
}
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS, STT_GNU_IFUNC = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    10,
)
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STV = {
    0: "DEFAULT",
    1: "INTERNAL",
    2: "HIDDEN",
    3: "PROTECTED",
    4: "EXPORTED",
    5: "SINGLETON",
    6: "ELIMINATE",
}

# Notes.
NT_GNU_ABI_TAG, NT_GNU_BUILD_ID, NT_GNU_PROPERTY_TYPE_0 = 1, 3, 5
