"""illumos CTF (version 2): model, reader, writer, ctfdump-style dump, and the DWARF -> CTF converter.

The converter (``ctf.convert``) is not imported here so that reading and dumping CTF does not load the DWARF
reader.
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
