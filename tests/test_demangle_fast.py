"""``illumos-rust[fast]``: the pyderust-backed demangler gives exactly what the pure-Python one gives.

The pure-Python demangler is the reference (``test_demangle_oracle.py`` checks it against rustc-demangle), so
here it is the oracle for the native path: every symbol of the demangle test corpus (librustc_driver, the std
rlibs, the corpus program in both manglings, ThinLTO ``.llvm.`` names, Rust Python extension modules), the
same names behind prefixes that make them non-symbols (``.Lswitch.table._ZN…``), hostile inputs, and random
symbol-like text (hypothesis, bounded; ``FUZZ_EXAMPLES`` raises it). Skips with the reason when pyderust is
not installed; the default install never imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import build_rust
from illumos_rust.demangle import fast, try_demangle
from test_demangle_oracle import DATA, _rust_extension_modules, corpus_program, driver_symbols, rlib_symbols
from test_demangle_oracle import symbols_of as _symbols_of

pytestmark = pytest.mark.skipif(
    not fast.available(), reason="pyderust not installed (pip install illumos-rust[fast], or the dev extra)"
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2500"))
SYMBOL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$."
PREFIXES = ["_R", "_ZN", "R", "ZN", "__R", "__ZN", "_RNv", "_RIN", "_RC", "_ZN3foo", ".Lswitch.table._ZN", ""]


def _corpus(part: str) -> list[str]:
    if part == "librustc_driver":
        return driver_symbols()
    if part == "std rlibs":
        return rlib_symbols()
    if part == "corpus program":
        source = (DATA / "corpus_program.rs").read_text()
        thin = build_rust(source, "corpus_thinlto", "-Clto=thin", "-Copt-level=2", "-Ccodegen-units=8")
        return [
            *_symbols_of(corpus_program("v0")),
            *_symbols_of(corpus_program("legacy")),
            *_symbols_of(thin),
        ]
    return [n for so in _rust_extension_modules() for n in _symbols_of(so)]


def _compare(names: list[str]) -> tuple[int, list[str]]:
    """(how many the native path demangled, the disagreements) in both output forms, and as displayed."""
    native = 0
    wrong = []
    for hash in (True, False):
        fast_try = fast.demangler(hash=hash)
        for n in names:
            want = try_demangle(n, hash=hash)
            got = fast_try(n)
            if got != want:
                wrong.append(f"{n!r} hash={hash}: pure {want!r}, fast {got!r}")
            native += want is not None
    many = fast.display_many(hash=False)(names)  # what inspect --symbols prints, a table at a time
    wrong += [
        f"{n!r}: listed as {m!r}"
        for n, m in zip(names, many, strict=True)
        if m != (try_demangle(n, hash=False) or n)
    ]
    fast_show = fast.display_demangler(hash=False)
    wrong += [
        f"{n!r}: shown as {fast_show(n)!r}"
        for n in names
        if fast_show(n) != (try_demangle(n, hash=False) or n)
    ]
    return native, wrong


@pytest.mark.parametrize("part", ["librustc_driver", "std rlibs", "corpus program", "Rust Python extensions"])
def test_whole_corpus_agrees(part: str) -> None:
    """In parts, so that ``-n 2`` spreads the ~15 s the pure-Python reference needs for both forms."""
    names = sorted(set(_corpus(part)))
    if not names:
        pytest.skip(f"no {part} on this machine")
    prefixed = [".Lswitch.table." + n for n in names if n.startswith(("_ZN", "_R"))][:2000]
    prefixed += ["anon." + n for n in names if n.startswith("_R")][:1000]
    demangled, wrong = _compare(names + prefixed)
    print(f"fast demangler on {part}: {len(names)} names + {len(prefixed)} prefixed, {demangled} demangled")
    assert not wrong, "\n".join(wrong[:20])
    assert demangled > 0


def test_prefixed_names_are_left_to_the_reference() -> None:
    """pyderust is never shown a prefixed name; ours does not treat one as a symbol either."""
    legacy = "_ZN3foo3bar17h0123456789abcdefE"
    for name in (".Lswitch.table." + legacy, "anon." + legacy, " " + legacy):
        assert fast.demangler(hash=False)(name) is None
        assert fast.display_demangler(hash=False)(name) == name
    assert fast.demangler(hash=False)(legacy) == "foo::bar"
    assert fast.demangler(hash=True)(legacy) == "foo::bar::h0123456789abcdef"


def test_hostile_inputs_fall_back_to_the_reference() -> None:
    """Where pyderust gives up (recursion limit, invalid syntax) or the name is huge, the answer is ours."""
    hostile = ["_RNvB_3foo", "_RNvNtB0_3foo3bar", "_ZN" + "3foo" * 100_000 + "E", "_R" + "B_" * 50]
    _, wrong = _compare(hostile)
    assert not wrong, wrong
    # one bad v0 name in a batch sends the batch down the per-name path; the good names are still right
    batch = ["_RNvCs1234_3foo3bar", "_RNvB_3foo", "_R" + "Nv" * 3000 + "C3foo3bar", "_RNvC3foo3baz", "main"]
    want = [try_demangle(n, hash=False) or n for n in batch]
    assert fast.display_many(hash=False)(batch) == want
    assert fast.display_many(hash=False)(batch[:1] + batch[3:]) == want[:1] + want[3:]


def test_names_that_were_not_utf8_fall_back_to_the_reference() -> None:
    """A symbol name with bytes that are not UTF-8 reaches the demangler surrogate-escaped (the ELF reader
    decodes names with ``surrogateescape``); pyderust cannot take such a string, so the reference answers,
    in a batch too (it used to stop ``inspect --symbols`` with an internal error)."""
    odd = b"_R\xff\xfeNvC4core3foo".decode("utf-8", "surrogateescape")
    good = "_RNvC4core3foo"
    for hash_ in (True, False):
        assert fast.demangler(hash=hash_)(odd) == try_demangle(odd, hash=hash_)
        assert fast.display_demangler(hash=hash_)(odd) == (try_demangle(odd, hash=hash_) or odd)
        assert fast.display_many(hash=hash_)([odd, good]) == [
            try_demangle(n, hash=hash_) or n for n in (odd, good)
        ]
    assert fast.display_many(hash=False)([good]) == ["core::foo"]  # by hand: crate core, function foo


def test_default_install_does_not_need_it() -> None:
    """With pyderust unimportable, the module still loads and answers through the pure-Python path."""
    code = (
        "import sys; sys.modules['pyderust'] = None\n"
        "from illumos_rust.demangle import fast\n"
        "assert not fast.available()\n"
        "print(fast.demangler(hash=False)('_RNvCs1234_3foo3bar'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "foo::bar"


symbolish = st.builds(
    lambda p, body, tail: p + body + tail,
    st.sampled_from(PREFIXES),
    st.text(alphabet=SYMBOL_CHARS, max_size=120),
    st.sampled_from(["", "E", ".llvm.1234", ".cold", "@plt", " tail", "17h0123456789abcdefE"]),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(symbolish, st.text(max_size=100)))
def test_fuzz_fast_equals_reference(text: str) -> None:
    _, wrong = _compare([text])
    assert not wrong, wrong
