"""Running the installed rustc, and the on-disk cache keyed by its exact version.

Everything ``target`` knows comes from rustc itself (``--print cfg``, ``--print target-spec-json``,
``--print target-list``), never from a table we maintain: the facts change with every release, and the
installed compiler is the one the user's build will actually use. Asking rustc costs ~30-50 ms per call
(most of it rustup's proxy and loading ``librustc_driver``), and a full cfg survey is one call per target
(~300), so results are cached on disk per rustc *commit hash*: a new toolchain gets a new cache file,
an old cache can never be mistaken for the current compiler's answer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

CACHE_FORMAT = 2
"""Bumped whenever the cache file layout changes, so an old file is ignored rather than misread.
(2: the target specs moved to a file of their own, and the derived ``known`` values were added.)"""

#: Sections kept in a file of their own beside the main one: the built-in target specs are two thirds of
#: the bytes, and what ``port`` reads on every run (cfg sets, known values) never needs them.
OWN_FILE = frozenset({"specs"})


@dataclass(frozen=True)
class Toolchain:
    """One rustc, identified by what ``rustc -vV`` says about itself."""

    command: tuple[str, ...]
    release: str
    commit: str
    host: str
    version_line: str

    @property
    def key(self) -> str:
        """Cache key: the commit hash, or (for a locally built rustc without one) a hash of ``-vV``."""
        if self.commit and self.commit != "unknown":
            return self.commit[:16]
        return hashlib.sha256(self.version_line.encode()).hexdigest()[:16]

    @property
    def is_nightly(self) -> bool:
        return "nightly" in self.release or "dev" in self.release


_toolchains: dict[tuple[tuple[str, ...], str | None], Toolchain] = {}
_lock = threading.Lock()
# Parsed cache files, reused while the file is unchanged (same mtime, size and inode: a rename by
# another process gives a new inode), so a lookup after the first costs a stat, not a JSON parse.
_loaded: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def default_command() -> tuple[str, ...]:
    """``$RUSTC`` if set (the variable cargo itself honours), else ``rustc`` from ``PATH``."""
    return (os.environ.get("RUSTC") or "rustc",)


def run(command: Sequence[str], *, bootstrap: bool = False) -> subprocess.CompletedProcess[str]:
    """Run rustc; a missing binary becomes a one-line ``UsageError`` instead of a traceback."""
    env = dict(os.environ)
    if bootstrap:
        # Lets a stable rustc accept -Z flags; the spec JSON is only printed behind -Z unstable-options.
        env["RUSTC_BOOTSTRAP"] = "1"
    else:
        # An inherited RUSTC_BOOTSTRAP would make --print cfg list unstable cfgs too; keep answers stable.
        env.pop("RUSTC_BOOTSTRAP", None)
    try:
        return subprocess.run(list(command), capture_output=True, text=True, env=env, check=False)
    except FileNotFoundError:
        raise UsageError(f"{command[0]}: not found (install Rust, or set RUSTC to a rustc binary)") from None
    except OSError as exc:
        raise UsageError(f"{command[0]}: cannot run: {exc.strerror}") from None


def toolchain(command: Sequence[str] | None = None) -> Toolchain:
    """The rustc that answers, memoised per process (rustup may switch toolchains between processes)."""
    cmd = tuple(command) if command else default_command()
    memo_key = (cmd, os.environ.get("RUSTUP_TOOLCHAIN"))
    with _lock:
        found = _toolchains.get(memo_key)
    if found is not None:
        return found
    proc = run([*cmd, "-vV"])
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise UsageError(f"{' '.join(cmd)} -vV failed: {first}")
    fields: dict[str, str] = {}
    lines = proc.stdout.splitlines()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    found = Toolchain(
        command=cmd,
        release=fields.get("release", "unknown"),
        commit=fields.get("commit-hash", "unknown"),
        host=fields.get("host", "unknown"),
        version_line=lines[0] if lines else "",
    )
    with _lock:
        _toolchains[memo_key] = found
    return found


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/illumos-rust`` (XDG base-directory spec), defaulting to ``~/.cache/illumos-rust``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "illumos-rust"


def cache_path(tc: Toolchain, section: str | None = None) -> Path:
    """The main cache file of this rustc, or the file of a section in :data:`OWN_FILE`."""
    # the format in the name: two installed versions of this tool keep one file each, instead of each
    # refilling (~300 rustc calls) the file the other one just wrote
    suffix = f"-{section}" if section in OWN_FILE else ""
    return cache_dir() / f"rustc-{tc.key}-v{CACHE_FORMAT}{suffix}.json"


def load_cache(tc: Toolchain, section: str | None = None) -> dict[str, Any]:
    """The cache for this rustc (the file holding ``section``), or an empty one; a damaged or foreign
    file is treated as absent."""
    path = cache_path(tc, section)
    try:
        stat = path.stat()
    except OSError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _lock:
        memo = _loaded.get(path)
    if memo is not None and memo[0] == stamp:
        return memo[1]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != tc.key:
        return {}
    with _lock:
        _loaded[path] = (stamp, data)
    return data


def update_cache(tc: Toolchain, **sections: dict[str, Any] | list[str]) -> None:
    """Merge ``sections`` into the cache file atomically (temp file in the same directory, then rename).

    Re-reading just before writing keeps what a concurrent process (another pytest worker, say) added
    in the meantime; if two writers still race, the loser's entries are simply recomputed next time.
    An unwritable cache directory is not an error: the answers are still correct, only slower.
    """
    files: dict[str | None, dict[str, dict[str, Any] | list[str]]] = {}
    for name, value in sections.items():
        files.setdefault(name if name in OWN_FILE else None, {})[name] = value
    for section, part in files.items():
        _update_file(tc, section, part)


def _update_file(tc: Toolchain, section: str | None, sections: dict[str, dict[str, Any] | list[str]]) -> None:
    path = cache_path(tc, section)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    data = dict(load_cache(tc, section))  # a copy: the memoised dict must not change under other readers
    data.update({"format": CACHE_FORMAT, "key": tc.key, "rustc": tc.version_line})
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            merged = dict(data[name])
            merged.update(value)
            data[name] = merged
        else:
            data[name] = value
    write_atomic(path, json.dumps(data, sort_keys=True) + "\n", quiet=True)


def write_atomic(path: Path, text: str, *, quiet: bool = False) -> None:
    """Write ``text`` to ``path`` so readers see either the old file or the whole new one, never half."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or Path("."))
    except OSError as exc:
        if quiet:
            return
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make a generated target spec private by accident
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # SIGINT/SIGTERM too: never leave the temp file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if not isinstance(exc, OSError):
            raise
        if not quiet:
            raise UsageError(f"{path}: cannot write: {exc.strerror}") from None


@contextlib.contextmanager
def fill_lock(tc: Toolchain) -> Iterator[None]:
    """Serialise cold fills of one rustc's cache across processes (pytest -n 2 workers, parallel CLIs).

    Without it two processes that both find the cache cold both run ~300 rustc calls; with it the
    second waits, then finds the first one's answers in the cache. If the lock cannot be taken (no
    cache directory, read-only file system) the fill simply goes ahead unlocked.
    """
    path = cache_dir() / f".rustc-{tc.key}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # noqa: SIM115 - held for the duration of the with-block below
    except OSError:
        yield
        return
    with handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX)
        except OSError:
            yield
            return
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)
