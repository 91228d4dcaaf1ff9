"""The one ``Finding`` shared by ``audit`` and ``port``, and its renderers (text, JSON, SARIF 2.1.0).

Every renderer works from the same list of dataclasses, so what a CI gate sees in SARIF is exactly what a
person reads in the terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from . import __version__

TOOL_URI = "https://github.com/illumos-rust/illumos-rust"


class Severity(enum.IntEnum):
    """Ordered so that ``severity >= threshold`` decides the exit code."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def sarif_level(self) -> str:
        return {Severity.INFO: "note", Severity.WARNING: "warning", Severity.ERROR: "error"}[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected info, warning or error)") from None


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a file, and inside it a line (source) or a symbol/address/section (binary)."""

    path: str
    line: int | None = None
    column: int | None = None
    symbol: str | None = None
    address: int | None = None
    section: str | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        extra = []
        if self.symbol:
            extra.append(self.symbol)
        if self.address is not None:
            extra.append(f"0x{self.address:x}")
        if self.section:
            extra.append(self.section)
        if extra:
            text += " (" + ", ".join(extra) + ")"
        return text


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found: stable rule id, severity, where, what, the evidence, and how to fix it."""

    rule: str
    severity: Severity
    location: Location
    message: str
    evidence: str = ""
    fix: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, field by field: ``dataclasses.asdict``'s recursive deep copy cost 100 µs per
        finding, 7 s for the 70,000 of a big library without frame pointers."""
        loc = self.location
        where = {
            k: v
            for k, v in (
                ("path", loc.path),
                ("line", loc.line),
                ("column", loc.column),
                ("symbol", loc.symbol),
                ("address", loc.address),
                ("section", loc.section),
            )
            if v is not None
        }
        return {
            "rule": self.rule,
            "severity": self.severity.name.lower(),
            "location": where,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "properties": dict(self.properties),  # a shallow copy: nested values are shared
        }


@dataclass(frozen=True)
class Rule:
    """Static description of a rule, used for SARIF's ``tool.driver.rules`` and ``--help`` listings."""

    id: str
    name: str
    short: str
    help: str = ""
    default: Severity = Severity.WARNING


def render_text(findings: Sequence[Finding], *, color: bool = False) -> str:
    colors = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
    lines = []
    for f in findings:
        sev = f.severity.name.lower()
        if color:
            sev = f"{colors[f.severity]}{sev}\x1b[0m"
        lines.append(f"{f.location}: {sev}[{f.rule}]: {f.message}")
        if f.evidence:
            lines.extend("    " + e for e in f.evidence.splitlines())
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    return "\n".join(lines) + ("\n" if lines else "")


SITES_SHOWN = 5  # sites listed under a grouped heading unless every site is asked for


def _site(f: Finding, path: str, symbol: Callable[[str], str]) -> str:
    where = []
    if f.location.address is not None:
        where.append(f"0x{f.location.address:x}")
    if f.location.symbol:
        where.append(symbol(f.location.symbol))
    if f.location.line is not None:
        where.append(f"{path}:{f.location.line}")
    return " ".join(where) or path


def render_grouped(
    findings: Sequence[Finding],
    *,
    headings: dict[str, str] | None = None,
    importance: dict[str, int] | None = None,
    paths: dict[str, str] | None = None,
    sites: int | None = SITES_SHOWN,
    color: bool = False,
    symbol: Callable[[str], str] = str,
) -> str:
    """Findings ordered by severity, then ``importance`` (rule rank, lower first), then address; the
    findings of one rule and severity in one file that occur more than once become one heading with
    their count and the first ``sites`` of them (``None``: all), so 7,000 functions without a frame
    pointer read as one thing to fix, not 7,000.

    ``headings`` maps a rule to the phrase a grouped heading uses; ``paths`` maps a location's path to
    how it is shown (relative to the argument a person typed); ``symbol`` how a symbol is shown (a
    demangler: only the sites printed pay for it).
    """
    colors = {Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m", Severity.INFO: "\x1b[36m"}
    rank = importance or {}
    shown_path = paths or {}
    groups: dict[tuple[str, str, Severity], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.location.path, f.rule, f.severity), []).append(f)

    def addr(f: Finding) -> int:
        return f.location.address if f.location.address is not None else -1

    for members in groups.values():
        members.sort(key=addr)
    order = sorted(
        groups.items(),
        key=lambda kv: (-kv[0][2], rank.get(kv[0][1], len(rank)), addr(kv[1][0]), kv[0][0], kv[0][1]),
    )
    lines: list[str] = []
    for (path, rule, severity), members in order:
        sev = severity.name.lower()
        if color:
            sev = f"{colors[severity]}{sev}\x1b[0m"
        where = shown_path.get(path, path)
        if len(members) == 1:
            f = members[0]
            shown_symbol = symbol(f.location.symbol) if f.location.symbol else None
            loc = dataclasses.replace(f.location, path=where, symbol=shown_symbol)
            lines.append(f"{loc}: {sev}[{f.rule}]: {f.message}")
            lines.extend("    " + e for e in f.evidence.splitlines())
            if f.fix:
                lines.append(f"    fix: {f.fix}")
            continue
        what = (headings or {}).get(rule, "findings")
        lines.append(f"{where}: {sev}[{rule}]: {len(members)} {what}")
        listed = members if sites is None else members[:sites]
        for f in listed:
            lines.append(f"    {_site(f, where, symbol)}: {f.message}")
        if len(listed) < len(members):
            lines.append(f"    ... and {len(members) - len(listed)} more (--all lists every one)")
        fixes = {f.fix for f in members if f.fix}
        for fix in sorted(fixes):
            lines.append(f"    fix: {fix}")
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(findings: Sequence[Finding], **extra: Any) -> str:
    return (
        json.dumps({**extra, "findings": [f.to_dict() for f in findings]}, indent=2, sort_keys=False) + "\n"
    )


def _sarif_location(loc: Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.path}}
    if loc.line is not None:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.column is not None:
            region["startColumn"] = loc.column
        physical["region"] = region
    elif loc.address is not None:
        physical["address"] = {"absoluteAddress": loc.address}
    out: dict[str, Any] = {"physicalLocation": physical}
    if loc.symbol:
        out["logicalLocations"] = [{"name": loc.symbol, "kind": "function"}]
    return out


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": f.severity.sarif_level,
        "message": {"text": f.message},
        "locations": [_sarif_location(f.location)],
    }
    props: dict[str, Any] = dict(f.properties)
    if f.evidence:
        props["evidence"] = f.evidence
    if f.fix:
        props["fix"] = f.fix
    if props:
        result["properties"] = props
    return result


def to_sarif(
    findings: Sequence[Finding], rules: Iterable[Rule] = (), *, tool: str = "illumos-rust"
) -> dict[str, Any]:
    """SARIF 2.1.0 log with one run; every rule used by a finding is listed even when not in ``rules``."""
    known = {r.id: r for r in rules}
    for f in findings:
        known.setdefault(f.rule, Rule(f.rule, f.rule, f.rule, default=f.severity))
    rule_ids = sorted(known)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = [_sarif_result(f, index[f.rule]) for f in findings]
    driver_rules = []
    for rid in rule_ids:
        r = known[rid]
        entry: dict[str, Any] = {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.short},
            "defaultConfiguration": {"level": r.default.sarif_level},
        }
        if r.help:
            entry["fullDescription"] = {"text": r.help}
        driver_rules.append(entry)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "version": __version__,
                        "informationUri": TOOL_URI,
                        "rules": driver_rules,
                    }
                },
                "results": results,
            }
        ],
    }


def render_sarif(findings: Sequence[Finding], rules: Iterable[Rule] = ()) -> str:
    return json.dumps(to_sarif(findings, rules), indent=2) + "\n"


def write_sarif(out: IO[str], findings: Sequence[Finding], rules: Iterable[Rule] = ()) -> None:
    """``render_sarif`` written piece by piece: the same log, without holding a second copy of 70,000
    results as dictionaries and one 60 MB string (what pushed a big audit past 300 MiB)."""
    one_per_rule = list({f.rule: f for f in findings}.values())
    log = to_sarif(one_per_rule, rules)  # the driver's rule list, exactly as for every finding
    run = log["runs"][0]
    run["results"] = []
    index = {r["id"]: i for i, r in enumerate(run["tool"]["driver"]["rules"])}
    head = json.dumps(log, indent=2)
    marker = '"results": []'
    cut = head.rindex(marker)
    out.write(head[:cut] + '"results": [')
    for i, f in enumerate(findings):
        out.write(("\n        " if i == 0 else ",\n        ") + json.dumps(_sarif_result(f, index[f.rule])))
    out.write(("\n      " if findings else "") + "]" + head[cut + len(marker) :] + "\n")
