"""The values rustc assumes for target-spec fields that ``--print target-spec-json`` leaves out.

rustc serialises a spec by printing only the fields that differ from ``TargetOptions::default()``, so two
printed specs cannot be compared key by key: ``x86_64-pc-solaris`` has no ``frame-pointer`` key because
its value *is* the default (``may-omit``), not because it is unknown. We fill the gaps from this table.

Source: rust-lang/rust ``compiler/rustc_target/src/spec/mod.rs``, ``impl Default for TargetOptions``
(read through the code index, stored commit 000fd5104d7ed0df8d81aa891177d1e976c79d2a; the same table in
1.85 per ``../shared/notes/illumos-target.md`` §1), translated to the JSON names and spellings of
``spec/json.rs`` (e.g. ``families`` -> ``target-family``, ``endian`` -> ``target-endian``,
``FramePointer::MayOmit`` -> ``"may-omit"``). The table is checked against the installed rustc by
``tests/test_target_spec.py``: every key must be one rustc accepts, and feeding rustc a spec that sets a
key to our default must make rustc *omit* that key when it prints the spec back (which it does only for
values equal to its own default).

``None`` marks an ``Option`` field whose default is "unset"; rustc then derives the effective value
elsewhere (``DERIVED`` below lists the derivations that matter for comparing specs).
"""

from __future__ import annotations

from typing import Any

# Fields every spec must give; they have no default (``Target``, not ``TargetOptions``).
REQUIRED = ("llvm-target", "target-pointer-width", "data-layout", "arch")

DEFAULTS: dict[str, Any] = {
    "metadata": {"description": None, "host_tools": None, "std": None, "tier": None},
    "target-endian": "little",
    "target-c-int-width": 32,
    "c-enum-min-bits": None,  # None = the C int width
    "os": "none",
    "env": "",
    "abi": "",
    "vendor": "unknown",
    "linker": None,  # None = derived from the linker flavour (cc/gcc for unix-cc)
    "linker-flavor": "gnu-cc",
    "lld-flavor": "gnu",
    "linker-is-gnu": True,
    "pre-link-objects": {},
    "post-link-objects": {},
    "pre-link-objects-fallback": {},
    "post-link-objects-fallback": {},
    # rustc prints ``link_self_contained`` under one of two keys depending on its enum variant (and
    # prints ``crt-objects-fallback`` even for the default ``false``), so "absent" here means "carried by
    # the other key", not a default value: both are left unset rather than invented.
    "crt-objects-fallback": None,
    "link-self-contained": None,
    "pre-link-args": {},
    "late-link-args": {},
    "late-link-args-dynamic": {},
    "late-link-args-static": {},
    "post-link-args": {},
    "link-script": None,
    "link-env": [],
    "link-env-remove": [],
    "asm-args": [],
    "cpu": "generic",
    "need-explicit-cpu": False,
    "features": "",
    "dynamic-linking": False,
    "direct-access-external-data": None,
    "dll-tls-export": True,
    "only-cdylib": False,
    "executables": True,
    "relocation-model": "pic",
    "code-model": None,
    "tls-model": "global-dynamic",
    "disable-redzone": False,
    "frame-pointer": "may-omit",
    "function-sections": True,
    "dll-prefix": "lib",
    "dll-suffix": ".so",
    "exe-suffix": "",
    "staticlib-prefix": "lib",
    "staticlib-suffix": ".a",
    "target-family": [],
    "abi-return-struct-as-int": False,
    "is-like-aix": False,
    "is-like-darwin": False,
    "is-like-solaris": False,
    "is-like-windows": False,
    "is-like-gpu": False,
    "is-like-msvc": False,
    "is-like-wasm": False,
    "is-like-android": False,
    "is-like-vexos": False,
    "binary-format": "elf",
    "default-dwarf-version": 4,
    "allows-weak-linkage": True,
    "has-rpath": False,
    "no-default-libraries": True,
    "position-independent-executables": False,
    "static-position-independent-executables": False,
    "plt-by-default": True,
    "relro-level": "none",
    "archive-format": "gnu",
    "allow-asm": True,
    "static-initializer-must-be-acyclic": False,
    "main-needs-argc-argv": True,
    "has-thread-local": False,
    "obj-is-bitcode": False,
    "max-atomic-width": None,  # None = the pointer width
    "min-atomic-width": None,  # None = 8
    "atomic-cas": True,
    "panic-strategy": "unwind",
    "crt-static-allows-dylibs": False,
    "crt-static-default": False,
    "crt-static-respected": False,
    "stack-probes": {"kind": "none"},
    "min-global-align": None,
    "default-codegen-units": None,
    "default-codegen-backend": None,
    "trap-unreachable": True,
    "requires-lto": False,
    "singlethread": False,
    "no-builtins": False,
    "default-visibility": None,
    "emit-debug-gdb-scripts": True,
    "requires-uwtable": False,
    "default-uwtable": False,
    "simd-types-indirect": True,
    "limit-rdylib-exports": True,
    "override-export-symbols": None,
    "merge-functions": "aliases",
    "target-mcount": "mcount",
    "llvm-mcount-intrinsic": None,
    "llvm-abiname": "",
    "llvm-floatabi": None,
    "rustc-abi": None,
    "relax-elf-relocations": False,
    "llvm-args": [],
    "use-ctors-section": False,
    "eh-frame-header": True,
    "has-thumb-interworking": False,
    "debuginfo-kind": "dwarf",
    "split-debuginfo": "off",
    "supported-split-debuginfo": ["off"],
    "supported-sanitizers": [],
    "default-sanitizers": [],
    "generate-arange-section": True,
    "supports-stack-protector": True,
    "small-data-threshold-support": "default-for-arch",
    "entry-name": "main",
    "entry-abi": "C",
    "supports-xray": False,
}

ALWAYS_PRINTED = frozenset({"metadata", "linker-flavor", "crt-objects-fallback", "link-self-contained"})
"""Keys rustc prints even at their default value (checked: setting them to the default still prints them)."""

DERIVED: dict[str, str] = {
    "max-atomic-width": "target-pointer-width",
    "c-enum-min-bits": "target-c-int-width",
}
"""Unset ``Option`` fields whose effective value is another field's (``Target::max_atomic_width`` etc.)."""

MIN_ATOMIC_WIDTH_DEFAULT = 8
"""``Target::min_atomic_width``: ``self.min_atomic_width.unwrap_or(8)``."""


def effective(raw: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """``raw`` with every omitted field filled in; also which fields were filled (for "(default)" marks).

    Unknown keys (a newer rustc's fields) are kept as they are, so nothing rustc printed is lost.
    """
    full: dict[str, Any] = {}
    filled: set[str] = set()
    for key, default in DEFAULTS.items():
        if key in raw:
            full[key] = raw[key]
        else:
            full[key] = default
            filled.add(key)
    for key, value in raw.items():
        full.setdefault(key, value)
    for key, source in DERIVED.items():
        if full.get(key) is None and full.get(source) is not None:
            full[key] = full[source]
    if full.get("min-atomic-width") is None:
        full["min-atomic-width"] = MIN_ATOMIC_WIDTH_DEFAULT
    return dict(sorted(full.items())), frozenset(filled)
