"""``illumos-rust edit``: elfedit-style dynamic-section edits that run on any build host, on a file or a tree.

Dry run by default (prints before/after like elfedit); ``--write`` applies each file's edit as a verified
transaction. In a batch every file is planned before anything is written, so one refusal leaves the whole
tree untouched unless ``--keep-going`` is given; a write failure (full disk, read-only directory) puts back
the files already renamed, so a batch lands whole or not at all. Each file is locked from the read that
plans its edit to the rename, so two editors of one file never lose an edit (the second waits --wait
seconds, then fails).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ..edit import Op, Plan, parse_flags_1, parse_replace, plan_edits
from ..edit.lock import DEFAULT_WAIT, locked
from ..edit.ops import OpKind, check_string
from ..edit.transaction import TEMP_PREFIX, Staged, commit, stage
from ..errors import FileError, FormatError, IllumosRustError, UnsafeEditError, UsageError
from ..files import file_kind, looks_like_elf
from .common import add_format, print_json

EXAMPLES = """examples:
  illumos-rust edit bin/prog --runpath '$ORIGIN/../lib'            # dry run: show what would change
  illumos-rust edit bin/prog --runpath '$ORIGIN/../lib' --write    # apply (temp file, verify, rename)
  illumos-rust edit --delete-runpath --delete-rpath prog --write --backup .orig
  illumos-rust edit --replace-needed libgcc_s.so.1=libgcc_s.so.2 prog
  illumos-rust edit root/ --runpath '$ORIGIN/../lib' --drop-runpath-prefix /opt/local --write
"""


class _OpAction(argparse.Action):
    """Collects operations into one ordered list, because their order on the command line matters."""

    def __init__(self, option_strings: Sequence[str], dest: str, kind: OpKind, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        ops: list[tuple[OpKind, str]] = list(getattr(namespace, "ops", None) or [])
        ops.append((self.kind, values if isinstance(values, str) else ""))
        namespace.ops = ops


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "edit",
        help="edit RUNPATH/RPATH/NEEDED/SONAME/FLAGS_1 in place, elfedit-style, on any host",
        description=(__doc__ or "").replace("``", ""),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="ELF files or directories (searched recursively)")
    g = p.add_argument_group("operations (applied in the order given)")

    def op(flag: str, kind: OpKind, metavar: str | None, text: str) -> None:
        if metavar is None:
            g.add_argument(flag, action=_OpAction, kind=kind, nargs=0, help=text)
        else:
            g.add_argument(flag, action=_OpAction, kind=kind, metavar=metavar, help=text)

    op(
        "--runpath",
        "runpath",
        "PATH",
        "elfedit dyn:runpath: set DT_RPATH and DT_RUNPATH where present, else add DT_RUNPATH",
    )
    op("--set-runpath", "set-runpath", "PATH", "set (or add) DT_RUNPATH only")
    op("--delete-runpath", "delete-runpath", None, "delete DT_RUNPATH")
    op("--set-rpath", "set-rpath", "PATH", "set (or add) DT_RPATH only")
    op("--delete-rpath", "delete-rpath", None, "delete DT_RPATH")
    op(
        "--drop-runpath-prefix",
        "drop-runpath-prefix",
        "DIR",
        "policy: drop RUNPATH/RPATH components under DIR; with --runpath, put its value where the first "
        "dropped one was; files with nothing to drop are left alone",
    )
    op("--replace-needed", "replace-needed", "OLD=NEW", "rename a DT_NEEDED and its version-need file name")
    op("--remove-needed", "remove-needed", "NAME", "delete a DT_NEEDED (refused if symbol versions need it)")
    op("--add-needed", "add-needed", "NAME", "add a DT_NEEDED")
    op("--set-soname", "set-soname", "NAME", "set (or add) DT_SONAME")
    op("--set-flags-1", "set-flags-1", "FLAGS", "set DT_FLAGS_1 bits, e.g. NODELETE,NOW or 0x8")
    op("--clear-flags-1", "clear-flags-1", "FLAGS", "clear DT_FLAGS_1 bits")
    p.add_argument("--write", action="store_true", help="apply the edits (default: dry run)")
    p.add_argument("--backup", metavar="SUFFIX", help="keep the original as PATH+SUFFIX (with --write)")
    p.add_argument(
        "--no-grow",
        action="store_true",
        help="never add segments or move sections: only reuse, reserve, in place or tail (like elfedit)",
    )
    p.add_argument(
        "--scrub",
        action="store_true",
        help="blank strings the edit stopped using (e.g. a deleted /opt/local RUNPATH) when nothing else "
        "references them, so path scans no longer find them",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="in a batch, write the files that can be edited even if others are refused",
    )
    p.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"with --write, wait this long for another editor of the same file to finish "
        f"(default: {DEFAULT_WAIT:g}); then fail with a message",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="edit even when an extended attribute (file capabilities, ACL, label) cannot be kept; "
        "it is dropped and the output says so",
    )
    add_format(p)
    p.set_defaults(func=run, ops=[])


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 to 86400 seconds")
    return value


def build_ops(raw: list[tuple[OpKind, str]]) -> list[Op]:
    ops: list[Op] = []
    for kind, value in raw:
        if kind == "replace-needed":
            ops.append(parse_replace(value))
        elif kind in ("set-flags-1", "clear-flags-1"):
            ops.append(Op(kind, hex(parse_flags_1(value))))
        elif kind in ("delete-runpath", "delete-rpath"):
            ops.append(Op(kind))
        else:
            ops.append(Op(kind, check_string(value)))
    if not ops:
        raise UsageError("no operation given (see illumos-rust edit --help)")
    return ops


def iter_targets(paths: list[str], skipped: list[str] | None = None) -> Iterator[tuple[str, bool]]:
    """Files to edit, each once (hard links too), and whether it was named explicitly.

    Symbolic links inside a tree are skipped: the file they point to is edited under its own name, once.
    FIFOs, sockets and devices inside a tree are skipped too (reading a FIFO blocks), each reported in
    ``skipped`` as "PATH (a FIFO)"; named explicitly, they are refused when read.
    """
    seen: set[tuple[int, int]] = set()
    for top in paths:
        try:
            top_mode = os.stat(top).st_mode
        except FileNotFoundError:
            raise UsageError(f"{top}: no such file or directory") from None
        except OSError as exc:  # not os.path.exists: it would call an I/O error "no such file"
            raise FileError.from_os(top, "cannot read", exc) from None
        if stat.S_ISDIR(top_mode):
            for root, dirs, files in os.walk(top, onerror=_walk_error):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if name.startswith(TEMP_PREFIX):
                        continue  # a temp file left by an interrupted write, not part of the tree
                    try:
                        mode = os.lstat(full).st_mode
                    except FileNotFoundError:
                        continue  # removed while we walked
                    except OSError as exc:
                        raise FileError.from_os(full, "cannot read", exc) from None
                    if stat.S_ISLNK(mode):
                        continue
                    if not stat.S_ISREG(mode):
                        if skipped is not None:
                            skipped.append(f"{full} ({file_kind(mode)})")
                        continue
                    if not looks_like_elf(full):
                        continue
                    st = os.stat(full)
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        yield full, False
        else:
            st = os.stat(top)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                yield top, True


def _walk_error(exc: OSError) -> None:
    """os.walk ignores a directory it cannot list; an edit of a tree must not silently skip part of it."""
    raise FileError.from_os(os.fsdecode(exc.filename or "?"), "cannot list the directory", exc)


def _plan_json(plan: Plan, written: bool) -> dict[str, Any]:
    return {
        "path": plan.path,
        "changed": plan.changed,
        "written": written,
        "size_before": plan.size_before,
        "size_after": plan.size_after,
        "bytes_changed": plan.bytes_changed,
        "grew": plan.grew,
        "strategies": plan.strategies,
        "notes": plan.notes,
        "entries": [
            {
                "before": None
                if b is None
                else {"index": b.index, "tag": b.tag_name, "value": b.value, "string": b.string},
                "after": None
                if a is None
                else {"index": a.index, "tag": a.tag_name, "value": a.value, "string": a.string},
            }
            for b, a in plan.changed_entries()
        ],
    }


def _print_plan(plan: Plan, written: bool, blocked: bool = False) -> None:
    if written or not plan.changed:
        state = "written" if written else "unchanged"
    else:
        state = "not written (see the error above)" if blocked else "dry run, nothing written (use --write)"
    print(f"{plan.path}: {state}")
    for line in plan.strategies:
        print(f"  {line}")
    for b, a in plan.changed_entries():
        print(f"  - {b.text() if b else '(none)'}")
        print(f"  + {a.text() if a else '(none)'}")
    for line in plan.notes:
        print(f"  note: {line}")
    if plan.changed:
        print(f"  {plan.bytes_changed} bytes changed, size {plan.size_before} -> {plan.size_after}")


def _check_backup(suffix: str | None, write: bool) -> None:
    if suffix is None:
        return
    if not write:
        raise UsageError("--backup needs --write")
    if not suffix or "/" in suffix or "\0" in suffix:
        raise UsageError(f"--backup {suffix!r}: a suffix appended to the file name, without '/' (e.g. .orig)")


def run(args: argparse.Namespace) -> int:
    ops = build_ops(args.ops)
    _check_backup(args.backup, args.write)
    skipped: list[str] = []
    targets = list(iter_targets(args.paths, skipped))
    for line in skipped:
        print(f"illumos-rust: skipped {line}: not a regular file", file=sys.stderr)
    batch = len(targets) != 1 or not targets[0][1]
    lock_refused: list[str] = []
    with contextlib.ExitStack() as locks:
        if args.write:
            # Lock every file before reading any: from the read that plans an edit to the rename that
            # lands it, no other editor may change the file (its edit would be lost). A consistent
            # order keeps two batches over overlapping trees from waiting on each other forever.
            by_real = sorted(targets, key=lambda t: os.path.realpath(t[0]))
            for path, _explicit in by_real:
                try:
                    locks.enter_context(locked(path, args.wait))
                except (FileError, FormatError) as exc:
                    if not batch:
                        raise
                    lock_refused.append(str(exc))
                    targets = [t for t in targets if t[0] != path]
        return _plan_and_write(args, ops, targets, batch, lock_refused)


def _plan_and_write(
    args: argparse.Namespace, ops: list[Op], targets: list[tuple[str, bool]], batch: bool, refused: list[str]
) -> int:
    plans: list[Plan] = []
    for path, explicit in targets:
        try:
            if args.write and args.backup and os.path.lexists(os.path.realpath(path) + args.backup):
                raise UnsafeEditError(path, f"backup {os.path.realpath(path) + args.backup} already exists")
            plans.append(plan_edits(path, ops, no_grow=args.no_grow, scrub=args.scrub))
        except (UnsafeEditError, FormatError) as exc:
            if not batch:
                raise
            if not explicit and isinstance(exc, UnsafeEditError) and "no dynamic section" in exc.reason:
                continue  # static executables and objects in a tree have nothing to edit
            refused.append(str(exc))
    do_write = args.write and (not refused or args.keep_going)
    blocked = bool(refused) and args.write and not args.keep_going
    if blocked and len(refused) == 1:  # one problem, one line
        print(
            f"illumos-rust: refused: {refused[0]}; nothing written (--keep-going writes the rest)",
            file=sys.stderr,
        )
    else:
        for line in refused:
            print(f"illumos-rust: refused: {line}", file=sys.stderr)
        if blocked:
            print(
                f"illumos-rust: nothing written: {len(refused)} file(s) refused "
                "(--keep-going writes the rest)",
                file=sys.stderr,
            )
    written: set[str] = set()
    if do_write:
        changed = [p for p in plans if p.changed]
        if args.keep_going or not batch:
            for plan in changed:
                try:
                    _write_all([plan], args)
                    written.add(plan.path)
                except IllumosRustError as exc:
                    if not batch:
                        raise
                    refused.append(str(exc))
                    print(f"illumos-rust: not written: {exc}", file=sys.stderr)
        else:
            try:
                _write_all(changed, args)
                written.update(p.path for p in changed)
            except IllumosRustError as exc:
                refused.append(str(exc))
                print(
                    f"illumos-rust: {exc}; nothing written ({len(changed)} file(s) to edit)",
                    file=sys.stderr,
                )
    results: list[dict[str, Any]] = []
    for plan in plans:
        if args.format == "json":
            results.append(_plan_json(plan, plan.path in written))
        else:
            _print_plan(plan, plan.path in written, blocked=args.write and plan.path not in written)
    if args.format == "json":
        print_json({"files": results, "refused": refused})
    return 2 if refused else 0


def _write_all(plans: list[Plan], args: argparse.Namespace) -> None:
    """Stage every edited copy, then rename them all: a failure while staging removes the copies made so
    far, a failure while renaming puts the originals back (``commit``), so a batch lands whole or not at
    all."""
    staged: list[Staged] = []
    try:
        for plan in plans:
            s = stage(plan, force=args.force)
            if s is not None:
                staged.append(s)
    except BaseException:
        for s in staged:
            with contextlib.suppress(OSError):
                os.unlink(s.tmp)
        raise
    commit(staged, backup=args.backup)
