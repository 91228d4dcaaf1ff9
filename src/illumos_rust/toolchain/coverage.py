"""Frame-pointer coverage of a built std, crate by crate, measured by ``audit``'s classifier.

``audit`` judges linked files (its CFI rule needs final addresses; relocatable objects are skipped), so each
rlib's object members are linked into a throwaway shared object with the host's GNU ``ld -shared`` (Rust
objects are position-independent on every target we build, and ``-shared`` allows undefined symbols). Linking
adds no code and keeps every function; the classifier then sees exactly the functions the crate carries.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..audit.runner import audit
from ..errors import UsageError
from .ar_archive import members

_CRATE = re.compile(r"^lib(.+?)-[0-9a-f]{16}\.rlib$")


@dataclass(frozen=True)
class CrateCoverage:
    """Counts from ``audit.frame_pointers`` (FP, LEAF, NO_FP, ...) for the functions of one crate."""

    crate: str
    totals: dict[str, int]

    @property
    def functions(self) -> int:
        return sum(self.totals.values())

    @property
    def non_leaf_without_fp(self) -> int:
        """What RFD 0161 forbids: a function that calls without keeping %rbp as its frame base."""
        return self.totals.get("NO_FP", 0) + self.totals.get("RBP_CLOBBER", 0) + self.totals.get("UNKNOWN", 0)

    @property
    def percent(self) -> float | None:
        judged = self.totals.get("FP", 0) + self.non_leaf_without_fp
        return None if judged == 0 else 100.0 * self.totals.get("FP", 0) / judged


def crate_name(rlib: Path) -> str:
    m = _CRATE.match(rlib.name)
    return m.group(1) if m else rlib.stem.removeprefix("lib")


def measure(rlibs: list[Path], ld: str | None = None) -> list[CrateCoverage]:
    """One row per rlib that has code, in crate-name order."""
    linker = ld or shutil.which("ld")
    if linker is None:
        raise UsageError("no `ld` on PATH (Debian: binutils) to link the rlibs for the frame-pointer audit")
    rows = []
    with tempfile.TemporaryDirectory(prefix="illumos-rust-fp-") as tmp:
        for rlib in sorted(rlibs, key=crate_name):
            work = Path(tmp, crate_name(rlib))
            work.mkdir()
            objs = []
            for i, (name, body) in enumerate(members(rlib)):
                if name.endswith(".o"):
                    obj = work / f"{i:04d}.o"
                    obj.write_bytes(body)
                    objs.append(str(obj))
            if not objs:
                continue
            so = work / "crate.so"
            done = subprocess.run([linker, "-shared", "-o", str(so), *objs], capture_output=True, text=True)
            if done.returncode != 0:
                raise UsageError(f"{rlib}: ld -shared failed: {done.stderr.strip().splitlines()[-1:]}")
            facts = audit(so).facts.get("frame_pointers", {})
            totals = {k: int(v) for k, v in (facts.get("totals") or {}).items()}
            if totals:
                rows.append(CrateCoverage(crate_name(rlib), totals))
            shutil.rmtree(work, ignore_errors=True)
    return rows
