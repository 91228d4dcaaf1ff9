"""The de-porting experiment (issue 16): does ``port`` find the sites human porters changed?

The historical pre-port trees are kept outside the project, so this is the closest honest substitute on the
Debian corpus: every crate whose humans already added ``target_os = "illumos"`` is copied with illumos
taken out again (:mod:`illumos_rust.port.deport`), ``port`` runs on the copies, and for each removed site:

* **reported**: a porting finding (solaris-only, illumos-only, shared-api, probable-gap, raw-syscall)
  lies on the site's predicate lines in the copy, or is a same-OS-list group finding that lists the
  site's line; its class (gap, probable gap, refusal, info);
* **patched / equivalent**: the patch edits that predicate, and the patched predicate gives
  x86_64-unknown-illumos the same answer as the humans' original for every assignment of the other
  (feature, ``test``...) atoms;
* **unsafe**: every predicate a patch widens (illumos compiles code it did not) is checked by a separate,
  textual oracle, not by ``port``'s code: the gated item's text, its ``mod``/``include!`` files, for a raw
  ``syscall``/``SYS_*`` or for a name libc 0.2.139 declares in ``solarish/solaris.rs`` and nowhere else in
  ``solarish/``. A widening the humans also made (original predicate equivalent for illumos) is "agrees
  with the humans"; the others are listed for reading.

Bias: the copy is the humans' final structure minus illumos, not the tree they started from, and it removes
only cfg predicates (not ``solarish`` aliases, build scripts or Cargo.toml tables).

Run: ``python benchmarks/bench_port_recall.py [REGISTRY] [--json OUT]``; prints the per-class table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from typing import Any

from illumos_rust.port import engine, modules, scanner
from illumos_rust.port.analysis import evaluators
from illumos_rust.port.cfgexpr import Evaluator, Expr, assignments, parse, unknown_atoms
from illumos_rust.port.deport import DeportedSite, deport_crate

REGISTRY = os.environ.get("PORT_CORPUS", "/usr/share/cargo/registry")
PORTING = {
    "port/solaris-only",
    "port/illumos-only",
    "port/shared-api",
    "port/probable-gap",
    "port/raw-syscall",
}
# libc itself is the definition the checks read, not a consumer being ported; target-lexicon and cfg-expr
# hold illumos as data (target tables), not as cfg predicates.
SKIP = re.compile(r"^(libc|target-lexicon|cfg-expr)-\d")
# A raw syscall: libc's `syscall(..)` function or a `SYS_*` number. Not `syscall!(..)`: that is the
# wrapper macro of mio/polling/socket2 around an ordinary libc call.
_SYSCALL = re.compile(r"\bsyscall\s*\(|\bSYS_[A-Za-z0-9_]+")
# A libc item used: `libc::name`, or a name in a `use libc::{..}` list.
_LIBC_PATH = re.compile(r"\blibc::([A-Za-z_]\w*)")
_LIBC_USE = re.compile(r"\buse\s+libc::\{([^}]*)\}")
_DECL = re.compile(r"\b(?:fn|const|static|struct|type|union|enum)\s+([A-Za-z_]\w*)")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


def candidates(registry: str) -> list[str]:
    """Crate directories whose Rust sources name ``target_os = "illumos"`` in some cfg."""
    out = []
    pat = re.compile(r'target_os\s*=\s*"illumos"')
    for name in sorted(os.listdir(registry)):
        root = os.path.join(registry, name)
        if SKIP.match(name) or not os.path.isdir(root):
            continue
        hit = False
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "target"]
            for f in filenames:
                if f.endswith(".rs"):
                    try:
                        with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                            if pat.search(fh.read()):
                                hit = True
                                break
                    except OSError:
                        continue
            if hit:
                break
        if hit:
            out.append(name)
    return out


def solaris_only_names(registry: str) -> frozenset[str]:
    """Names libc declares in ``src/unix/solarish/solaris.rs`` and in no other ``solarish`` file: the
    independent oracle for "a Solaris-only libc item" (textual, not ``port``'s libc index)."""
    libcs = sorted(d for d in os.listdir(registry) if re.match(r"^libc-0\.2\.\d+$", d))
    if not libcs:
        return frozenset()
    base = os.path.join(registry, libcs[0], "src", "unix", "solarish")
    names: dict[str, set[str]] = {}
    for f in os.listdir(base):
        with open(os.path.join(base, f), encoding="utf-8") as fh:
            names[f] = set(_DECL.findall(fh.read()))
    solaris = names.get("solaris.rs", set())
    others = set().union(*(v for k, v in names.items() if k != "solaris.rs"))
    return frozenset(solaris - others)


def illumos_missing_names(registry: str) -> frozenset[str]:
    """Names libc declares somewhere but in none of the files an illumos build can read
    (``src/lib.rs``, ``src/fixed_width_ints.rs``, ``src/unix/mod.rs`` and its ``align`` files,
    ``src/unix/solarish/*`` except ``solaris.rs``): using one under a widened gate cannot compile on
    illumos. An over-approximation of what illumos has (``unix/mod.rs`` also holds cfg'd items of other
    OSes), so a hit is certain and a miss is not proof."""
    libcs = sorted(d for d in os.listdir(registry) if re.match(r"^libc-0\.2\.\d+$", d))
    if not libcs:
        return frozenset()
    src = os.path.join(registry, libcs[0], "src")
    every: set[str] = set()
    illumos: set[str] = set()
    readable = {
        os.path.join(src, f)
        for f in ("lib.rs", "fixed_width_ints.rs", "unix/mod.rs", "unix/align.rs", "unix/no_align.rs")
    }
    sol = os.path.join(src, "unix", "solarish")
    readable |= {os.path.join(sol, f) for f in os.listdir(sol) if f != "solaris.rs"}
    for dirpath, _dirs, files in os.walk(src):
        for f in files:
            path = os.path.join(dirpath, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                names = set(_DECL.findall(fh.read()))
            every |= names
            if path in readable:
                illumos |= names
    return frozenset(every - illumos)


_BARE_FLAG = re.compile(r"^\s*(?:#\s*\[[^\]]*\]\s*)*([A-Z][A-Z0-9_]+)\s*;?\s*$", re.S)


def same_for(ev: Evaluator, a: Expr, b: Expr) -> bool:
    """Do ``a`` and ``b`` agree on target ``ev`` for every assignment of their unknown atoms?"""
    unknowns = list(dict.fromkeys(unknown_atoms(a, ev.determined) + unknown_atoms(b, ev.determined)))
    if len(unknowns) > 12:
        return ev.eval(a) == ev.eval(b)
    return all(ev.eval(a, s) == ev.eval(b, s) for s in assignments(unknowns))


def widens(ev: Evaluator, old: Expr, new: Expr) -> bool:
    """Is ``new`` true for target ``ev`` in some configuration where ``old`` is not?"""
    unknowns = list(dict.fromkeys(unknown_atoms(old, ev.determined) + unknown_atoms(new, ev.determined)))
    if len(unknowns) > 12:
        return bool(ev.eval(new)) and not ev.eval(old)
    return any(ev.eval(new, s) and not ev.eval(old, s) for s in assignments(unknowns))


def gated_text(path: str, text: str, site: scanner.Site, root: str) -> tuple[str, list[str]]:
    """The code a site gates and the module/include files it admits (followed recursively)."""
    if site.body is not None:
        lo, hi = site.body
    elif site.kind in ("cfg", "cfg_attr"):
        lo, hi = scanner.item_range(text, site.attr_end)
    elif site.kind == "inner-cfg":
        lo, hi = 0, len(text)
    else:
        lo, hi = site.offset, min(len(text), site.offset + 400)
    files = modules.declared(path, text, lo, hi, site.offset) + modules.included(path, text, lo, hi)
    if site.kind == "macro-arg":
        files += modules.macro_modules(path, text, site.attr_end, scanner.group_end(text, site.attr_end - 1))

    def read(p: str) -> str | None:
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return None

    reached = modules.follow([(f, path) for f in files], read, within=root) if files else []
    body = text[lo:hi] + "".join(r.text or "" for r in reached)
    return body, [os.path.relpath(r.path, root) for r in reached]


def measure(registry: str, work: str) -> dict[str, Any]:
    names = candidates(registry)
    dep_root = os.path.join(work, "deported")
    os.makedirs(dep_root)
    sites: dict[str, list[DeportedSite]] = {}
    removed_files = 0
    for name in names:
        dc = deport_crate(os.path.join(registry, name), os.path.join(dep_root, name))
        sites[name] = dc.sites
        removed_files += len(dc.removed_files)
    t0 = time.perf_counter()
    report = engine.run_port([dep_root], jobs=2)
    port_s = time.perf_counter() - t0
    ev_sol, ev_ill = evaluators(engine.make_context())
    by_file: dict[str, list[Any]] = defaultdict(list)
    for f in report.findings:
        if f.rule in PORTING and f.location.path:
            by_file[f.location.path].append(f)
    patched = {p.rel: p for p in report.patches}
    rescans: dict[str, tuple[list[scanner.Site], list[scanner.Site] | None]] = {}

    def scans(rel: str) -> tuple[list[scanner.Site], list[scanner.Site] | None]:
        if rel not in rescans:
            with open(os.path.join(dep_root, rel), encoding="utf-8") as fh:
                before = scanner.scan_rust(rel, fh.read()).sites
            p = patched.get(rel)
            after = scanner.scan_rust(rel, p.new).sites if p is not None else None
            rescans[rel] = (before, after)
        return rescans[rel]

    rows: list[dict[str, Any]] = []
    for name, recs in sites.items():
        for rec in recs:
            rel = os.path.join(name, rec.path)
            row: dict[str, Any] = {
                "crate": name,
                "path": rec.path,
                "line": rec.pred_line,
                "kind": rec.kind,
                "action": rec.action,
                "shape": rec.shape + (" (module)" if rec.module else ""),
                "original": rec.original,
                "deported": rec.new,
                "found": None,
                "patched": False,
                "equivalent": False,
            }
            rows.append(row)
            if rec.action != "rewrite":
                # the deleted code cannot be found at its own place; its alternative can (the Solaris
                # block next to sys-info's deleted illumos block): a finding within 3 lines is counted
                # separately as "neighbour"
                near = [f for f in by_file.get(rel, []) if abs((f.location.line or 0) - rec.line) <= 3]
                row["neighbour"] = bool(near)
                continue
            hits = [
                f
                for f in by_file.get(rel, [])
                if rec.line <= (f.location.line or 0) <= rec.end_line
                or (f.properties.get("attribute_lines") or [0])[0] == rec.line
                # a same-OS-list group is one finding naming every line of the group
                or rec.line in (f.properties.get("same_list_sites") or ())
            ]
            if hits:
                order = ["gap", "probable gap", "refusal", "info", None]
                best = min(hits, key=lambda f: order.index(f.properties.get("class")))
                row["found"] = best.properties.get("class") or best.rule
                row["rule"] = best.rule
            before, after = scans(rel)
            idx = next((i for i, s in enumerate(before) if s.offset == rec.new_offset), None)
            if after is None or idx is None or len(after) != len(before) or after[idx].expr is None:
                continue
            new_expr = after[idx].expr
            old_expr = before[idx].expr
            if new_expr is None or old_expr is None or new_expr == old_expr:
                continue
            row["patched"] = True
            row["patched_to"] = after[idx].text
            row["equivalent"] = same_for(ev_ill, new_expr, parse(rec.original)) and same_for(
                ev_sol, new_expr, parse(rec.original)
            )
    unsafe_rows = check_widenings(registry, dep_root, report, sites, ev_ill)
    applied, parse_failures = apply_and_parse(work, dep_root, report.diff())
    deported_files = sorted({os.path.join(n, r.path) for n, recs in sites.items() for r in recs})
    deport_failures = [f for f in deported_files if not _parses(dep_root, f)]
    return {
        "deported_files": len(deported_files),
        "deport_parse_failures": deport_failures,
        "patch_applies": applied,
        "parse_failures": parse_failures,
        "crates": names,
        "deported_sites": sum(len(v) for v in sites.values()),
        "removed_module_files": removed_files,
        "port_seconds": round(port_s, 2),
        "patched_files": len(report.patches),
        "rows": rows,
        "widenings": unsafe_rows,
    }


def _parses(root: str, rel: str) -> bool:
    """Does ``root/rel`` parse as Rust (``rustc -Zparse-crate-root-only`` at its crate's edition)?"""
    crate = rel.split("/", 1)[0]
    with open(os.path.join(root, crate, "Cargo.toml"), "rb") as fh:
        edition = str(tomllib.load(fh).get("package", {}).get("edition", "2015"))
    r = subprocess.run(
        ["rustc", "-Zparse-crate-root-only", "--edition", edition, "--crate-type", "lib", rel],
        cwd=root,
        env={**os.environ, "RUSTC_BOOTSTRAP": "1"},
        capture_output=True,
        text=True,
    )
    return r.returncode == 0


def apply_and_parse(work: str, dep_root: str, diff: str) -> tuple[bool, list[str]]:
    """The patch on the copies applies with ``patch -p1``, and every patched ``.rs`` file still parses
    (``rustc -Zparse-crate-root-only`` at the crate's edition): the same checks as port_corpus_check."""
    patched = os.path.join(work, "patched")
    shutil.copytree(dep_root, patched, symlinks=True)
    proc = subprocess.run(["patch", "-p1", "-s"], input=diff, text=True, cwd=patched, capture_output=True)
    if proc.returncode != 0:
        return False, [proc.stdout[-400:] + proc.stderr[-400:]]
    bad = []
    for rel in re.findall(r"(?m)^\+\+\+ b/(\S+\.rs)$", diff):
        crate = rel.split("/", 1)[0]
        with open(os.path.join(patched, crate, "Cargo.toml"), "rb") as fh:
            edition = str(tomllib.load(fh).get("package", {}).get("edition", "2015"))
        r = subprocess.run(
            ["rustc", "-Zparse-crate-root-only", "--edition", edition, "--crate-type", "lib", rel],
            cwd=patched,
            env={**os.environ, "RUSTC_BOOTSTRAP": "1"},
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            bad.append(f"{rel}: {r.stderr.strip().splitlines()[0] if r.stderr.strip() else r.returncode}")
    return True, bad


def check_widenings(
    registry: str, dep_root: str, report: Any, sites: dict[str, list[DeportedSite]], ev_ill: Evaluator
) -> list[dict[str, Any]]:
    """Every predicate a patch widens for illumos, checked by the textual oracle (see module docstring)."""
    bad_names = solaris_only_names(registry)
    missing_names = illumos_missing_names(registry)
    originals = {(n, r.path, r.new_offset): r for n, recs in sites.items() for r in recs}
    out: list[dict[str, Any]] = []
    for p in report.patches:
        if not p.rel.endswith(".rs"):
            continue
        before = scanner.scan_rust(p.rel, p.old).sites
        after = scanner.scan_rust(p.rel, p.new).sites
        if len(before) != len(after):
            out.append({"file": p.rel, "unsafe": None, "why": "site count changed: not checked"})
            continue
        crate = p.rel.split(os.sep, 1)[0]
        for b, a in zip(before, after, strict=True):
            if b.expr is None or a.expr is None or b.expr == a.expr or not widens(ev_ill, b.expr, a.expr):
                continue
            body, files = gated_text(os.path.join(dep_root, p.rel), p.old, b, os.path.join(dep_root, crate))
            syscalls = sorted(set(_SYSCALL.findall(body)))
            used = set(_LIBC_PATH.findall(body))
            for group in _LIBC_USE.findall(p.old):
                # `IPV6_JOIN_GROUP as IPV6_ADD_MEMBERSHIP`: the libc item is the name before `as`
                names = set(_IDENT.findall(re.sub(r"\bas\s+[A-Za-z_]\w*", " ", group)))
                used |= names & set(_IDENT.findall(re.sub(r"\bas\s+[A-Za-z_]\w*", " ", body)))
            solaris_only = sorted(bad_names & used)
            flat = re.sub(r"//[^\n]*", " ", body)
            bare = _BARE_FLAG.match(flat) if "libc_bitflags!" in p.old else None
            if bare is not None:  # nix's `libc_bitflags!` entry `MSG_CMSG_CLOEXEC;` is libc::MSG_CMSG_CLOEXEC
                used.add(bare.group(1))
            not_for_illumos = sorted(missing_names & used)
            rec = originals.get((crate, os.path.relpath(p.rel, crate), b.offset))
            human = rec is not None and same_for(ev_ill, a.expr, parse(rec.original))
            out.append(
                {
                    "file": p.rel,
                    "line": b.line,
                    "from": b.text,
                    "to": a.text,
                    "module_files": files,
                    "syscalls": syscalls,
                    "solaris_only": solaris_only,
                    "not_for_illumos": not_for_illumos,
                    "humans_agree": human,
                    "unsafe": bool(syscalls or solaris_only),
                    # the textual check does not evaluate cfgs inside the gated code (getrandom's
                    # util_libc.rs names every OS's errno function): where the humans made the same
                    # widening (and ship it for illumos) a hit is the check's over-approximation
                    "would_not_compile": bool(not_for_illumos) and not human,
                }
            )
    return out


def tables(result: dict[str, Any]) -> str:
    rows = result["rows"]
    lines = [
        f"{len(result['crates'])} crates with illumos cfgs ({', '.join(result['crates'])})",
        f"{result['deported_sites']} sites de-ported, {result['removed_module_files']} module files removed; "
        f"port on the copies: {result['port_seconds']} s, {result['patched_files']} files patched",
        "",
        "| pattern (de-ported predicate) | sites | reported | gap | probable gap | refusal | info "
        "| patched | same as humans |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["shape"] if r["action"] == "rewrite" else f"{r['shape']} ({r['action']})"].append(r)
    total: Counter[str] = Counter()
    for key in sorted(groups, key=lambda k: -len(groups[k])):
        g = groups[key]
        c = Counter(r["found"] for r in g)
        vals = {
            "sites": len(g),
            "reported": sum(1 for r in g if r["found"]),
            "gap": c["gap"],
            "probable gap": c["probable gap"],
            "refusal": c["refusal"],
            "info": c["info"],
            "patched": sum(r["patched"] for r in g),
            "same": sum(r["equivalent"] for r in g),
        }
        total.update(vals)
        lines.append(f"| {key} | " + " | ".join(str(v) for v in vals.values()) + " |")
    lines.append("| **all** | " + " | ".join(str(total[k]) for k in vals) + " |")
    deleted = [r for r in rows if r["action"] != "rewrite"]
    lines.append(
        f"deleted illumos-only code and always-true exclusions: {len(deleted)} sites; a porting finding "
        "within 3 lines of the deletion (its alternative) for "
        f"{sum(1 for r in deleted if r.get('neighbour'))}"
    )
    lines += ["", "| crate | sites | reported | patched as the humans did |", "|---|---|---|---|"]
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        c = per[r["crate"]]
        c["sites"] += 1
        c["reported"] += bool(r["found"])
        c["same"] += bool(r["equivalent"])
    for crate in sorted(per, key=lambda k: -per[k]["sites"]):
        c = per[crate]
        lines.append(f"| {crate} | {c['sites']} | {c['reported']} | {c['same']} |")
    share = [per[k]["reported"] / per[k]["sites"] for k in per]
    lines.append(f"mean per-crate recall: {sum(share) / len(share):.0%} over {len(share)} crates")
    lines.append(
        f"de-ported files: {result['deported_files']}, of which no longer parse: "
        f"{len(result['deport_parse_failures'])} {result['deport_parse_failures']}"
    )
    lines.append(
        f"patch on the copies: {'applies' if result['patch_applies'] else 'DOES NOT APPLY'} with patch -p1; "
        f"patched .rs files that no longer parse: {len(result['parse_failures'])} {result['parse_failures']}"
    )
    w = result["widenings"]
    lines += [
        "",
        f"patches widening a gate for illumos: {len(w)}; humans made the same widening: "
        f"{sum(1 for x in w if x.get('humans_agree'))}; unsafe by the textual oracle: "
        f"{sum(1 for x in w if x.get('unsafe'))}; using a libc item not declared for illumos: "
        f"{sum(1 for x in w if x.get('would_not_compile'))}",
    ]
    for x in w:
        if x.get("unsafe") or x.get("would_not_compile") or not x.get("humans_agree"):
            lines.append(
                f"  {x['file']}:{x.get('line')}: {x.get('from')} -> {x.get('to')}"
                f" syscalls={x.get('syscalls')} solaris_only={x.get('solaris_only')}"
                f" not_for_illumos={x.get('not_for_illumos')}"
                f" humans_agree={x.get('humans_agree')}"
            )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("registry", nargs="?", default=REGISTRY)
    ap.add_argument("--json", help="write every row here")
    args = ap.parse_args()
    if not os.path.isdir(args.registry) or not os.listdir(args.registry):
        print(f"bench_port_recall: {args.registry} is empty; run `make corpus` first (skipped)")
        return 0
    with tempfile.TemporaryDirectory(prefix="port-recall-") as work:
        result = measure(args.registry, work)
    print(tables(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
    unsafe = sum(1 for x in result["widenings"] if x.get("unsafe"))
    broken = sum(1 for x in result["widenings"] if x.get("would_not_compile"))
    bad_copy = bool(result["deport_parse_failures"])
    return 1 if unsafe or broken or bad_copy or not result["patch_applies"] or result["parse_failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
