"""The ELF core: a strict, fast reader for Solaris/illumos and GNU files (see ``reader.ElfFile``)."""

from .dynamic import DynamicSection, DynEntry, dynamic
from .reader import ElfFile, ElfHeader, Note, Section, Segment, Symbol, SymbolIndex

__all__ = [
    "DynEntry",
    "DynamicSection",
    "ElfFile",
    "ElfHeader",
    "Note",
    "Section",
    "Segment",
    "Symbol",
    "SymbolIndex",
    "dynamic",
]
