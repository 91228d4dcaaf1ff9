"""``survey query``: the common questions over the store, as rows (rendered as text, JSON or CSV).

Each question is a function from the store's items to rows of a fixed set of columns, so the three formats
print the same thing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .store import Item, Store

#: ``port``'s classes that leave illumos out (docs/readme/port.md, "Rules and classes"): a gap, a probable
#: gap, and a refusal (a gap whose obvious edit would be unsafe). ``info`` is a deliberate difference (the
#: crate handles illumos beside it) and is not counted.
GAP_CLASSES = frozenset({"gap", "probable gap", "refusal"})
#: Rules that carry no class but still break illumos where they fire: a raw syscall or a hard-coded ioctl
#: number under a Solaris cfg (Solaris numbers, wrong or fatal on illumos).
HAZARD_RULES = frozenset({"port/raw-syscall", "port/ioctl-constant"})
#: The columns of ``gaps``, in port's README order.
GAP_RULES = (
    "port/solaris-only",
    "port/illumos-only",
    "port/shared-api",
    "port/probable-gap",
    "port/build-script",
    "port/raw-syscall",
    "port/ioctl-constant",
)


def _findings(it: Item) -> Iterable[tuple[str, str | None]]:
    """(rule, port's class) of each stored finding; a store is input, so odd shapes are skipped."""
    for f in it.result.get("findings") or []:
        if isinstance(f, dict) and isinstance(f.get("rule"), str):
            props = f.get("properties")
            cls = props.get("class") if isinstance(props, dict) else None
            yield f["rule"], cls if isinstance(cls, str) else None


def gaps_of(it: Item) -> Counter[str]:
    """The crate's findings that leave illumos out, by rule: what a porter has to act on. Counted from the
    stored findings' ``class`` (port sets it), not from the rule counts, which include deliberate ones."""
    return Counter(rule for rule, cls in _findings(it) if cls in GAP_CLASSES or rule in HAZARD_RULES)


def refusals_of(it: Item, rule: str | None = None) -> int:
    """Gaps port explains but will not patch (the edit would be unsafe or would not compile)."""
    return sum(1 for r, cls in _findings(it) if cls == "refusal" and rule in (None, r))


def with_members(items: Iterable[Item]) -> list[Item]:
    """The items as questions and reports see them: a package (``survey binaries`` over a repository)
    becomes one binary per ELF file in it, named ``PACKAGE!/path/in/package``, with that file's status
    and analysis. A package that could not be read stays one failed item."""
    out: list[Item] = []
    for it in items:
        members = it.result.get("members") if it.kind == "binary" and it.result.get("package") else None
        if it.status != "ok" or not isinstance(members, list):
            out.append(it)
            continue
        for m in members:
            if not isinstance(m, dict):
                continue
            where = f"{it.path}!/{m.get('member', '')}"
            result = m.get("result")
            out.append(
                Item(
                    "binary",
                    it.digest,
                    it.tool,
                    where,
                    where,
                    str(m.get("status", "failed")),
                    str(m.get("reason", "")),
                    0.0,
                    result if isinstance(result, dict) else {},
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    help: str
    columns: tuple[str, ...]
    rows: Callable[[Iterable[Item]], list[dict[str, Any]]]


def _solaris_only(items: Iterable[Item]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if it.kind != "crate" or it.status != "ok":
            continue
        n = gaps_of(it)["port/solaris-only"]
        if n:
            refused = refusals_of(it, "port/solaris-only")
            out.append({"crate": it.name, "solaris_only": n, "refused": refused, "path": it.path})
    return sorted(out, key=lambda r: (-r["solaris_only"], r["crate"]))


def _gaps(items: Iterable[Item]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if it.kind != "crate" or it.status != "ok":
            continue
        gaps = gaps_of(it)
        if gaps:
            counts = {r.split("/", 1)[1]: gaps[r] for r in GAP_RULES}
            out.append({"crate": it.name, **counts, "refused": refusals_of(it), "path": it.path})
    return sorted(out, key=lambda r: r["crate"])


def _no_frame_pointers(items: Iterable[Item]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if it.kind != "binary" or it.status != "ok":
            continue
        fp = it.result.get("frame_pointers") or {}
        missing = int((fp.get("totals") or {}).get("NO_FP", 0))  # totals is None: no functions examined
        if missing or it.result.get("rules", {}).get("fp-missing"):
            out.append({"binary": it.path, "coverage_percent": fp.get("coverage_percent"), "no_fp": missing})
    return sorted(out, key=lambda r: r["binary"])


def _opt_local(items: Iterable[Item]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if it.kind != "binary" or it.status != "ok":
            continue
        deps = it.result.get("dependencies") or {}
        hits = []
        for key in ("needed", "runpath", "rpath"):
            value = deps.get(key) or []
            # audit's facts: NEEDED is a list, DT_RUNPATH/DT_RPATH the colon-separated string (or None)
            for entry in value.split(":") if isinstance(value, str) else value:
                # a path under /opt/local, not any name that begins so (/opt/localtools is not pkgsrc)
                if isinstance(entry, str) and (entry == "/opt/local" or entry.startswith("/opt/local/")):
                    hits.append(f"{key}={entry}")
        if hits:
            out.append({"binary": it.path, "references": "; ".join(hits)})
    return sorted(out, key=lambda r: r["binary"])


def _failed(items: Iterable[Item]) -> list[dict[str, Any]]:
    return [{"kind": it.kind, "path": it.path, "reason": it.reason} for it in items if it.status != "ok"]


QUESTIONS = {
    q.name: q
    for q in (
        Question(
            "solaris-only",
            "crates whose cfgs give Solaris code that illumos is left without (port/solaris-only gaps)",
            ("crate", "solaris_only", "refused", "path"),
            _solaris_only,
        ),
        Question(
            "gaps",
            "crates with any illumos gap (port's gap, probable gap, refusal; raw syscalls), by rule",
            ("crate", *(r.split("/", 1)[1] for r in GAP_RULES), "refused", "path"),
            _gaps,
        ),
        Question(
            "no-frame-pointers",
            "binaries with functions lacking frame pointers",
            ("binary", "coverage_percent", "no_fp"),
            _no_frame_pointers,
        ),
        Question(
            "opt-local",
            "binaries whose NEEDED/RUNPATH/RPATH name /opt/local",
            ("binary", "references"),
            _opt_local,
        ),
        Question(
            "failed",
            "items the survey could not analyse, with the reason",
            ("kind", "path", "reason"),
            _failed,
        ),
    )
}


def ask(store_path: str, name: str) -> tuple[Question, list[dict[str, Any]]]:
    q = QUESTIONS[name]
    with Store(store_path, readonly=True) as store:
        return q, q.rows(with_members(store.items()))


def render(q: Question, rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"question": q.name, "rows": rows}, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(q.columns), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    if not rows:
        return f"{q.name}: none\n"
    cells = [[str(r.get(c, "")) for c in q.columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(q.columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(q.columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"
