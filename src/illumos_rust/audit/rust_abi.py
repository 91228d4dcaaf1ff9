"""Rust-ABI shared objects: RFD 0161 asks for nothing that *presents* an ABI needing stability.

A ``dylib`` crate exports Rust-mangled symbols (and carries ``.rustc`` metadata): its ABI changes with every
rustc release and with the mangling scheme. A ``cdylib`` that exports only C symbols is fine; one that also
exports Rust symbols (rustc writes no export mapfile on illumos, ``limit-rdylib-exports: false``) leaks them.
"""

from __future__ import annotations

import re
from typing import Any

from ..elf import constants as C
from .context import Context, display
from .model import Emitter

# v0 (``_R`` then an uppercase tag or a decimal instantiating-crate index) and legacy (``_ZN...17h<hash>E``),
# the same forms ``elf.producer.mangling_counts`` counts.
_RUST = re.compile(r"_R[0-9A-Z]|_ZN.*17h[0-9a-f]{16}E(?:\.[0-9A-Za-z_.$]*)?$")


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    elf = ctx.elf
    if elf.header.e_type != C.ET_DYN or elf.interpreter is not None:
        return {"shared_object": False}
    exported = [
        s.name
        for s in elf.dynsym
        if s.defined
        and s.bind in (C.STB_GLOBAL, C.STB_WEAK)
        and s.type in (C.STT_FUNC, C.STT_OBJECT)
        and s.visibility in (0, 3)
    ]
    rust = [n for n in exported if _RUST.match(n)]
    dylib = elf.section(".rustc") is not None
    facts: dict[str, Any] = {
        "shared_object": True,
        "exports": len(exported),
        "rust_exports": len(rust),
        "rustc_metadata": dylib,
    }
    if rust:
        sample = "\n".join(display(n) for n in rust[:10]) + (
            f"\n... and {len(rust) - 10} more" if len(rust) > 10 else ""
        )
        if dylib:
            emit.add(
                "rust-abi-dylib",
                f"Rust dylib: exports {len(rust)} Rust-mangled symbol(s) and carries .rustc metadata",
                evidence=sample,
                section=".dynsym",
                count=len(rust),
            )
        else:
            emit.add(
                "rust-abi-exports",
                f"exports {len(rust)} Rust-mangled symbol(s) besides {len(exported) - len(rust)} other(s)",
                evidence=sample,
                section=".dynsym",
                count=len(rust),
            )
    return facts
