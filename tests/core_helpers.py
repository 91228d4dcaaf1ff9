"""Helpers for the core tests: decompressed fixtures, fresh kernel-written cores, gdb's frame names."""

from __future__ import annotations

import lzma
import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, shared_path
from illumos_rust.core import Frame

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


def gdb_threads(binary: Path, core: Path, frames: int = 80) -> dict[int, list[GdbFrame]]:
    """gdb's ``thread apply all bt`` as {LWP: frames, innermost first, inlined frames included}."""
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("gdb not installed (make sysdeps installs it)")
    cmd = [gdb, "-nx", "-batch", "-ex", "set pagination off", "-ex", f"thread apply all bt {frames}"]
    out = subprocess.run([*cmd, str(binary), str(core)], capture_output=True, text=True, timeout=120).stdout
    threads: dict[int, list[GdbFrame]] = {}
    current: list[GdbFrame] | None = None
    for line in out.splitlines():
        m = re.match(r"Thread \d+ \(.*?LWP (\d+)\)", line)
        if m:
            current = threads.setdefault(int(m.group(1)), [])
            continue
        frame = parse_gdb_frame(line)
        if current is not None and frame is not None:
            current.append(frame)
    return threads


@dataclass
class GdbFrame:
    name: str
    inlined: bool  # gdb prints no address for a frame inlined into the next one (except at #0)
    file: str | None
    line: int | None


def parse_gdb_frame(line: str) -> GdbFrame | None:
    """One ``bt`` line: ``#N  [0x… in ]NAME (ARGS)[ at FILE:LINE]`` (NAME may hold ``(`` in generics)."""
    m = re.match(r"#(\d+)\s+(0x[0-9a-f]+ in )?(.*)$", line)
    if m is None:
        return None
    rest = m.group(3)
    if rest.startswith("<signal handler called>"):
        return GdbFrame("<signal handler called>", False, None, None)
    depth, end = 0, -1
    for i, ch in enumerate(rest):
        if ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0 and rest[i - 1] == " ":
            end = i - 1
            break
    if end < 0:
        return None
    at = re.search(r" at (\S+):(\d+)$", rest)
    inlined = m.group(2) is None and m.group(1) != "0"
    return GdbFrame(rest[:end], inlined, at.group(1) if at else None, int(at.group(2)) if at else None)


def group_starts(frames: list[Frame]) -> list[bool]:
    """Which of our frames begin a pc (gdb prints an address there): the first of a run of ``inline``
    frames and the physical frame that ends it share one pc, gdb prints the address on the first."""
    return [i == 0 or frames[i - 1].method != "inline" for i in range(len(frames))]


def physical_frames(line: str, names: list[str]) -> None:
    """Fold one gdb ``bt`` line into ``names`` of physical frames: the last inlined caller at an address
    is the function the symbol table knows there."""
    frame = parse_gdb_frame(line)
    if frame is None:
        return
    if frame.inlined and names:
        names[-1] = frame.name
    else:
        names.append(frame.name)


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
