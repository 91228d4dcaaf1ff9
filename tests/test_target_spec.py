"""Specs, defaults, diff, the RFD 0161 policy and generate, checked against rustc and the notes' tables."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_tool, shared_path
from illumos_rust.cli.main import main
from illumos_rust.errors import FormatError
from illumos_rust.targetspec import rustc as rustc_mod
from illumos_rust.targetspec.defaults import ALWAYS_PRINTED, DEFAULTS, REQUIRED
from illumos_rust.targetspec.diff import canonical, diff_specs
from illumos_rust.targetspec.policy import check_rfd0161
from illumos_rust.targetspec.spec import known_fields, load_spec, read_spec_file

pytestmark = pytest.mark.usefixtures("have_rustc")

MATRIX_TARGETS = [
    "x86_64-unknown-illumos",
    "x86_64-pc-solaris",
    "aarch64-unknown-illumos",
    "sparcv9-sun-solaris",
    "x86_64-unknown-linux-gnu",
]


@pytest.fixture
def have_rustc() -> None:
    require_tool("rustc")


def _bootstrap_env() -> dict[str, str]:
    return {**os.environ, "RUSTC_BOOTSTRAP": "1"}


def _rustc_spec_of_file(path: Path) -> dict[str, Any]:
    """Independent oracle: rustc's own reading of a spec file."""
    out = subprocess.run(
        ["rustc", "-Z", "unstable-options", "--print", "target-spec-json", "--target", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=_bootstrap_env(),
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


# --- the defaults table ----------------------------------------------------------------------------


def test_defaults_table_names_exactly_rustcs_fields() -> None:
    """rustc lists every field it accepts in its unknown-field error; our table must match it."""
    fields = set(known_fields())
    assert "frame-pointer" in fields and "stack-probes" in fields  # the list really was parsed
    assert set(DEFAULTS) - fields == set(), "keys rustc does not know"
    assert fields - set(DEFAULTS) - set(REQUIRED) == set(), "rustc fields without a default"


def test_defaults_are_what_rustc_omits(tmp_path: Path) -> None:
    """rustc prints only non-default fields, so a spec set entirely to our defaults must print none of
    them back (ALWAYS_PRINTED are printed even at their default; None = unset Option, not written)."""
    base = json.loads(shared_path("notes", "targets", "x86_64-unknown-illumos.json").read_text())
    spec = {k: base[k] for k in REQUIRED}
    spec["metadata"] = base["metadata"]
    written = {k: v for k, v in DEFAULTS.items() if v is not None and k not in ALWAYS_PRINTED}
    spec.update(written)
    path = tmp_path / "x86_64-all-defaults.json"
    path.write_text(json.dumps(spec))
    printed = _rustc_spec_of_file(path)
    assert set(printed) & set(written) == set(), "rustc printed these, so our default is not its default"


def test_effective_specs_match_the_notes_matrix() -> None:
    """notes/targets/spec-matrix.md was written by hand from rustc 1.95 with defaults filled in."""
    if rustc_mod.toolchain().release != "1.95.0":
        pytest.skip("the matrix was made with rustc 1.95.0")
    rows = _parse_matrix(shared_path("notes", "targets", "spec-matrix.md").read_text())
    assert len(rows) >= 35
    specs = {t: load_spec(t) for t in MATRIX_TARGETS}
    checked = 0
    for field, cells in rows.items():
        for target, expected in zip(MATRIX_TARGETS, cells, strict=True):
            if expected is _SKIP or field == "link-self-contained":
                # rustc's LinkSelfContainedDefault::False has no JSON spelling under this key (rustc
                # rejects `false` there, checked); it is carried by crt-objects-fallback, so we leave
                # it unset rather than invent the matrix's "false".
                continue
            got = specs[target].get(field)
            if isinstance(got, str) and not isinstance(expected, str):
                expected = json.dumps(expected)  # the matrix prints rustc's string "false" bare
            assert canonical(got) == canonical(expected), (field, target)
            checked += 1
    assert checked >= 170


_SKIP = object()


def _parse_matrix(text: str) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("field", "---") or set(cells[0]) <= {"-"}:
            continue
        rows[cells[0].strip("*")] = [_matrix_value(c) for c in cells[1:]]
    return rows


def _matrix_value(cell: str) -> Any:
    match = re.fullmatch(r"·\(default (.*)\)", cell)
    if match:
        cell = match.group(1)
        if cell == "(none)":  # the matrix's spelling of an unset Option
            return None
        cell = cell.split(" (")[0]  # "none (RelroLevel::None)"
    try:
        return json.loads(cell)
    except ValueError:
        return cell  # bare strings: x86_64, x86-64, always...


# --- diff ------------------------------------------------------------------------------------------


def test_diff_illumos_solaris_is_the_notes_table() -> None:
    # notes §1.1 lists exactly these fields as differing between the two x86_64 targets.
    diffs = {
        d.key: d for d in diff_specs(load_spec("x86_64-unknown-illumos"), load_spec("x86_64-pc-solaris"))
    }
    assert set(diffs) == {
        "os",
        "vendor",
        "frame-pointer",
        "stack-probes",
        "late-link-args",
        "pre-link-args",
        "metadata",
    }
    assert diffs["frame-pointer"].right == "may-omit" and diffs["frame-pointer"].right_default
    assert diffs["stack-probes"].left == {"kind": "none"} and diffs["stack-probes"].left_default
    assert "ustack" in diffs["frame-pointer"].explanation
    assert (
        "-lc -lssp" in diffs["late-link-args"].explanation
        and "DT_NEEDED" in diffs["late-link-args"].explanation
    )
    assert "-std=c99" in diffs["pre-link-args"].explanation
    assert "solaris" in diffs["os"].explanation


def test_diff_of_a_target_with_itself_is_empty() -> None:
    spec = load_spec("aarch64-unknown-illumos")
    assert diff_specs(spec, spec) == []


def test_diff_aarch64_illumos_against_x86_64_illumos() -> None:
    # notes §1.1, last paragraph: features +v8a, max-atomic-width 128, no -m64, default PLT, tier 3...
    diffs = {
        d.key for d in diff_specs(load_spec("x86_64-unknown-illumos"), load_spec("aarch64-unknown-illumos"))
    }
    assert {
        "features",
        "max-atomic-width",
        "pre-link-args",
        "plt-by-default",
        "supported-sanitizers",
    } <= diffs
    assert "frame-pointer" not in diffs and "late-link-args" not in diffs and "os" not in diffs


# --- check --policy rfd0161 ------------------------------------------------------------------------


def _by_severity(target: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"error": set(), "warning": set(), "info": set()}
    for f in check_rfd0161(load_spec(target)):
        out[f.severity.name.lower()].add(f.rule)
    return out


def test_upstream_illumos_targets_pass_with_notes_only() -> None:
    for target in ("x86_64-unknown-illumos", "aarch64-unknown-illumos"):
        assert _by_severity(target) == {
            "error": set(),
            "warning": set(),
            "info": {"RFD161-TLS", "RFD161-PANIC"},
        }


def test_solaris_fails_exactly_where_the_notes_say_it_differs() -> None:
    # From the spec table: os=solaris, frame-pointer may-omit, inline probes, no late-link-args, no -std=c99.
    got = _by_severity("x86_64-pc-solaris")
    assert got["error"] == {"RFD161-OS", "RFD161-FP", "RFD161-PROBES", "RFD161-LIBC-LAST"}
    assert got["warning"] == {"RFD161-SSP", "RFD161-XPG6"}


def test_linux_trips_the_linker_rules() -> None:
    # spec-matrix.md: linux-gnu has relro full, eh-frame-header (default) true, linker-is-gnu (default)
    # true, PIE true, crt-static-respected true.
    got = _by_severity("x86_64-unknown-linux-gnu")
    assert {"RFD161-RELRO", "RFD161-EHFRAMEHDR", "RFD161-OS", "RFD161-FP", "RFD161-PROBES"} <= got["error"]
    assert {"RFD161-GNULD", "RFD161-PIE", "RFD161-CRTSTATIC"} <= got["warning"]


# --- CLI -------------------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["target", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_check_formats_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", "x86_64-pc-solaris", "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    levels = sorted(r["level"] for r in sarif["runs"][0]["results"])
    assert levels == ["error"] * 4 + ["note"] * 2 + ["warning"] * 2
    code, out, _ = _run(capsys, "check", "x86_64-unknown-illumos", "--format", "json")
    assert code == 0 and {f["rule"] for f in json.loads(out)["findings"]} == {"RFD161-TLS", "RFD161-PANIC"}
    code, _, _ = _run(capsys, "check", "x86_64-unknown-illumos", "--fail-on", "info")
    assert code == 1


def test_cli_check_points_at_the_line_in_a_spec_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = json.loads(shared_path("notes", "targets", "x86_64-unknown-illumos.json").read_text())
    spec["frame-pointer"] = "may-omit"
    path = tmp_path / "x86_64-fp.json"
    path.write_text(json.dumps(spec, indent=2))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"frame-pointer"' in text)
    code, out, _ = _run(capsys, "check", str(path))
    assert code == 1
    assert f"{path}:{line} (frame-pointer): error[RFD161-FP]" in out


def test_cli_diff_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "diff", "x86_64-unknown-illumos", "x86_64-pc-solaris", "--format", "json")
    assert code == 1
    assert len(json.loads(out)["differences"]) == 7
    code, out, _ = _run(capsys, "diff", "x86_64-pc-solaris", "x86_64-pc-solaris")
    assert code == 0 and "no differences" in out
    code, out, _ = _run(capsys, "show", "x86_64-pc-solaris", "--format", "json")
    fields = json.loads(out)["fields"]
    assert fields["frame-pointer"] == "may-omit" and fields["stack-probes"] == {"kind": "inline"}
    assert "frame-pointer" in json.loads(out)["defaulted"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{bad json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"arch": "x86_64"}', "rustc rejects"),
    ],
)
def test_bad_spec_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    for sub in ("show", "check", "cfg"):
        code, _, err = _run(capsys, sub, str(path))
        assert code == 2, sub
        assert err.count("\n") == 1 and str(path) in err, err
        assert sub == "cfg" or needle in err


def test_unknown_target_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["show", "x86_64-unknown-solaris"], ["diff", "x86_64-pc-solaris", "nope"], ["cfg", "nope"]):
        code, _, err = _run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and "unknown target" in err, argv
    _, _, err = _run(capsys, "show", "x86_64-unknown-solaris")
    assert "x86_64-pc-solaris" in err  # the suggestion


# --- generate --------------------------------------------------------------------------------------


def test_generate_writes_a_spec_rustc_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "x86_64-abort-illumos.json"
    code, out, err = _run(
        capsys,
        "generate",
        "--base",
        "x86_64-unknown-illumos",
        "--set",
        "panic-strategy=abort",
        "--set",
        "frame-pointer=non-leaf",
        "-o",
        str(out_path),
    )
    assert code == 0, err
    assert '+ panic="abort"' in out and '- panic="unwind"' in out
    # Independent check: rustc itself, run here, loads the file and shows the change.
    cfg = subprocess.run(
        ["rustc", "-Z", "unstable-options", "--print", "cfg", "--target", str(out_path)],
        capture_output=True,
        text=True,
        check=True,
        env=_bootstrap_env(),
    ).stdout.splitlines()
    assert 'panic="abort"' in cfg and 'target_os="illumos"' in cfg and 'panic="unwind"' not in cfg
    spec = _rustc_spec_of_file(out_path)
    assert spec["frame-pointer"] == "non-leaf"
    assert list(tmp_path.iterdir()) == [out_path]  # no temp file left over
    # check sees the weaker frame pointers as a warning.
    code, out, _ = _run(capsys, "check", str(out_path))
    assert code == 0 and "warning[RFD161-FP]" in out


def test_generate_refuses_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "x86_64-bad.json"
    base = ["generate", "--base", "x86_64-unknown-illumos", "-o", str(out_path)]
    code, _, err = _run(capsys, *base, "--set", "frame-pointr=always")
    assert code == 2 and "did you mean frame-pointer" in err
    code, _, err = _run(capsys, *base, "--set", "is-like-solaris=false")  # rustc's consistency check
    assert code == 2 and "is_like_solaris" in err and "nothing written" in err
    assert list(tmp_path.iterdir()) == []
    out_path.write_text("{}")
    code, _, err = _run(capsys, *base, "--set", "panic-strategy=abort")
    assert code == 2 and "exists" in err and out_path.read_text() == "{}"
    code, _, _ = _run(capsys, *base, "--set", "panic-strategy=abort", "--force")
    assert code == 0 and json.loads(out_path.read_text())["panic-strategy"] == "abort"


def test_generate_unset_returns_a_field_to_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "x86_64-nofp.json"
    code, _, err = _run(
        capsys,
        "generate",
        "--base",
        "x86_64-unknown-illumos",
        "--unset",
        "frame-pointer",
        "-o",
        str(out_path),
    )
    assert code == 0, err
    assert "frame-pointer" not in _rustc_spec_of_file(out_path)
    code, out, _ = _run(capsys, "check", str(out_path))
    assert code == 1 and "error[RFD161-FP]" in out


def test_cli_policy_names_match_the_policies() -> None:
    from illumos_rust.cli.target import POLICY_NAMES
    from illumos_rust.targetspec.policy import POLICIES

    assert set(POLICY_NAMES) == set(POLICIES)


def test_cli_list_os_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list", "--os", "illumos")
    assert code == 0 and out.split() == ["aarch64-unknown-illumos", "x86_64-unknown-illumos"]
    code, out, _ = _run(capsys, "fields", "--format", "json")
    rows = {r["field"]: r for r in json.loads(out)["fields"]}
    assert rows["frame-pointer"]["default"] == "may-omit"
    assert rows["llvm-target"]["has_default"] is False


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.just(b"[" * 5000) | st.just(b"\xff\xfe{}"))
def test_spec_file_reader_only_raises_our_errors(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    """Whatever the bytes, reading a spec file ends in a dict or a FormatError naming the file."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.json"
    path.write_bytes(data)
    try:
        read_spec_file(str(path))
    except FormatError as exc:
        assert str(exc).startswith(str(path))


def test_all_specs_call_agrees_with_per_target_print() -> None:
    """We read every spec from one --print all-target-specs-json; rustc's per-target print must agree."""
    for target in ("x86_64-unknown-illumos", "x86_64-pc-solaris", "aarch64-unknown-illumos"):
        out = subprocess.run(
            ["rustc", "-Z", "unstable-options", "--print", "target-spec-json", "--target", target],
            capture_output=True,
            text=True,
            check=True,
            env=_bootstrap_env(),
        ).stdout
        assert load_spec(target).raw == json.loads(out), target


def test_each_toolchain_has_its_own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("rustup")
    nightly_cmd = ["rustup", "run", "nightly", "rustc"]
    if subprocess.run([*nightly_cmd, "-V"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no nightly toolchain installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from illumos_rust.targetspec import cfg_set

    stable, nightly = rustc_mod.toolchain(), rustc_mod.toolchain(nightly_cmd)
    assert stable.key != nightly.key and nightly.is_nightly and not stable.is_nightly
    on_nightly = cfg_set("x86_64-unknown-illumos", toolchain=nightly)
    on_stable = cfg_set("x86_64-unknown-illumos", toolchain=stable)
    # notes/targets/README.md: the nightly cfg adds unstable keys; ub_checks is one of them.
    assert on_nightly.has("ub_checks") and not on_stable.has("ub_checks")
    assert sorted(p.name for p in (tmp_path / "illumos-rust").glob("*.json")) == sorted(
        [f"rustc-{tc.key}-v{rustc_mod.CACHE_FORMAT}.json" for tc in (stable, nightly)]
    )


def test_a_damaged_entry_in_the_specs_cache_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One entry of the cached specs that is not a JSON object (bit rot, a hand edit): the section is read
    again from rustc, and the spec is rustc's own (the oracle: rustc's per-target print)."""
    tc = rustc_mod.toolchain()
    load_spec("x86_64-unknown-illumos")  # the real cache holds the specs now
    real = json.loads(rustc_mod.cache_path(tc, "specs").read_text())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    damaged = rustc_mod.cache_path(tc, "specs")
    damaged.parent.mkdir(parents=True)
    real["specs"]["x86_64-unknown-illumos"] = "notadict"
    damaged.write_text(json.dumps(real))
    out = subprocess.run(
        [
            "rustc",
            "-Z",
            "unstable-options",
            "--print",
            "target-spec-json",
            "--target",
            "x86_64-unknown-illumos",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_bootstrap_env(),
    ).stdout
    assert load_spec("x86_64-unknown-illumos").raw == json.loads(out)
    assert isinstance(json.loads(damaged.read_text())["specs"]["x86_64-unknown-illumos"], dict)
