"""The summary a person reads first: a verdict per file, totals per rule, the frame-pointer coverage table.

Built from ``Report`` values only (no re-analysis), so ``-q`` and ``--all`` change how much is shown, never
what was found. Toolchain facts (rustc version and commit) are printed whole: a truncated hash cannot be
looked up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..findings import Severity
from .model import HEADINGS, IMPORTANCE, RULES, Report

COVERAGE_ROWS = 12  # owners in a file's coverage table unless every one is asked for
_COLUMNS = ("FP", "NO_FP", "RBP_CLOBBER", "LEAF", "FRAGMENT", "EXEMPT", "UNKNOWN")


def verdict(report: Report, threshold: Severity | None) -> str:
    """FAIL when a finding reaches the exit-code threshold (``None``: never); ERR with errors that do not
    fail the run (``--fail-on never``: the label must not play them down to a warning); WARN with
    warnings; else PASS."""
    worst = report.worst
    if threshold is not None and worst is not None and worst >= threshold:
        return "FAIL"
    if worst is not None and worst >= Severity.ERROR:
        return "ERR"
    if worst is not None and worst >= Severity.WARNING:
        return "WARN"
    return "PASS"


def _fp_text(fp: dict[str, Any]) -> str:
    if "skipped" in fp:
        return f"frame pointers: not examined ({fp['skipped']})"
    if not fp.get("functions"):
        return "frame pointers: no functions examined"
    totals = fp.get("totals", {})
    judged = sum(totals.get(c, 0) for c in ("FP", "NO_FP", "RBP_CLOBBER"))
    if fp.get("coverage_percent") is None:
        text = f"frame pointers: no non-leaf functions among {fp['functions']}"
    else:
        text = f"frame pointers: {fp['coverage_percent']}% of {judged} non-leaf functions"
    share = fp.get("examined_percent")
    if share is not None and share < 100:
        text += f" (examined {share}% of executable bytes)"
    return text


def _target_text(t: dict[str, Any]) -> str:
    text = f"{t.get('machine', '?')} {t.get('os', '?')}"
    if t.get("rust"):
        text += ", Rust"
    if t.get("rustc"):
        text += f", rustc {t['rustc']}"
    if t.get("rustc_commit"):
        text += f" (commit {t['rustc_commit']})"
    return text


def render_summary(
    reports: Sequence[Report],
    *,
    paths: dict[str, str] | None = None,
    threshold: Severity | None = Severity.ERROR,
    every_owner: bool = False,
    unreadable: int = 0,
    skipped: int = 0,
) -> str:
    shown = paths or {}
    head = f"audit summary: {len(reports)} ELF file(s)"
    head += f", {unreadable} unreadable" if unreadable else ""
    head += f", {skipped} skipped (not regular files)" if skipped else ""
    lines = [head]
    for r in reports:
        counts = Counter(f.severity for f in r.findings)
        lines.append(
            f"  {verdict(r, threshold):4}  {shown.get(r.path, r.path)}: "
            f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s)"
        )
        lines.append(f"        {_target_text(r.facts.get('target', {}))}")
        lines.append(f"        {_fp_text(r.facts.get('frame_pointers', {}))}")
    per_rule: Counter[tuple[str, Severity]] = Counter()
    files: dict[tuple[str, Severity], set[str]] = {}
    for r in reports:
        for f in r.findings:
            if f.severity == Severity.INFO:
                continue
            per_rule[f.rule, f.severity] += 1
            files.setdefault((f.rule, f.severity), set()).add(r.path)
    if per_rule:
        lines.append("rule totals:")
        for (rule, sev), n in sorted(
            per_rule.items(), key=lambda kv: (-kv[0][1], IMPORTANCE.get(kv[0][0], len(IMPORTANCE)), kv[0][0])
        ):
            what = HEADINGS.get(rule) or (RULES[rule].short if rule in RULES else rule)
            lines.append(
                f"  {sev.name.lower():7}  {rule:24} {n:6}  {what}"
                + (f" (in {len(files[rule, sev])} files)" if len(files[rule, sev]) > 1 else "")
            )
    else:
        lines.append("rule totals: no warnings or errors")
    for r in reports:
        rows = r.facts.get("frame_pointers", {}).get("by_owner") or []
        if not rows:
            continue
        lines.append(f"frame-pointer coverage: {shown.get(r.path, r.path)}")
        listed = rows if every_owner else rows[:COVERAGE_ROWS]
        width = min(max(12, *(len(f"{row['kind']} {row['name']}") for row in listed)), 48)
        lines.append(f"  {'owner':{width}}" + "".join(f" {c:>11}" for c in _COLUMNS) + f" {'coverage':>9}")
        for row in listed:
            owner = f"{row['kind']} {row['name']}"
            if len(owner) > width:
                owner = owner[: width - 1] + "…"
            cov = "-" if row.get("coverage") is None else f"{row['coverage']}%"
            lines.append(
                f"  {owner:{width}}" + "".join(f" {row.get(c, 0):>11}" for c in _COLUMNS) + f" {cov:>9}"
            )
        if len(listed) < len(rows):
            lines.append(f"  ... and {len(rows) - len(listed)} more owners (--all lists every one)")
    return "\n".join(lines) + "\n"
