"""Dependencies: DT_NEEDED order and RUNPATH/RPATH against the policy (RFD 0161 "External library
dependence").

pkgsrc-built Rust binaries get a RUNPATH into ``/opt/local/gccNN/...`` for libgcc_s, which a platform binary
must not depend on (the platform's own libgcc_s suffices). ``libgcc_s.so.1`` must come before
``libc.so.1``: both contain an unwinder and mixing them is undefined behaviour (rust-lang/rust#84254, which
made rustc put ``-lc`` last on illumos). illumos std uses libumem as its allocator.
"""

from __future__ import annotations

from typing import Any

from ..elf import constants as C
from .context import Context
from .model import Emitter

_STD_MARKERS = ("__rdl_alloc", "__rust_alloc", "__rg_alloc", "rust_eh_personality", "__rust_start_panic")


def uses_std(ctx: Context) -> bool:
    names = ctx.symbol_names
    return any(m in names for m in _STD_MARKERS)


def check(ctx: Context, emit: Emitter, target_os: str | None) -> dict[str, Any]:
    dyn = ctx.dyn
    needed = dyn.needed
    runpath, rpath = dyn.runpath, dyn.rpath
    facts: dict[str, Any] = {"needed": needed, "runpath": runpath, "rpath": rpath, "soname": dyn.soname}
    for tag, value in (("DT_RUNPATH", runpath), ("DT_RPATH", rpath)):
        if value is None:
            continue
        for entry in value.split(":"):
            why = ctx.policy.path_verdict(entry)
            if why is None:
                continue
            rule = "dep-relative-path" if why.startswith(("relative", "empty")) else "dep-forbidden-path"
            emit.add(
                rule,
                f"{tag} entry {entry!r}: {why}",
                evidence=f"{tag}={value}",
                section=".dynamic",
                tag=tag,
                entry=entry,
            )
    if runpath is not None and rpath is not None and runpath != rpath:
        emit.add(
            "dep-rpath-runpath-mismatch",
            "DT_RPATH and DT_RUNPATH differ",
            evidence=f"DT_RPATH={rpath}\nDT_RUNPATH={runpath}",
            section=".dynamic",
        )
    if "libc.so.1" in needed:
        ci = needed.index("libc.so.1")
        if "libgcc_s.so.1" in needed and needed.index("libgcc_s.so.1") > ci:
            emit.add(
                "dep-needed-order",
                "libgcc_s.so.1 comes after libc.so.1 in DT_NEEDED",
                evidence="DT_NEEDED: " + ", ".join(needed),
                section=".dynamic",
            )
        if ci != len(needed) - 1:
            emit.add(
                "dep-libc-not-last",
                "libc.so.1 is not the last DT_NEEDED entry",
                evidence="DT_NEEDED: " + ", ".join(needed),
                section=".dynamic",
            )
    std = uses_std(ctx)
    facts["rust_std"] = std
    is_program = ctx.elf.header.e_type == C.ET_EXEC or ctx.elf.interpreter is not None
    if (
        ctx.policy.require_libumem
        and std
        and is_program
        and target_os == "illumos"
        and "libumem.so.1" not in needed
    ):
        emit.add(
            "dep-no-libumem",
            "Rust std program without libumem.so.1 in DT_NEEDED",
            evidence="DT_NEEDED: " + (", ".join(needed) or "(none)"),
            section=".dynamic",
        )
    if dyn.edited:
        emit.add(
            "dep-edited",
            "DF_1_EDITED is set: the dynamic section was edited after linking (elfedit)",
            evidence=f"DT_FLAGS_1=0x{dyn.flags_1:x}",
            section=".dynamic",
        )
    facts["edited"] = dyn.edited
    return facts
