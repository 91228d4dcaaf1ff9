"""CTF version 2 constants, named as illumos ``usr/src/uts/common/sys/ctf.h`` names them.

Only the values the reader, writer and converter use are here; the header is the reference for the rest.
"""

from __future__ import annotations

CTF_MAGIC = 0xCFF1  # sys/ctf.h: CTF_MAGIC
CTF_VERSION_2 = 2  # sys/ctf.h: CTF_VERSION_2 (the only version illumos reads and writes)
GNU_CTF_MAGIC = 0xDFF2  # binutils include/ctf.h: a different format, recognised only to refuse it clearly
CTF_F_COMPRESS = 0x1  # sys/ctf.h: body after the header is one zlib stream
CTF_HEADER_SIZE = 36  # ctf_preamble_t (4) + 8 u32 fields

CTF_MAX_TYPE = 0xFFFF  # largest u16 type id
CTF_MAX_PTYPE = 0x7FFF  # largest id a parent (standalone) container may use
CTF_CHILD_BIT = 0x8000  # ids with this bit set live in the child container
CTF_MAX_VLEN = 0x3FF  # 10-bit vlen: members, enumerators, arguments
CTF_MAX_SIZE = 0xFFFE  # largest size the short type form holds
CTF_LSIZE_SENT = 0xFFFF  # ctt_size sentinel: a 64-bit size follows
CTF_LSTRUCT_THRESH = 8192  # structs/unions of this size or more use ctf_lmember_t
CTF_MAX_INTOFF = 0xFF  # 8-bit offset in an integer/float encoding
CTF_MAX_INTBITS = 0xFFFF  # 16-bit width in an integer/float encoding
CTF_STRTAB_0 = 0  # name lives in the CTF string table
CTF_STRTAB_1 = 1  # name lives in the ELF string table of the linked symbol table

# Kinds (sys/ctf.h CTF_K_*): 5 bits of ctt_info.
CTF_K_UNKNOWN = 0
CTF_K_INTEGER = 1
CTF_K_FLOAT = 2
CTF_K_POINTER = 3
CTF_K_ARRAY = 4
CTF_K_FUNCTION = 5
CTF_K_STRUCT = 6
CTF_K_UNION = 7
CTF_K_ENUM = 8
CTF_K_FORWARD = 9
CTF_K_TYPEDEF = 10
CTF_K_VOLATILE = 11
CTF_K_CONST = 12
CTF_K_RESTRICT = 13
CTF_K_MAX = 13

KIND_NAMES = {
    CTF_K_UNKNOWN: "unknown",
    CTF_K_INTEGER: "integer",
    CTF_K_FLOAT: "float",
    CTF_K_POINTER: "pointer",
    CTF_K_ARRAY: "array",
    CTF_K_FUNCTION: "function",
    CTF_K_STRUCT: "struct",
    CTF_K_UNION: "union",
    CTF_K_ENUM: "enum",
    CTF_K_FORWARD: "forward",
    CTF_K_TYPEDEF: "typedef",
    CTF_K_VOLATILE: "volatile",
    CTF_K_CONST: "const",
    CTF_K_RESTRICT: "restrict",
}

# Kinds whose ctt_type slot names another type (sys/ctf.h: "ctt_type ... for pointers, typedefs, ...").
REFERENCE_KINDS = frozenset({CTF_K_POINTER, CTF_K_TYPEDEF, CTF_K_VOLATILE, CTF_K_CONST, CTF_K_RESTRICT})
# Kinds whose ctt_size slot holds a byte size.
SIZED_KINDS = frozenset({CTF_K_UNKNOWN, CTF_K_INTEGER, CTF_K_FLOAT, CTF_K_STRUCT, CTF_K_UNION, CTF_K_ENUM})

# Integer encoding flags (sys/ctf.h CTF_INT_*), top byte of the encoding word.
CTF_INT_SIGNED = 0x01
CTF_INT_CHAR = 0x02
CTF_INT_BOOL = 0x04
CTF_INT_VARARGS = 0x08

# Float encodings (sys/ctf.h CTF_FP_*).
CTF_FP_SINGLE = 1
CTF_FP_DOUBLE = 2
CTF_FP_CPLX = 3
CTF_FP_DCPLX = 4
CTF_FP_LDCPLX = 5
CTF_FP_LDOUBLE = 6
CTF_FP_MAX = 12
FP_NAMES = (
    None,
    "SINGLE",
    "DOUBLE",
    "COMPLEX",
    "DCOMPLEX",
    "LDCOMPLEX",
    "LDOUBLE",
    "INTERVAL",
    "DINTERVAL",
    "LDINTERVAL",
    "IMAGINARY",
    "DIMAGINARY",
    "LDIMAGINARY",
)

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
