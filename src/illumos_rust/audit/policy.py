"""Audit policies: which library search paths, severities and exemptions a delivery context accepts.

Two profiles ship. ``platform`` is RFD 0161's bar for binaries delivered *in* the illumos/SmartOS platform: no
``/opt/local`` (pkgsrc sits on top of the platform, never under it), no relative search paths other than
``$ORIGIN``. ``pkgsrc`` accepts ``/opt/local`` because that is where pkgsrc binaries legitimately look.
A TOML file (``--policy``) starts from a profile and overrides it; the format is documented in
``docs/readme/audit.md``.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import FormatError, UsageError
from ..files import open_regular
from ..findings import Severity

PLATFORM_PREFIXES = ("/lib", "/usr/lib", "/usr/gcc/*/lib", "$ORIGIN", "${ORIGIN}")
PKGSRC_PREFIXES = (*PLATFORM_PREFIXES, "/opt/local")


@dataclass(frozen=True)
class Policy:
    """Everything a check may consult; immutable so one policy can be shared across worker files."""

    name: str = "platform"
    # Search-path entries must start with one of these (glob per path component, ``$ORIGIN`` literal).
    allowed_prefixes: tuple[str, ...] = PLATFORM_PREFIXES
    # Explicitly forbidden prefixes win over allowed ones (``/opt/local/**`` on the platform).
    forbidden_prefixes: tuple[str, ...] = ("/opt/local",)
    require_libumem: bool = True
    # Function names (fnmatch globs) exempt from the frame-pointer rule: crt's _start deliberately
    # terminates the frame chain (elf-tooling.md §2).
    fp_exempt: tuple[str, ...] = ("_start", "__start", "_init", "_fini")
    # Leaf functions without a frame pointer are exempt unless this is set (illumos' own target keeps FPs
    # even in leaves, but DTrace copes with leaves; rust-lang/rust#141798).
    fp_require_in_leaves: bool = False
    # Per-rule severity overrides; ``None`` disables a rule.
    severities: dict[str, Severity | None] = field(default_factory=dict)

    def severity(self, rule: str, default: Severity) -> Severity | None:
        return self.severities.get(rule, default)

    def path_verdict(self, entry: str) -> str | None:
        """Why a RUNPATH/RPATH entry is unacceptable, or None when it is fine."""
        if not entry:
            return "empty entry (the runtime linker reads it as the current directory)"
        if entry.startswith("$ORIGIN") or entry.startswith("${ORIGIN}"):
            return None
        if not entry.startswith("/"):
            return "relative path other than $ORIGIN (resolved against the process's working directory)"
        for prefix in self.forbidden_prefixes:
            if _under(entry, prefix):
                return f"under {prefix}, which this policy ({self.name}) forbids"
        if not any(_under(entry, p) for p in self.allowed_prefixes):
            return f"not under an allowed prefix ({', '.join(self.allowed_prefixes)})"
        return None


def _under(path: str, prefix: str) -> bool:
    """``path`` equals ``prefix`` or lies below it; prefix components may be globs (``/usr/gcc/*/lib``)."""
    pp = [c for c in path.rstrip("/").split("/")]
    qq = [c for c in prefix.rstrip("/").split("/")]
    if qq and qq[-1] == "**":
        qq = qq[:-1]
    if len(pp) < len(qq):
        return False
    return all(fnmatch.fnmatchcase(a, b) for a, b in zip(pp, qq, strict=False))


PROFILES: dict[str, Policy] = {
    "platform": Policy(),
    "pkgsrc": Policy(
        name="pkgsrc",
        allowed_prefixes=PKGSRC_PREFIXES,
        forbidden_prefixes=(),
        require_libumem=False,
    ),
}


def profile(name: str) -> Policy:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r} (expected {' or '.join(PROFILES)})") from None


_KEYS = {
    "profile",
    "allowed_prefixes",
    "forbidden_prefixes",
    "require_libumem",
    "fp_exempt",
    "fp_require_in_leaves",
    "severity",
}


def load_policy(path: str | Path) -> Policy:
    """Read a policy TOML file; unknown keys, unknown rules and misspelt severities are errors naming the
    line, so a typo never silently weakens a gate."""
    try:
        with open_regular(path) as fh:
            raw = fh.read()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read policy: {exc.strerror or exc}") from None
    except FormatError as exc:
        raise UsageError(f"{path}: cannot read policy: {exc.what}") from None
    try:
        text = raw.decode("utf-8")  # TOML 1.0: "A TOML file must be a valid UTF-8 encoded Unicode document"
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "TOML files must be UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return policy_from_dict(data, str(path), text)


_ASSIGNMENT = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_TABLE = re.compile(r"""^\s*\[\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_.-]+))\s*\]""")


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """1-based line of ``key = ...`` (in ``[table]`` when given) or of the header ``[key]``; None if the
    key was written some other way (dotted keys, inline tables). tomllib keeps no positions, so this reads
    the lines the simple way a policy file is written."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if m := _TABLE.match(line):
            current = next(g for g in m.groups() if g is not None)
            if table is None and current == key:
                return number
            continue
        m = _ASSIGNMENT.match(line)
        if m and current == table and next(g for g in m.groups() if g is not None) == key:
            return number
    return None


def policy_from_dict(data: dict[str, Any], origin: str = "policy", text: str = "") -> Policy:
    def where(key: str, table: str | None = None) -> str:
        line = _line_of(text, key, table) if text else None
        return f"{origin}:{line}" if line else origin

    unknown = sorted(set(data) - _KEYS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(_KEYS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(_KEYS))})"
        raise UsageError(f"{where(unknown[0])}: unknown key {unknown[0]}{hint}")
    base = profile(str(data.get("profile", "platform")))
    changes: dict[str, Any] = {"name": f"{base.name}+{Path(origin).name}"}
    for key in ("allowed_prefixes", "forbidden_prefixes", "fp_exempt"):
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{where(key)}: {key} must be a list of strings")
            changes[key] = tuple(value)
    for key in ("require_libumem", "fp_require_in_leaves"):
        if key in data:
            if not isinstance(data[key], bool):
                raise UsageError(f"{where(key)}: {key} must be true or false")
            changes[key] = data[key]
    if "severity" in data:
        table = data["severity"]
        if not isinstance(table, dict):
            raise UsageError(f"{where('severity')}: [severity] must be a table of rule = level")
        from .model import RULES  # model imports this module: a top-level import would be a circle

        sev: dict[str, Severity | None] = dict(base.severities)
        for rule, level in table.items():
            at = where(rule, "severity")
            if rule not in RULES:
                close = difflib.get_close_matches(rule, sorted(RULES), n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(RULES))}"
                raise UsageError(f"{at}: unknown rule {rule!r} in [severity] ({hint})")
            if not isinstance(level, str):
                raise UsageError(f"{at}: severity of {rule} must be a string (error, warning, info or off)")
            if level.lower() == "off":
                sev[rule] = None
            else:
                try:
                    sev[rule] = Severity.parse(level)
                except ValueError:
                    raise UsageError(
                        f"{at}: {rule}: unknown severity {level!r} (expected error, warning, info or off)"
                    ) from None
        changes["severities"] = sev
    return replace(base, **changes)
