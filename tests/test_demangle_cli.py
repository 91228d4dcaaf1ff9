"""``illumos-rust demangle``: arguments, stdin as a stream filter, ``--no-hash`` and ``--format json``.

Expected text comes from rustfilt (the same scanning rule, rustc-demangle 0.1.21) on realistic tool output
built around real symbols of the corpus program, and from the sysroot oracle for single symbols.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import require_tool
from test_demangle_oracle import corpus_program, run_oracle, symbols_of

CLI = [sys.executable, "-m", "illumos_rust.cli.main", "demangle"]


def _cli(*args: str, stdin: bytes = b"") -> bytes:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, check=True).stdout


def _trace_like_text() -> str:
    """Text shaped like DTrace ustack(), mdb $C and nm output: symbols glued to offsets and punctuation."""
    symbols = [s for s in symbols_of(corpus_program("v0")) + symbols_of(corpus_program("legacy")) if s]
    lines = []
    for k, sym in enumerate(symbols):
        shape = k % 4
        if shape == 0:
            lines.append(f"              libfoo.so`{sym}+0x{k:x}")
        elif shape == 1:
            lines.append(f"ffffff{k:010x} {sym}+{k}()")
        elif shape == 2:
            lines.append(f"{k:016x} T {sym}")
        else:
            # rustfilt prints demangle() of every run, rustc-demangle's demangle_stream prints the run itself
            # when it is not Rust; they differ only for a non-Rust name with a ``.llvm.`` tail (see below).
            tail = f".llvm.{k}" if sym.startswith(("_R", "_ZN")) else ""
            lines.append(f"  at <{sym}>:{k} (glued{sym}) [{sym}{tail}]")
    return "\n".join(lines) + "\n"


def test_stdin_filter_matches_rustfilt_in_both_forms() -> None:
    rustfilt = require_tool("rustfilt")
    text = _trace_like_text()
    for ours_flags, theirs_flags in (([], ["-h"]), (["--no-hash"], [])):
        ours = _cli(*ours_flags, stdin=text.encode())
        theirs = subprocess.run(
            [rustfilt, *theirs_flags], input=text.encode(), capture_output=True, check=True
        )
        assert ours.decode() == theirs.stdout.decode()
        assert ours != text.encode()  # something was demangled


def test_arguments_are_demangled_one_per_line() -> None:
    symbols = ["_ZN3foo3bar17h05af221e174051e9E", "_RNvCs1234_7mycrate4main", "not_a_symbol"]
    expected = run_oracle(symbols)
    out = _cli(*symbols).decode().splitlines()
    assert out == [e.display_full for e in expected]
    out = _cli("--no-hash", *symbols).decode().splitlines()
    assert out == [e.display_alternate for e in expected]


def test_json_output_carries_both_forms_and_scheme() -> None:
    symbols = ["_ZN3foo3bar17h05af221e174051e9E", "_RNvCs1234_7mycrate4main"]
    expected = run_oracle(symbols)
    records = json.loads(_cli("--format", "json", *symbols, "plain text"))
    assert [r["input"] for r in records] == [*symbols, "plain text"]
    assert records[0]["symbols"][0]["scheme"] == "legacy"
    assert records[1]["symbols"][0]["scheme"] == "v0"
    for record, exp in zip(records, expected, strict=False):
        assert record["symbols"][0]["demangled"] == exp.full
        assert record["symbols"][0]["demangled_no_hash"] == exp.alternate
        assert record["output"] == exp.full
    assert records[2]["symbols"] == [] and records[2]["output"] == "plain text"


def test_stream_handles_symbols_split_across_reads() -> None:
    """A pipe delivers arbitrary chunks; a symbol cut by a read boundary must still be demangled."""
    sym = (
        "_RNvMsn_NtCslNYArtu3iFV_5alloc4syncINtB5_3ArcNtNtCs61nHkvlE5qF_9rustc_ast11tokenstream"
        "24LazyAttrTokenStreamInnerE9drop_slowBK_"
    )
    expected = run_oracle([sym])[0].alternate
    code = (
        "import io, sys\n"
        "from illumos_rust.cli.demangle import _stream\n"
        "class Trickle(io.RawIOBase):\n"
        "    def __init__(self, data): self.data = data\n"
        "    def readable(self): return True\n"
        "    def read1(self, n=-1): chunk, self.data = self.data[:7], self.data[7:]; return chunk\n"
        "    read = read1\n"
        f"_stream(Trickle({(sym + ' x ' + sym + chr(10)).encode()!r}), sys.stdout.buffer, False)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout.decode()
    assert out == f"{expected} x {expected}\n"


def test_non_rust_run_is_copied_verbatim_like_demangle_stream() -> None:
    """rustc-demangle's demangle_stream copies a run that try_demangle rejects, ``.llvm.`` tail included
    (rustfilt 0.2.1 would print demangle()'s stripped form); the oracle confirms the run is not Rust."""
    run = "_Resume.llvm.1039"
    assert run_oracle([run])[0].full is None
    assert _cli(stdin=b"_Unwind_Resume.llvm.1039\n") == b"_Unwind_Resume.llvm.1039\n"


def test_library_stream_equals_whole_text_filter() -> None:
    """``demangle_stream`` over arbitrary chunk boundaries gives what rustfilt gives on the whole input."""
    rustfilt = require_tool("rustfilt")
    from illumos_rust.demangle import demangle_stream

    text = _trace_like_text()
    want = subprocess.run([rustfilt], input=text, capture_output=True, text=True, check=True).stdout
    for size in (3, 7, 64, 4096):
        chunks = [text[k : k + size] for k in range(0, len(text), size)]
        assert "".join(demangle_stream(chunks, hash=False)) == want, size


def test_library_stream_keeps_a_long_open_run_linear() -> None:
    """A run that never closes, fed one character per chunk, must not be re-copied at every chunk: 300,000
    one-character chunks cost ~45 GB of copying that way (minutes); joined once, well under a second."""
    from illumos_rust.demangle import demangle_stream

    chunks = ["_", "R", *("u" * 300_000), " after\n"]
    start = time.process_time()
    out = "".join(demangle_stream(chunks))
    assert out == "".join(chunks)
    assert time.process_time() - start < 1.0


def test_filter_demangles_a_symbol_anywhere_in_a_long_line() -> None:
    """A line of megabytes without a newline (a log, a minified dump): symbols are found wherever they fall
    in it, including across the filter's 64 KiB reads and past the first megabyte. Symbols fill 95 % of the
    line, so a filter that cuts it anywhere but between symbols splits one (an earlier version cut every
    megabyte)."""
    sym = "_ZN" + "3foo" * 50 + "E"  # legacy, no hash element: foo::foo::... by the rule in legacy.py
    line = (sym + " x ") * 16_000  # 3.3 MB
    out = _cli("--no-hash", stdin=line.encode()).decode()
    assert out == line.replace(sym, "::".join(["foo"] * 50))
