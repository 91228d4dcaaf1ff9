"""``illumos-rust`` entry point: finds the subcommand modules, maps each failure to one line, one exit code.

Subcommand modules are discovered from a fixed list so that a capability can be added by dropping in its
``cli/<name>.py`` without touching this file; a module that is not there yet is simply not offered.

Exit codes (the README's table; ``tests/test_cli_hardening.py`` checks both agree):

====  =====================================================================================================
0     clean: the command did what was asked and found nothing at or above the threshold
1     findings at or above the threshold (``--fail-on``), or ``target diff``: the specs differ (as diff(1))
2     bad input, bad usage or an I/O failure (unreadable, malformed, not a regular file, disk full, ...)
130   interrupted by Ctrl-C (SIGINT); 143 for SIGTERM and 129 for SIGHUP, as a shell reports them
141   stdout was closed early (``| head``): a quiet exit, nothing on stderr, as coreutils does
====  =====================================================================================================

Whatever goes wrong, stderr gets exactly one line ``illumos-rust: ...`` and never a Python traceback
(``ILLUMOS_RUST_TRACEBACK=1`` adds one after that line, for bug reports).
"""

from __future__ import annotations

import argparse
import atexit
import errno
import importlib
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType, ModuleType
from typing import Any, NoReturn

from .. import __version__
from ..errors import FileError, FormatError, IllumosRustError, Interrupted, UnsafeEditError, UsageError

COMMANDS = (
    "inspect", "audit", "edit", "demangle", "target", "port", "ctf", "core", "probes", "dist", "toolchain",
    "survey",
)  # fmt: skip

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141
EXIT_CODES = {
    EXIT_OK: "clean",
    EXIT_FINDINGS: "findings at or above the threshold",
    EXIT_ERROR: "bad input, bad usage or I/O failure",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "stdout closed early",
}
_TRACEBACK_ENV = "ILLUMOS_RUST_TRACEBACK"
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF}


class _ClosedStdout(io.StringIO):
    """Stands for a stdout that was closed before we started (``>&-``: Python sets ``sys.stdout`` None).

    Writing to it is the same failure as writing to a bad descriptor, reported as one line and exit 2
    when a command has something to print; a command that prints nothing is not failed for it.
    """

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


@contextmanager
def _usable_stdout() -> Iterator[None]:
    """A stdout every command can write to as it always does, for the length of one run.

    With ``PYTHONUNBUFFERED=1`` (common in containers and CI) stdout is a text layer straight over the raw
    file, and a short ``write(2)`` (a file size limit, a signal) is dropped without an error: a large
    listing would end early with exit 0. For the run, a duplicate of the descriptor gets a
    ``BufferedWriter``, which retries short writes and raises on a real error; closing the duplicate
    afterwards leaves the caller's stdout as it was.
    """
    original = sys.stdout
    if original is None:
        sys.stdout = _ClosedStdout()
        try:
            yield
        finally:
            sys.stdout = original
        return
    raw = getattr(original, "buffer", None)
    if not isinstance(raw, io.FileIO):
        yield
        return
    try:
        own = io.FileIO(os.dup(raw.fileno()), "w")  # a descriptor of our own: closing it leaves fd 1 open
    except OSError:
        yield
        return
    wrapper = io.TextIOWrapper(
        io.BufferedWriter(own),
        encoding=original.encoding,
        errors=original.errors,
        line_buffering=bool(original.line_buffering),
    )
    sys.stdout = wrapper
    try:
        yield
    finally:
        sys.stdout = original
        with suppress(OSError, ValueError):  # a failure was reported by the run's own flush
            wrapper.close()


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``illumos-rust edit: error: ... (see --help)`` instead of the usage
    block plus the error, so a usage mistake reads like every other failure (and scripts see one line)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _modules(only: str | None = None) -> list[tuple[str, ModuleType]]:
    found = []
    for name in COMMANDS if only is None else (only,):
        try:
            found.append((name, importlib.import_module(f"illumos_rust.cli.{name}")))
        except ModuleNotFoundError as exc:
            if exc.name != f"illumos_rust.cli.{name}":
                raise
    return found


def build_parser(prog: str = "illumos-rust", only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one that knows a single subcommand: importing every subcommand
    module costs ~150 ms, which a one-shot ``illumos-rust demangle`` in a pipeline should not pay.
    A subcommand that is named in COMMANDS but not built yet falls back to the full parser, so the
    error lists the commands that exist (it used to say "choose from" followed by nothing)."""
    parser = Parser(
        prog=prog,
        description="Make Rust a first-class language on illumos: audit, edit, port, target, observe.",
        epilog="exit codes: 0 clean, 1 findings at/above the threshold, 2 bad input or I/O error, "
        "130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = _modules(only)
    if only is not None and not modules:
        return build_parser(prog)
    for _name, module in modules:
        module.add_parser(sub)
    return parser


def error(message: str) -> None:
    print(f"illumos-rust: {message}", file=sys.stderr)


def _os_message(exc: OSError) -> str:
    """``PATH: strerror`` for a file, ``cannot write output: strerror`` for a full stdout."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{os.fsdecode(exc.filename)}{target}: {reason}"
    if exc.errno in _WRITE_ERRNOS:
        return f"cannot write output: {reason}"
    return reason


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of a dead stdout (closed pipe, full disk)
    cannot print "Exception ignored ..." as a second line on stderr."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``Interrupted`` (as SIGINT raises KeyboardInterrupt) so the cleanups run.

    A second signal during the cleanup is remembered, not raised, so it cannot cut the cleanup short.
    Only possible in the main thread; elsewhere (a library caller's worker thread) nothing changes.
    """
    fired: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous: list[tuple[int, Callable[[int, FrameType | None], Any] | int | None]] = []
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous.append((sig, signal.signal(sig, handler)))
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, old in previous:
            signal.signal(signum, old)


#: Commands after which the console script skips the interpreter's teardown (see :func:`entry`): they
#: write to stdout and to files they close themselves, and they leave large heaps behind.
QUICK_EXIT = frozenset({"audit", "inspect", "survey"})


def entry() -> NoReturn:
    """The ``illumos-rust`` console script: :func:`main`, then the process exit.

    After one of :data:`QUICK_EXIT`'s commands, once :func:`main` has returned (output flushed, files
    closed, the survey store committed and closed), the exit skips the interpreter's teardown, which frees
    every object one by one: 25 ms of a 0.25 s survey rerun, 60 ms after listing librustc_driver's 186k
    symbols. The ``atexit`` handlers still run, and only when no other thread is alive (a thread's
    unfinished work is never cut short); anything else exits as usual. Tests call :func:`main`, which never
    does this.
    """
    argv = sys.argv[1:]
    code = main(argv)
    # an interrupted survey may have a thread still starting a cluster or reaching a scheduler (up to 10 s):
    # main has cleaned up and said so; the user asked to stop now (its forked workers die with it)
    interrupted = code in (130, 128 + signal.SIGTERM, 128 + signal.SIGHUP)
    if _command(argv) in QUICK_EXIT and (threading.active_count() == 1 or interrupted):
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: the descriptor was closed when Python started
                with suppress(OSError, ValueError):  # a failed stdout was already reported by main
                    stream.flush()
        os._exit(code)
    sys.exit(code)


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None, prog: str = "illumos-rust") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = _command(argv)
    only = first if first in COMMANDS and not {"-h", "--help"} & set(argv[: argv.index(first)]) else None
    # the stdout wrapper outside the handlers: a SIGTERM while it is set up or closed (after _run has
    # flushed everything) takes the default action, never an Interrupted raised outside _run's handling
    with _usable_stdout(), _signals_raise():
        return _run(argv, prog, only)


def _run(argv: list[str], prog: str, only: str | None) -> int:
    failure = EXIT_ERROR
    caught: BaseException | None = None
    try:
        try:
            parser = build_parser(prog, only)
        except ModuleNotFoundError:
            parser = build_parser(prog)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        code = int(args.func(args))
        sys.stdout.flush()  # here, not at exit: a full disk or closed pipe must be reported like any error
        return code
    except UnsafeEditError as exc:
        caught = exc
        error(f"refused: {exc}")
    except (FormatError, UsageError, FileError, IllumosRustError) as exc:
        caught = exc
        error(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        caught = exc
        error(_os_message(exc))
    except Interrupted as exc:
        caught = exc
        name = signal.Signals(exc.signum).name
        error("terminated (SIGTERM)" if exc.signum == signal.SIGTERM else f"interrupted ({name})")
        failure = 128 + exc.signum
    except KeyboardInterrupt as exc:
        caught = exc
        error("interrupted")
        failure = EXIT_INTERRUPTED
    except MemoryError as exc:
        caught = exc
        error("out of memory (the input is too large for the memory available)")
    except RecursionError as exc:
        caught = exc
        error("input nested too deeply to process")
    except Exception as exc:  # a bug: still one line, the traceback on request
        caught = exc
        error(f"internal error: {type(exc).__name__}: {exc} (set {_TRACEBACK_ENV}=1 for the traceback)")
    if os.environ.get(_TRACEBACK_ENV) and caught is not None:
        # after the except blocks: print_exc() would find no current exception here
        traceback.print_exception(caught, file=sys.stderr)
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()
    return failure


if __name__ == "__main__":
    entry()
