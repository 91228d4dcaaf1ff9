"""The FP control state each thread's notes carry (NT_FPREGSET's x87 control word and MXCSR) is in the
report, equal to what gdb reads from the same core (``$fctrl``, ``$mxcsr``)."""

from __future__ import annotations

import lzma
import re
import subprocess
from pathlib import Path

from conftest import shared_path
from illumos_rust.core import analyze


def test_fp_control_words_equal_gdbs(tmp_path: Path) -> None:
    core, binary = tmp_path / "core", tmp_path / "rust-crash"
    core.write_bytes(
        lzma.decompress(shared_path("fixtures", "cores", "core.rust-crash.segv.xz").read_bytes())
    )
    binary.write_bytes(lzma.decompress(shared_path("fixtures", "cores", "rust-crash.xz").read_bytes()))
    binary.chmod(0o755)
    out = subprocess.run(
        ["gdb", "-nx", "-batch", "-ex", "p $fctrl", "-ex", "p $mxcsr", str(binary), str(core)],
        capture_output=True,
        text=True,
    ).stdout
    fctrl = int(re.search(r"^\$1 = (\d+)", out, re.M)[1])  # type: ignore[index]
    mxcsr_text = re.search(r"^\$2 = \[ (.*) \]", out, re.M)[1]  # type: ignore[index]
    report = analyze(str(core), str(binary))
    crash = report.threads[0]
    assert crash.fp_state["fcw"] == fctrl
    # gdb spells MXCSR as its set flags; their bits (Intel SDM vol. 1, figure 10-3 "MXCSR Control/Status
    # Register"), rounding-control fields excluded since gdb prints them only when set
    bits = {"IE": 0, "DE": 1, "ZE": 2, "OE": 3, "UE": 4, "PE": 5, "DAZ": 6, "IM": 7, "DM": 8, "ZM": 9}
    bits |= {"OM": 10, "UM": 11, "PM": 12, "FZ": 15}
    want = sum(1 << bits[f] for f in mxcsr_text.split() if f in bits)
    assert crash.fp_state["mxcsr"] == want  # 0x1f80 here: the six exception masks
