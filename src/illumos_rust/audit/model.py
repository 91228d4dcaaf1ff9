"""The audit's result types: one ``Report`` per ELF file, the value every renderer (text, JSON, SARIF)
reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..findings import Finding, Location, Rule, Severity
from .policy import Policy


@dataclass
class Report:
    """Findings for one file plus the facts behind them (coverage tables, NEEDED, target guess...)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "facts": self.facts, "findings": [f.to_dict() for f in self.findings]}


_UNSET = object()


class Emitter:
    """Builds findings for one file and applies the policy's severity overrides (or drops the finding)."""

    def __init__(self, report: Report, policy: Policy) -> None:
        self.report = report
        self.policy = policy
        self._sinks: dict[tuple[str, Severity | None], Any] = {}

    def add(
        self,
        rule: str,
        message: str,
        *,
        evidence: str = "",
        fix: str = "",
        symbol: str | None = None,
        address: int | None = None,
        section: str | None = None,
        severity: Severity | None = None,
        **properties: Any,
    ) -> None:
        default = severity if severity is not None else RULES[rule].default
        sev = self.policy.severity(rule, default)
        if sev is None:
            return
        loc = Location(self.report.path, symbol=symbol, address=address, section=section)
        self.report.findings.append(
            Finding(rule, sev, loc, message, evidence, fix or RULES[rule].help, properties)
        )

    def site(
        self,
        rule: str,
        severity: Severity | None,
        message: str,
        symbol: str,
        address: int,
        properties: dict[str, Any],
    ) -> None:
        """``add`` for one of many sites of a rule (70,000 functions without frame pointers): the policy's
        verdict per (rule, severity) is looked up once, and no keyword packing happens per call."""
        key = (rule, severity)
        sink = self._sinks.get(key, _UNSET)
        if sink is _UNSET:
            sink = self._sinks[key] = self.sink(rule, severity)
        if sink is not None:
            sink(message, symbol, address, properties)

    def sink(
        self, rule: str, severity: Severity | None
    ) -> Callable[[str, str, int, dict[str, Any]], None] | None:
        """A function that appends one site of ``rule`` (message, symbol, address, properties), or None when
        the policy drops the rule: the severity, fix text and path are bound once, so a check emitting
        70,000 sites pays only for each finding's own objects."""
        sev = self.policy.severity(rule, severity if severity is not None else RULES[rule].default)
        if sev is None:
            return None
        path, fix, append = self.report.path, RULES[rule].help, self.report.findings.append

        def one(message: str, symbol: str, address: int, properties: dict[str, Any]) -> None:
            append(
                Finding(rule, sev, Location(path, None, None, symbol, address), message, "", fix, properties)
            )

        return one


def _r(rid: str, name: str, short: str, help: str, default: Severity) -> tuple[str, Rule]:
    return rid, Rule(rid, name, short, help, default)


# Every rule the audit can emit; ``help`` doubles as the default fix hint.
RULES: dict[str, Rule] = dict(
    [
        _r(
            "fp-missing",
            "FramePointerMissing",
            "functions without a frame pointer",
            "Build Rust code with the x86_64-unknown-illumos target (frame-pointer: always) or "
            "-C force-frame-pointers=yes; build C objects with -fno-omit-frame-pointer.",
            Severity.ERROR,
        ),
        _r(
            "fp-rbp-clobber",
            "FramePointerClobbered",
            "functions that use the frame-pointer register as a general-purpose register",
            "Rebuild with -C force-frame-pointers=yes / "
            "-fno-omit-frame-pointer: callees' stack walks break at these frames.",
            Severity.ERROR,
        ),
        _r(
            "fp-unknown",
            "FramePointerUnknown",
            "functions whose frame could not be classified",
            "Keep .eh_frame (do not strip it) or install the 'disasm' extra (iced-x86) so the audit can "
            "decode prologues.",
            Severity.INFO,
        ),
        _r("fp-coverage", "FramePointerCoverage", "frame-pointer coverage of the file", "", Severity.INFO),
        _r(
            "dep-forbidden-path",
            "ForbiddenSearchPath",
            "RUNPATH/RPATH entry outside the policy",
            "Remove or rewrite it (illumos-rust edit, or elfedit -e 'dyn:runpath ...'); "
            "the platform's /usr/lib/64/libgcc_s.so.1 suffices.",
            Severity.ERROR,
        ),
        _r(
            "dep-relative-path",
            "RelativeSearchPath",
            "relative RUNPATH/RPATH entry",
            "Use $ORIGIN-relative or absolute platform paths.",
            Severity.ERROR,
        ),
        _r(
            "dep-rpath-runpath-mismatch",
            "RpathRunpathMismatch",
            "DT_RPATH and DT_RUNPATH disagree",
            "Set both to the same value (elfedit dyn:runpath does) or delete DT_RPATH.",
            Severity.ERROR,
        ),
        _r(
            "dep-needed-order",
            "NeededOrder",
            "libgcc_s.so.1 after libc.so.1 in DT_NEEDED",
            "Link with a rustc that has rust-lang/rust#84254 (libc last), or pass -lc last.",
            Severity.ERROR,
        ),
        _r(
            "dep-libc-not-last",
            "LibcNotLast",
            "libc.so.1 is not the last DT_NEEDED",
            "rustc's illumos target puts -lc last (late-link-args); relink so libc comes last.",
            Severity.WARNING,
        ),
        _r(
            "dep-no-libumem",
            "NoLibumem",
            "std binary without libumem.so.1",
            "illumos std links libumem as its allocator; build with the x86_64-unknown-illumos target.",
            Severity.WARNING,
        ),
        _r(
            "dep-edited",
            "EditedAfterLink",
            "DF_1_EDITED: the object was changed after linking",
            "",
            Severity.INFO,
        ),
        _r(
            "syscall-raw",
            "RawSyscall",
            "raw system call outside libc",
            "Call the libc function instead: on illumos only libc symbols are a stable ABI.",
            Severity.ERROR,
        ),
        _r(
            "syscall-solaris-number",
            "SolarisSyscallNumber",
            "raw system call with a number illumos does not assign (Solaris-only or another OS's)",
            "Call the libc function (e.g. getrandom(3C)); illumos answers this number with ENOSYS + SIGSYS.",
            Severity.ERROR,
        ),
        _r(
            "syscall-libc-indirect",
            "IndirectSyscall",
            "libc syscall() called with a constant number",
            "Call the named libc function instead of syscall(); numbers are not a stable ABI.",
            Severity.ERROR,
        ),
        _r(
            "syscall-unverified",
            "UnverifiedSyscall",
            "syscall-like bytes not confirmed by a decoder",
            "Install the 'disasm' extra (iced-x86) to confirm or dismiss it.",
            Severity.WARNING,
        ),
        _r("tls-model", "ThreadLocalModel", "how thread-locals are implemented", "", Severity.INFO),
        _r("panic-strategy", "PanicStrategy", "panic strategy", "", Severity.INFO),
        _r(
            "rust-abi-dylib",
            "RustAbiDylib",
            "shared object exporting a Rust ABI (dylib crate)",
            "Deliver executables or cdylibs with a C ABI; a Rust-ABI dylib breaks with every rustc release "
            "(RFD 0161).",
            Severity.ERROR,
        ),
        _r(
            "rust-abi-exports",
            "RustSymbolsExported",
            "cdylib exporting Rust-mangled symbols",
            "Limit exports to the C API with a mapfile (-C link-arg=-Wl,-M,mapfile) so no Rust symbol "
            "becomes ABI.",
            Severity.WARNING,
        ),
        _r(
            "stack-probes",
            "StackProbes",
            "Rust stack probes (a non-illumos target)",
            "Build with x86_64-unknown-illumos: it has no stack probes, which interfere with illumos' "
            "own stack guard.",
            Severity.WARNING,
        ),
        _r(
            "debug-stripped",
            "SymbolsStripped",
            ".symtab stripped",
            "Keep .symtab (strip only debug info): mdb and DTrace ustack() name functions from it.",
            Severity.WARNING,
        ),
        _r("debug-info", "PostMortemInfo", "post-mortem information present or missing", "", Severity.INFO),
        _r(
            "probes-present",
            "StaticProbes",
            "static probes the binary carries (DOF, usdt, stapsdt)",
            "",
            Severity.INFO,
        ),
        _r(
            "probes-unregistered",
            "ProbesUnregistered",
            "usdt probe records that nothing registers",
            "Call the generated register_probes() (or usdt::register_probes()) early in main.",
            Severity.WARNING,
        ),
        _r("target", "Target", "which target and rustc built the file", "", Severity.INFO),
        _r(
            "target-not-illumos",
            "NotIllumosTarget",
            "built for a target other than illumos",
            "Build with --target x86_64-unknown-illumos (or aarch64-unknown-illumos).",
            Severity.ERROR,
        ),
    ]
)

# What to fix first, within one severity: what kills the process on illumos, then what makes the binary
# the wrong one, then what breaks observability, then hygiene. Rules not listed sort after these.
IMPORTANCE: dict[str, int] = {
    rule: rank
    for rank, rule in enumerate(
        [
            "syscall-solaris-number",
            "target-not-illumos",
            "syscall-raw",
            "syscall-libc-indirect",
            "rust-abi-dylib",
            "dep-forbidden-path",
            "dep-relative-path",
            "dep-rpath-runpath-mismatch",
            "dep-needed-order",
            "fp-missing",
            "fp-rbp-clobber",
            "stack-probes",
            "dep-libc-not-last",
            "dep-no-libumem",
            "rust-abi-exports",
            "syscall-unverified",
            "debug-stripped",
            "fp-unknown",
        ]
    )
}

# The phrase after the count when one rule fires more than once in a file ("2126 functions without ...").
HEADINGS: dict[str, str] = {
    "fp-missing": "functions without a frame pointer",
    "fp-rbp-clobber": "functions using rbp as a general register (no frame pointer)",
    "fp-unknown": "functions whose frame could not be classified",
    "syscall-raw": "raw system calls outside libc",
    "syscall-solaris-number": "raw system calls with a number illumos does not assign",
    "syscall-libc-indirect": "libc syscall() calls with a constant number",
    "syscall-unverified": "functions with syscall-like bytes not confirmed by a decoder",
    "dep-forbidden-path": "RUNPATH/RPATH entries outside the policy",
    "dep-relative-path": "relative RUNPATH/RPATH entries",
}
