"""Run every check over one ELF file (``audit``) or over files and directory trees (``audit_paths``)."""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from pathlib import Path

from ..bulk import paused_gc
from ..elf import constants as C
from ..elf.producer import identify
from ..elf.reader import ElfFile
from ..errors import FormatError
from ..files import file_kind, is_core_file, looks_like_elf
from . import (
    debug_info,
    dependencies,
    frame_pointers,
    panic,
    probes,
    rust_abi,
    stack_probes,
    syscalls,
    target,
    thread_locals,
)
from .context import Context
from .model import Emitter, Report
from .policy import Policy, profile


def audit(path: str | os.PathLike[str], policy: Policy | None = None) -> Report:
    """Audit one ELF file; raises ``FormatError`` (with the offset) when it is malformed."""
    policy = policy or profile("platform")
    report = Report(os.fspath(path))
    # The checks build ~1M small acyclic objects (symbols, CFA summaries, function tuples); the cyclic
    # collector rescanning them costs a tenth of the run on librustc_driver, and finds nothing to free.
    with ElfFile(path) as elf, paused_gc():
        try:
            _run(elf, policy, report)
        except (IndexError, ValueError, KeyError, OverflowError, struct.error, RecursionError) as exc:
            # The ELF core bounds-checks its reads; this guards our own arithmetic on hostile values.
            raise FormatError(report.path, None, f"malformed input ({type(exc).__name__}: {exc})") from None
    # By severity (worst first), then rule: two C-level stable sorts instead of a key tuple per finding.
    report.findings.sort(key=attrgetter("rule"))
    report.findings.sort(key=attrgetter("severity"), reverse=True)
    return report


def _run(elf: ElfFile, policy: Policy, report: Report) -> None:
    if elf.header.e_type == C.ET_CORE:
        raise FormatError(
            report.path,
            16,
            "a core file, not a program or library: audit the binaries it ran, "
            "read the core with `illumos-rust core`",
        )
    ctx = Context(elf, policy)
    emit = Emitter(report, policy)
    producer = identify(elf)
    facts = report.facts
    facts["target"] = target.check(ctx, emit, producer)
    ctx.release_pages()
    os_name = facts["target"]["os"]
    facts["dependencies"] = dependencies.check(ctx, emit, os_name)
    ctx.release_pages()
    facts["frame_pointers"] = frame_pointers.check(ctx, emit, producer.is_rust)
    ctx.release_pages()
    facts["syscalls"] = syscalls.check(ctx, emit, os_name)
    ctx.release_pages()
    facts["thread_locals"] = thread_locals.check(ctx, emit)
    ctx.release_pages()
    facts["panic"] = panic.check(ctx, emit, producer.is_rust)
    ctx.release_pages()
    facts["rust_abi"] = rust_abi.check(ctx, emit)
    ctx.release_pages()
    facts["stack_probes"] = stack_probes.check(ctx, emit)
    ctx.release_pages()
    facts["post_mortem"] = debug_info.check(ctx, emit)
    ctx.release_pages()
    facts["probes"] = probes.check(ctx, emit)
    ctx.release_pages()


def expand(
    paths: Sequence[str | os.PathLike[str]],
    skipped: list[str] | None = None,
    also: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Files named directly are always audited (a non-ELF one then fails loudly); directories are walked
    and only their ELF files are kept, and the regular files ``also`` accepts (the survey's packages).
    FIFOs, sockets and devices in a tree are never opened (a FIFO blocks): they are listed in ``skipped``
    as "PATH (a FIFO)"."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    f = Path(root, name)
                    try:
                        mode = f.lstat().st_mode
                    except OSError:
                        continue
                    if stat.S_ISLNK(mode):
                        continue
                    if not stat.S_ISREG(mode):
                        if skipped is not None:
                            skipped.append(f"{f} ({file_kind(mode)})")
                        continue
                    if also is not None and also(f):
                        out.append(f)
                        continue
                    if not looks_like_elf(f):
                        continue
                    if is_core_file(f):
                        if skipped is not None:
                            skipped.append(f"{f} (a core file: read it with `illumos-rust core`)")
                        continue
                    out.append(f)
        else:
            out.append(path)
    return out


def audit_paths(
    paths: Sequence[str | os.PathLike[str]],
    policy: Policy | None = None,
    progress: Callable[[Path], None] | None = None,
) -> Iterator[Report | FormatError]:
    """One result per ELF file: its report, or the ``FormatError`` that stopped it (the run goes on)."""
    for f in expand(paths):
        if progress is not None:
            progress(f)
        try:
            yield audit(f, policy)
        except FormatError as exc:
            yield exc
