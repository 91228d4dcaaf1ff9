"""cfg sets: checked against rustc's own ``--print cfg`` output (run here, or saved in ../shared/notes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import require_tool, shared_path
from illumos_rust.errors import FormatError, UsageError
from illumos_rust.targetspec import CfgSet, all_cfg_sets, cfg_set, known_values, parse_cfg, target_list
from illumos_rust.targetspec import rustc as rustc_mod

pytestmark = pytest.mark.usefixtures("have_rustc")


@pytest.fixture
def have_rustc() -> None:
    require_tool("rustc")


def _rustc_lines(*args: str) -> list[str]:
    """Independent oracle: rustc itself, run directly, not through our module."""
    out = subprocess.run(["rustc", *args], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_parse_cfg_reads_names_and_quoted_values() -> None:
    atoms = parse_cfg('unix\ntarget_os="illumos"\ntarget_abi=""\nweird="a\\"b\\\\c"\n')
    assert atoms == {("unix", None), ("target_os", "illumos"), ("target_abi", ""), ("weird", 'a"b\\c')}


@pytest.mark.parametrize("text", ["target_os=illumos", 'target_os="x', "9bad", 'k="a\\nb"', 'k="a"b"'])
def test_parse_cfg_rejects_malformed_lines(text: str) -> None:
    with pytest.raises(FormatError, match="line 1"):
        parse_cfg(text, "sample.cfg")


def test_saved_illumos_cfg_from_notes_parses_to_hand_checked_atoms() -> None:
    atoms = parse_cfg(shared_path("notes", "targets", "x86_64-unknown-illumos.cfg").read_text())
    cs = CfgSet("x86_64-unknown-illumos", atoms)
    # Read off the saved file by eye (wc -l: 19 lines), 5 target_has_atomic values, vendor "unknown", no env.
    assert len(atoms) == 19
    assert cs.has("unix") and cs.has("target_os", "illumos") and cs.has("target_env", "")
    assert not cs.has("target_os", "solaris") and not cs.has("windows")
    assert cs.values("target_has_atomic") == {"8", "16", "32", "64", "ptr"}
    assert cs.values("target_family") == {"unix"}
    assert cs.values("no_such_key") == frozenset()


def test_cfg_set_matches_rustc_print_cfg() -> None:
    for target in ("x86_64-unknown-illumos", "x86_64-pc-solaris", "wasm32-unknown-unknown"):
        expected = parse_cfg("\n".join(_rustc_lines("--print", "cfg", "--target", target)))
        assert cfg_set(target).atoms == expected, target


def test_cfg_set_matches_saved_notes_when_same_rustc() -> None:
    tc = rustc_mod.toolchain()
    if tc.release != "1.95.0":
        pytest.skip(f"notes were generated with rustc 1.95.0, this is {tc.release}")
    for target in ("x86_64-unknown-illumos", "x86_64-pc-solaris", "sparcv9-sun-solaris"):
        saved = shared_path("notes", "targets", f"{target}.cfg").read_text()
        assert cfg_set(target).atoms == parse_cfg(saved), target


def test_illumos_and_solaris_differ_only_in_os_and_vendor() -> None:
    # From the spec table in notes §1.1: os and vendor differ; stack probes/frame pointers are not cfgs.
    a, b = cfg_set("x86_64-unknown-illumos"), cfg_set("x86_64-pc-solaris")
    assert a.atoms ^ b.atoms == {
        ("target_os", "illumos"),
        ("target_os", "solaris"),
        ("target_vendor", "unknown"),
        ("target_vendor", "pc"),
    }


def test_target_list_is_rustcs_list() -> None:
    assert target_list() == sorted(_rustc_lines("--print", "target-list"))


def test_known_values_has_real_os_values_and_not_typos() -> None:
    values = known_values()
    assert {"illumos", "solaris", "fuchsia", "linux"} <= values["target_os"]
    assert "fuschia" not in values["target_os"]
    assert values["unix"] == frozenset() and values["windows"] == frozenset()
    sets = all_cfg_sets()
    assert set(sets) == set(target_list())
    assert sum(cs.has("target_os", "illumos") for cs in sets.values()) == 2  # x86_64 + aarch64 (notes §1)


def test_unknown_target_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown target 'x86_64-unknown-ilumos'.*x86_64-unknown-illumos"):
        cfg_set("x86_64-unknown-ilumos")
    with pytest.raises(UsageError, match=r"nope\.json: no such target spec file"):
        cfg_set("nope.json")


def test_cold_cache_fill_is_atomic_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    few = ["x86_64-unknown-illumos", "aarch64-unknown-illumos", "x86_64-pc-solaris"]
    from illumos_rust.targetspec.cfgset import fill_cfg_cache

    raw = fill_cfg_cache(few, jobs=2)
    tc = rustc_mod.toolchain()
    files = sorted(p.name for p in (tmp_path / "illumos-rust").iterdir() if not p.name.endswith(".lock"))
    # no temp file left behind (the fill lock stays, empty); the format is in the name
    assert files == [f"rustc-{tc.key}-v{rustc_mod.CACHE_FORMAT}.json"]
    data = json.loads((tmp_path / "illumos-rust" / files[0]).read_text())
    assert sorted(data["cfg"]) == sorted(few)
    assert data["key"] == tc.commit[:16]
    assert raw["aarch64-unknown-illumos"] == _rustc_lines(
        "--print", "cfg", "--target", "aarch64-unknown-illumos"
    )

    def no_rustc(*args: object, **kwargs: object) -> None:
        raise AssertionError("rustc was run although the answer is cached")

    monkeypatch.setattr(rustc_mod, "run", no_rustc)
    assert cfg_set("aarch64-unknown-illumos").has("target_arch", "aarch64")


def test_damaged_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tc = rustc_mod.toolchain()
    path = rustc_mod.cache_path(tc)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert cfg_set("x86_64-unknown-illumos").has("target_os", "illumos")
    assert json.loads(path.read_text())["cfg"]["x86_64-unknown-illumos"]


def test_custom_json_target_cfg(tmp_path: Path) -> None:
    spec = json.loads(shared_path("notes", "targets", "x86_64-unknown-illumos.json").read_text())
    spec["panic-strategy"] = "abort"
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(spec))
    cs = cfg_set(str(path))
    assert cs.has("panic", "abort") and not cs.has("panic", "unwind")
    assert cs.has("target_os", "illumos")


_names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
_values = st.one_of(
    st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
)


@given(st.frozensets(st.tuples(_names, _values), max_size=20))
def test_cfg_lines_round_trip(atoms: frozenset[tuple[str, str | None]]) -> None:
    """Printing a set in rustc's syntax and parsing it back is lossless, quotes and backslashes included."""
    assert parse_cfg("\n".join(CfgSet("t", atoms).lines())) == atoms


@given(st.text(max_size=200))
def test_parse_cfg_never_crashes(text: str) -> None:
    try:
        parse_cfg(text, "fuzz.cfg")
    except FormatError as exc:
        assert str(exc).startswith("fuzz.cfg: line ")


def test_concurrent_cold_fills_run_rustc_once_per_target(tmp_path: Path) -> None:
    """Two processes filling the same cold cache: the lock makes the second reuse the first's answers.
    Counted with a RUSTC wrapper script that logs each call, independently of our code."""
    real = require_tool("rustc")
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "rustc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    few = ["x86_64-unknown-illumos", "aarch64-unknown-illumos", "x86_64-pc-solaris", "sparcv9-sun-solaris"]
    code = f"from illumos_rust.targetspec.cfgset import fill_cfg_cache\nfill_cfg_cache({few!r}, jobs=2)\n"
    env = {**os.environ, "RUSTC": str(wrapper), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    cfg_calls = [line for line in log.read_text().splitlines() if line.startswith("--print cfg")]
    assert sorted(cfg_calls) == sorted(f"--print cfg --target {t}" for t in few)


def _known_from_sets() -> dict[str, frozenset[str]]:
    """known_values by its definition: the union over every built-in target's set."""
    found: dict[str, set[str]] = {}
    for cs in all_cfg_sets().values():
        for key, value in cs.atoms:
            found.setdefault(key, set()).update([] if value is None else [value])
    return {k: frozenset(v) for k, v in found.items()}


def test_known_values_kept_in_the_cache_equal_the_union_of_every_set(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _known_from_sets()
    assert known_values() == expected  # computed (and stored) or read from the cache: the same answer
    tc = rustc_mod.toolchain()
    stored = rustc_mod.load_cache(tc)["known"]
    assert stored["targets"] == len(target_list())
    assert {k: frozenset(v) for k, v in stored["values"].items()} == expected
    assert "specs" not in rustc_mod.load_cache(tc)  # the specs live in their own file

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("every target's set was parsed although the known values are cached")

    monkeypatch.setattr("illumos_rust.targetspec.cfgset.parse_cfg", no_parse)
    monkeypatch.setattr("illumos_rust.targetspec.cfgset._parsed", {})
    assert known_values() == expected


def test_a_stale_known_values_entry_is_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tc = rustc_mod.toolchain()
    real = rustc_mod.cache_path(tc)
    if not real.is_file():
        known_values()  # fills the real cache once
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    copy = rustc_mod.cache_path(tc)
    copy.parent.mkdir(parents=True)
    data = json.loads(real.read_text())
    stale: dict[str, Any] = {"targets": 1, "values": {"target_os": ["made-up"]}}  # from a one-target rustc
    damaged: dict[str, Any] = {"targets": len(target_list()), "values": {"target_os": 5}}  # bit rot, an edit
    for entry in (stale, damaged):
        data["known"] = entry
        copy.write_text(json.dumps(data))
        monkeypatch.setattr("illumos_rust.targetspec.cfgset._parsed", {})
        assert known_values() == _known_from_sets()
        assert json.loads(copy.read_text())["known"]["values"]["target_os"] != entry["values"]["target_os"]
