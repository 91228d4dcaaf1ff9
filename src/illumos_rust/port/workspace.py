"""Which crates a scan covers: crate directories under a path, or a Cargo workspace and its dependencies.

A *crate* here is a directory with a ``Cargo.toml``; every ``.rs`` file belongs to the nearest one above
it. That one rule covers a workspace (members are nested crates), a ``vendor/`` directory and a registry
source directory (``~/.cargo/registry/src/*`` or Debian's ``/usr/share/cargo/registry``) alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .skipdirs import SKIP_DIRS


@dataclass(slots=True)
class Crate:
    """One crate to scan; ``display`` is the prefix its paths get in findings and patches."""

    root: str
    display: str
    name: str = ""
    version: str = ""
    files: list[str] = field(default_factory=list)  # absolute .rs paths
    manifest: str | None = None
    build_script: str | None = None
    libc_req: str | None = None  # the crate's libc version requirement, if it depends on libc
    libc_root: str | None = None  # cargo metadata mode: the exact libc source it resolves to
    size: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}" if self.name and self.version else (self.name or self.display)


def read_manifest(crate: Crate, data: dict[str, Any] | None = None) -> None:
    """Name, version, build script and libc requirement, where not already known (cargo metadata knows
    them better); a broken manifest leaves them empty (the scan reports it as a not-parsed finding).
    Called in the worker processes (500 TOML parses are worth spreading over the cores too), with the
    already parsed ``data`` when the caller has it."""
    if crate.manifest is None or crate.name:
        return
    if data is None:
        try:
            with open(crate.manifest, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return
    pkg = data.get("package")
    if isinstance(pkg, dict):
        crate.name = str(pkg.get("name", ""))
        version = pkg.get("version", "")
        crate.version = version if isinstance(version, str) else ""
        build = pkg.get("build")
        if isinstance(build, str):
            crate.build_script = os.path.join(crate.root, build)
    if crate.build_script is None and os.path.isfile(os.path.join(crate.root, "build.rs")):
        crate.build_script = os.path.join(crate.root, "build.rs")
    crate.libc_req = _libc_requirement(data)


def _libc_requirement(data: dict[str, object]) -> str | None:
    """The version requirement on ``libc`` from ``[dependencies]`` or any ``[target.*.dependencies]``."""
    tables: list[object] = [data.get("dependencies")]
    targets = data.get("target")
    if isinstance(targets, dict):
        tables.extend(t.get("dependencies") for t in targets.values() if isinstance(t, dict))
    for table in tables:
        if not isinstance(table, dict):
            continue
        for key, spec in table.items():
            pkg = spec.get("package", key) if isinstance(spec, dict) else key
            if pkg != "libc":
                continue
            if isinstance(spec, str):
                return spec
            if isinstance(spec, dict):
                return str(spec.get("version", "*"))
    return None


def discover(paths: list[str]) -> tuple[str, list[Crate]]:
    """Crates under each path (a crate, a workspace, a vendor or registry directory, or one ``.rs`` file),
    and the directory their display paths (and patch paths) are relative to."""
    for given in paths:
        if not Path(given).exists():
            raise UsageError(f"{given}: no such file or directory")
    root = common_root(paths)
    crates: dict[str, Crate] = {}
    for given in paths:
        base = Path(given).resolve()
        if base.is_file():
            c = crates.setdefault(str(base.parent), Crate(str(base.parent), ""))
            c.files.append(str(base))
            c.size += base.stat().st_size
            continue
        _walk(base, crates)
    out = sorted(crates.values(), key=lambda c: c.root)
    for c in out:
        rel = os.path.relpath(c.root, root)
        c.display = "." if rel == "." else rel
    return root, out


def _walk(base: Path, crates: dict[str, Crate]) -> None:
    top = str(base)
    owner: dict[str, Crate | None] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        parent = owner.get(os.path.dirname(dirpath))
        if "Cargo.toml" in filenames:
            parent = crates.setdefault(dirpath, Crate(dirpath, ""))
            parent.manifest = os.path.join(dirpath, "Cargo.toml")
        elif parent is None and any(f.endswith(".rs") for f in filenames):
            parent = crates.setdefault(top, Crate(top, ""))
        owner[dirpath] = parent
        if parent is None:
            continue
        for f in filenames:
            if f.endswith(".rs"):
                full = os.path.join(dirpath, f)
                parent.files.append(full)
                with contextlib.suppress(OSError):
                    parent.size += os.path.getsize(full)
    for c in crates.values():
        c.files.sort()


def common_root(paths: list[str]) -> str:
    """The directory patch and finding paths are relative to."""
    resolved = [str(Path(p).resolve()) for p in paths]
    dirs = [p if os.path.isdir(p) else os.path.dirname(p) for p in resolved]
    return os.path.commonpath(dirs) if dirs else os.getcwd()


# ---------------------------------------------------------------------------------------------- cargo


def cargo_workspace(cwd: str | None = None) -> tuple[str, list[Crate]]:
    """The current workspace's packages and every dependency, via ``cargo metadata --offline``.

    ``--offline`` because a scan must not fetch: it reads what the lock file already resolved. Each crate
    remembers the exact libc package its dependency graph resolves to, which is what the patch writer's
    libc check needs.
    """
    cmd = ["cargo", "metadata", "--offline", "--format-version", "1"]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("cargo not found: --cargo needs cargo on PATH") from None
    if proc.returncode != 0:
        msg = next((ln for ln in proc.stderr.splitlines() if ln.startswith("error")), proc.stderr.strip())
        raise UsageError(f"cargo metadata --offline failed: {msg}")
    try:
        meta = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise UsageError(f"cargo metadata printed something that is not JSON: {exc}") from None
    ws_root = str(meta.get("workspace_root") or cwd or os.getcwd())
    by_id: dict[str, Crate] = {}
    for pkg in meta.get("packages", []):
        manifest = str(pkg["manifest_path"])
        root = os.path.dirname(manifest)
        rel = os.path.relpath(root, ws_root)
        display = rel if not rel.startswith("..") else os.path.basename(root)
        crate = Crate(root, display, name=str(pkg["name"]), version=str(pkg["version"]), manifest=manifest)
        for target in pkg.get("targets", []):
            if "custom-build" in target.get("kind", []):
                crate.build_script = str(target["src_path"])
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in SKIP_DIRS
                and not d.startswith(".")
                and not os.path.isfile(os.path.join(dirpath, d, "Cargo.toml"))
            )
            for f in filenames:
                if f.endswith(".rs"):
                    full = os.path.join(dirpath, f)
                    crate.files.append(full)
                    with contextlib.suppress(OSError):  # a dangling symlink is reported by the scan
                        crate.size += os.path.getsize(full)
        crate.files.sort()
        by_id[str(pkg["id"])] = crate
    resolve = meta.get("resolve") or {}
    for node in resolve.get("nodes", []):
        user = by_id.get(str(node["id"]))
        if user is None:
            continue
        for dep in node.get("deps", []):
            target = by_id.get(str(dep.get("pkg")))
            if target is not None and target.name == "libc":
                user.libc_root = target.root
                user.libc_req = "=" + target.version
    return ws_root, sorted(by_id.values(), key=lambda c: c.display)


# ---------------------------------------------------------------------------------------------- versions

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(text.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def satisfies(version: tuple[int, int, int], req: str) -> bool:
    """Cargo's requirement syntax (the Cargo book, "Specifying Dependencies"): ``^``/bare (caret), ``~``,
    ``=``, ``>=``, ``>``, ``<``, ``<=``, ``*`` and ``X.*``/``X.Y.*`` wildcards, comma-separated
    conjunctions. A partial version is the range of all versions it names: ``<=0.10`` admits every 0.10.z,
    ``>1.2`` starts at 1.3.0, ``=1.2`` and ``1.2.*`` are ``>=1.2.0, <1.3.0``. Pre-release tags are not
    read (the corpus is releases)."""
    for part in req.split(","):
        part = part.strip()
        if not part or part == "*":
            continue
        op = re.match(r"^(\^|~|=|>=|<=|>|<)?\s*", part)
        assert op is not None
        sym = op.group(1) or "^"
        body = part[op.end() :]
        if body.endswith((".*", ".x", ".X")):
            body, sym = body[:-2], "="  # a wildcard: the versions the prefix names
        want = parse_version(body)
        if want is None:
            return False
        given = min(len(body.split(".")), 3)
        # the first version past the ones a partial version names (1.2 -> 1.3.0, 1 -> 2.0.0, 1.2.3 -> 1.2.4)
        past = (
            (want[0] + 1, 0, 0)
            if given == 1
            else (want[0], want[1] + 1, 0)
            if given == 2
            else (want[0], want[1], want[2] + 1)
        )
        if sym == "^":
            if version < want:
                return False
            if want[0] > 0 or given == 1:
                upper = (want[0] + 1, 0, 0)
            elif want[1] > 0 or given == 2:
                upper = (0, want[1] + 1, 0)
            else:
                upper = (0, 0, want[2] + 1)
            if version >= upper:
                return False
        elif sym == "~":
            upper = (want[0] + 1, 0, 0) if given == 1 else (want[0], want[1] + 1, 0)
            if not (want <= version < upper):
                return False
        elif sym == "=":
            if not (want <= version < past):
                return False
        elif (
            (sym == ">=" and version < want)
            or (sym == ">" and version < past)
            or (sym == "<" and version >= want)
            or (sym == "<=" and version >= past)
        ):
            return False
    return True
