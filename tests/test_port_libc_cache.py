"""``libcindex.build_cached``: what a survey rerun reads instead of re-indexing a libc source.

Oracle: ``libcindex.build`` on the same tree (the index the cache must reproduce exactly), and the cache
file itself (written once, then read; a changed libc file is a different key).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from illumos_rust.port import engine, libcindex
from illumos_rust.port.analysis import evaluators

REGISTRY = Path("/usr/share/cargo/registry")


def _libc() -> Path:
    found = sorted(REGISTRY.glob("libc-0.2.*"))
    if not found:
        pytest.skip("no libc source in the Debian registry (librust-libc-dev)")
    return found[0]


def test_cached_index_is_the_built_one_and_a_changed_file_misses(tmp_path: Path) -> None:
    root = tmp_path / "libc"
    shutil.copytree(_libc(), root)
    ctx = engine.make_context()
    sol, ill = evaluators(ctx)
    evs = {ctx.base: sol, ctx.port: ill}
    cache = tmp_path / "cache"
    want = libcindex.build(str(root), "0.2", evs)
    first = libcindex.build_cached(str(root), "0.2", evs, str(cache))
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"
    again = libcindex.build_cached(str(root), "0.2", evs, str(cache))
    assert first == want and again == want  # dataclass equality: every set and table
    assert len(want.declared[ctx.port]) > 1000
    # the cache is really read: a planted marker in the stored index comes back
    doc = files[0].read_text().replace('"anywhere": [', '"anywhere": ["planted_marker", ', 1)
    files[0].write_text(doc)
    assert "planted_marker" in libcindex.build_cached(str(root), "0.2", evs, str(cache)).anywhere
    # an edited libc file is another key: rebuilt (no marker), a second cache file
    lib = root / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\n// edited\n")
    os.utime(lib, ns=(1, 1))
    other = tmp_path / "libc-other"  # another libc tree's file, and one named the old way: see below
    shutil.copytree(root, other)
    libcindex.build_cached(str(other), "0.2", evs, str(cache))
    (cache / ("libc-" + "0" * 32 + ".json")).write_text("{}")
    before = {f.name for f in cache.iterdir()}
    rebuilt = libcindex.build_cached(str(root), "0.2", evs, str(cache))
    assert "planted_marker" not in rebuilt.anywhere
    # the rebuilt index replaced the tree's old file; the other tree's stays; the old-style one is gone
    after = {f.name for f in cache.iterdir()}
    assert len(after) == 2 and files[0].name not in after and files[0].name in before
    assert len(after & before) == 1  # the other tree's file
    # a corrupt cache file only costs the rebuild
    for f in cache.iterdir():
        f.write_text("{not json")
    assert libcindex.build_cached(str(root), "0.2", evs, str(cache)) == rebuilt
