"""``illumos-rust survey`` CLI: exit codes, one-line errors, hostile archives, resuming a partial store.

Everything here runs in-process without a cluster (three or fewer items are analysed inline), so it is
fast; the Dask paths are in test_survey.py and test_survey_scaleout.py."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from illumos_rust.cli.main import main

REGISTRY = Path("/usr/share/cargo/registry")
ADLER = REGISTRY / "adler-1.0.2"  # no OS-specific code: analysed in milliseconds


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["survey", *args])
    return code, out.getvalue(), err.getvalue()


def _adler() -> Path:
    if not (ADLER / "Cargo.toml").is_file():
        pytest.skip(f"{ADLER} missing (make sysdeps installs the Debian crate sources)")
    return ADLER


def test_clean_run_exit_0_and_json_summary(tmp_path: Path) -> None:
    code, out, err = run("crates", str(_adler()), "--store", str(tmp_path / "s.db"), "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["found"], data["analysed"], data["failed"]) == (1, 1, 0)


def test_hostile_archives_fail_alone_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Archives whose bytes are refused fail alone, write nothing outside, and are not tried again: a
    member escaping with ``..``, a link to an absolute path, a device node (tarfile's ``data`` filter), one
    unpacking past the size bound (lowered to 1 MiB here: 2 MiB of zeros), and a truncated gzip stream."""
    from illumos_rust.survey import sources

    monkeypatch.setattr(sources, "MAX_UNPACKED", 1 << 20)
    src = tmp_path / "src"
    src.mkdir()
    manifest = b"[package]\nname='evil'\nversion='0.1.0'\n"

    def crate(name: str, *members: tuple[tarfile.TarInfo, bytes]) -> None:
        with tarfile.open(src / f"{name}-0.1.0.crate", "w:gz") as tar:
            for info, data in members:
                info.size = len(data) if info.isfile() else 0
                tar.addfile(info, io.BytesIO(data) if info.isfile() else None)

    top = tarfile.TarInfo("evil-0.1.0/Cargo.toml")
    crate("escape", (tarfile.TarInfo("../../escaped/Cargo.toml"), manifest))
    link = tarfile.TarInfo("evil-0.1.0/src/lib.rs")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    crate("abslink", (top, manifest), (link, b""))
    dev = tarfile.TarInfo("evil-0.1.0/src/null")
    dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
    crate("device", (top, manifest), (dev, b""))
    crate("bomb", (top, manifest), (tarfile.TarInfo("evil-0.1.0/src/lib.rs"), b"\0" * (2 << 20)))
    (src / "truncated-0.1.0.crate").write_bytes(b"\x1f\x8b\x08")  # a gzip header and nothing else
    store = str(tmp_path / "s.db")
    code, out, err = run("crates", str(src), "--store", store, "--format", "json")
    assert code == 1 and err == ""
    data = json.loads(out)
    assert (data["found"], data["analysed"], data["failed"]) == (5, 5, 5)
    reasons = {Path(f["path"]).name.split("-")[0]: f["reason"] for f in data["failures"]}
    assert reasons["abslink"].startswith("AbsoluteLinkError"), reasons
    assert reasons["device"].startswith("SpecialFileError"), reasons
    assert reasons["bomb"].startswith("ArchiveTooLarge") and "1 MiB" in reasons["bomb"], reasons
    assert not (tmp_path / "escaped").exists() and not Path("/escaped").exists()
    # the bytes are what is wrong: a rerun reads nothing again, and still exits 1: they still fail
    code, out, err = run("crates", str(src), "--store", store, "--format", "json")
    again = json.loads(out)
    assert (code, again["found"], again["analysed"], again["reused"], again["standing"]) == (1, 5, 0, 5, 5), (
        again
    )
    code, out, _ = run("query", "failed", "--store", store, "--format", "json")
    assert len(json.loads(out)["rows"]) == 5


def test_missing_source_and_bad_store_exit_2_one_line(tmp_path: Path) -> None:
    code, out, err = run("crates", str(tmp_path / "nope"), "--store", str(tmp_path / "s.db"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "no such file" in err
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    code, out, err = run("query", "failed", "--store", str(bad))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "bad.db" in err


def test_resume_analyses_only_missing_rows(tmp_path: Path) -> None:
    """An interrupted run leaves the rows it committed; the rerun analyses only the others."""
    crates = [REGISTRY / n for n in ("adler-1.0.2", "fs2-0.4.3", "term_size-0.3.1")]
    if not all((c / "Cargo.toml").is_file() for c in crates):
        pytest.skip("Debian crate sources missing (make sysdeps)")
    store = tmp_path / "s.db"
    assert run("crates", *map(str, crates), "--store", str(store))[0] == 0
    with sqlite3.connect(store) as con:  # as if the run had stopped after the first crate
        con.execute("DELETE FROM items WHERE path != ?", (str(crates[0]),))
    code, out, _ = run("crates", *map(str, crates), "--store", str(store), "--format", "json")
    data = json.loads(out)
    assert (code, data["analysed"], data["reused"]) == (0, 2, 1)


def test_query_csv_and_report(tmp_path: Path) -> None:
    shutil.copytree(_adler(), tmp_path / "adler-1.0.2")
    store = str(tmp_path / "s.db")
    assert run("crates", str(tmp_path / "adler-1.0.2"), "--store", store)[0] == 0
    code, out, _ = run("query", "solaris-only", "--store", store, "--format", "csv")
    assert (code, out) == (0, "crate,solaris_only,refused,path\n")
    code, out, _ = run("report", "-o", str(tmp_path / "rep"), "--store", store)
    assert code == 0 and (tmp_path / "rep" / "index.html").is_file() and "2 pages" in out


def test_progress_and_two_concurrent_writers(tmp_path: Path) -> None:
    """Two runs writing one store at once (WAL, busy timeout) both land; progress counts up to the total."""
    import threading

    from illumos_rust.survey import Store, run_survey

    crates = [REGISTRY / n for n in ("adler-1.0.2", "fs2-0.4.3", "term_size-0.3.1", "users-0.11.0")]
    if not all((c / "Cargo.toml").is_file() for c in crates):
        pytest.skip("Debian crate sources missing (make sysdeps)")
    store = str(tmp_path / "s.db")
    seen: list[list[tuple[int, int]]] = [[], []]
    errors: list[BaseException] = []

    def survey(i: int) -> None:
        try:
            mine = [str(c) for c in crates[2 * i : 2 * i + 2]]
            run_survey("crate", mine, store, progress=lambda d, t: seen[i].append((d, t)))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=survey, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(store) as st:
        assert {it.path for it in st.items("crate")} == {str(c) for c in crates}
    assert seen == [[(0, 2), (1, 2), (2, 2)], [(0, 2), (1, 2), (2, 2)]]


def test_binaries_with_no_functions_examined(tmp_path: Path) -> None:
    """SPARC executables: audit examines no x86 functions (frame-pointer totals null); the queries and the
    report must take that in their stride (it used to crash no-frame-pointers)."""
    from conftest import shared_path

    elf = shared_path("fixtures", "elf")
    files = [str(elf / n) for n in ("exe_solaris64_cc.sparc.elf", "exe_solaris32_cc.sparc.elf")]
    store = str(tmp_path / "s.db")
    code, out, err = run("binaries", *files, "--store", store)
    assert code == 0, out + err
    assert "2 binaries: 2 analysed" in out
    for question in ("no-frame-pointers", "opt-local"):
        code, out, err = run("query", question, "--store", store, "--format", "json")
        assert (code, err) == (0, ""), question
        assert json.loads(out)["rows"] == []
    assert run("report", "-o", str(tmp_path / "rep"), "--store", store)[0] == 0


def test_readers_need_an_existing_store_and_never_write_it(tmp_path: Path) -> None:
    """``query``/``report`` on a mistyped ``--store`` is an error naming it, not an empty corpus, and
    creates nothing; a directory is not a store; a store of a newer format is refused untouched."""
    missing = tmp_path / "typo.db"
    for args in (("query", "gaps"), ("report", "-o", str(tmp_path / "rep"))):
        code, out, err = run(*args, "--store", str(missing))
        assert (code, out) == (2, "") and len(err.strip().splitlines()) == 1, err
        assert "typo.db" in err and "no survey store" in err
        assert not missing.exists()
    code, out, err = run("query", "gaps", "--store", str(tmp_path))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1
    store = tmp_path / "s.db"
    assert run("crates", str(_adler()), "--store", str(store))[0] == 0
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # the format is recorded
        db.execute("PRAGMA user_version=99")
    db.close()
    before = store.read_bytes()
    for args in (("query", "gaps"), ("crates", str(_adler()))):
        code, out, err = run(*args, "--store", str(store))
        assert code == 2 and "format 99" in err and "newer" in err and len(err.strip().splitlines()) == 1
    assert store.read_bytes() == before


def test_store_in_a_directory_the_reader_cannot_write(tmp_path: Path) -> None:
    """A store published by someone else (root's file, in root's 0755 directory) is read by another user:
    query and report answer; a run that would write it says the store is not writable."""
    import os
    import subprocess
    import sys
    import tempfile

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the reader as another user")
    tool = str(Path(sys.executable).with_name("illumos-rust"))
    shared = Path(tempfile.mkdtemp(prefix="survey-published-"))
    try:
        shared.chmod(0o755)
        store = shared / "s.db"
        assert run("crates", str(_adler()), "--store", str(store))[0] == 0
        store.chmod(0o644)
        as_nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", tool, "survey"]
        env = {**os.environ, "HOME": "/nonexistent"}
        q = subprocess.run(
            [*as_nobody, "query", "failed", "--store", str(store)], capture_output=True, text=True, env=env
        )
        assert (q.returncode, q.stderr, q.stdout) == (0, "", "failed: none\n")
        report = shared / "rep"
        report.mkdir(mode=0o777)
        report.chmod(0o777)
        r = subprocess.run(
            [*as_nobody, "report", "-o", str(report), "--store", str(store)],
            capture_output=True,
            text=True,
            env=env,
        )
        assert (r.returncode, r.stderr) == (0, ""), r.stderr
        assert (report / "index.html").is_file()
        w = subprocess.run(
            [*as_nobody, "crates", str(_adler()), "--store", str(store)],
            capture_output=True,
            text=True,
            env=env,
        )
        assert w.returncode == 2 and "not writable" in w.stderr and len(w.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in shared.iterdir()) == ["rep", "s.db"]  # no -wal/-shm left by readers
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize("when", ["workers starting", "task running"])
def test_cluster_workers_die_with_a_killed_survey(tmp_path: Path, when: str) -> None:
    """``kill -9`` of a survey (the OOM killer) while its local cluster works: its worker processes end
    with it and release the caller's pipe (they used to live on with PPID 1, holding stdout open, so a
    ``survey | tee`` never ended, and ignored SIGTERM). Whether Dask's own watch of the parent caught it
    depended on the moment: both moments are tried."""
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a-1.0.0", "b-1.0.0", "c-1.0.0", "hang-1.0.0"):  # four: more than are analysed inline
        shutil.copytree(_adler(), corpus / name)
    tool = str(Path(sys.executable).with_name("illumos-rust"))
    env = {**os.environ, "ILLUMOS_RUST_SURVEY_FAULT": "hang:hang-1.0.0"}
    proc = subprocess.Popen(
        [tool, "survey", "crates", str(corpus), "--store", str(tmp_path / "s.db"), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )

    def children() -> list[int]:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                found = {int(p) for p in fh.read().split()}
            for task in os.listdir(f"/proc/{proc.pid}/task"):  # the nannies fork from other threads
                with open(f"/proc/{proc.pid}/task/{task}/children") as fh:
                    found |= {int(p) for p in fh.read().split()}
        except OSError:
            return []
        return sorted(found)

    deadline = time.monotonic() + 60
    while len(children()) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    workers = children()
    assert len(workers) >= 2, f"no cluster workers appeared (exit {proc.poll()})"
    if when == "task running":
        time.sleep(2)  # the hanging task is running
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # returns only once every holder of the pipe is gone
    for pid in workers:
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.1)
        state = ""
        if os.path.exists(f"/proc/{pid}/stat"):
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        assert state in ("", "Z"), f"worker {pid} outlived the survey (state {state})"


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    """Each of these was a hang, a machine-wide OOM, an internal error or a silently converted file: now a
    one-line error naming what is wrong, exit 2, before any work (and the other database untouched)."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE x (a)")
    db.close()
    before = other.read_bytes()
    named = tmp_path / "named.db"  # a table called items, but not the survey's
    with sqlite3.connect(named) as db:
        db.execute("CREATE TABLE items (a, b)")
    db.close()
    named_before = named.read_bytes()
    store = str(tmp_path / "s.db")
    adler = str(_adler())
    cases = [
        (("crates", adler, "--store", store, "--workers", "99999999999"), "at most"),
        (("crates", adler, "--store", ""), "empty path"),
        (("binaries", str(fifo), "--store", store), "not a regular file"),
        (("binaries", "/dev/zero", "--store", store), "not a regular file"),
        (("crates", adler, "--store", store, "--scheduler", "foo://x"), "tcp://HOST:PORT"),
        (("crates", adler, "--store", store, "--scheduler", "tcp://127.0.0.1:1"), "connection refused"),
        (("crates", adler, "--store", store, "--scheduler", "tcp://127.0.0.1:99999"), "out of range"),
        (("query", "gaps", "--store", str(other)), "not a survey store"),
        (("crates", adler, "--store", str(other)), "not a survey store"),
        (("crates", adler, "--store", str(named)), "not a survey store"),
    ]
    for args, words in cases:
        code, out, err = run(*args)
        assert (code, out) == (2, ""), (args, err)
        assert words in err and len(err.strip().splitlines()) == 1, (args, err)
    assert other.read_bytes() == before and named.read_bytes() == named_before and not Path("s.db").exists()


def test_ctrl_c_while_reaching_the_scheduler_stops_at_once(tmp_path: Path) -> None:
    """Ctrl-C while the survey waits for a scheduler (a listener that accepts and never answers: the
    handshake waits up to 30 s) ends the run within a second or two, exit 130, one line; it used to wait
    the timeout out."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"

    tool = str(Path(sys.executable).with_name("illumos-rust"))
    proc = subprocess.Popen(
        [
            tool,
            "survey",
            "crates",
            str(_adler()),
            "--store",
            str(tmp_path / "s.db"),
            "--scheduler",
            address,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)  # imports done, the handshake awaited
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        listener.close()
    took = time.monotonic() - sent
    assert proc.returncode == 130 and len(err.strip().splitlines()) == 1, err
    assert took < 3, f"{took:.1f} s after Ctrl-C"


def test_a_scheduler_address_that_never_answers_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that accepts and never speaks (an HTTP server on the port): the survey gives up after
    the handshake bound (lowered to 2 s here) with a one-line error, instead of waiting for ever."""
    import socket
    import time

    from illumos_rust.survey import runner

    monkeypatch.setattr(runner, "HANDSHAKE_S", 2.0)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        code, out, err = run(
            "crates", str(_adler()), "--store", str(tmp_path / "s.db"), "--scheduler", address
        )
        took = time.monotonic() - started
    assert (code, out) == (2, "") and "no Dask handshake" in err and len(err.strip().splitlines()) == 1, err
    assert took < 10


def test_an_interrupted_run_leaves_no_temporary_files(tmp_path: Path) -> None:
    """Ctrl-C while a package's ELF file is being analysed in a forked child (which the survey then
    kills): the unpacked file is removed with the run's scratch directory (one 147 MB file per interrupt
    was left in /tmp)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with tarfile.open(tmp_path / "p.tgz", "w:gz") as tar:
        tar.add("/bin/true", arcname="usr/bin/true")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    tool = str(Path(sys.executable).with_name("illumos-rust"))
    env = {**os.environ, "TMPDIR": str(tmpdir), "ILLUMOS_RUST_SURVEY_FAULT": "hang:illumos-rust-package-"}
    proc = subprocess.Popen(
        [tool, "survey", "binaries", str(tmp_path / "p.tgz"), "--store", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not list(tmpdir.rglob("member")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmpdir.rglob("member")), "the member was never unpacked"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert list(tmpdir.iterdir()) == []
