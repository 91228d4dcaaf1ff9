"""Where libc sources are found outside the scanned tree, in a module that imports nothing heavy.

Why a module of its own: ``port`` resolves each crate's libc among these, so ``survey`` keys its stored
analyses by them (a new libc version changes port's verdicts on crates whose files did not change), and a
survey rerun must know that key before it imports ``port`` (~50 ms it may not need).
"""

from __future__ import annotations

import os


def default_libc_dirs() -> list[str]:
    """Where cargo and Debian keep crate sources, for a scan whose tree has no libc of its own."""
    dirs = ["/usr/share/cargo/registry"]
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    src = os.path.join(home, "registry", "src")
    if os.path.isdir(src):
        dirs.extend(os.path.join(src, d) for d in sorted(os.listdir(src)))
    return dirs


def libc_sources(dirs: list[str]) -> list[tuple[str, str]]:
    """(version text, root) of every ``libc-X.Y.Z`` directory with a ``src/lib.rs`` in ``dirs``."""
    out: list[tuple[str, str]] = []
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:  # missing or unreadable: nothing found there
            continue
        for name in names:
            path = os.path.join(d, name)
            if name.startswith("libc-") and os.path.isfile(os.path.join(path, "src", "lib.rs")):
                out.append((name[5:], path))
    return out


def tree_stamp(root: str) -> str:
    """What a libc source's verdicts depend on, cheaply: every ``.rs`` file under ``src`` and the
    ``Cargo.toml``, by path, size, mtime and ctime (an edit anywhere in ``src/unix/**`` changes which items
    illumos declares; ctime cannot be put back as mtime can). ~230 stats for a libc 0.2 tree."""
    parts: list[str] = []
    try:
        for dirpath, dirs, names in os.walk(os.path.join(root, "src")):
            dirs.sort()
            for name in sorted(names):
                if name.endswith(".rs"):
                    st = os.stat(os.path.join(dirpath, name))
                    parts.append(
                        f"{dirpath[len(root) :]}/{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
                    )
        st = os.stat(os.path.join(root, "Cargo.toml"))
        parts.append(f"Cargo.toml:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
    except OSError as exc:  # changing under us, or unreadable: a stamp of its own
        parts.append(f"error:{exc.errno}")
    return "\n".join(parts)
