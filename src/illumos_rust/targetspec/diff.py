"""Field-by-field comparison of two specs, each difference explained in words.

A bare ``frame-pointer: always != may-omit`` tells an illumos user nothing they can act on; what matters
is *what the field does* and *what each value means for a binary* (is ``ustack()`` going to work? will
the link fail on the illumos ld?). The explanations below are our own summary of rustc's field docs
(``compiler/rustc_target/src/spec/mod.rs``) and of ``../shared/notes/illumos-target.md`` §1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .spec import TargetSpec

# Field -> what it controls (one sentence).
MEANING: dict[str, str] = {
    "os": "the target_os cfg value; crates choose OS-specific code with it",
    "vendor": "the target_vendor cfg value; cosmetic for most crates",
    "env": "the target_env cfg value (the C library flavour, e.g. gnu, musl)",
    "abi": "the target_abi cfg value",
    "arch": "the target_arch cfg value and the LLVM backend used",
    "cpu": "the CPU LLVM tunes and selects instructions for",
    "features": "the target features enabled on top of the CPU",
    "data-layout": "the LLVM data layout: sizes, alignments and endianness of types",
    "llvm-target": "the triple handed to LLVM (LLVM has no illumos triple, so illumos passes a Solaris one)",
    "frame-pointer": "whether functions keep a frame pointer (%rbp / x29)",
    "stack-probes": "how large stack frames are probed page by page before use",
    "pre-link-args": "the arguments put before the objects on the linker command line",
    "late-link-args": "the arguments put after all libraries on the linker command line",
    "late-link-args-dynamic": "the late arguments used only when linking against dynamic libraries",
    "late-link-args-static": "the late arguments used only for fully static links",
    "post-link-args": "the arguments put at the very end of the linker command line",
    "metadata": "descriptive metadata (description, tier, host tools); no effect on code",
    "relro-level": "whether rustc asks the linker for RELRO (-z relro, -z now)",
    "position-independent-executables": "whether executables are linked as PIE",
    "static-position-independent-executables": "whether static executables are linked as static-PIE",
    "has-thread-local": "whether #[thread_local] / ELF TLS is used (cfg target_thread_local)",
    "panic-strategy": "the default panic strategy (cfg panic)",
    "eh-frame-header": "whether rustc passes --eh-frame-hdr to the linker",
    "linker-flavor": "which command-line dialect rustc speaks to the linker",
    "linker-is-gnu": "whether the linker accepts GNU ld options",
    "linker": "the linker program (unset: derived from the flavour, cc or gcc)",
    "limit-rdylib-exports": "whether rustc passes an export list when linking Rust dylibs",
    "is-like-solaris": "whether rustc takes its Solaris code paths (-z ignore, mapfiles, external strip)",
    "dynamic-linking": "whether dynamic libraries can be produced and linked",
    "has-rpath": "whether -C rpath is supported",
    "target-family": "the target_family cfg values (unix, windows, wasm)",
    "crt-static-respected": "whether -C target-feature=+crt-static is honoured",
    "crt-static-default": "whether the C runtime is linked statically by default",
    "default-uwtable": "whether unwind tables are emitted even with panic=abort",
    "supported-sanitizers": "which -Z sanitizer values the target supports",
    "supported-split-debuginfo": "which -C split-debuginfo values the target supports",
    "max-atomic-width": "the widest integer with native atomics (cfg target_has_atomic)",
    "min-atomic-width": "the narrowest integer with native atomics",
    "plt-by-default": "whether calls to external functions go through the PLT",
    "tls-model": "the ELF TLS access model",
    "relocation-model": "the code relocation model (pic, static...)",
    "code-model": "the code model (small, kernel, large...)",
    "target-endian": "the byte order (cfg target_endian)",
    "target-pointer-width": "the pointer width in bits (cfg target_pointer_width)",
    "link-self-contained": "which parts of the link rustc provides itself (its own crt objects, linker)",
    "crt-objects-fallback": "whether rustc falls back to its own crt objects",
    "supports-xray": "whether -Z instrument-xray is supported",
    "disable-redzone": "whether the red zone below the stack pointer is disabled",
    "executables": "whether executables can be built at all",
    "function-sections": "whether every function gets its own section (for --gc-sections)",
    "no-default-libraries": "whether the linker is told not to add default libraries (-nodefaultlibs)",
}

# (field, canonical value) -> what that value means in practice.
VALUE_NOTES: dict[tuple[str, str], str] = {
    ("os", '"illumos"'): 'illumos; code gated only on target_os = "solaris" is not built, so crates '
    "must name illumos too",
    (
        "os",
        '"solaris"',
    ): "Oracle Solaris; illumos-only code paths (epoll, pipe2, accept4, preadv) are not used",
    ("vendor", '"unknown"'): "no vendor (the rustc default)",
    ("frame-pointer", '"always"'): "every function, leaf functions too, sets up a frame pointer, so "
    "frame-pointer stack walkers (DTrace ustack(), mdb, pstack) see every frame",
    ("frame-pointer", '"non-leaf"'): "frame pointers everywhere except leaf functions (proposed for "
    "illumos in rust-lang/rust#141798, still open)",
    ("frame-pointer", '"may-omit"'): "LLVM may drop the frame pointer in optimised code, so "
    "frame-pointer stack walks lose frames",
    ("stack-probes", '{"kind":"none"}'): "no probes: a large frame is allocated with one subtraction "
    "(what RFD 0161 asks for, because probes interfere with illumos's own stack guards)",
    ("stack-probes", '{"kind":"inline"}'): "LLVM emits an inline loop touching each page of a large frame",
    ("stack-probes", '{"kind":"call"}'): "large frames call __rust_probestack",
    ("relro-level", '"none"'): "no RELRO flags are passed (the illumos ld has no -z relro)",
    ("relro-level", '"off"'): "RELRO explicitly disabled",
    ("relro-level", '"full"'): "-z relro -z now are passed; the illumos ld rejects them",
    ("relro-level", '"partial"'): "-z relro is passed; the illumos ld rejects it",
    ("has-thread-local", "false"): "thread_local! uses pthread keys (pthread_key_create/getspecific)",
    ("has-thread-local", "true"): "thread_local! uses ELF TLS and needs a way to register TLS destructors",
    ("panic-strategy", '"unwind"'): "panics unwind (needs the unwinder from libgcc_s)",
    ("panic-strategy", '"abort"'): "panics abort the process; a std built for unwind cannot be used as is",
    ("eh-frame-header", "false"): "no --eh-frame-hdr flag (the illumos ld does not take it)",
    ("eh-frame-header", "true"): "--eh-frame-hdr is passed (GNU-ld style)",
    ("position-independent-executables", "false"): "executables are ET_EXEC at a fixed address",
    ("position-independent-executables", "true"): "executables are PIE (ET_DYN)",
    ("linker-is-gnu", "false"): "no GNU ld options (illumos/Solaris ld)",
    ("linker-is-gnu", "true"): "GNU ld options such as --as-needed are used",
    ("limit-rdylib-exports", "false"): "no export list (the illumos ld does not support rustc's way)",
    ("limit-rdylib-exports", "true"): "an export list limits Rust dylib exports",
}


def canonical(value: Any) -> str:
    """One spelling per value, so equal JSON compares equal whatever its key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FieldDiff:
    key: str
    left: Any
    right: Any
    left_default: bool
    right_default: bool
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.key,
            "left": self.left,
            "right": self.right,
            "left_is_default": self.left_default,
            "right_is_default": self.right_default,
            "explanation": self.explanation,
        }


def explain(key: str, left: Any, right: Any, left_name: str, right_name: str) -> str:
    """A sentence or two: what the field does, then what each side's value means where we know it."""
    meaning = MEANING.get(key, "a rustc target option (no description here; see rustc's spec docs)")
    if meaning.startswith(("a ", "descriptive")):
        parts = [f"{meaning[0].upper()}{meaning[1:]}."]
    else:
        parts = [f"Controls {meaning}."]
    extra = _specific(key, left, right, left_name, right_name)
    if extra:
        parts.append(extra)
    for name, value in ((left_name, left), (right_name, right)):
        note = VALUE_NOTES.get((key, canonical(value)))
        if note:
            parts.append(f"{name}: {note}.")
    return " ".join(parts)


def _specific(key: str, left: Any, right: Any, left_name: str, right_name: str) -> str:
    """Differences in argument lists say which arguments one side adds, and why it matters on illumos."""
    if key.endswith("link-args") and isinstance(left, dict) and isinstance(right, dict):
        notes = []
        for flavour in sorted(set(left) | set(right)):
            a, b = left.get(flavour, []), right.get(flavour, [])
            only_a = [x for x in a if x not in b]
            only_b = [x for x in b if x not in a]
            for name, only in ((left_name, only_a), (right_name, only_b)):
                if only:
                    notes.append(f"only {name} passes {' '.join(only)} ({flavour})")
            why = _why_args(only_a + only_b)
            if why:
                notes.append(why)
        text = "; ".join(notes)
        return f"{text[0].upper()}{text[1:]}." if text else ""
    return ""


def _why_args(args: list[str]) -> str:
    reasons = []
    if "-lc" in args:
        reasons.append("-lc last keeps libc after libgcc_s in DT_NEEDED, so the two unwinders are not mixed")
    if "-lssp" in args:
        reasons.append("-lssp provides __stack_chk_fail/__stack_chk_guard on illumos")
    if "-std=c99" in args:
        reasons.append("-std=c99 steers the C driver's choice of standards objects (values-*.o)")
    return "; ".join(reasons)


def diff_specs(left: TargetSpec, right: TargetSpec, *, include_metadata: bool = True) -> list[FieldDiff]:
    """Every field whose effective (defaults-filled) value differs, in field-name order."""
    out = []
    for key in sorted(set(left.fields) | set(right.fields)):
        if key == "metadata" and not include_metadata:
            continue
        a, b = left.fields.get(key), right.fields.get(key)
        if canonical(a) == canonical(b):
            continue
        out.append(
            FieldDiff(
                key,
                a,
                b,
                key in left.defaulted,
                key in right.defaulted,
                explain(key, a, b, left.name, right.name),
            )
        )
    return out
