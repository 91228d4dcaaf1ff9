"""Issue 12: the real CLI, in subprocesses, in the situations real machines produce.

Read-only directories (as ``nobody``), full disks (``/dev/full``, a full tmpfs), FIFOs, a closed pipe,
SIGTERM at random points of a 150 MB edit, two editors of one file at once. Each case asserts the exit code
(from the README's table, which this module parses), exactly one line on stderr and no traceback, the file
untouched or fully edited (sha256 against the original, readelf for the edit), and no temporary file left.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, build_rust, require_tool, shared_path
from illumos_rust.cli.main import EXIT_CODES

CLI = [sys.executable, "-m", "illumos_rust.cli.main"]
PORT_DATA = REPO / "tests" / "data" / "port"


def _readme_codes() -> dict[int, str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Exit codes and failures", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| *(\d+) *\| *(.+?) *\|$", section, re.M)
    return {int(code): meaning for code, meaning in rows}


CODES = _readme_codes()


def code(word: str) -> int:
    """The exit code whose README meaning starts with ``word`` ("clean", "bad input", "interrupted")."""
    found = [c for c, meaning in CODES.items() if meaning.startswith(word)]
    assert len(found) == 1, f"README exit-code table has no single row for {word!r}: {CODES}"
    return found[0]


def test_readme_table_is_what_the_cli_uses() -> None:
    assert CODES.keys() == EXIT_CODES.keys() == {0, 1, 2, 130, 141}
    assert code("clean") == 0 and code("findings") == 1 and code("bad input") == 2
    assert code("interrupted") == 130 and code("stdout closed") == 141


def run(
    *args: str,
    cwd: Path | None = None,
    stdout: int | None = subprocess.PIPE,
    user: bool = False,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    cmd = [*CLI, *args]
    if user:
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
    out = proc.stdout.decode(errors="replace") if proc.stdout is not None else ""
    return proc.returncode, out, proc.stderr.decode(errors="replace")


def one_line(err: str, *needles: str) -> str:
    """Exactly one line on stderr, from the CLI, no traceback, mentioning every needle."""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{err}"
    assert "Traceback" not in err and lines[0].startswith(("illumos-rust", "cargo illumos")), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".illumos-rust"))


def readelf_dynamic(path: Path) -> dict[str, str]:
    require_tool("readelf")
    text = subprocess.run(["readelf", "-dW", str(path)], check=True, capture_output=True, text=True).stdout
    return {t: v.strip() for t, v in re.findall(r"^\s*0x[0-9a-f]+\s+\((\w+)\)\s*(.*)$", text, re.M)}


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    """A real Solaris executable (Sun C, Solaris ld), copied so it can be edited."""
    dst = tmp_path / "prog"
    shutil.copyfile(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), dst)
    dst.chmod(0o755)
    return dst


# -- read-only directory, as a non-root user ---------------------------------------------------------------


@pytest.fixture
def readonly_dir() -> Iterator[Path]:
    """A root-owned 0755 directory under /tmp (pytest's tmp_path is 0700: nobody could not even look)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the CLI as nobody (setpriv)")
    require_tool("setpriv")
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *CLI, "--version"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this venv's python: {probe.stderr.decode()[-200:]}")
    d = Path(tempfile.mkdtemp(prefix="ir-ro-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_edit_in_readonly_dir_as_nobody(readonly_dir: Path) -> None:
    files = []
    for name in ("a", "b", "c"):
        f = readonly_dir / name
        shutil.copyfile(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), f)
        f.chmod(0o644)
        os.chown(f, 65534, 65534)  # nobody owns the files, but cannot write the directory
        files.append(f)
    before = [sha(f) for f in files]
    rc, _, err = run("edit", str(files[0]), "--runpath", "/x", "--write", user=True)
    assert rc == code("bad input")
    one_line(err, str(files[0]), "cannot create a temporary copy", "Permission denied")
    # a batch: nothing written, and the one line says so
    rc, out, err = run("edit", str(readonly_dir), "--runpath", "/x", "--write", user=True)
    assert rc == code("bad input")
    one_line(err, "Permission denied", "nothing written")
    assert out.count("not written") == 3
    assert [sha(f) for f in files] == before and leftovers(readonly_dir) == []


@pytest.fixture
def readonly_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(writable dir, the same dir bind-mounted read-only): ``port`` needs rustc, which does not run as
    nobody here, so its read-only tree is a read-only mount instead; skipped where mounting is denied."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    proc = subprocess.run(["mount", "--bind", str(rw), str(ro)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root): {proc.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], check=True, capture_output=True)
        yield rw, ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_port_apply_on_readonly_tree(readonly_mount: tuple[Path, Path]) -> None:
    rw, ro = readonly_mount
    shutil.copytree(PORT_DATA / "gapcrate", rw / "gapcrate")
    crate = ro / "gapcrate"
    before = {p: sha(p) for p in crate.rglob("*") if p.is_file()}
    rc, out, err = run("port", str(crate), "--apply", "--format", "json")
    assert rc == code("bad input")
    line = one_line(err, "Read-only file system")
    assert json.loads(out)["findings"]  # the report was still made
    assert {p: sha(p) for p in crate.rglob("*") if p.is_file()} == before
    assert not [p for p in crate.rglob(".illumos-rust*")], line


# -- full disks ----------------------------------------------------------------------------------------------


def test_stdout_to_dev_full(elf: Path) -> None:
    with open("/dev/full", "wb") as full:
        for args in (
            ("inspect", str(elf)),
            ("inspect", "--format", "json", str(elf)),
            ("demangle", "_ZN1a1bE"),
        ):
            rc, _, err = run(*args, stdout=full.fileno())
            assert rc == code("bad input"), args
            one_line(err, "cannot write output", "No space left on device")


def test_port_patch_to_dev_full_dir_and_missing_dir(tmp_path: Path) -> None:
    crate = tmp_path / "gapcrate"
    shutil.copytree(PORT_DATA / "gapcrate", crate)
    for target, needle in (
        ("/dev/full", "No space left on device"),
        (str(tmp_path), "Is a directory"),
        (str(tmp_path / "missing" / "x.diff"), "No such file or directory"),
    ):
        rc, _, err = run("port", str(crate), "--patch", target, "--format", "json")
        assert rc == code("bad input"), target
        one_line(err, "cannot write the patch", needle)
    assert not (tmp_path / "missing").exists()


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, to be filled by the test; skipped where mounting is not allowed."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {proc.stderr.decode().strip()}"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> None:
    with open(directory / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 4096)


def test_edit_on_full_tmpfs(full_tmpfs: Path) -> None:
    f = full_tmpfs / "prog"
    shutil.copyfile(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), f)
    _fill(full_tmpfs)
    before = sha(f)
    rc, _, err = run("edit", str(f), "--runpath", "/x", "--write")
    assert rc == code("bad input")
    one_line(err, str(f), "No space left on device")
    assert sha(f) == before and leftovers(full_tmpfs) == []


def test_target_generate_on_full_tmpfs_and_missing_dir(full_tmpfs: Path) -> None:
    require_tool("rustc")
    _fill(full_tmpfs)
    rc, _, err = run(
        "target", "generate", "--base", "x86_64-unknown-illumos", "-o", str(full_tmpfs / "t.json")
    )
    assert rc == code("bad input")
    one_line(err, "No space left on device")
    assert not (full_tmpfs / "t.json").exists() and not [
        p for p in full_tmpfs.iterdir() if p.name.startswith(".t")
    ]
    missing = full_tmpfs.parent / "nonexist" / "x.json"
    rc, _, err = run("target", "generate", "--base", "x86_64-unknown-illumos", "-o", str(missing))
    assert rc == code("bad input")
    one_line(err, "does not exist")
    assert not missing.parent.exists()


# -- FIFOs and other non-regular files -----------------------------------------------------------------------


def test_fifo_is_refused_not_waited_on(tmp_path: Path, elf: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (
        ("inspect", str(fifo)),
        ("audit", str(fifo)),
        ("edit", str(fifo), "--runpath", "/x"),
        ("edit", str(fifo), "--runpath", "/x", "--write"),
        ("audit", "--policy", str(fifo), str(elf)),
    ):
        rc, _, err = run(*args, timeout=20)
        assert rc == code("bad input"), args
        one_line(err, str(fifo), "FIFO")


def test_fifo_in_a_tree_is_skipped_with_a_warning(tmp_path: Path, elf: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    before = sha(elf)
    rc, out, err = run("audit", "--fail-on", "never", str(tmp_path), timeout=20)
    assert rc == code("clean")
    one_line(err, "skipped", "pipe", "FIFO")
    assert "1 skipped" in out
    rc, _, err = run("edit", str(tmp_path), "--set-runpath", "/x", "--write", timeout=20)
    assert rc == code("clean")
    one_line(err, "skipped", "pipe", "FIFO")
    assert readelf_dynamic(elf)["RUNPATH"] == "Library runpath: [/x]" and sha(elf) != before


def test_fifo_named_rs_in_a_crate_does_not_hang_port(tmp_path: Path) -> None:
    crate = tmp_path / "gapcrate"
    shutil.copytree(PORT_DATA / "gapcrate", crate)
    os.mkfifo(crate / "src" / "pipe.rs")
    rc, out, _ = run("port", str(crate), "--format", "json", timeout=30)
    assert rc in (code("clean"), code("findings"))
    notes = [f for f in json.loads(out)["findings"] if f["location"]["path"].endswith("pipe.rs")]
    assert notes and "FIFO" in notes[0]["message"]


# -- per-file reporting --------------------------------------------------------------------------------------


def test_inspect_reports_every_file_then_exits_2(tmp_path: Path, elf: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF" + b"\0" * 8)
    rc, out, err = run("inspect", "--format", "json", str(bad), str(elf))
    assert rc == code("bad input")
    one_line(err, str(bad))
    data = json.loads(out)
    assert [d["path"] for d in data] == [str(bad), str(elf)] and "error" in data[0] and "error" not in data[1]


def test_audit_unreadable_file_in_a_tree_is_an_error(readonly_dir: Path) -> None:
    f = readonly_dir / "prog"
    shutil.copyfile(shared_path("fixtures", "elf", "exe_solaris64_cc.elf"), f)
    f.chmod(0o600)  # root's: nobody cannot read it
    rc, out, err = run("audit", "--format", "json", "--fail-on", "never", str(readonly_dir), user=True)
    assert rc == code("bad input")
    one_line(err, str(f), "Permission denied")
    assert json.loads(out)["errors"][0]["path"] == str(f)


# -- usage mistakes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("cores",), ("invalid choice", "'inspect'", "'core'")),
        (("inspect", "--format", "core", "x"), ("choose from 'text', 'json'",)),
        (("edit", "PROG", "--set-flags-1=-1"), ("out of range",)),
        (("edit", "PROG", "--runpath", "/x", "--write", "--backup", "a/b"), ("--backup", "'/'")),
        (("edit", "PROG", "--runpath", "/x", "--write", "--wait", "x"), ("--wait",)),
        (
            ("target", "generate", "--base", "x86_64-unknown-illumos", "--set", "a=" + "[" * 100_000),
            ("nested",),
        ),
    ],
)
def test_usage_mistakes_are_one_line(elf: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    before = sha(elf)
    rc, _, err = run(*(str(elf) if a == "PROG" else a for a in args))
    assert rc == code("bad input")
    one_line(err, *needles)
    assert sha(elf) == before and leftovers(elf.parent) == []


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b'profile = "pl\xffatform"\n', ("p.toml:1", "not UTF-8")),
        (b'profile = "pkgsrc"\nrequire_libumen = true\n', ("p.toml:2", "require_libumen", "require_libumem")),
        (b'[severity]\n\nfp-missing = "warnnig"\n', ("p.toml:3", "warnnig")),
        (b'[severity]\nfp-mising = "warning"\n', ("p.toml:2", "fp-mising", "fp-missing")),
    ],
)
def test_policy_file_mistakes_name_the_line(
    tmp_path: Path, elf: Path, content: bytes, needles: tuple[str, ...]
) -> None:
    (tmp_path / "p.toml").write_bytes(content)
    rc, _, err = run("audit", "--policy", str(tmp_path / "p.toml"), str(elf))
    assert rc == code("bad input")
    one_line(err, *needles)


# -- pipes and terminals ---------------------------------------------------------------------------------


def test_closed_stdout_is_a_quiet_exit(tmp_path: Path) -> None:
    prog = build_rust('fn main() { println!("{:?}", std::env::args().collect::<Vec<_>>()); }', "pipey")
    text = tmp_path / "in.txt"
    text.write_bytes(b"_ZN4core3fmt5write17h0123456789abcdefE\n" * 20_000)  # ~800 KB: fills any pipe
    for args in (("inspect", "--symbols", str(prog)), ("demangle",)):
        with open(text, "rb") as stdin:
            proc = subprocess.Popen(
                [*CLI, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            assert proc.stdout is not None and proc.stderr is not None
            assert proc.stdout.readline()  # like `| head -1`: read one line, then go away
            proc.stdout.close()
            assert proc.wait(30) in (code("clean"), code("stdout closed")), args
            assert proc.stderr.read() == b"", args


def test_no_colour_when_stdout_is_not_a_terminal() -> None:
    prog = build_rust("fn main() {}", "plainout")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([*CLI, "audit", str(prog)], capture_output=True, env=env)
    assert proc.returncode in (0, 1) and b"\x1b[" not in proc.stdout


def test_help_texts() -> None:
    _, out, _ = run("port", "--help")
    assert "``" not in out and "Examples::" not in out
    assert "all or none" in out and "workspace files only" not in out
    _, out, _ = run("target", "check", "--help")
    assert "{info,warning,error}" in out and "target list" in out


def test_cargo_illumos_port_mentions_apply_only_when_asked(tmp_path: Path) -> None:
    """A path dependency outside the workspace root is in the diff but never edited in place; without
    --apply that is not worth a stderr line (it used to say "--apply skips it" unasked)."""
    require_tool("cargo")
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\ngapcrate = { path = "../gapcrate" }\n'
    )
    (app / "src" / "main.rs").write_text("fn main() {}\n")
    shutil.copytree(PORT_DATA / "gapcrate", tmp_path / "gapcrate")
    (tmp_path / "gapcrate" / "Cargo.toml").write_text(
        '[package]\nname = "gapcrate"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    cargo = [sys.executable, "-m", "illumos_rust.cli.cargo", "illumos", "port", "--format", "json"]
    env = {**os.environ, "CARGO_NET_OFFLINE": "true"}
    plain = subprocess.run(cargo, cwd=app, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode in (0, 1) and json.loads(plain.stdout)["findings"], plain.stderr
    assert "--apply" not in plain.stderr and "Traceback" not in plain.stderr, plain.stderr
    applied = subprocess.run(
        [*cargo, "--apply"], cwd=app, capture_output=True, text=True, env=env, timeout=120
    )
    assert "gapcrate/src/lib.rs: outside the workspace" in applied.stderr, applied.stderr
    assert (tmp_path / "gapcrate" / "src" / "lib.rs").read_text() == (
        PORT_DATA / "gapcrate" / "src" / "lib.rs"
    ).read_text()


# -- concurrent editors --------------------------------------------------------------------------------------


def test_two_concurrent_edits_both_survive(elf: Path) -> None:
    """10 rounds of two editors started together on different fields; before the lock, one edit was lost
    9 times in 10. Each must exit 0 and readelf must show both fields."""
    for i in range(10):
        a = spawn("edit", str(elf), "--set-runpath", f"/ra{i}", "--write")
        b = spawn("edit", str(elf), "--set-soname", f"libx{i}.so", "--write")
        assert a.wait(60) == 0 and b.wait(60) == 0, i
        dyn = readelf_dynamic(elf)
        assert dyn["RUNPATH"] == f"Library runpath: [/ra{i}]", (i, dyn)
        assert dyn["SONAME"] == f"Library soname: [libx{i}.so]", (i, dyn)
    assert leftovers(elf.parent) == []


def spawn(*args: str) -> subprocess.Popen[bytes]:
    """The CLI in the background, output discarded."""
    return subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_second_editor_gives_up_after_wait(tmp_path: Path, elf: Path) -> None:
    """An editor holding the lock (paused by the test hook) makes a second one fail after --wait."""
    marker = tmp_path / "paused"
    env = {**os.environ, "ILLUMOS_RUST_EDIT_TEST_PAUSE": str(marker)}
    first = subprocess.Popen([*CLI, "edit", str(elf), "--set-runpath", "/first", "--write"], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists()
        rc, _, err = run("edit", str(elf), "--set-soname", "libsecond.so", "--write", "--wait", "0.5")
        assert rc == code("bad input")
        one_line(err, str(elf), "another process is editing it", "--wait")
        first.send_signal(signal.SIGTERM)
        assert first.wait(10) == 128 + signal.SIGTERM
    finally:
        if first.poll() is None:
            first.kill()
    assert leftovers(elf.parent) == []


@pytest.mark.parametrize(("sig", "word"), [(signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")])
def test_signal_mid_edit_cleans_up(tmp_path: Path, elf: Path, sig: signal.Signals, word: str) -> None:
    """Ctrl-C (130, the table's "interrupted") or SIGTERM (128 + 15) while the edited copy exists: the copy
    is removed, the original untouched, one line on stderr."""
    marker = tmp_path / "paused"
    before = sha(elf)
    env = {**os.environ, "ILLUMOS_RUST_EDIT_TEST_PAUSE": str(marker)}
    proc = subprocess.Popen(
        [*CLI, "edit", str(elf), "--set-runpath", "/never", "--write"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists() and len(leftovers(elf.parent)) == 1  # the copy is there, paused
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)  # the cleanup is quick; a loaded machine is not
    finally:
        if proc.poll() is None:
            proc.kill()
    expected = code("interrupted") if sig == signal.SIGINT else 128 + sig
    assert proc.returncode == expected
    one_line(err.decode(), word)
    assert sha(elf) == before and leftovers(elf.parent) == []


# -- SIGTERM at random points of a 150 MB edit ------------------------------------------------------------


def _big_elf() -> Path:
    found = sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/lib/librustc_driver-*.so")))
    found = [f for f in found if os.path.getsize(f) > 100 << 20]
    if not found:
        pytest.skip("no librustc_driver-*.so over 100 MB in ~/.rustup (the 150 MB edit target)")
    return Path(found[0])


def test_fuzz_sigterm_during_big_edit(tmp_path: Path) -> None:
    """SIGTERM at a random moment of an edit of librustc_driver (~150 MB): the file is untouched or fully
    edited (byte-identical to the same edit run to completion on a twin copy), no temp file is left, and
    stderr has at most one line. The 20 rounds the issue asks for, in ``make test`` too (each costs ~1-2 s
    of copying and hashing 150 MB on a quiet machine)."""
    src = _big_elf()
    work, twin = tmp_path / "w" / "librustc_driver.so", tmp_path / "t" / "librustc_driver.so"
    for f in (work, twin):
        f.parent.mkdir()
        shutil.copyfile(src, f)
    started = time.monotonic()
    for f in (work, twin):
        assert spawn("edit", str(f), "--set-runpath", "/r0", "--write").wait(120) == 0
    span = (time.monotonic() - started) / 2
    rounds = 20
    rng = random.Random(12)
    digest = sha(work)
    assert digest == sha(twin)
    outcomes: list[int] = []
    for i in range(1, rounds + 1):
        value = f"/r{i}"
        proc = subprocess.Popen(
            [*CLI, "edit", str(work), "--set-runpath", value, "--write"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0, span))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        rc = proc.returncode
        assert leftovers(work.parent) == [], (i, rc)
        assert rc in (0, 128 + signal.SIGTERM, -signal.SIGTERM), (i, rc, err)
        assert b"Traceback" not in err and len(err.splitlines()) <= 1, err
        now = sha(work)
        if now != digest:  # it landed: it must be exactly the complete edit
            assert spawn("edit", str(twin), "--set-runpath", value, "--write").wait(120) == 0
            assert now == sha(twin), i
            digest = now
        outcomes.append(rc)
    print(f"SIGTERM rounds: exit codes {outcomes}")  # shown with -s; the report quotes it
    assert any(rc != 0 for rc in outcomes), f"no round was interrupted: {outcomes}"


# -- extended attributes -------------------------------------------------------------------------------------

# struct vfs_cap_data, VFS_CAP_REVISION_2 (linux/capability.h): magic_etc, then (permitted, inheritable)
# for capability words 0 and 1. CAP_NET_RAW is bit 13 of word 0; the effective flag is bit 0 of magic_etc.
CAP_NET_RAW_BLOB = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + bytes(12)


def test_edit_keeps_xattrs_and_file_capabilities(elf: Path) -> None:
    try:
        os.setxattr(elf, "user.illumos-rust-test", b"kept")
        os.setxattr(elf, "security.capability", CAP_NET_RAW_BLOB)
    except OSError as exc:
        pytest.skip(f"cannot set extended attributes here: {exc.strerror}")
    rc, _, err = run("edit", str(elf), "--set-runpath", "/x", "--write")
    assert rc == code("clean"), err
    assert readelf_dynamic(elf)["RUNPATH"] == "Library runpath: [/x]"
    assert os.getxattr(elf, "user.illumos-rust-test") == b"kept"
    assert os.getxattr(elf, "security.capability") == CAP_NET_RAW_BLOB
    getcap = shutil.which("getcap")
    if getcap:  # an independent reader of the same attribute
        assert "cap_net_raw" in subprocess.run([getcap, str(elf)], capture_output=True, text=True).stdout


def test_edit_refuses_to_drop_an_xattr_unless_forced(
    elf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file system that cannot take the attribute (simulated: setxattr fails with ENOTSUP)."""
    from illumos_rust.cli.main import main

    try:
        os.setxattr(elf, "user.illumos-rust-test", b"kept")
    except OSError as exc:
        pytest.skip(f"cannot set extended attributes here: {exc.strerror}")
    before = sha(elf)

    def no_xattrs(*_args: object, **_kwargs: object) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", no_xattrs)
    assert main(["edit", str(elf), "--set-runpath", "/x", "--write"]) == code("bad input")
    err = capsys.readouterr().err
    one_line(err, "user.illumos-rust-test", "--force")
    assert sha(elf) == before and leftovers(elf.parent) == []
    assert main(["edit", str(elf), "--set-runpath", "/x", "--write", "--force"]) == code("clean")
    assert "dropped (--force)" in capsys.readouterr().out
    assert readelf_dynamic(elf)["RUNPATH"] == "Library runpath: [/x]"


# -- demangle memory bound ----------------------------------------------------------------------------------


def test_demangle_filter_memory_is_bounded(tmp_path: Path) -> None:
    """A 64 MB unbroken run of symbol characters: the filter used to hold ~3 copies of it (~200 MB); now
    the open run is capped (MAX_RUN_CHARS) and the run passes through untouched. Peak RSS from the kernel
    (ru_maxrss of the child), against the run's own size."""
    from illumos_rust.demangle.filter import MAX_RUN_CHARS

    size = 64 << 20
    assert size > 4 * MAX_RUN_CHARS
    src = tmp_path / "run.txt"
    with open(src, "wb") as fh:
        fh.write(b"before _ZN")
        for _ in range(size >> 20):
            fh.write(b"a" * (1 << 20))
        fh.write(b" _ZN3foo3barE after\n")
    out = tmp_path / "out.txt"
    script = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'rb') as i, open(sys.argv[2], 'wb') as o:\n"
        "    rc = subprocess.run(sys.argv[3:], stdin=i, stdout=o).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    probe = subprocess.run(
        [sys.executable, "-c", script, str(src), str(out), *CLI, "demangle"], capture_output=True, text=True
    )
    rc, peak_kb = map(int, probe.stdout.split())
    assert rc == 0, probe.stderr
    assert peak_kb * 1024 < size, f"peak RSS {peak_kb} KB for a {size >> 20} MB run"
    assert out.stat().st_size == src.stat().st_size - len("_ZN3foo3barE") + len("foo::bar")
    with open(out, "rb") as fh:
        fh.seek(-len(b" foo::bar after\n"), os.SEEK_END)
        assert fh.read() == b" foo::bar after\n"


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(["_ZN", "_R", "3foo", "3bar", "E", "a", "_", " ", "\n", "$", "."]), max_size=60
    ),
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=20),
)
def test_fuzz_bounded_stream_equals_text(pieces: list[str], sizes: list[int]) -> None:
    """With the cap lowered to 8 characters, streaming in arbitrary chunks gives exactly what
    ``demangle_text`` gives for the whole text (whose own rule: a candidate over the cap is left as is)."""
    from illumos_rust.demangle import filter as f

    text = "".join(pieces)
    chunks, at, i = [], 0, 0
    while at < len(text):
        n = sizes[i % len(sizes)]
        chunks.append(text[at : at + n])
        at, i = at + n, i + 1
    saved = f.MAX_RUN_CHARS
    f.MAX_RUN_CHARS = 8  # type: ignore[misc]
    try:
        assert "".join(f.demangle_stream(chunks)) == f.demangle_text(text)
    finally:
        f.MAX_RUN_CHARS = saved  # type: ignore[misc]


def _hello() -> Path:
    return build_rust('fn main() { println!("{:?}", std::env::args().collect::<Vec<_>>()); }', "hard_hello")


def _rustc_driver() -> Path:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True)
    found = sorted(Path(sysroot.stdout.strip(), "lib").glob("librustc_driver-*.so"))
    if not found:
        pytest.skip("no librustc_driver in this rustc's sysroot (needed for a listing the CLI splits)")
    return found[0]


@pytest.mark.parametrize("big", [False, True], ids=["serial", "split"])
def test_unbuffered_stdout_over_a_file_size_limit_is_an_error_not_a_short_listing(
    tmp_path: Path, big: bool
) -> None:
    """PYTHONUNBUFFERED=1 leaves stdout without a buffer that retries short writes: a listing cut by a
    file size limit (RLIMIT_FSIZE) must still be one error line and exit 2. The big case is librustc_driver,
    whose listing's second half comes from a forked child as one 14 MB write: the kernel took 450 KB of
    it, and the rest was dropped with exit 0."""
    import resource

    out = tmp_path / "listing.txt"
    limit = 20 * 1024 * 1024 if big else 16 * 1024
    binary = _rustc_driver() if big else _hello()

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as a shell's ulimit -f: EFBIG, not a kill

    with out.open("wb") as sink:
        proc = subprocess.run(
            [*CLI, "inspect", "--symbols", str(binary)],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=small_files,
            timeout=60,
        )
    lines = proc.stderr.splitlines()
    assert proc.returncode == code("bad input"), proc.stderr
    assert lines == ["illumos-rust: cannot write output: File too large"], lines
    assert out.stat().st_size == limit


def test_a_closed_stdout_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [*CLI, "inspect", str(_hello())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=(),
        close_fds=True,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert proc.returncode == code("bad input"), proc.stderr
    assert proc.stderr.splitlines() == ["illumos-rust: cannot write output: standard output is closed"]


def test_the_traceback_on_request_is_the_error_s_own(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"junk\n")
    proc = subprocess.run(
        [*CLI, "ctf", "dump", str(junk)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ILLUMOS_RUST_TRACEBACK": "1"},
    )
    assert proc.returncode == code("bad input")
    first, *rest = proc.stderr.splitlines()
    assert first.startswith(f"illumos-rust: {junk}: not a CTF container")
    assert rest[0] == "Traceback (most recent call last):" and "NoneType: None" not in proc.stderr
    assert rest[-1].startswith("illumos_rust.errors.FormatError")


def test_the_console_scripts_quick_exit_loses_nothing(tmp_path: Path) -> None:
    """``entry`` ends inspect/audit/survey with os._exit after main returns: the listing of librustc_driver
    (a forked half, 14 MB) must be byte for byte what main() writes with the normal interpreter exit, the
    exit codes the same, and the atexit handlers must still run."""
    big = _rustc_driver()
    marker = tmp_path / "atexit-ran"
    prog = (
        "import atexit, sys\n"
        "from illumos_rust.cli import main as m\n"
        f"atexit.register(lambda how=sys.argv[1]: open({str(marker)!r}, 'a').write(how))\n"
        "how, args = sys.argv[1], sys.argv[2:]\n"
        "sys.argv = ['illumos-rust', *args]\n"
        "if how == 'entry':\n"
        "    m.entry()\n"
        "sys.exit(m.main(args))\n"
    )
    runs = {}
    for how in ("entry", "main"):
        for args in (["inspect", "--symbols", str(big)], ["inspect", str(tmp_path / "missing")]):
            proc = subprocess.run(
                [sys.executable, "-c", prog, how, *args],
                capture_output=True,
                timeout=120,
            )
            runs[how, args[-1]] = (proc.returncode, proc.stdout, proc.stderr)
    for what in (str(big), str(tmp_path / "missing")):
        assert runs["entry", what] == runs["main", what]
    assert runs["entry", str(big)][0] == 0 and len(runs["entry", str(big)][1]) > 10_000_000
    assert runs["entry", str(tmp_path / "missing")][0] == code("bad input")
    assert marker.read_text() == "entryentrymainmain"  # every run's handler ran, the quick exits' too
