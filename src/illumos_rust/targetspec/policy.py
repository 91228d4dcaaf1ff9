"""``target check --policy rfd0161``: what RFD 0161 asks of an illumos target that a spec does not give.

Each rule is one RFD 0161 wish (or a consequence of the illumos link editor that the RFD and the upstream
spec comments depend on), checked against the *effective* spec, i.e. with rustc's defaults filled in: a
spec that omits ``frame-pointer`` has ``may-omit``, and that is exactly the finding.

Severities follow what breaks: ERROR for what makes binaries misbehave or fail to link on illumos
(stack probes, no frame pointers, libc not last, RELRO, a Solaris ``os``), WARNING for what is doubtful,
INFO for RFD wishes that upstream deliberately did not adopt (ELF TLS, panic=abort), so the upstream
``x86_64-unknown-illumos`` passes with notes only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..findings import Finding, Location, Rule, Severity
from .spec import TargetSpec

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "RFD161-OS",
            "illumos-os",
            "The target must be an illumos target (os=illumos)",
            default=Severity.ERROR,
        ),
        Rule(
            "RFD161-FP", "frame-pointers-always", "Frame pointers in every function", default=Severity.ERROR
        ),
        Rule("RFD161-PROBES", "no-stack-probes", "No Rust stack probes", default=Severity.ERROR),
        Rule(
            "RFD161-LIBC-LAST",
            "libc-last",
            "libc linked last (-lc in late-link-args)",
            default=Severity.ERROR,
        ),
        Rule("RFD161-SSP", "libssp", "-lssp for the stack protector symbols", default=Severity.WARNING),
        Rule("RFD161-RELRO", "no-relro", "No RELRO: the illumos ld has no -z relro", default=Severity.ERROR),
        Rule(
            "RFD161-EHFRAMEHDR",
            "no-eh-frame-hdr",
            "No --eh-frame-hdr for the illumos ld",
            default=Severity.ERROR,
        ),
        Rule(
            "RFD161-GNULD", "not-gnu-ld", "The illumos ld takes no GNU ld options", default=Severity.WARNING
        ),
        Rule(
            "RFD161-XPG6", "xpg6", "-std=c99 so cc selects the XPG6 values objects", default=Severity.WARNING
        ),
        Rule("RFD161-PIE", "no-pie", "PIE is unverified with the illumos ld", default=Severity.WARNING),
        Rule("RFD161-CRTSTATIC", "no-static-libc", "illumos has no static libc", default=Severity.WARNING),
        Rule(
            "RFD161-TLS",
            "elf-tls",
            "RFD 0161 asks for ELF TLS instead of pthread keys",
            default=Severity.INFO,
        ),
        Rule("RFD161-PANIC", "panic-strategy", "RFD 0161 considers panic=abort", default=Severity.INFO),
    )
}

Check = Callable[[TargetSpec], list[tuple[str, Severity, str, str, str]]]
"""A rule body returns (rule, severity, message, evidence, fix) tuples; locations are added centrally."""


def _show(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "))


def _value(spec: TargetSpec, key: str) -> str:
    mark = " (rustc default; field omitted)" if key in spec.defaulted else ""
    return f"{key} = {_show(spec.get(key))}{mark}"


def _os(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    if spec.get("os") == "illumos":
        return []
    return [
        (
            "RFD161-OS",
            Severity.ERROR,
            'not an illumos target: crates\' `target_os = "illumos"` code is not built, and Solaris-only '
            "behaviour (getrandom syscall 143, no frame pointers) is what RFD 0161 set out to fix",
            _value(spec, "os"),
            'set "os": "illumos" (and "is-like-solaris": true), or start from x86_64-unknown-illumos',
        )
    ]


def _frame_pointer(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    fp = spec.get("frame-pointer")
    if fp == "always":
        return []
    severity = Severity.WARNING if fp == "non-leaf" else Severity.ERROR
    return [
        (
            "RFD161-FP",
            severity,
            "frame pointers are not kept in every function; DTrace ustack(), mdb and pstack walk "
            "frame pointers and lose frames"
            + (" (leaf functions only; rust-lang/rust#141798 is still open)" if fp == "non-leaf" else ""),
            _value(spec, "frame-pointer"),
            'set "frame-pointer": "always"',
        )
    ]


def _probes(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    probes = spec.get("stack-probes")
    if isinstance(probes, dict) and probes.get("kind") == "none":
        return []
    return [
        (
            "RFD161-PROBES",
            Severity.ERROR,
            "Rust stack probes are enabled; RFD 0161 asks for none because they interfere with the "
            "built-in stack guards on illumos",
            _value(spec, "stack-probes"),
            'remove "stack-probes" (default {"kind": "none"})',
        )
    ]


def _libc_last(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    late = spec.link_args("late-link-args")
    evidence = f"{_value(spec, 'late-link-args')}; linker-flavor = {_show(spec.get('linker-flavor'))}"
    out: list[tuple[str, Severity, str, str, str]] = []
    if "-lc" not in late:
        out.append(
            (
                "RFD161-LIBC-LAST",
                Severity.ERROR,
                "libc is not forced last on the link line, so libc.so.1 can precede libgcc_s.so.1 in "
                "DT_NEEDED and the two unwinders get mixed (rust-lang/rust#84254)",
                evidence,
                f'add "-lc" to "late-link-args" for "{spec.get("linker-flavor")}"',
            )
        )
    if "-lssp" not in late:
        out.append(
            (
                "RFD161-SSP",
                Severity.WARNING,
                "no -lssp: __stack_chk_fail/__stack_chk_guard live in libssp on illumos "
                "(rust-lang/rust#70682)",
                evidence,
                f'add "-lssp" after "-lc" in "late-link-args" for "{spec.get("linker-flavor")}"',
            )
        )
    return out


def _relro(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    if spec.get("relro-level") in ("none", "off"):
        return []
    return [
        (
            "RFD161-RELRO",
            Severity.ERROR,
            "RELRO is requested; rustc will pass -z relro, which the illumos ld does not accept",
            _value(spec, "relro-level"),
            'remove "relro-level" (default "none")',
        )
    ]


def _simple(
    key: str, good: Any, rule: str, message: str, fix: str
) -> Callable[[TargetSpec], list[tuple[str, Severity, str, str, str]]]:
    def check(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
        if spec.get(key) == good:
            return []
        return [(rule, RULES[rule].default, message, _value(spec, key), fix)]

    return check


def _xpg6(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    if "-std=c99" in spec.link_args("pre-link-args"):
        return []
    return [
        (
            "RFD161-XPG6",
            Severity.WARNING,
            "no -std=c99 before the objects; upstream illumos passes it so the C driver links the "
            "XPG6 standards objects (values-*.o) RFD 0161 wants",
            _value(spec, "pre-link-args"),
            f'add "-std=c99" to "pre-link-args" for "{spec.get("linker-flavor")}"',
        )
    ]


def _tls(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    if spec.get("has-thread-local") is True:
        return [
            (
                "RFD161-TLS",
                Severity.WARNING,
                "ELF TLS is on, as RFD 0161 wanted, but illumos has no __cxa_thread_atexit_impl to run "
                "thread-local destructors; upstream left this commented out for that reason",
                _value(spec, "has-thread-local"),
                "keep it only with a std that does not need TLS destructors, or set it to false",
            )
        ]
    return [
        (
            "RFD161-TLS",
            Severity.INFO,
            "RFD 0161 asks for ELF TLS instead of pthread keys; not adopted upstream because illumos "
            "cannot register thread-local destructors",
            _value(spec, "has-thread-local"),
            "",
        )
    ]


def _panic(spec: TargetSpec) -> list[tuple[str, Severity, str, str, str]]:
    if spec.get("panic-strategy") == "abort":
        return [
            (
                "RFD161-PANIC",
                Severity.INFO,
                "panic=abort as RFD 0161 considered; the rustup std for illumos is built for unwind, so "
                "build std yourself (-Zbuild-std=std,panic_abort)",
                _value(spec, "panic-strategy"),
                "",
            )
        ]
    return [
        (
            "RFD161-PANIC",
            Severity.INFO,
            "RFD 0161 considered panic=abort by default; upstream kept unwind",
            _value(spec, "panic-strategy"),
            "",
        )
    ]


CHECKS: tuple[Check, ...] = (
    _os,
    _frame_pointer,
    _probes,
    _libc_last,
    _relro,
    _simple(
        "eh-frame-header",
        False,
        "RFD161-EHFRAMEHDR",
        "rustc will pass --eh-frame-hdr, a GNU ld option the illumos ld does not take",
        'set "eh-frame-header": false',
    ),
    _simple(
        "linker-is-gnu",
        False,
        "RFD161-GNULD",
        "the spec claims a GNU linker; the illumos ld is not one",
        'set "linker-is-gnu": false',
    ),
    _xpg6,
    _simple(
        "position-independent-executables",
        False,
        "RFD161-PIE",
        "PIE executables are not what the upstream illumos target builds, and are unverified with the "
        "illumos ld",
        'remove "position-independent-executables"',
    ),
    _simple(
        "crt-static-respected",
        False,
        "RFD161-CRTSTATIC",
        "+crt-static would be honoured, but illumos ships no static libc",
        'remove "crt-static-respected"',
    ),
    _tls,
    _panic,
)


def key_line(path: str | None, key: str) -> int | None:
    """The line of ``"key":`` in a spec file, so findings point into the file a user edits."""
    if not path:
        return None
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    needle = f'"{key}"'
    for number, line in enumerate(lines, 1):
        if needle in line:
            return number
    return None


_RULE_KEY = {
    "RFD161-OS": "os",
    "RFD161-FP": "frame-pointer",
    "RFD161-PROBES": "stack-probes",
    "RFD161-LIBC-LAST": "late-link-args",
    "RFD161-SSP": "late-link-args",
    "RFD161-RELRO": "relro-level",
    "RFD161-EHFRAMEHDR": "eh-frame-header",
    "RFD161-GNULD": "linker-is-gnu",
    "RFD161-XPG6": "pre-link-args",
    "RFD161-PIE": "position-independent-executables",
    "RFD161-CRTSTATIC": "crt-static-respected",
    "RFD161-TLS": "has-thread-local",
    "RFD161-PANIC": "panic-strategy",
}


def check_rfd0161(spec: TargetSpec) -> list[Finding]:
    """Every RFD 0161 rule applied to one spec, most severe first."""
    findings = []
    for check in CHECKS:
        for rule, severity, message, evidence, fix in check(spec):
            key = _RULE_KEY[rule]
            location = Location(
                path=spec.path or f"target:{spec.name}", line=key_line(spec.path, key), symbol=key
            )
            findings.append(Finding(rule, severity, location, message, evidence, fix, {"field": key}))
    findings.sort(key=lambda f: (-int(f.severity), f.rule))
    return findings


POLICIES: dict[str, Callable[[TargetSpec], list[Finding]]] = {"rfd0161": check_rfd0161}
