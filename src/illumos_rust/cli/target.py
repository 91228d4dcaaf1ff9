"""``illumos-rust target``: list, cfg, show, diff, check, generate and fields for rustc target specs.

Exit codes follow the rest of the toolkit: 0 fine, 1 "found something" (``diff``: the specs differ, like
diff(1); ``check``: a finding at or above ``--fail-on``), 2 bad input (unknown target, malformed spec).

The ``illumos_rust.targetspec`` modules are imported inside the handlers: ``cli.main`` builds every
subcommand's parser on each run, and other subcommands should not pay for importing this one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..findings import Severity, render_json, render_sarif, render_text
from .common import add_format, print_json, use_color

POLICY_NAMES = ("rfd0161",)
"""Must equal ``target.policy.POLICIES`` (a test checks); spelled out to keep the import lazy."""
TARGET_HELP = "a target name as `illumos-rust target list` prints it, or a custom spec FILE.json"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "target",
        help="read, compare, check and generate rustc target specs",
        description="Target specs and cfg sets read from the installed rustc (cached per rustc version).",
    )
    parser.set_defaults(func=run, target_command=None)
    sub = parser.add_subparsers(dest="target_command", metavar="SUBCOMMAND")

    p = sub.add_parser("list", help="all targets of the installed rustc")
    p.add_argument("--os", help="only targets whose cfg target_os is this value")
    add_format(p)

    p = sub.add_parser("cfg", help="the cfg set of a target (rustc --print cfg)")
    p.add_argument("target", help=TARGET_HELP)
    add_format(p)

    p = sub.add_parser("show", help="every spec field, rustc's omitted defaults filled in")
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument("--raw", action="store_true", help="only what rustc prints (no defaults)")
    add_format(p)

    p = sub.add_parser("diff", help="field-by-field differences between two specs, explained")
    p.add_argument("left", help=TARGET_HELP)
    p.add_argument("right", help=TARGET_HELP)
    p.add_argument("--no-metadata", action="store_true", help="ignore the descriptive metadata field")
    add_format(p)

    p = sub.add_parser("check", help="check a spec against a policy (what RFD 0161 asks for)")
    p.add_argument("target", help=TARGET_HELP)
    p.add_argument(
        "--policy",
        choices=POLICY_NAMES,
        default="rfd0161",
        help=f"policy to check against: {', '.join(POLICY_NAMES)} (default: rfd0161)",
    )
    p.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default="error",
        help="lowest severity that makes the exit code 1: info, warning or error (default: error)",
    )
    add_format(p, ("text", "json", "sarif"))

    p = sub.add_parser("generate", help="write a custom target JSON that rustc accepts")
    p.add_argument("--base", required=True, help="built-in target to start from")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a field; VALUE is JSON if it parses, else a string (repeatable)",
    )
    p.add_argument(
        "--unset",
        action="append",
        default=[],
        metavar="KEY",
        help="remove a field, i.e. return it to rustc's default (repeatable)",
    )
    p.add_argument("-o", "--output", type=Path, help="output file (default: <base>-custom.json)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    add_format(p)

    p = sub.add_parser("fields", help="every spec field rustc accepts, with its default")
    add_format(p)


def run(args: argparse.Namespace) -> int:
    command = args.target_command
    if command is None:
        sys.stderr.write(
            "illumos-rust target: choose a subcommand (list, cfg, show, diff, check, generate, "
            "fields); see --help\n"
        )
        return 2
    handler = {
        "list": _list,
        "cfg": _cfg,
        "show": _show,
        "diff": _diff,
        "check": _check,
        "generate": _generate,
        "fields": _fields,
    }[command]
    return handler(args)


def _fmt(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value, separators=(", ", ": "))


def _list(args: argparse.Namespace) -> int:
    from ..targetspec import target_list

    targets = target_list()
    if args.os:
        from ..targetspec import all_cfg_sets

        sets = all_cfg_sets()
        targets = [t for t in targets if sets[t].has("target_os", args.os)]
    if args.format == "json":
        print_json(targets)
    else:
        sys.stdout.write("".join(t + "\n" for t in targets))
    return 0


def _cfg(args: argparse.Namespace) -> int:
    from ..targetspec import cfg_set

    cs = cfg_set(args.target)
    if args.format == "json":
        print_json({"target": cs.target, "cfg": cs.lines()})
    else:
        sys.stdout.write("".join(line + "\n" for line in cs.lines()))
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..targetspec import rustc
    from ..targetspec.spec import load_spec

    spec = load_spec(args.target)
    tc = rustc.toolchain()
    fields = spec.raw if args.raw else spec.fields
    if args.format == "json":
        print_json(
            {
                "target": spec.name,
                "rustc": tc.version_line,
                "fields": fields,
                "defaulted": sorted(spec.defaulted) if not args.raw else [],
            }
        )
        return 0
    width = max(len(k) for k in fields)
    legend = "as rustc prints it" if args.raw else "'*' = not printed by rustc, its default filled in"
    out = [f"{spec.name}  ({tc.version_line}; {legend})"]
    for key, value in sorted(fields.items()):
        mark = "*" if key in spec.defaulted and not args.raw else " "
        out.append(f" {mark}{key:<{width}}  {_fmt(value)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ..targetspec.diff import diff_specs
    from ..targetspec.spec import load_spec

    left, right = load_spec(args.left), load_spec(args.right)
    diffs = diff_specs(left, right, include_metadata=not args.no_metadata)
    if args.format == "json":
        print_json({"left": left.name, "right": right.name, "differences": [d.to_dict() for d in diffs]})
        return 1 if diffs else 0
    if not diffs:
        sys.stdout.write(f"{left.name} and {right.name}: no differences (defaults filled in)\n")
        return 0
    out = [f"{len(diffs)} field(s) differ between {left.name} (left) and {right.name} (right):"]
    for d in diffs:
        out.append("")
        out.append(f"{d.key}")
        out.append(f"  {left.name}: {_fmt(d.left)}{'  (default)' if d.left_default else ''}")
        out.append(f"  {right.name}: {_fmt(d.right)}{'  (default)' if d.right_default else ''}")
        out.append(f"  why: {d.explanation}")
    sys.stdout.write("\n".join(out) + "\n")
    return 1


def _check(args: argparse.Namespace) -> int:
    from ..targetspec.policy import POLICIES, RULES
    from ..targetspec.spec import load_spec

    try:
        threshold = Severity.parse(args.fail_on)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None
    spec = load_spec(args.target)
    findings = POLICIES[args.policy](spec)
    if args.format == "json":
        sys.stdout.write(render_json(findings, target=spec.name, policy=args.policy))
    elif args.format == "sarif":
        sys.stdout.write(render_sarif(findings, RULES.values()))
    else:
        sys.stdout.write(render_text(findings, color=use_color()))
        counts = {s: sum(f.severity == s for f in findings) for s in Severity}
        sys.stdout.write(
            f"{spec.name}: {counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
            f"{counts[Severity.INFO]} note(s) against policy {args.policy}\n"
        )
    return 1 if any(f.severity >= threshold for f in findings) else 0


def _generate(args: argparse.Namespace) -> int:
    from ..targetspec.generate import generate, parse_assignment

    sets = [parse_assignment(s) for s in args.sets]
    output = args.output or Path(f"{args.base}-custom.json")
    result = generate(args.base, sets, list(args.unset), output, force=args.force)
    if args.format == "json":
        print_json(
            {
                "path": str(result.path),
                "spec": result.spec,
                "cfg_added": result.cfg_added,
                "cfg_removed": result.cfg_removed,
            }
        )
        return 0
    lines = [f"wrote {result.path} (rustc accepts it: --print cfg and --print target-spec-json succeed)"]
    if result.cfg_added or result.cfg_removed:
        lines.append(f"cfg changes against {args.base}:")
        lines += [f"  + {c}" for c in result.cfg_added] + [f"  - {c}" for c in result.cfg_removed]
    else:
        lines.append(f"cfg set unchanged against {args.base} (the change affects codegen/linking, not cfg)")
    lines.append(f"use: RUSTC_BOOTSTRAP=1 cargo build -Zbuild-std --target {result.path}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _fields(args: argparse.Namespace) -> int:
    from ..targetspec.defaults import DEFAULTS
    from ..targetspec.spec import known_fields

    names = known_fields()
    rows = {n: DEFAULTS.get(n) for n in names}
    if args.format == "json":
        print_json(
            {"fields": [{"field": n, "default": d, "has_default": n in DEFAULTS} for n, d in rows.items()]}
        )
        return 0
    width = max(len(n) for n in names)
    sys.stdout.write(
        "".join(f"{n:<{width}}  {_fmt(d) if n in DEFAULTS else '(required)'}\n" for n, d in rows.items())
    )
    return 0
