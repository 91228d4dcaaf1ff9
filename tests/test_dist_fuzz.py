"""Hostile inputs for the two parsers of this capability: an rlib (ar archive) and a channel manifest.
Whatever the bytes, the only exception is ``FormatError`` (one line naming the file), never a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from illumos_rust.dist.verify import verify_tree
from illumos_rust.errors import FormatError
from illumos_rust.toolchain.ar_archive import MAGIC, members

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
HEADER = b"%-16s%-12s%-6s%-6s%-8s%-10s`\n"


def _member(name: bytes, body: bytes, size: bytes | None = None) -> bytes:
    size = size if size is not None else str(len(body)).encode()
    head = HEADER % (name, b"0", b"0", b"0", b"644", size)
    return head + body + (b"\n" if len(body) & 1 else b"")


ar_bytes = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda tail: MAGIC + tail, st.binary(max_size=400)),
    st.builds(
        lambda name, body, size, cut: (MAGIC + _member(name, body, size))[: cut or None],
        st.sampled_from([b"a.o/", b"//", b"/", b"/0", b"/999", b"x" * 16]),
        st.binary(max_size=64),
        st.one_of(st.none(), st.sampled_from([b"-5", b"abc", b"99999999", b"", b"1e3"])),
        st.integers(min_value=0, max_value=200),
    ),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ar_bytes)
def test_ar_reader_only_format_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "x.rlib")
        path.write_bytes(data)
        try:
            for name, body in members(path):
                assert isinstance(name, str) and isinstance(body, bytes)
        except FormatError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)


manifest_text = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda extra: ('manifest-version = "2"\n' + extra).encode(),
        st.sampled_from(
            [
                "[pkg]\n",
                "pkg = 3\n",
                "[pkg.a]\ntarget = 5\n",
                '[pkg.a.target.t]\navailable = true\nurl = 7\nhash = "x"\n',
                '[pkg.a.target.t]\navailable = true\nurl = "http://h/../../etc/passwd"\nhash = "0"\n',
                '[pkg.rust.target.t]\navailable = false\n[profiles]\nminimal = ["nope"]\n[pkg.a]\n',
                "[pkg.a]\n[renames]\nx = 1\n",
                "[pkg.a]\n[profiles]\nminimal = 3\n",
            ]
        ),
    ),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest_text)
def test_verify_only_format_errors_or_problems(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dist").mkdir()
        (Path(tmp) / "dist" / "channel-rust-x.toml").write_bytes(data)
        try:
            _, problems = verify_tree(Path(tmp))
            assert all(isinstance(p, str) for p in problems)
        except FormatError as exc:
            assert "\n" not in str(exc)
