"""``illumos-rust ctf``: read and write illumos CTF (``.SUNW_ctf``, version 2).

``ctf dump FILE`` prints a container in the layout of illumos ``ctfdump`` (or ``--format json``);
``ctf convert FILE`` turns DWARF into CTF and adds ``.SUNW_ctf`` to the file (see ``ctf convert --help``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..ctf.dump import dump_json, dump_lines
from ..ctf.load import load_ctf
from ..ctf.writer import write_container
from ..errors import FormatError, UsageError
from .common import add_format, print_json

DUMP_EXAMPLES = """examples:
  illumos-rust ctf dump /usr/lib/libc.so.1              # every section, ctfdump layout
  illumos-rust ctf dump -t -f target/release/mybin      # types and functions only
  illumos-rust ctf dump --format json mybin | jq '.types[] | select(.kind == "struct")'
  illumos-rust ctf dump -u raw.ctf mybin                # also write the uncompressed container
"""

CONVERT_EXAMPLES = """examples:
  illumos-rust ctf convert target/debug/mybin                 # add .SUNW_ctf in place
  illumos-rust ctf convert -o mybin.ctf target/debug/mybin    # leave the input alone
  illumos-rust ctf convert --format json mybin | jq .dropped
"""

_SECTION_FLAGS = (
    ("-d", "objects", "dump the data objects"),
    ("-f", "functions", "dump the function entries"),
    ("-H", "header", "dump the CTF header (ctfdump -h)"),
    ("-l", "labels", "dump the label table"),
    ("-s", "strings", "dump the string table"),
    ("-t", "types", "dump the types"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ctf",
        help="dump illumos CTF, convert DWARF (Rust and C) to CTF",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="ctf_command", metavar="ACTION")
    dump = sub.add_parser(
        "dump",
        help="print a .SUNW_ctf section (or raw container) like illumos ctfdump",
        description="Print the CTF of FILE like illumos ctfdump (all sections unless some are chosen).",
        epilog=DUMP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument("file", metavar="FILE", help="ELF object with .SUNW_ctf, or a raw CTF container")
    for flag, dest, text in _SECTION_FLAGS:
        dump.add_argument(flag, dest=f"show_{dest}", action="store_true", help=text)
    dump.add_argument("-S", dest="stats", action="store_true", help="also print statistics (ctfdump -S)")
    dump.add_argument(
        "-u", dest="uncompressed", metavar="OUT", help="write the uncompressed container to OUT"
    )
    add_format(dump)
    dump.set_defaults(func=run_dump)
    conv = sub.add_parser(
        "convert",
        help="convert DWARF (Rust and C units) to CTF and add .SUNW_ctf to the file",
        description=(
            "Convert the DWARF of FILE (built with -g) to illumos CTF v2 and add it as .SUNW_ctf, linked to\n"
            ".symtab (or .dynsym when stripped). The file is rewritten through a temporary file that is\n"
            "re-read and compared before it replaces the original (or is written to -o OUT).\n"
            "Types reached from the symbol table's functions and data come first; what does not fit the\n"
            "32,767-type budget is reported."
        ),
        epilog=CONVERT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conv.add_argument(
        "files", nargs="*", metavar="FILE", help="ELF executable, shared object or relocatable object"
    )
    conv.add_argument("-o", dest="output", metavar="OUT", help="write the result to OUT instead of FILE")
    conv.add_argument(
        "--cargo",
        action="store_true",
        help="convert the current Cargo workspace's built executables and shared objects (cargo illumos ctf)",
    )
    conv.add_argument(
        "--max-types", type=int, default=0x7FFF, metavar="N", help="type budget (default and maximum 32767)"
    )
    add_format(conv)
    conv.set_defaults(func=run_convert)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_dump(args: argparse.Namespace) -> int:
    f = load_ctf(args.file)
    if args.uncompressed:
        data = write_container(f.container, compress=False)
        try:
            with open(args.uncompressed, "wb") as out:
                out.write(data)
        except OSError as exc:
            raise FormatError(args.uncompressed, None, f"cannot write: {exc.strerror or exc}") from None
    if args.format == "json":
        print_json(dump_json(f))
        return 0
    chosen = [dest for _, dest, _ in _SECTION_FLAGS if getattr(args, f"show_{dest}")]
    order = ("header", "labels", "objects", "functions", "types", "strings")
    if not chosen and not args.stats:
        chosen = list(order)
    lines = dump_lines(f, [s for s in order if s in chosen], stats=args.stats)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0


def run_convert(args: argparse.Namespace) -> int:
    if not 1 <= args.max_types <= 0x7FFF:
        raise UsageError("--max-types must be between 1 and 32767 (the CTF v2 limit)")
    files = list(args.files)
    if args.cargo and not files:
        from ..audit.cargo import workspace_artifacts

        files = [str(p) for p in workspace_artifacts()]
        if not files:
            raise UsageError(
                "ctf: no built executables or shared objects in this workspace (run cargo build)"
            )
    if not files:
        raise UsageError("ctf convert: no FILE given")
    if args.output and len(files) > 1:
        raise UsageError("ctf convert: -o OUT takes one FILE")
    if len(files) == 1:
        return _convert_one(args, files[0])
    # A workspace: every artefact is tried and reported; one that cannot be converted (no DWARF, say) does not
    # stop the others, and makes the exit status 2 at the end.
    reports: list[Any] = []
    failed = 0
    for name in files:
        try:
            reports.append(_convert_report(args, name))
        except FormatError as exc:
            failed += 1
            sys.stdout.flush()
            print(f"illumos-rust: {exc}", file=sys.stderr)
    if args.format == "json":
        print_json([r.as_dict() for r in reports])
    else:
        for report in reports:
            _write_report(report)
    return 2 if failed else 0


def _convert_report(args: argparse.Namespace, name: str) -> Any:
    from ..ctfconvert.convert import convert  # the DWARF reader is only loaded for conversions

    progress = _progress() if args.format == "text" and sys.stderr.isatty() else None
    try:
        return convert(name, args.output, limit=args.max_types, progress=progress)
    finally:
        if progress is not None:
            progress("done", 1, 1)


def _convert_one(args: argparse.Namespace, name: str) -> int:
    report = _convert_report(args, name)
    if args.format == "json":
        print_json(report.as_dict())
        return 0
    _write_report(report)
    return 0


def _write_report(report: Any) -> None:
    out = sys.stdout
    out.write(
        f"{report.output}: .SUNW_ctf with {report.types} types ({report.section_bytes} bytes, "
        f"linked to {report.symtab or 'no symbol table'})\n"
        f"  units: {report.units} ({report.rust_units} Rust, {report.c_units} C); "
        f"{report.nodes} converted types, {report.unique_types} after deduplication\n"
        f"  functions with signatures: {report.functions_typed} of {report.functions}; "
        f"data objects with types: {report.objects_typed} of {report.objects}\n"
    )
    if report.functions_untyped_unit:
        out.write(
            f"  {report.functions_untyped_unit} functions are in units built without type information "
            f"(-C debuginfo=1, line tables only, gcc -g1, std's own units): no signature given\n"
        )
    if report.split_units:
        names = report.split_dwo_names
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.write(
            f"  warning: {report.split_units} units keep their types in split DWARF (.dwo) files, "
            f"not followed{': ' + shown if shown else ''} (link with the .dwo files merged, or build "
            f"without -gsplit-dwarf / -C split-debuginfo=unpacked)\n"
        )
    if report.stand_ins or report.dropped:
        out.write(
            f"  budget: {len(report.stand_ins)} types kept as opaque sized stand-ins, "
            f"{report.dropped} left out (not reached from symbols within the budget)\n"
        )
        if report.functions_over_budget or report.objects_over_budget:
            out.write(
                f"  over budget: {report.functions_over_budget} functions and {report.objects_over_budget} "
                f"data objects lost their types\n"
            )
        for name in report.dropped_names[:10]:
            out.write(f"    left out: {name}\n")
    if report.lowered_enums:
        shown = ", ".join(report.lowered_enums[:3])
        more = f" and {len(report.lowered_enums) - 3} more" if len(report.lowered_enums) > 3 else ""
        out.write(
            f"  {len(report.lowered_enums)} enums with values beyond int32 kept as their integer type "
            f"(--format json lists them): {shown}{more}\n"
        )
    for what in report.truncated:
        out.write(f"  truncated: {what}\n")
    out.write(f"  {report.seconds:.2f} s\n")


def _progress() -> Any:
    """A transient rich progress bar on stderr (terminal only): a big debug build takes seconds."""
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:  # rich is a dependency, but a broken install should not stop a conversion
        return None
    bar = Progress(transient=True, console=Console(stderr=True))
    task = bar.add_task("reading DWARF units", total=None)
    state = {"started": False, "stopped": False}

    def update(phase: str, done: int, total: int) -> None:
        if state["stopped"]:
            return
        if phase == "done":
            if state["started"]:
                bar.stop()
            state["stopped"] = True
            return
        if not state["started"]:
            bar.start()
            state["started"] = True
        bar.update(task, description=phase, completed=done, total=total)

    return update
