"""The split listing (``forked``) writes exactly what the serial loop writes, whatever happens.

Oracle: the serial path (``split_rows`` above the table size), itself checked against ``readelf -Ws`` in
``test_inspect_symbols.py``. A child that fails must not change the output; a parent that fails must not
leave its child running.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence

import pytest

from conftest import build_rust
from illumos_rust import forked as forked_tail
from illumos_rust.cli import inspect as inspect_cli
from illumos_rust.cli.inspect import _bulk_demangler, write_symbols
from illumos_rust.elf.reader import ElfFile

REAL_CAN_SPLIT = forked_tail.can_split  # before the autouse fixture below replaces it

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


@pytest.fixture(autouse=True)
def _two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked_tail, "can_split", lambda: True)  # also on 1 CPU, and beside xdist's threads


def _listing(path: str, *, split: int, demangle: bool) -> str:
    out = io.StringIO()
    with ElfFile(path) as elf:
        write_symbols(out, elf, _bulk_demangler() if demangle else None, split_rows=split)
    return out.getvalue()


@pytest.mark.parametrize("demangle", [True, False])
def test_split_listing_is_the_serial_listing(demangle: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    source = 'fn main() { println!("{:?}", std::env::args().collect::<Vec<_>>()); }'
    path = str(build_rust(source, "split_rows"))
    monkeypatch.setattr(inspect_cli, "_CHUNK", 97)  # many chunks, so the cut falls inside .symtab
    serial = _listing(path, split=10**9, demangle=demangle)
    assert serial.count("\n") > 1000
    assert _listing(path, split=1, demangle=demangle) == serial


def _pieces(texts: list[str], fail_in_child_at: int | None = None) -> list[Callable[[], str]]:
    parent = os.getpid()

    def piece(i: int) -> Callable[[], str]:
        def text() -> str:
            if i == fail_in_child_at and os.getpid() != parent:
                raise MemoryError("only in the child")
            return texts[i]

        return text

    return [piece(i) for i in range(len(texts))]


def test_a_failing_child_changes_nothing() -> None:
    texts = [f"piece {i} \udcff\n" for i in range(10)]  # a surrogate-escaped byte survives the pipe
    out = io.StringIO()
    forked_tail.write_pieces(out, _pieces(texts, fail_in_child_at=8), [1] * 10, min_weight=1)
    assert out.getvalue() == "".join(texts)


def test_a_failing_parent_kills_and_reaps_its_child() -> None:
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError("reader went away")

    slow_started = time.monotonic()

    def slow() -> str:
        time.sleep(30)  # only the child runs the tail: it must be killed, not waited for
        return ""

    pieces = [lambda: "head", slow, slow]
    before = _children()
    with pytest.raises(BrokenPipeError):
        forked_tail.write_pieces(Closed(), pieces, [1, 1, 1], min_weight=1)
    assert time.monotonic() - slow_started < 10
    # nothing left to reap: the child was waited for (a zombie is still listed as a child). Compared with
    # the children from before: other tests in this process may have left theirs (a cluster's workers).
    assert _children() <= before


def _children() -> set[int]:
    """This process's children, zombies included (Linux: /proc/PID/task/TID/children, per thread)."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as fh:
                found |= {int(p) for p in fh.read().split()}
        except OSError:  # the thread ended meanwhile
            continue
    return found


def test_map_halves_is_func_over_the_whole_and_survives_a_failing_child() -> None:
    parent = os.getpid()
    items = list(range(1001))

    def square(xs: Sequence[int]) -> list[tuple[int, str]]:
        return [(x * x, f"#{x}") for x in xs]

    def square_failing_in_child(xs: Sequence[int]) -> list[tuple[int, str]]:
        if os.getpid() != parent:
            raise OSError("only in the child")
        return square(xs)

    want = [(x * x, f"#{x}") for x in items]  # by hand, not through the split
    assert forked_tail.map_halves(square, items, min_items=1) == want
    assert forked_tail.map_halves(square_failing_in_child, items, min_items=1) == want
    # weighted: one heavy item first (the parent keeps it alone), and weights that put the cut at the end
    heavy = [10_000, *([1] * 1000)]
    assert forked_tail.map_halves(square, items, min_items=1, weights=heavy) == want
    light = [*([1] * 1000), 10_000]
    assert forked_tail.map_halves(square, items, min_items=1, weights=light) == want
    seen: list[int] = []

    def record(xs: Sequence[int]) -> list[tuple[int, str]]:
        if os.getpid() == parent:
            seen.extend(xs)
        return square(xs)

    assert forked_tail.map_halves(record, items, min_items=1, weights=heavy) == want
    if forked_tail.can_split():
        assert seen == [0]  # 52 % of the weight is the first item: the child did the rest
    # work beside the child: runs once, here, after this process's smaller share, and changes no result
    ran: list[int] = []
    seen.clear()
    got = forked_tail.map_halves(
        record, items, min_items=1, meanwhile=lambda: ran.append(os.getpid()), share=30
    )
    assert got == want
    if forked_tail.can_split():
        assert ran == [parent] and seen == items[: len(items) * 30 // 100]
    else:
        assert ran == []  # no split: the caller does that work itself when it needs it


def test_split_frame_pointer_verdicts_are_the_serial_ones_and_agree_with_readelf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from illumos_rust.audit import frame_pointers
    from illumos_rust.audit.context import Context
    from illumos_rust.audit.policy import profile
    from test_audit import agree_with_readelf

    source = 'fn main() { let v: Vec<String> = std::env::args().collect(); println!("{v:?}"); }'
    path = build_rust(source, "split_fp", "-C", "force-frame-pointers=yes")

    def verdicts() -> list[tuple[int, str, str]]:
        with ElfFile(path) as elf:
            got, _ = frame_pointers.classify(Context(elf, profile("platform")))
        return [(fn.addr, cls, why) for fn, cls, why in got]

    monkeypatch.setattr(forked_tail, "MIN_SPLIT_WEIGHT", 10**9)
    serial = verdicts()
    monkeypatch.setattr(forked_tail, "MIN_SPLIT_WEIGHT", 1)
    assert len(serial) > 500
    assert verdicts() == serial
    assert agree_with_readelf(path) > 500  # the split path, checked against readelf's CFA rows


def test_no_split_from_a_pool_thread_but_beside_a_progress_thread() -> None:
    import threading

    answers: list[bool] = []
    worker = threading.Thread(target=lambda: answers.append(REAL_CAN_SPLIT()))
    worker.start()
    worker.join()
    assert answers == [False]  # a task run by a pool (Dask) must not fork its worker process
    stop = threading.Event()
    progress = threading.Thread(target=stop.wait, daemon=True)  # as rich's refresh thread
    progress.start()
    try:
        assert REAL_CAN_SPLIT() == (hasattr(os, "fork") and forked_tail.usable_cores() >= 2)
    finally:
        stop.set()
        progress.join()
