"""Issue 12: fault injection. Every file-system call an ``edit --write`` (one file, and a batch of two) and a
``port --apply`` make is made to fail in turn (the 1st call, then the 2nd, ... until a run makes fewer
calls than the fault's position), and each run must end with the original bytes, exit 2 and exactly one
clear line on stderr, and no temporary file.

The one exception is by design and asserted as such: a fault after the last rename (the directory
``fsync`` that makes the rename durable) cannot undo a finished edit, so that run must exit 0 with every
file fully edited — byte-identical to the same edit run without faults.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import hashlib
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, shared_path
from illumos_rust.cli.main import main
from illumos_rust.port import engine

# (module, attribute): every call through these can fail. os.unlink is left alone: a cleanup that cannot
# delete its own temporary file has nothing better to do, and the test would only measure that.
TARGETS: list[tuple[Any, str]] = [
    (os, name)
    for name in (
        "open",
        "fdopen",
        "read",
        "write",
        "fstat",
        "stat",
        "lstat",
        "fsync",
        "replace",
        "link",
        "chmod",
        "chown",
        "copy_file_range",
        "listxattr",
        "getxattr",
        "setxattr",
        "listdir",
    )
] + [(mmap, "mmap"), (tempfile, "mkstemp"), (builtins, "open"), (fcntl, "flock")]
MAX_CALLS = 400


class Faults:
    """Counts calls through TARGETS while armed, and raises EIO at call number ``fail_at``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.armed = False
        self.hit: str | None = None

    def wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def faulty(*args: Any, **kwargs: Any) -> Any:
            if self.armed and self.hit is None:
                self.calls += 1
                if self.calls == self.fail_at:
                    self.hit = name
                    raise OSError(errno.EIO, f"injected fault in {name}")
            return real(*args, **kwargs)

        return faulty


@contextmanager
def injected(monkeypatch: pytest.MonkeyPatch, faults: Faults) -> Iterator[None]:
    with monkeypatch.context() as m:
        for module, name in TARGETS:
            real = getattr(module, name)
            m.setattr(module, name, faults.wrap(f"{module.__name__}.{name}", real))
        yield


def digests(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def leftovers(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob(".illumos-rust*"))


def sweep(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[Path], list[Path]],
    argv: Callable[[Path], list[str]],
    arm_on: Callable[[Faults], None] | None = None,
    done_rc: int = 0,
) -> dict[str, int]:
    """Run ``argv`` with a fault at call 1, 2, ... ; returns how often each call site was hit."""
    work = tmp_path / "work"  # one path for every run (rebuilt each time), so a cached analysis fits all
    files = prepare(work)
    original = digests(files)
    assert main(argv(work)) == done_rc
    capsys.readouterr()
    edited = digests(files)
    assert edited != original
    hits: dict[str, int] = {}
    for n in range(1, MAX_CALLS + 1):
        shutil.rmtree(work)
        files = prepare(work)
        faults = Faults(n)
        faults.armed = arm_on is None
        if arm_on is not None:
            arm_on(faults)
        with injected(monkeypatch, faults):
            rc = main(argv(work))
        _out, err = capsys.readouterr()
        if faults.hit is None:  # the run made fewer than n calls: every position has been tried
            assert rc == done_rc and digests(files) == edited
            assert n > 5, f"only {n - 1} calls intercepted: is the injection armed?"
            print(f"fault sweep: {n - 1} calls failed in turn: {hits}")  # shown with -s
            return hits
        hits[faults.hit] = hits.get(faults.hit, 0) + 1
        where = f"fault at call {n} ({faults.hit}): rc {rc}, stderr {err!r}"
        assert "Traceback" not in err, where
        assert leftovers(work) == [], where
        if rc == done_rc:  # only a fault after the commit may be ignored, and then the edit is complete
            assert digests(files) == edited, where
            continue
        assert rc == 2, where
        lines = err.splitlines()
        assert lines and lines[-1].startswith("illumos-rust: "), where
        assert len(lines) == 1, where
        assert "injected fault" in err or "EIO" in err or "Input/output error" in err, where
        assert digests(files) == original, where
    raise AssertionError(f"more than {MAX_CALLS} calls")


def _elfs(names: tuple[str, ...]) -> Callable[[Path], list[Path]]:
    def prepare(directory: Path) -> list[Path]:
        directory.mkdir()
        out = []
        for name in names:
            f = directory / name
            shutil.copyfile(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), f)
            f.chmod(0o755)
            out.append(f)
        return out

    return prepare


def test_fault_injection_edit_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = sweep(
        tmp_path,
        capsys,
        monkeypatch,
        _elfs(("prog",)),
        lambda d: ["edit", str(d / "prog"), "--runpath", "/opt/x", "--write"],
    )
    # the sweep went through the transaction's every step, not just the reads
    assert {"os.replace", "tempfile.mkstemp", "fcntl.flock", "mmap.mmap"} <= hits.keys(), hits


def test_fault_injection_edit_batch_is_all_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = sweep(
        tmp_path,
        capsys,
        monkeypatch,
        _elfs(("a", "b")),
        lambda d: ["edit", str(d), "--runpath", "/opt/x", "--write"],
    )
    assert hits.get("os.replace", 0) >= 2, hits  # the second rename failed too: the first was put back


def test_fault_injection_port_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four files change at once (src/lib.rs, Cargo.toml, build.rs and the vendored crate's
    .cargo-checksum.json). The analysis runs unfaulted (it reads many files and calls rustc); faults start
    when ``Report.apply`` does, so every call of the write-back is tried."""
    crate_data = REPO / "tests" / "data" / "port" / "gapcrate"

    def prepare(directory: Path) -> list[Path]:
        crate = directory / "gapcrate"
        shutil.copytree(crate_data, crate)
        files = {
            p.relative_to(crate).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in crate.rglob("*")
            if p.is_file()
        }
        (crate / ".cargo-checksum.json").write_text(json.dumps({"files": files, "package": "0" * 64}))
        return sorted(p for p in directory.rglob("*") if p.is_file())

    real_apply = engine.Report.apply
    real_run_port = engine.run_port
    cache: list[engine.Report] = []

    def run_port(*args: Any, **kwargs: Any) -> engine.Report:
        """The analysis of the (always identical) tree, computed once: the sweep only varies the write."""
        if not cache:
            cache.append(real_run_port(*args, **kwargs))
        return cache[0]

    monkeypatch.setattr(engine, "run_port", run_port)

    def arm_on(faults: Faults) -> None:
        def apply(self: engine.Report) -> list[str]:
            faults.armed = True
            return real_apply(self)

        monkeypatch.setattr(engine.Report, "apply", apply)

    hits = sweep(
        tmp_path,
        capsys,
        monkeypatch,
        prepare,
        lambda d: ["port", str(d / "gapcrate"), "--apply", "--format", "json", "--jobs", "1"],
        arm_on,
        done_rc=1,  # gapcrate has error-level findings: port's exit code 1 when all went well
    )
    assert hits.get("os.replace", 0) >= 4 and hits.get("tempfile.mkstemp", 0) >= 4, hits
