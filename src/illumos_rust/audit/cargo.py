"""``cargo illumos audit``: find the workspace's built executables, cdylibs and dylibs via ``cargo metadata``.

Artefacts live under ``<target_directory>/[<triple>/]<profile>/``; only targets of the workspace members
(kinds ``bin``, ``cdylib``, ``dylib``) are audited, so dependencies' build scripts are not reported.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ..errors import UsageError

_KINDS = {"bin", "cdylib", "dylib"}


def workspace_artifacts(manifest_dir: str | None = None) -> list[Path]:
    cmd = ["cargo", "metadata", "--format-version", "1", "--no-deps"]
    try:
        proc = subprocess.run(cmd, cwd=manifest_dir, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UsageError(f"cannot run cargo: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        raise UsageError("cargo metadata failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
    meta: dict[str, Any] = json.loads(proc.stdout)
    target_dir = Path(meta["target_directory"])
    names: set[str] = set()
    for pkg in meta.get("packages", []):
        for tgt in pkg.get("targets", []):
            kinds = set(tgt.get("kind", []))
            if kinds & {"bin"}:
                names.add(tgt["name"])
            if kinds & {"cdylib", "dylib"}:
                names.add("lib" + tgt["name"].replace("-", "_") + ".so")
    found: list[Path] = []
    if not target_dir.is_dir():
        return found
    profile_dirs = [d for d in target_dir.iterdir() if d.is_dir()]
    for d in list(profile_dirs):  # <triple>/<profile>
        profile_dirs.extend(sub for sub in d.iterdir() if sub.is_dir() and (sub / ".fingerprint").is_dir())
    for d in sorted(profile_dirs):
        for name in sorted(names):
            f = d / name
            if f.is_file():
                found.append(f)
    return found
