"""``toolchain build-std --panic abort``: a std compiled with panic=abort (RFD 0161's "panic=abort
possibility"), checked by oracles that do not read our code.

1. nm(1) on the rlibs' objects: code compiled with panic=unwind has landing pads that end in calls to
   ``_Unwind_Resume`` and name a personality routine (``rust_eh_personality``) in their unwind tables; code
   compiled with panic=abort has neither. The std built with panic=unwind (same compiler, same target) is the
   control: its core/alloc/std do reference ``_Unwind_Resume``.
2. rustc's own metadata: ``rustc -Zls=root`` shows the std requires the Abort strategy, and rustc refuses a
   panic=unwind program against it (``the crate `panic_unwind` does not have the panic strategy `unwind```),
   while a panic=abort one compiles.

Runs in ``make e2e`` (full std builds, cached by their inputs; the control is the std of ``test_dist_e2e``).
"""

from __future__ import annotations

import os
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


def _lsda_sections(rlib: Path) -> int:
    """objdump(1)'s count of ``.gcc_except_table`` sections: the landing-pad tables of unwinding code."""
    done = subprocess.run(["objdump", "-h", str(rlib)], capture_output=True, text=True)
    return sum(".gcc_except_table" in line for line in done.stdout.splitlines())


def test_abort_std_has_no_unwinding_references(abort_std: Path, unwind_std: Path) -> None:
    """Control first: with panic=unwind each crate names the personality routine or calls _Unwind_Resume and
    carries landing-pad tables (core only names rust_eh_personality, measured: its cleanups are rare)."""
    for crate in ("core", "alloc", "std"):
        control = _undefined(_rlib(unwind_std, crate))
        assert control & set(UNWIND_SYMBOLS), f"control: {crate} built with panic=unwind refers to neither"
        assert _lsda_sections(_rlib(unwind_std, crate)) > 0, crate
        aborting = _undefined(_rlib(abort_std, crate))
        assert not aborting & set(UNWIND_SYMBOLS), (crate, sorted(aborting & set(UNWIND_SYMBOLS)))
        assert _lsda_sections(_rlib(abort_std, crate)) == 0, crate
    assert _rlib(abort_std, "panic_abort").is_file()


def _required_panic_strategy(rlib: Path) -> str:
    """What rustc's metadata dump (``-Zls=root``) says the crate requires of the final link."""
    done = subprocess.run([str(DEBIAN_RUSTC), "-Zls=root", str(rlib)], capture_output=True, text=True,
                          env={**os.environ, "RUSTC_BOOTSTRAP": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("required_panic_strategy "))
    return line.split()[1]


def test_rustc_checks_the_panic_strategy_in_the_metadata(
    abort_std: Path, unwind_std: Path, tmp_path: Path
) -> None:
    """rustc reading the rlibs: std's metadata requires Abort (the control requires nothing); a panic=unwind
    program is refused against this std, a panic=abort one compiles, and neither happens with the control."""
    assert _required_panic_strategy(_rlib(abort_std, "std")) == "Some(Abort)"
    assert _required_panic_strategy(_rlib(unwind_std, "std")) == "None"
    src = tmp_path / "main.rs"
    src.write_text('fn main() { let v: Vec<u32> = (1..4).collect(); println!("{v:?}"); }\n')

    def compile_with(sysroot: Path, panic: str) -> subprocess.CompletedProcess[str]:
        argv = [str(DEBIAN_RUSTC), "--edition=2021", "--sysroot", str(sysroot), "--target", ILLUMOS, "-O",
                "--crate-type", "bin", "--emit", "obj", f"-Cpanic={panic}", str(src),
                "-o", str(tmp_path / f"{panic}-{sysroot.parent.name}.o")]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True)

    refused = compile_with(abort_std, "unwind")
    assert refused.returncode != 0
    assert "does not have the panic strategy `unwind`" in refused.stderr, refused.stderr
    for sysroot, panic in ((abort_std, "abort"), (unwind_std, "unwind")):
        done = compile_with(sysroot, panic)
        assert done.returncode == 0, (panic, done.stderr)
