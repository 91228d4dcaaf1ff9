"""Post-mortem of a crashed (Rust) process from its core file: Linux and illumos cores.

``analyze(core, binary)`` returns a ``CoreReport``: an mdb ``::status``-like summary (signal, ``si_code``,
fault address and the mapping it falls in), the recovered Rust panic (message, thread, location, with the
source of each fact) and every thread's frames, each marked by how it was found (``fp``/``cfi``/``scan``).
The core readers themselves live in the ELF foundation (``elf.core_linux``, ``elf.core_illumos``).
"""

from __future__ import annotations

from .analyze import analyze, read_core
from .model import CoreReport, Fact, Frame, PanicReport, ThreadReport

__all__ = ["CoreReport", "Fact", "Frame", "PanicReport", "ThreadReport", "analyze", "read_core"]
