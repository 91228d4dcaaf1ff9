"""Thread locals: pthread keys or ELF TLS, reported as information with RFD 0161's context.

RFD 0161 wanted ELF TLS instead of ``pthread_{get,set}specific``; it has not happened: illumos has ELF TLS
but no ``__cxa_thread_atexit_impl`` to register per-thread destructors, so the illumos target keeps
``has-thread-local: false`` and std's ``thread_local!`` uses pthread keys (illumos-target.md §1).
ELF TLS in a Rust binary therefore comes from C dependencies, or from a non-illumos target.
"""

from __future__ import annotations

from typing import Any

from ..elf import constants as C
from .context import Context
from .model import Emitter

_KEYS = ("pthread_key_create", "pthread_getspecific", "pthread_setspecific", "thr_keycreate")


def check(ctx: Context, emit: Emitter) -> dict[str, Any]:
    elf = ctx.elf
    pt_tls = elf.segments_of_type(C.PT_TLS)
    tls_symbols = ctx.tls_symbols
    tls_get_addr = bool({"__tls_get_addr", "___tls_get_addr"} & ctx.imports)
    keys = sorted(set(_KEYS) & (ctx.imports | ctx.defined_names))
    elf_tls = bool(pt_tls or tls_symbols or tls_get_addr)
    model = (
        "ELF TLS and pthread keys"
        if elf_tls and keys
        else "ELF TLS"
        if elf_tls
        else ("pthread keys" if keys else "none visible")
    )
    ev = []
    if pt_tls:
        ev.append(f"PT_TLS memsz {pt_tls[0].p_memsz}")
    if tls_symbols:
        ev.append(f"{tls_symbols} STT_TLS symbol(s)")
    if tls_get_addr:
        ev.append("imports __tls_get_addr (dynamic TLS model)")
    if keys:
        ev.append("uses " + ", ".join(keys))
    context = (
        "illumos std uses pthread keys (no target_thread_local: illumos cannot register TLS "
        "destructors); ELF TLS here comes from C code or a non-illumos target"
    )
    emit.add(
        "tls-model",
        f"thread-locals: {model}",
        evidence="; ".join(ev) or "no TLS evidence",
        fix=context,
        model=model,
    )
    return {
        "model": model,
        "pt_tls": bool(pt_tls),
        "tls_symbols": tls_symbols,
        "tls_get_addr": tls_get_addr,
        "pthread_keys": keys,
    }
