"""Scale-out is real: a ``dask scheduler`` and two ``dask worker`` processes on loopback, the survey run
through ``--scheduler``, one worker SIGKILLed mid-run. Nothing may be lost: every crate ends up in the store,
analysed (Dask reschedules the dead worker's tasks on the other), with the findings ``port`` gives for it
alone."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from illumos_rust.port import run_port
from illumos_rust.survey import Store

REGISTRY = Path("/usr/share/cargo/registry")
N_CRATES = 16
SKIP_LARGEST = 8  # the few giants (web-sys, windows bindings) alone would take most of the test's time

SCHED_OPTS = ("--no-dashboard", "--scheduler-file")
# no nanny: a killed worker must stay dead (a nanny would restart it and hide the loss)
WORKER_OPTS = ("--nthreads", "1", "--no-nanny", "--no-dashboard")


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or path.stat().st_size == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Dask process did not start (exit {proc.poll()})")
        time.sleep(0.1)


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def test_scheduler_two_workers_one_killed(tmp_path: Path) -> None:
    if not REGISTRY.is_dir():
        pytest.skip(f"{REGISTRY} missing (make corpus installs the Debian crate sources)")
    sizes = []
    for d in REGISTRY.iterdir():
        if (d / "Cargo.toml").is_file():
            sizes.append((sum(f.stat().st_size for f in d.rglob("*.rs") if f.is_file()), d))
    if len(sizes) < SKIP_LARGEST + N_CRATES:
        pytest.skip(f"fewer than {N_CRATES} crates under {REGISTRY}")
    chosen = [
        d for _, d in sorted(sizes, key=lambda s: (-s[0], s[1].name))[SKIP_LARGEST : SKIP_LARGEST + N_CRATES]
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in chosen:
        os.symlink(d, corpus / d.name)

    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    dask = [sys.executable, "-m", "dask"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sched = subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", *SCHED_OPTS, str(sched_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(sched)
        _wait_for(sched_file, sched)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = []
        for i in range(2):
            w = subprocess.Popen(
                [*dask, "worker", address, "--host", "127.0.0.1", *WORKER_OPTS, "--name", f"w{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(w)
            workers.append(w)
        db = tmp_path / "survey.db"
        cli = [sys.executable, "-m", "illumos_rust.cli.main", "survey", "crates", str(corpus)]
        run = subprocess.Popen(
            [*cli, "--store", str(db), "--scheduler", address, "--format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(run)
        deadline = time.monotonic() + 300
        while _stored(db) < 2:  # both workers busy by now
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        at_kill = _stored(db)
        t_kill = time.monotonic()
        out, err = run.communicate(timeout=600)
        print(
            f"stored at the kill: {at_kill}/{N_CRATES}; run finished {time.monotonic() - t_kill:.1f} s later"
        )
        assert run.returncode == 0, err.decode()[-2000:]
        summary = json.loads(out)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    assert at_kill < N_CRATES, "the run finished before the kill: nothing was tested"
    assert (summary["found"], summary["analysed"], summary["failed"]) == (N_CRATES, N_CRATES, 0)
    with Store(str(db)) as store:
        items = {Path(it.path).name: it for it in store.items("crate")}
    assert set(items) == {d.name for d in chosen}
    assert all(it.status == "ok" for it in items.values())
    # spot-check the content against port on the crate alone (the whole 40 would double the test's time)
    for name in sorted(items)[:3]:
        expected = run_port([str(REGISTRY / name)], jobs=1)
        got = sorted(
            (f["rule"], f["location"].get("line"), f["message"]) for f in items[name].result["findings"]
        )
        assert got == sorted((f.rule, f.location.line, f.message) for f in expected.findings), name
