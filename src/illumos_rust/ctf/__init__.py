"""illumos CTF (version 2), the format: model, reader, writer, symbol association and a ctfdump-style dump.

A foundation (like ``elf/`` and ``dwarf/``): ``audit`` reads CTF coverage with it and the DWARF -> CTF
converter (the ``ctfconvert`` capability) writes with it. Nothing here loads the DWARF reader.
"""

from __future__ import annotations

from .load import CtfFile, load_ctf
from .model import (
    ArrayInfo,
    Container,
    CtfLimitError,
    CtfType,
    Encoding,
    Enumerator,
    FunctionInfo,
    Label,
    Member,
)
from .names import type_name, type_size
from .reader import read_container
from .writer import write_container

__all__ = [
    "ArrayInfo",
    "Container",
    "CtfFile",
    "CtfLimitError",
    "CtfType",
    "Encoding",
    "Enumerator",
    "FunctionInfo",
    "Label",
    "Member",
    "load_ctf",
    "read_container",
    "type_name",
    "type_size",
    "write_container",
]
