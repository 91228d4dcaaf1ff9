"""Damaged packages (``survey/packages.py``): a real .deb (dpkg-deb, gzip and xz and zstd) and a .tgz, cut
short and with bytes overwritten at random, are each one failed item whose reason is a format error of the
package (never a bug of the reader: no IndexError, TypeError, AttributeError...), or an ok result when the
damage missed what is read; and each is answered quickly (the reader streams, so damage cannot make it
loop or allocate by a declared size). ``make fuzz`` (FUZZ_EXAMPLES) runs a tenth of its count here."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import illumos_rust.audit  # noqa: F401  (it raises the recursion limit on import: before hypothesis saves it)
from conftest import require_tool
from illumos_rust.survey.tasks import audit_binary

#: What a damaged package may legitimately raise while read: the package's own format errors and those of
#: the compressions inside it.
ALLOWED = (
    "BadPackage",
    "ReadError",
    "CompressionError",
    "StreamError",
    "HeaderError",
    "TarError",
    "EOFError",
    "BadGzipFile",
    "LZMAError",
    "ZstdError",
    "error",  # zlib.error: a damaged deflate stream
    "OSError",  # bz2 and gzip report some damage as OSError ("Invalid data stream")
)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    dpkg_deb = require_tool("dpkg-deb")
    tmp = tmp_path_factory.mktemp("pkgs")
    root = tmp / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: fz\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: t\n"
    )
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copy("/bin/true", root / "usr" / "bin" / "true")
    (root / "usr" / "bin" / "notes").write_text("text\n" * 50)
    out: dict[str, bytes] = {}
    for z in ("gzip", "xz", "zstd"):
        deb = tmp / f"fz_{z}.deb"
        subprocess.run(
            [dpkg_deb, "--root-owner-group", f"-Z{z}", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
        )
        out[f"{z}.deb"] = deb.read_bytes()
    tgz = tmp / "fz.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(root / "usr", arcname="usr")
    out["pkg.tgz"] = tgz.read_bytes()
    return out


@settings(
    max_examples=max(60, int(os.environ.get("FUZZ_EXAMPLES", "60")) // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.sampled_from(["gzip.deb", "xz.deb", "zstd.deb", "pkg.tgz"]),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6),
)
def test_damaged_packages_fail_cleanly(
    packages: dict[str, bytes], tmp_path: Path, which: str, cut: float | None, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(packages[which])
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / f"damaged-{which.replace('.', '_')}.{which.split('.')[-1]}"
    path.write_bytes(bytes(data))
    started = time.process_time()
    result = audit_binary(str(path))
    assert time.process_time() - started < 5
    if result["status"] != "ok":
        name = result["reason"].split(":", 1)[0]
        assert name in ALLOWED, result["reason"]
    else:
        for member in result["result"]["members"]:
            assert member["status"] in ("ok", "failed")


def test_a_gzip_header_cut_short_is_a_damaged_package(tmp_path: Path) -> None:
    """Three bytes, gzip's magic and method: CPython 3.11's tarfile stream raises TypeError (ord() of an
    empty read) for it, which read as a bug of ours; found by the fuzz above (1 input in ~28,000)."""
    path = tmp_path / "cut.tgz"
    path.write_bytes(b"\x1f\x8b\x08")
    result = audit_binary(str(path))
    assert result["status"] == "failed" and result["reason"].startswith("BadPackage"), result["reason"]
