"""cfg grammar and three-valued evaluation. Expected values are worked out by hand (in the comments) or come
from ``rustc --print cfg``, never from our own output."""

from __future__ import annotations

import subprocess
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_tool
from illumos_rust.port import cfgexpr
from illumos_rust.port.cfgexpr import All, AnyOf, Atom, CfgParseError, Evaluator, Lit, Not, parse

# Keys a target fixes (the flag-dependent ones, e.g. debug_assertions, stay unknown).
DETERMINED = frozenset(
    {
        "target_os",
        "target_family",
        "target_env",
        "target_vendor",
        "target_arch",
        "target_pointer_width",
        "target_endian",
        "target_abi",
        "target_has_atomic",
        "unix",
        "windows",
    }
)


class _Set:
    def __init__(self, target: str, atoms: frozenset[tuple[str, str | None]]) -> None:
        self.target = target
        self.atoms = atoms


@cache
def rustc_set(target: str) -> _Set:
    """The cfg set straight from rustc, parsed here independently of illumos_rust.targetspec."""
    require_tool("rustc")
    out = subprocess.run(
        ["rustc", "--print", "cfg", "--target", target], capture_output=True, text=True, check=True
    ).stdout
    atoms: set[tuple[str, str | None]] = set()
    for line in out.splitlines():
        key, eq, value = line.partition("=")
        atoms.add((key, value.strip('"') if eq else None))
    return _Set(target, frozenset(atoms))


def ev(target: str) -> Evaluator:
    return Evaluator(rustc_set(target), DETERMINED)


# ---------------------------------------------------------------------------------------------- grammar


def test_grammar_shapes() -> None:
    assert parse('target_os = "illumos"') == Atom("target_os", "illumos")
    assert parse("unix") == Atom("unix", None)
    assert parse("all()") == All(())
    assert parse("any()") == AnyOf(())
    assert parse('not(feature = "std")') == Not(Atom("feature", "std"))
    assert parse("any(unix, windows,)") == AnyOf((Atom("unix", None), Atom("windows", None)))
    assert parse("true") == Lit(True) and parse("false") == Lit(False)
    # comments and raw strings are legal inside a predicate
    assert parse('any(\n  // linux first\n  target_os = r"linux", /* x */ unix)') == AnyOf(
        (Atom("target_os", "linux"), Atom("unix", None))
    )
    # escapes in the value are decoded
    assert parse('k = "a\\"b"') == Atom("k", 'a"b')


def test_spans_point_at_source_text() -> None:
    text = 'any(target_os = "linux",  target_os="solaris")'
    expr = parse(text)
    assert isinstance(expr, AnyOf)
    assert [text[i.span[0] : i.span[1]] for i in expr.items] == ['target_os = "linux"', 'target_os="solaris"']


@pytest.mark.parametrize(
    "text",
    ["any(unix", "not(unix, windows)", "target_os = linux", "all(unix))", "", '= "x"', "a b"],
)
def test_grammar_errors(text: str) -> None:
    with pytest.raises(CfgParseError) as err:
        parse(text)
    assert not err.value.macro


def test_macro_metavariable_is_flagged() -> None:
    with pytest.raises(CfgParseError) as err:
        parse("$meta")
    assert err.value.macro
    with pytest.raises(CfgParseError) as err:
        parse("target_os = $e")
    assert err.value.macro


@pytest.mark.parametrize("text", ["not(#cfg)", "#cfg", "any(#(#metas),*)"])
def test_quote_interpolation_is_a_template(text: str) -> None:
    """``quote! { #[cfg_attr(not(#cfg), doc(hidden))] }`` (diesel_derives 2.0.1): valid Rust inside a
    proc macro, not a predicate (the Reference's grammar has no ``#``)."""
    with pytest.raises(CfgParseError) as err:
        parse(text)
    assert err.value.macro


def test_depth_limit_is_an_error_not_a_crash() -> None:
    deep = "any(" * 10_000 + "unix" + ")" * 10_000
    with pytest.raises(CfgParseError, match="nested deeper"):
        parse(deep)


def test_multi_means_all() -> None:
    # libc's own cfg_if! accepts `#[cfg(a, b)]` and ANDs the metas.
    assert parse('target_arch = "mips64", unix', multi=True) == All(
        (Atom("target_arch", "mips64"), Atom("unix", None))
    )
    with pytest.raises(CfgParseError):
        parse('target_arch = "mips64", unix')


# ---------------------------------------------------------------------------------------------- evaluation


def test_target_facts_from_rustc() -> None:
    illumos, solaris = ev("x86_64-unknown-illumos"), ev("x86_64-pc-solaris")
    assert illumos.eval(parse('target_os = "illumos"')) is True
    assert solaris.eval(parse('target_os = "illumos"')) is False
    # the vendors differ (unknown vs pc), the env is the empty string for both
    assert illumos.eval(parse('target_vendor = "unknown"')) is True
    assert solaris.eval(parse('target_vendor = "pc"')) is True
    assert illumos.eval(parse('all(unix, target_env = "")')) is True
    # no "solarish" family exists
    assert illumos.eval(parse('target_family = "solarish"')) is False


def test_multi_valued_family() -> None:
    # wasm32-unknown-emscripten is both unix and wasm (crate-porting notes, §3 atom table)
    em = ev("wasm32-unknown-emscripten")
    assert em.eval(parse('all(target_family = "unix", target_family = "wasm")')) is True
    assert ev("x86_64-unknown-illumos").eval(parse('target_family = "wasm"')) is False


def test_three_valued() -> None:
    e = ev("x86_64-unknown-illumos")
    assert e.eval(parse('feature = "std"')) is None
    assert e.eval(parse('all(unix, feature = "std")')) is None  # true AND unknown
    assert e.eval(parse('any(unix, feature = "std")')) is True  # true OR unknown
    assert e.eval(parse('all(windows, feature = "std")')) is False  # false AND unknown
    assert e.eval(parse("not(test)")) is None
    assert e.eval(parse("debug_assertions")) is None  # depends on -O, not on the target
    assert e.eval(parse("all()")) is True and e.eval(parse("any()")) is False


def test_divergence_by_hand() -> None:
    sol, ill = ev("x86_64-pc-solaris"), ev("x86_64-unknown-illumos")

    def d(text: str) -> tuple[bool, bool]:
        r = cfgexpr.divergence(parse(text), sol, ill)
        return (r.a_only, r.b_only)

    assert d('target_os = "solaris"') == (True, False)
    assert d('not(target_os = "solaris")') == (False, True)
    assert d('any(target_os = "solaris", target_os = "illumos")') == (False, False)
    assert d('target_vendor = "pc"') == (True, False)
    # solaris-only only when the feature is off: some assignment still diverges
    assert d('all(target_os = "solaris", not(feature = "x"))') == (True, False)
    # a contradiction: Kleene logic alone would say "maybe", enumeration proves it never diverges
    assert d('all(feature = "x", not(feature = "x"), target_os = "solaris")') == (False, False)
    # cfg_if effective predicate of an else after `any(linux, illumos)`: solaris lands there, illumos not
    assert d('not(any(target_os = "linux", target_os = "illumos"))') == (True, False)


_ATOMS = st.sampled_from(
    [
        Atom("unix", None),
        Atom("windows", None),
        Atom("target_os", "illumos"),
        Atom("feature", "a"),
        Atom("feature", "b"),
        Atom("test", None),
    ]
)
_EXPRS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None)
@given(_EXPRS)
def test_kleene_is_sound(expr: cfgexpr.Expr) -> None:
    """Whenever three-valued logic commits to True/False, every assignment of the unknowns agrees (the
    converse fails on purpose: ``all(a, not(a))`` is "unknown" to Kleene logic yet always false); and
    round-tripping the canonical text gives the same tree."""
    e = ev("x86_64-unknown-illumos")
    verdict = e.eval(expr)
    unknowns = cfgexpr.unknown_atoms(expr, DETERMINED)
    values = {e.eval(expr, a) for a in cfgexpr.assignments(unknowns)}
    assert None not in values
    if verdict is not None:
        assert values == {verdict}
    assert parse(cfgexpr.to_str(expr)) == expr
