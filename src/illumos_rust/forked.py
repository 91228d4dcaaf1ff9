"""Use the machine's second core for the second half of a long, CPU-bound job, through ``fork``.

Why: listing librustc_driver's 186k symbols (native demangling, then joining row texts) and classifying
its 160k functions for frame pointers are pure-Python CPU work measured against single C processes
(``readelf -Ws -C``, ``objdump -d``). Their halves do not depend on each other, so the second half can be
computed at the same time in a ``fork`` of this process, which already holds the mapped file, the parsed
tables and the decoded names (nothing is re-read or re-parsed), and streamed back through a pipe while the
parent does the first half. Results are exactly the serial ones, in the same order.

Failure never changes the result: if the child dies or raises (a malformed table, memory), the parent
discards whatever it sent and computes the second half itself, so a ``FormatError`` reaches the user from
the parent exactly as without the split. If the parent stops (a closed pipe, Ctrl-C), the child is killed
and reaped before the exception goes on. Without ``fork`` or a second usable core, everything runs here.

Memory: the child shares the parent's pages copy-on-write; its resident set counts those shared pages
again, but only what it allocates itself (its half's results) is new memory.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Below this much work (in the caller's unit: rows, functions) a fork costs more than it saves.
MIN_SPLIT_WEIGHT = 40_000
#: The tail is encoded for the pipe and decoded back: surrogatepass keeps names that were not UTF-8
#: (decoded with surrogateescape by the ELF reader) exactly as the serial path would hand them to ``out``.
_ERRORS = "surrogatepass"
_READ_SIZE = 1 << 20


def can_split() -> bool:
    """Whether a split may happen here: ``fork``, a second usable CPU, and the main thread.

    Work running in a pool's thread (a Dask worker running ``survey``, a server) is already spread over
    processes by its caller, and another thread of such a process may hold a lock of a C library at the
    moment of the fork. The CLI's own helper threads (the progress bar) are different: CPython re-creates
    its interpreter, import and ``threading`` locks in the child, and the child runs only our loop, writes
    only to its pipe and imports nothing, so it never waits on a lock of theirs.
    """
    return (
        hasattr(os, "fork") and usable_cores() >= 2 and threading.current_thread() is threading.main_thread()
    )


def usable_cores() -> int:
    """CPUs this process may run on (affinity, not the machine's count: a container may pin us to one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def write_pieces(
    out: TextIO,
    pieces: Sequence[Callable[[], str]],
    weights: Sequence[int],
    *,
    min_weight: int = MIN_SPLIT_WEIGHT,
) -> None:
    """Write ``piece()`` for every piece, in order; split between this process and a child when it pays.

    ``weights`` estimate each piece's cost (rows). The split happens only with ``fork``, two usable cores
    and at least ``min_weight`` in total; the parent keeps a little more than half, since it also copies
    the child's text to ``out``.
    """
    total = sum(weights)
    if len(pieces) < 2 or total < min_weight or not can_split():
        for piece in pieces:
            out.write(piece())
        return
    cut = _weighted_cut(weights)
    head, tail = pieces[:cut], pieces[cut:]
    text = _tail_in_child(out, head, tail)
    if text is None:  # the child failed: the tail again, here, so its error (if any) is the parent's
        for piece in tail:
            out.write(piece())
    else:
        out.write(text)


def _weighted_cut(weights: Sequence[int], share: int = 52) -> int:
    """Where the first ``share`` % of the total weight ends; both sides keep at least one item."""
    total, running = sum(weights), 0
    for i, w in enumerate(weights):
        running += w
        if running * 100 >= total * share:
            return max(1, min(i + 1, len(weights) - 1))
    return max(1, len(weights) - 1)


def _tail_in_child(
    out: TextIO, head: Sequence[Callable[[], str]], tail: Sequence[Callable[[], str]]
) -> str | None:
    """Write the head here while a child computes the tail; the tail's text, or None if the child failed."""

    def write_head() -> None:
        for piece in head:
            out.write(piece())

    def tail_bytes() -> bytes:
        return "".join(piece() for piece in tail).encode("utf-8", _ERRORS)

    raw = run_split(write_head, tail_bytes)
    return None if raw is None else raw.decode("utf-8", _ERRORS)


def map_halves(
    func: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    min_items: int | None = None,
    weights: Sequence[int] | None = None,
    meanwhile: Callable[[], None] | None = None,
    share: int = 52,
) -> list[R]:
    """``func(items)`` for a ``func`` that maps a slice to one result per item, the second half in a child.

    The results travel back pickled, so they must be plain data (strings, numbers, tuples); the parent
    keeps ``share`` % of the items (52: it also unpickles the child's); of their ``weights`` when given
    (items of very different cost: a crate of 3 files and one of 3,000). ``meanwhile``, if given, runs
    in the parent after its part, while the child finishes: work the caller needs next anyway, for which
    it keeps a smaller ``share``. It runs only when the split happens, and must not raise (what it
    raises stops the child and goes on to the caller).
    """
    least = MIN_SPLIT_WEIGHT if min_items is None else min_items
    if len(items) < max(least, 2) or not can_split():
        return func(items)
    cut = len(items) * share // 100
    if weights is not None:
        cut = _weighted_cut(weights, share)
    cut = max(1, min(cut, len(items) - 1))
    head: list[R] = []

    def run_head() -> None:
        head.extend(func(items[:cut]))
        if meanwhile is not None:
            meanwhile()

    raw = run_split(run_head, lambda: pickle.dumps(func(items[cut:]), pickle.HIGHEST_PROTOCOL))
    tail: list[R] = func(items[cut:]) if raw is None else pickle.loads(raw)
    if len(tail) != len(items) - cut:
        raise ValueError("a split map returned the wrong number of results")  # a bug, never bad input
    return head + tail


def run_split(head: Callable[[], None], tail: Callable[[], bytes]) -> bytes | None:
    """Run ``head()`` here while a forked child computes ``tail()``: the child's bytes, None if it failed."""
    data, read_failed, status = _with_child(tail, head)
    if read_failed or not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        return None
    return data


def call_in_child(func: Callable[[], bytes]) -> tuple[bytes | None, str]:
    """``func()`` in a forked child: its bytes, or None and how the child ended ("killed by SIGSEGV",
    "exit status 9", "raised MemoryError") when it did not return. Unlike :func:`run_split`, nothing is
    redone here: the point is that whatever ``func`` does to its process stays in the child."""
    data, read_failed, status = _with_child(func, lambda: None)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return None, f"killed by {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code == _RAISED:
        return None, "raised " + data.decode("utf-8", "replace")
    if code != 0 or read_failed:
        return None, f"exit status {code}"
    return data, ""


#: The child's exit status when ``func`` raised; what it sent is then the exception's type name.
_RAISED = 3


def _with_child(func: Callable[[], bytes], head: Callable[[], None]) -> tuple[bytes, list[OSError], int]:
    """Fork a child that sends ``func()`` through a pipe while this process runs ``head()``: what arrived,
    the read errors, and the child's wait status. If this process leaves with an exception (``head``
    failed, Ctrl-C), the child is killed and reaped before the exception goes on."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running any of the parent's exit code
        code = 1
        try:
            os.close(read_end)
            die_with(parent)
            try:
                data = func()
                code = 0
            except BaseException as exc:  # reported to the parent as text
                data, code = type(exc).__name__.encode("utf-8", "replace"), _RAISED
            with open(write_end, "wb", buffering=_READ_SIZE) as pipe:
                pipe.write(data)
        except BaseException:  # the pipe itself failed: the parent sees a non-zero status
            code = 1 if code == 0 else code
        finally:
            os._exit(code)
    os.close(write_end)
    received: list[bytes] = []
    read_failed: list[OSError] = []
    reader = threading.Thread(target=_drain, args=(read_end, received, read_failed), daemon=True)
    reader.start()
    finished = False
    try:
        head()
        reader.join()
        finished = True
    finally:
        if not finished:  # we are leaving with an exception: stop the child before it goes on
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        reader.join()
        os.close(read_end)
    return b"".join(received), read_failed, status


def die_with(parent: int) -> None:
    """In a child: end when the parent ends, however it ends (SIGKILL, the OOM killer: its ``finally``
    that kills the child never runs). Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (linux/prctl.h:
    PR_SET_PDEATHSIG = 1); elsewhere nothing. A parent already gone before that: leave now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def _drain(fd: int, into: list[bytes], failed: list[OSError]) -> None:
    """Read the pipe to its end (in a thread: ``os.read`` lets the parent's formatting run meanwhile)."""
    try:
        while chunk := os.read(fd, _READ_SIZE):
            into.append(chunk)
    except OSError as exc:  # the text would be incomplete: the parent redoes the tail
        failed.append(exc)
