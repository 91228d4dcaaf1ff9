"""Which target built the file (illumos, Solaris, Linux...) and which rustc, from evidence in the binary.

Evidence, strongest first: the interpreter (``/usr/lib/amd64/ld.so.1`` is solarish, ``ld-linux`` Linux),
``libc.so.1`` vs ``libc.so.6``, EI_OSABI; then, for Rust, what only one std links: illumos std's backtrace
code has ``libs_illumos`` and links libumem; Solaris std uses the ``__*_xpg7`` link names that the libc crate
declares only for Solaris (illumos-target.md §6.1). The rustc version comes from ``.comment``.
"""

from __future__ import annotations

from typing import Any

from ..elf import constants as C
from ..elf.producer import Producer
from ..findings import Severity
from .context import Context
from .model import Emitter


def guess_os(ctx: Context, producer: Producer) -> tuple[str, list[str]]:
    elf = ctx.elf
    interp = elf.interpreter or ""
    needed = ctx.dyn.needed
    ev: list[str] = []
    os_name = "unknown"
    # .SUNW_ctf alone says nothing: ctfconvert adds it anywhere. The link-editor's own sections do.
    sunw = any(s.name.startswith(".SUNW_") and s.name != C.SHT_SUNW_CTF_NAME for s in elf.sections)
    if "ld.so.1" in interp or "libc.so.1" in needed or elf.osabi == C.ELFOSABI_SOLARIS or sunw:
        os_name = "solarish"
        ev.append(f"interpreter {interp}" if interp else "libc.so.1 / Solaris OSABI or sections")
    elif "ld-linux" in interp or "ld-musl" in interp or any(n.startswith("libc.so.6") for n in needed):
        os_name = "linux"
        ev.append(f"interpreter {interp}" if interp else "NEEDED libc.so.6")
    elif "ld-elf.so" in interp:
        os_name = "freebsd"
        ev.append(f"interpreter {interp}")
    elif elf.osabi == 3:
        os_name = "linux"
        ev.append("EI_OSABI GNU/Linux")
    if os_name == "solarish" and producer.goos in ("illumos", "solaris"):
        os_name = producer.goos
        ev.append(f".go.buildinfo GOOS={producer.goos}")
    elif os_name == "unknown" and producer.goos:
        # Go links statically with no interpreter; its build info names the target it was built for.
        os_name = {"solaris": "solaris", "illumos": "illumos"}.get(producer.goos, producer.goos)
        ev.append(f".go.buildinfo GOOS={producer.goos}")
    if os_name == "solarish" and producer.is_rust:
        names = ctx.symbol_names
        if any("libs_illumos" in n for n in names):
            os_name = "illumos"
            ev.append("std's illumos backtrace code (libs_illumos)")
        elif "libumem.so.1" in needed:
            os_name = "illumos"
            ev.append("NEEDED libumem.so.1 (illumos std's allocator)")
        elif any(n.endswith("_xpg7") for n in ctx.imports):
            os_name = "solaris"
            ev.append("imports __*_xpg7 link names (libc crate's Solaris-only bindings)")
    return os_name, ev


def check(ctx: Context, emit: Emitter, producer: Producer) -> dict[str, Any]:
    os_name, ev = guess_os(ctx, producer)
    machine = ctx.elf.machine_name
    rustc = producer.rustc
    desc = (
        f"{machine} {os_name}"
        + (f", rustc {rustc}" if rustc else "")
        + (", Rust" if producer.is_rust else ", not Rust")
    )
    evidence = "; ".join([*ev, f"linker: {producer.linker} ({producer.linker_evidence})"])
    if producer.rustc_commit:
        evidence += f"; rustc commit {producer.rustc_commit}"
    emit.add(
        "target",
        f"target: {desc}",
        evidence=evidence,
        os=os_name,
        rustc=rustc,
        linker=producer.linker,
        rust=producer.is_rust,
    )
    if os_name not in ("unknown", "solarish", "illumos", "solaris"):  # linux, freebsd, a Go GOOS
        emit.add("target-not-illumos", f"built for {os_name}, not illumos", evidence="; ".join(ev))
    elif os_name == "solaris":
        emit.add(
            "target-not-illumos",
            "built for GOOS=solaris, not illumos"
            if producer.goos
            else "built with the Solaris target (x86_64-pc-solaris), not illumos: "
            "no forced frame pointers, stack probes, Solaris syscall and libc assumptions",
            evidence="; ".join(ev),
            severity=Severity.WARNING,
        )
    return {
        "os": os_name,
        "machine": machine,
        "rustc": rustc,
        "rustc_commit": producer.rustc_commit,
        "linker": producer.linker,
        "rust": producer.is_rust,
    }
