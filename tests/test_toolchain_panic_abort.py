"""``toolchain build-std --panic abort``: a std compiled with panic=abort (RFD 0161's "panic=abort
possibility"), checked by oracles that do not read our code.

1. nm(1) on the rlibs' objects: code compiled with panic=unwind has landing pads that end in calls to
   ``_Unwind_Resume`` and name a personality routine (``rust_eh_personality``) in their unwind tables; code
   compiled with panic=abort has neither. The std built with panic=unwind (same compiler, same target) is the
   control: its core/alloc/std do reference ``_Unwind_Resume``.
2. rustc's own metadata: each rlib records its panic strategy, and rustc refuses to link a panic=unwind crate
   against a std compiled with panic=abort, while a panic=abort crate compiles against it.

Runs in ``make e2e`` (full std builds, cached by their inputs; the control is the std of ``test_dist_e2e``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dist_helpers import DEBIAN_RUSTC, ILLUMOS, cached_build_std, require_full_std

UNWIND_SYMBOLS = ("_Unwind_Resume", "rust_eh_personality")


@pytest.fixture(scope="module")
def abort_std() -> Path:
    require_full_std()
    sysroot, report = cached_build_std(ILLUMOS, "--panic", "abort", "--crates", "std,panic_abort")
    assert report["target"] == ILLUMOS
    return sysroot


@pytest.fixture(scope="module")
def unwind_std() -> Path:
    require_full_std()
    return cached_build_std(ILLUMOS, "--frame-pointers")[0]


def _undefined(rlib: Path) -> set[str]:
    """Undefined symbols of every object in the archive (nm skips the rlib's metadata member)."""
    done = subprocess.run(["nm", "-u", "--format=posix", str(rlib)], capture_output=True, text=True)
    assert done.stdout, done.stderr
    return {line.split()[0] for line in done.stdout.splitlines() if line and not line.endswith(":")}


def _rlib(sysroot: Path, crate: str) -> Path:
    found = sorted((sysroot / "lib" / "rustlib" / ILLUMOS / "lib").glob(f"lib{crate}-*.rlib"))
    assert len(found) == 1, found
    return found[0]


def test_abort_std_has_no_unwinding_references(abort_std: Path, unwind_std: Path) -> None:
    for crate in ("core", "alloc", "std"):
        control = _undefined(_rlib(unwind_std, crate))
        assert "_Unwind_Resume" in control, f"control: {crate} built with panic=unwind calls _Unwind_Resume"
        aborting = _undefined(_rlib(abort_std, crate))
        assert not aborting & set(UNWIND_SYMBOLS), (crate, sorted(aborting & set(UNWIND_SYMBOLS)))
    libs = {p.name.split("-")[0] for p in (abort_std / "lib" / "rustlib" / ILLUMOS / "lib").glob("*.rlib")}
    assert "libpanic_abort" in libs and "libpanic_unwind" not in libs


def test_rustc_checks_the_panic_strategy_in_the_metadata(abort_std: Path, tmp_path: Path) -> None:
    """rustc, reading the rlibs' metadata: a panic=unwind crate is refused, a panic=abort one compiles."""
    src = tmp_path / "main.rs"
    src.write_text('fn main() { let v: Vec<u32> = (1..4).collect(); println!("{v:?}"); }\n')
    base = [str(DEBIAN_RUSTC), "--edition=2021", "--sysroot", str(abort_std), "--target", ILLUMOS, "-O",
            "--crate-type", "lib", "--emit", "obj", str(src)]  # fmt: skip
    unwind = subprocess.run([*base, "-Cpanic=unwind", "-o", str(tmp_path / "u.o")], capture_output=True,
                            text=True)  # fmt: skip
    assert unwind.returncode != 0
    assert "panic strategy `abort`" in unwind.stderr and "incompatible" in unwind.stderr, unwind.stderr
    abort = subprocess.run(
        [*base, "-Cpanic=abort", "-o", str(tmp_path / "a.o")], capture_output=True, text=True
    )
    assert abort.returncode == 0, abort.stderr
    assert "_Unwind_Resume" not in _undefined_obj(tmp_path / "a.o")


def _undefined_obj(obj: Path) -> set[str]:
    done = subprocess.run(
        ["nm", "-u", "--format=posix", str(obj)], capture_output=True, text=True, check=True
    )
    return {line.split()[0] for line in done.stdout.splitlines() if line}
