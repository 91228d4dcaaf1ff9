"""The README is assembled from docs/readme/; an edit made to README.md alone would be lost at the next
``make readme``, and a part edited without re-assembling would leave the README stale."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_readme_is_the_assembly_of_its_parts() -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "readme.sh"), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
