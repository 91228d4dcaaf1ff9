"""DWARF -> CTF conversion (the capability behind ``illumos-rust ctf convert``).

Kept apart from ``illumos_rust.ctf`` (the CTF format: model, reader, writer, dump), which is a foundation:
``audit`` reports CTF coverage with the same reader, and a capability may not import another capability.
"""

from __future__ import annotations

from .convert import ConvertReport, build, convert

__all__ = ["ConvertReport", "build", "convert"]
