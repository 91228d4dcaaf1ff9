"""``illumos-rust core``: what crashed, where, why, and every thread's stack, from a core file.

Output follows mdb: a ``::status``-like header, the panic summary, then the crashing thread first and the
others after it, frames as ``module`symbol+off`` (module omitted for the executable's own symbols).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..core import CoreReport, analyze
from ..core.model import ThreadReport
from ..errors import UsageError
from .common import add_format, print_json

EPILOG = """\
examples:
  illumos-rust core core.12345 target/release/myprog
  illumos-rust core core --sysroot /mnt/illumos-root --search ./libs --all
  cargo illumos core core.4242           (the binary is found in the workspace's target directory)
  illumos-rust core core ./myprog --format json | jq .panic
exit status: 0 analysed, 2 unreadable core or binary.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "core",
        help="post-mortem of a crashed Rust program from its core file (Linux or illumos)",
        description="Read a core file and the binaries it ran: signal, fault, Rust panic message and\n"
        "location, and every thread's stack with demangled Rust names.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("core", metavar="CORE", help="the core file")
    parser.add_argument(
        "binary", metavar="BINARY", nargs="?", help="the executable (default: the path in the core)"
    )
    parser.add_argument("--sysroot", metavar="DIR", help="look for the core's objects under DIR")
    parser.add_argument(
        "--search", metavar="DIR", nargs="+", default=[], help="directories to find objects by name"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--thread", metavar="N", type=int, help="only thread (LWP) N")
    which.add_argument(
        "--all",
        action="store_true",
        help="every thread's full stack (default: the crashing thread in full, one line per other thread)",
    )
    parser.add_argument(
        "--max-frames", type=_positive, default=4096, help="frames per thread (default 4096; at least 1)"
    )
    parser.add_argument(
        "--no-source", action="store_true", help="skip DWARF: no file:line, no inlined frames (faster)"
    )
    parser.add_argument(
        "--dwarf-limit",
        metavar="MIB",
        type=int,
        default=16,
        help="skip the DWARF of objects with more .debug_info than this (default 16; 0: no limit)",
    )
    parser.add_argument(
        "--cargo",
        action="store_true",
        help="find BINARY among the current Cargo workspace's built executables",
    )
    add_format(parser)
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    """A count of frames: a whole number of at least 1 (0 or -1 would print threads with no frames)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected at least 1")
    return value


def _cargo_binary(core: str) -> str:
    """The workspace executable the core was dumped from: same name, and the same build-id when the core
    holds one (Linux dumps each ELF header page); the newest of several candidates otherwise."""
    from ..audit.cargo import workspace_artifacts
    from ..core.analyze import executable_identity
    from ..elf.reader import ElfFile

    path, build_id = executable_identity(core)
    name = os.path.basename(path or "")
    candidates = [p for p in workspace_artifacts() if p.name == name or (name and p.name.startswith(name))]
    if not candidates:
        raise UsageError(f"no executable named {name or '?'} in this Cargo workspace's target directory")
    for c in candidates:
        with ElfFile(c) as elf:
            if build_id is not None and elf.build_id == build_id:
                return str(c)
    return str(max(candidates, key=lambda c: c.stat().st_mtime))


def run(args: argparse.Namespace) -> int:
    if args.cargo and args.binary is None:
        args.binary = _cargo_binary(args.core)
    report = analyze(
        args.core,
        args.binary,
        sysroot=args.sysroot,
        search=tuple(args.search),
        max_frames=args.max_frames,
        source_lines=not args.no_source,
        dwarf_limit=max(0, args.dwarf_limit) << 20,
    )
    if args.thread is not None:
        report.threads = [t for t in report.threads if t.tid == args.thread]
        if not report.threads:
            print(f"illumos-rust: no thread {args.thread} in {args.core}", file=sys.stderr)
            return 2
    if args.format == "json":
        print_json(report.to_json())
    else:
        text = render(report, full=args.all or args.thread is not None)
        # paths and names from the core are bytes, decoded with surrogateescape: show undecodable bytes as
        # \xNN escapes instead of writing them raw to a terminal
        sys.stdout.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
    return 0


def render(r: CoreReport, full: bool = True) -> str:
    out = []
    model = "64-bit"
    out.append(
        f"debugging core file of {r.executable or '?'} ({model}) from {r.system}"
        + (f" zone {r.zonename}" if r.zonename else "")
    )
    if r.executable:
        out.append(f"file: {r.executable}")
    if r.psargs:
        out.append(f"initial argv: {r.psargs}")
    out.append("threading model: native threads")
    code = f" code={r.si_code}" if r.si_code is not None else ""
    meaning = f" ({r.si_code_text})" if r.si_code_text else ""
    out.append(
        f"status: process terminated by {r.signal_name} ({r.signal_text}), "
        f"pid={r.pid} uid={r.uid}{code}{meaning}"
    )
    if r.sender_pid is not None:
        out.append(f"sent by: pid={r.sender_pid} uid={r.sender_uid} (si_code {r.si_code}: not a fault)")
    if r.fault_address is not None:
        out.append(f"fault address: 0x{r.fault_address:x} in {r.fault_mapping}")
    out.append(f"crash: {r.crash_kind}")
    if r.panic is not None:
        p = r.panic
        thread = p.thread.value if p.thread else "?"
        loc = p.location.value if p.location else "?"
        out.append(f"panic: thread '{thread}' panicked at {loc}")
        if p.message:
            out.append(f"  message: {p.message.value}")
        for label, fact in (("message", p.message), ("thread", p.thread), ("location", p.location)):
            if fact is not None:
                out.append(f"  {label} from: {fact.source}")
    for prob in r.problems:
        out.append(f"warning: {prob}")
    for t in r.threads:
        if full or t.crashing:
            out.append("")
            out.extend(_thread(t))
    others = [t for t in r.threads if not t.crashing]
    if others and not full:
        out.append("")
        out.append(f"other threads ({len(others)}; --all for their stacks):")
        out.extend(f"  {_summary(t)}" for t in others)
    return "\n".join(out) + "\n"


def _summary(t: ThreadReport) -> str:
    """One line per thread: where it is in the program's own code (the first frame with a crate that is
    not std), else its innermost frame."""
    own = next((f for f in t.frames if f.crate not in (None, "std")), None)
    top = t.frames[0] if t.frames else None
    where = own or top
    name = f" '{t.name}'" if t.name else ""
    text = where.location() if where is not None else "(no frames)"
    if own is not None and top is not None and own is not top:
        text += f"  (in {top.location()})"
    return f"thread {t.tid}{name}: {text}"


def _thread(t: ThreadReport) -> list[str]:
    label = f"thread {t.tid}" + (f" '{t.name}'" if t.name else "") + (" (crashing)" if t.crashing else "")
    lines = [label + ":"]
    if t.name_source:
        lines.append(f"  (name from {t.name_source})")
    if t.stack or t.on_altstack:
        where = f"stack {t.stack}" if t.stack else ""
        alt = "running on its alternate signal stack (pr_altstack)" if t.on_altstack else ""
        lines.append("  (" + "; ".join(x for x in (where, alt) if x) + ")")
    for f in t.frames:
        crate = f" [{f.crate}]" if f.crate else ""
        src = f" at {f.source()}" if f.source() else ""
        note = f"  -- {f.note}" if f.note else ""
        lines.append(f"  #{f.index:<3} {f.sp:016x} {f.location()}{src}  ({f.method}){crate}{note}")
    if t.stop:
        lines.append(f"  (unwind stopped: {t.stop})")
    return lines
