"""audit's post-mortem check reads CTF coverage with the CTF reader (issue 13), checked against the dumps an
independent libctf made of the fixtures (``*.expected.txt``: one ``<id>``/``[id]`` line per type, one
``object``/``func`` line per symbol that has a type)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path


def _oracle(expected: Path) -> dict[str, int]:
    text = expected.read_text()
    return {
        "types": len(re.findall(r"^[<\[]\d+[>\]] ", text, flags=re.M)),
        "data_objects": len(re.findall(r"^object \[", text, flags=re.M)),
        "functions_with_signature": len(re.findall(r"^func \[", text, flags=re.M)),
    }


def _audit_json(obj: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "illumos_rust.cli.main", "audit", "--format", "json", "--fail-on", "never"]
    return subprocess.run([*cmd, str(obj)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", ["objfunc", "ctfconv_t"])
def test_ctf_coverage_matches_libctf(name: str) -> None:
    obj = shared_path("fixtures", "ctf", f"{name}.o")
    want = _oracle(shared_path("fixtures", "ctf", f"{name}.expected.txt"))
    proc = _audit_json(obj)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)["reports"][0]["facts"]["post_mortem"]
    got = facts["ctf_coverage"]
    assert {k: got[k] for k in want} == want
    assert facts["ctf"] is True


def test_no_ctf_means_no_coverage() -> None:
    obj = shared_path("fixtures", "ctf", "rustypes.o")  # DWARF, no .SUNW_ctf
    proc = _audit_json(obj)
    facts = json.loads(proc.stdout)["reports"][0]["facts"]["post_mortem"]
    assert facts["ctf"] is False and facts["ctf_coverage"] is None
