"""Typed access to pyelftools, the second independent oracle.

pyelftools 0.33 ships annotations: ``get_section_by_name`` returns ``Section | None``, and the strings of
DT_NEEDED/RPATH/RUNPATH/SONAME tags are attached with ``setattr``, so the type checker cannot see them.
These helpers check at run time what the tests assume and hand mypy the real types.
"""

from __future__ import annotations

from typing import TypeVar

from elftools.elf.dynamic import DynamicTag
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import Section

S = TypeVar("S", bound=Section)


def section(elf: ELFFile, name: str, kind: type[S]) -> S:
    """The section called ``name``, which must exist and be read by pyelftools as a ``kind``."""
    sec = elf.get_section_by_name(name)
    assert isinstance(sec, kind), f"{name}: pyelftools gives {type(sec).__name__}, not {kind.__name__}"
    return sec


def tag_string(tag: DynamicTag, attr: str) -> str:
    """The string pyelftools attaches to a DT_NEEDED/RPATH/RUNPATH/SONAME tag (``attr``: its lower-case
    name without ``DT_``)."""
    value = getattr(tag, attr)
    assert isinstance(value, str), (tag, attr)
    return value
