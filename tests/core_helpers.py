"""Helpers for the core tests: decompressed fixtures, fresh kernel-written cores, gdb's frame names."""

from __future__ import annotations

import lzma
import os
import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, shared_path

CACHE = REPO / ".cache" / "core-fixtures"


def fixture(name: str) -> Path:
    """A file of shared/fixtures/cores, decompressed once into .cache (the fixtures are .xz)."""
    src = shared_path("fixtures", "cores", name + ".xz")
    out = CACHE / name
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(lzma.decompress(src.read_bytes()))
        tmp.chmod(0o755)
        tmp.rename(out)
    return out


def make_core(binary: Path, workdir: Path, *args: str, env: dict[str, str] | None = None) -> Path:
    """Run ``binary`` until it dumps core in ``workdir`` (this kernel's ``core_pattern`` is ``core``).

    Skips (with the reason) when the kernel would pipe the core elsewhere: the tests never rewrite the
    system's ``core_pattern`` behind the user's back.
    """
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core_pattern is {pattern!r}: cores are not written to the working directory")
    uses_pid = Path("/proc/sys/kernel/core_uses_pid").read_text().strip() == "1"

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("core*"):
        old.unlink()
    proc = subprocess.run(
        [str(binary), *args],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "RUST_BACKTRACE": "0", **(env or {})},
        preexec_fn=limits,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode < 0, f"{binary} did not die of a signal: {proc.returncode} {proc.stderr!r}"
    name = pattern.replace("%p", "*").replace("%e", "*").replace("%t", "*").replace("%h", "*")
    found = sorted(workdir.glob(name + (".*" if uses_pid else "")))
    if not found:
        pytest.skip(f"no core written in {workdir} (core_pattern {pattern!r}, RLIMIT_CORE refused?)")
    return found[0]


def gdb_threads(binary: Path, core: Path, frames: int = 80) -> dict[int, list[str]]:
    """gdb's ``thread apply all bt`` as {LWP: [function names of physical frames, innermost first]}.

    Inlined frames (gdb prints them without an address, except at #0) are dropped: without DWARF inline
    records our unwinder sees only physical frames, so those are what is compared.
    """
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("gdb not installed (make sysdeps installs it)")
    out = subprocess.run(
        [
            gdb,
            "-nx",
            "-batch",
            "-ex",
            "set pagination off",
            "-ex",
            f"thread apply all bt {frames}",
            str(binary),
            str(core),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    threads: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        m = re.match(r"Thread \d+ \(.*?LWP (\d+)\)", line)
        if m:
            current = threads.setdefault(int(m.group(1)), [])
            continue
        if current is not None:
            physical_frames(line, current)
    return threads


def physical_frames(line: str, names: list[str]) -> None:
    """Fold one gdb ``bt`` line into ``names``: a line with an address (or #0) starts a physical frame,
    the address-less lines after it are inlined callers, and the *last* of them is the function the
    symbol table knows at that address."""
    if re.match(r"#\d+\s+<signal handler called>", line):
        names.append("<signal handler called>")
        return
    m = re.match(r"#(\d+)\s+(0x[0-9a-f]+ in )?(\S.*?) \(", line)
    if m is None:
        return
    if m.group(2) or m.group(1) == "0" or not names:
        names.append(m.group(3))
    else:
        names[-1] = m.group(3)


# ``#[panic_handler]`` gives std's handler the linkage name ``rust_begin_unwind``; gdb names the frame
# from DWARF (``std::panicking::panic_handler``). The only DWARF/symbol-table name pair that differs here.
LINKAGE_ALIASES = {"rust_begin_unwind": "panic_handler"}


def base_name(name: str) -> str:
    """A function name reduced to what gdb (DWARF) and a demangled symbol name share: the last path
    segment without generic arguments, e.g. ``std::rt::lang_start<()>`` → ``lang_start``."""
    depth, out = 0, []
    for ch in name:  # drop <...> generic arguments
        if ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    # legacy manglings mark shims and closures in the path; DWARF names the same function plainly
    flat = "".join(out).replace("{{closure}}", "{closure#0}").replace("{{vtable.shim}}", "")
    parts = [p for p in flat.split("::") if p and not p.startswith("{impl")]
    last = parts[-1] if parts else flat
    last = re.sub(r"\{closure(_env)?#\d+\}", "{closure}", last).strip()
    return LINKAGE_ALIASES.get(last, last)
