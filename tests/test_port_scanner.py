"""Scanner on hand-annotated fixtures, hostile input, and the gap-shaped fixture crate end to end (findings,
libc-aware patch decisions, ``patch -p1``, rustc parse check). Line numbers are counted by hand in the
fixture files (``cat -n``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, require_tool
from illumos_rust.cli.main import main as cli_main
from illumos_rust.port import cfgexpr, engine, scanner, workspace
from illumos_rust.port.analysis import Context, CrateResult, analyze_crate

DATA = REPO / "tests" / "data" / "port"
DEBIAN = Path("/usr/share/cargo/registry")


class PortJson(TypedDict):
    """What ``port --format json`` prints (the part these tests read: JSON findings), plus the exit code."""

    findings: list[dict[str, Any]]
    exit: int


def _sites(path: Path) -> list[scanner.Site]:
    return scanner.scan_rust(str(path), path.read_text()).sites


def test_sites_skip_comments_strings_and_chars() -> None:
    sites = _sites(DATA / "lexing" / "sites.rs")
    got = [(s.line, s.kind) for s in sites]
    assert got == [
        (11, "cfg"),
        (14, "cfg"),
        (20, "cfg_attr"),
        (24, "cfg!"),
        (24, "cfg!"),
        (28, "cfg_if"),
        (30, "cfg_if"),
        (33, "cfg_if-else"),
        (31, "cfg"),
        (38, "macro-arg"),
        (45, "cfg"),
    ]
    by_line = {(s.line, s.kind): s for s in sites}
    assert by_line[(14, "cfg")].expr == cfgexpr.parse('any(target_os = "linux", target_os = "solaris")')
    assert by_line[(20, "cfg_attr")].expr == cfgexpr.parse('target_os = "solaris"')
    assert by_line[(38, "macro-arg")].expr == cfgexpr.parse('target_os = "solaris"')
    templ = by_line[(45, "cfg")]
    assert templ.expr is None and templ.macro


def test_cfg_if_effective_predicates() -> None:
    sites = {(s.line, s.kind): s for s in _sites(DATA / "lexing" / "sites.rs")}
    # cfg-if 1.0: branch k is all(M_k, not(any(M_1..M_k-1))), else is not(any(all M)).
    second = sites[(30, "cfg_if")].effective
    other = sites[(33, "cfg_if-else")].effective
    assert second == cfgexpr.All(
        (
            cfgexpr.parse('any(target_os = "solaris", target_os = "illumos")'),
            cfgexpr.Not(cfgexpr.AnyOf((cfgexpr.parse('target_os = "linux"'),))),
        )
    )
    assert other == cfgexpr.Not(
        cfgexpr.AnyOf(
            (
                cfgexpr.parse('target_os = "linux"'),
                cfgexpr.parse('any(target_os = "solaris", target_os = "illumos")'),
            )
        )
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00cfg", "binary file"),
        (b'#[cfg(unix)] fn f() { let s = "\xff\xfe"; }', "not UTF-8"),
        (b'#[cfg(unix)]\nfn f() { let s = "never closed; }\n', "unterminated string"),
        (b"#[cfg(unix)]\nfn f() { /* never closed \n", "unterminated block comment"),
        (b"#[cfg(any(unix, windows)]\nfn f() {}\n", "mismatched"),
        (b"fn f() { cfg!(" + b"(" * 100_000 + b"\n", "nested deeper"),
        (b"#[cfg(" + b"any(" * 5000 + b"unix" + b")" * 5000 + b")] fn f() {}", "nested deeper"),
    ],
)
def test_bad_input_is_a_finding_not_a_crash(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "bad.rs").write_bytes(content)
    _root, crates = workspace.discover([str(tmp_path)])
    res = analyze_crate(crates[0], engine.make_context())
    notes = [f for f in res.findings if f.rule == "port/not-parsed"]
    assert notes, res.findings
    assert any(reason in f.message for f in notes), [f.message for f in notes]
    assert all(f.location.path == "bad.rs" for f in notes)


def test_manifest_and_build_script_sites() -> None:
    gap = DATA / "gapcrate"
    fs = scanner.scan_manifest(str(gap / "Cargo.toml"), (gap / "Cargo.toml").read_text())
    assert [(s.line, cfgexpr.to_str(s.expr)) for s in fs.sites if s.expr] == [
        (9, 'target_os = "solaris"'),
        (12, 'any(target_os = "linux", target_os = "solaris")'),
    ]
    tests, err = scanner.scan_build_script(str(gap / "build.rs"), (gap / "build.rs").read_text())
    assert err is None
    assert [(t.line, t.value) for t in tests] == [(3, "solaris"), (7, "solaris")]


# ---------------------------------------------------------------------------------------------- gap crate


def _libc_dirs() -> list[str]:
    if not any(DEBIAN.glob("libc-0.2.*")):
        pytest.skip("Debian librust-libc-dev not installed (the libc check reads its source)")
    return [str(DEBIAN)]


def _port(*argv: str) -> PortJson:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(["port", *argv, "--format", "json"])
    data: PortJson = json.loads(buf.getvalue())
    data["exit"] = code
    return data


def test_gap_crate_findings_and_patch(tmp_path: Path) -> None:
    _libc_dirs()
    work = tmp_path / "gapcrate"
    shutil.copytree(DATA / "gapcrate", work)
    diff = tmp_path / "port.diff"
    data = _port(str(work), "--patch", str(diff), "--libc-dir", str(DEBIAN))
    findings = data["findings"]
    assert isinstance(findings, list)
    got = {(f["rule"], f["location"]["path"], f["location"].get("line")): f for f in findings}
    # positive solaris lists, the not(solaris) sibling, the cfg_if branch, Cargo tables, build.rs
    for key in [
        ("port/solaris-only", "src/lib.rs", 3),
        ("port/illumos-only", "src/lib.rs", 8),
        ("port/solaris-only", "src/lib.rs", 13),
        ("port/solaris-only", "src/lib.rs", 23),
        ("port/solaris-only", "src/lib.rs", 42),
        ("port/ioctl-constant", "src/lib.rs", 43),
        ("port/raw-syscall", "src/lib.rs", 47),
        ("port/unknown-cfg-value", "src/lib.rs", 50),
        ("port/solaris-only", "Cargo.toml", 9),
        ("port/solaris-only", "Cargo.toml", 12),
        ("port/build-script", "build.rs", 3),
        ("port/build-script", "build.rs", 7),
    ]:
        assert key in got, (key, sorted(got))
    assert all(got[k]["severity"] == "warning" for k in got if k[0] == "port/solaris-only")
    assert got[("port/raw-syscall", "src/lib.rs", 47)]["severity"] == "error"
    assert "fuchsia" in got[("port/unknown-cfg-value", "src/lib.rs", 50)]["message"]
    # pthread_getattr_np is Solaris-only in libc 0.2.139, and the freebsd sibling needs pthread_attr_get_np
    stack = got[("port/solaris-only", "src/lib.rs", 23)]
    assert stack["properties"]["patch"] == "refused"
    assert "pthread_getattr_np" in stack["fix"] and "pthread_attr_get_np" in stack["fix"]
    assert got[("port/solaris-only", "src/lib.rs", 45)]["properties"]["patch"] == "refused"  # raw syscall
    assert data["exit"] == 1  # the raw syscall is an error

    # apply the patch to a pristine copy with patch(1), as a user would
    require_tool("patch")
    fresh = tmp_path / "fresh"
    shutil.copytree(DATA / "gapcrate", fresh)
    subprocess.run(["patch", "-p1", "-s", "-i", str(diff)], cwd=fresh, check=True)
    lib = (fresh / "src" / "lib.rs").read_text().splitlines()
    assert lib[2] == '#[cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))]'
    assert lib[7] == '#[cfg(not(any(target_os = "solaris", target_os = "illumos")))]'
    assert lib[12] == '#[cfg(any(target_os = "solaris", target_os = "illumos"))]'
    assert lib[22] == '    if #[cfg(any(target_os = "linux", target_os = "solaris"))] {'  # refused: unchanged
    assert lib[44] == '#[cfg(target_os = "solaris")]'  # raw syscall: unchanged
    manifest = tomllib.loads((fresh / "Cargo.toml").read_text())
    assert set(manifest["target"]) == {
        'cfg(any(target_os = "solaris", target_os = "illumos"))',
        'cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))',
    }
    build = (fresh / "build.rs").read_text()
    assert 'if target.contains("solaris") || target.contains("illumos") {' in build
    assert '"solaris" | "illumos" =>' in build
    _rustc_parses(fresh / "src" / "lib.rs")
    _rustc_parses(fresh / "build.rs")


def _rustc_parses(path: Path, edition: str = "2021") -> None:
    """rustc's own parser (no type checking, no module loading) accepts the file."""
    require_tool("rustc")
    proc = subprocess.run(
        ["rustc", "-Zparse-crate-root-only", "--edition", edition, "--crate-type", "lib", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "RUSTC_BOOTSTRAP": "1"},
        cwd=path.parent,
    )
    assert proc.returncode == 0, proc.stderr


def test_sarif_output_lists_rules(tmp_path: Path) -> None:
    import contextlib
    import io

    shutil.copytree(DATA / "gapcrate", tmp_path / "g")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cli_main(["port", str(tmp_path / "g"), "--format", "sarif", "--libc-dir", str(tmp_path)])
    sarif = json.loads(buf.getvalue())
    run = sarif["runs"][0]
    ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"port/solaris-only", "port/raw-syscall"} <= ids
    lines = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]
    }
    assert ("port/solaris-only", 3) in lines


def test_cargo_workspace_mode(tmp_path: Path) -> None:
    """`cargo illumos port` inserts --cargo; with a path dependency cargo metadata needs no network."""
    require_tool("cargo")
    ws = tmp_path / "ws"
    (ws / "app" / "src").mkdir(parents=True)
    (ws / "app" / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\ngapcrate = { path = "../gapcrate" }\n'
    )
    (ws / "app" / "src" / "main.rs").write_text('#[cfg(target_os = "solaris")]\nfn main() {}\n')
    shutil.copytree(DATA / "gapcrate", ws / "gapcrate")
    (ws / "gapcrate" / "Cargo.toml").write_text(
        '[package]\nname = "gapcrate"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    from illumos_rust.cli.cargo import main as cargo_main

    old = os.getcwd()
    os.chdir(ws / "app")
    try:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = cargo_main(
                ["illumos", "port", "--format", "json", "--patch", str(tmp_path / "ws.diff"), "--apply"]
            )
    finally:
        os.chdir(old)
    data = json.loads(buf.getvalue())
    paths = {(f["location"]["path"], f["location"].get("line")) for f in data["findings"]}
    assert ("src/main.rs", 1) in paths  # the workspace member
    assert ("gapcrate/src/lib.rs", 3) in paths  # its dependency, outside the workspace root
    assert code == 1
    # the diff covers both, --apply edits only the workspace member
    diff = (tmp_path / "ws.diff").read_text()
    assert "+++ b/src/main.rs" in diff and "+++ b/gapcrate/src/lib.rs" in diff
    assert 'target_os = "illumos"' in (ws / "app" / "src" / "main.rs").read_text()
    assert (ws / "gapcrate" / "src" / "lib.rs").read_text() == (
        DATA / "gapcrate" / "src" / "lib.rs"
    ).read_text()


def test_apply_edits_in_place(tmp_path: Path) -> None:
    """--apply writes the same result as the patch, keeps the file mode, and a second run finds no gap."""
    _libc_dirs()
    work = tmp_path / "g"
    shutil.copytree(DATA / "gapcrate", work)
    lib = work / "src" / "lib.rs"
    lib.chmod(0o640)
    first = _port(str(work), "--apply", "--libc-dir", str(DEBIAN))
    assert (lib.stat().st_mode & 0o777) == 0o640
    assert '#[cfg(any(target_os = "linux", target_os = "solaris", target_os = "illumos"))]' in lib.read_text()
    _rustc_parses(lib)
    again = _port(str(work), "--libc-dir", str(DEBIAN))
    before = {_loc(f) for f in first["findings"] if f["rule"] == "port/solaris-only"}
    after = {_loc(f) for f in again["findings"] if f["rule"] == "port/solaris-only"}
    # what is left is exactly what was refused: the pthread_getattr_np branch and the raw syscall
    assert after == {("src/lib.rs", 23), ("src/lib.rs", 45)}
    assert before > after


def _loc(f: dict[str, Any]) -> tuple[object, object]:
    return (f["location"]["path"], f["location"].get("line"))


def test_solaris_only_libc_item_moves_illumos_to_the_linux_branch(tmp_path: Path) -> None:
    """door_create is Solaris-only in libc 0.2.139, eventfd is declared for illumos: the patch must put
    illumos in the Linux branch, not next to solaris."""
    _libc_dirs()
    work = tmp_path / "s"
    shutil.copytree(DATA / "siblingcrate", work)
    diff = tmp_path / "s.diff"
    data = _port(str(work), "--patch", str(diff), "--libc-dir", str(DEBIAN))
    (f,) = [f for f in data["findings"] if f["rule"] == "port/solaris-only"]
    assert f["properties"]["patch"] == "alternative"
    assert "door_create" in f["fix"]
    # the Linux branch is also reported on its own: eventfd is in the shared-API table (illumos, not Solaris)
    (hint,) = [h for h in data["findings"] if h["rule"] == "port/shared-api"]
    assert (hint["location"]["path"], hint["location"]["line"]) == ("src/lib.rs", 8)
    assert "eventfd" in hint["message"] and hint["properties"]["patch"] == "proposed"
    subprocess.run(["patch", "-p1", "-s", "-i", str(diff)], cwd=work, check=True)
    lines = (work / "src" / "lib.rs").read_text().splitlines()
    assert lines[3] == '    if #[cfg(target_os = "solaris")] {'
    assert lines[7] == (
        '    } else if #[cfg(any(target_os = "linux", target_os = "android", target_os = "illumos"))] {'
    )
    _rustc_parses(work / "src" / "lib.rs")


_FUZZ_PIECES = st.sampled_from(
    [
        "#[cfg(",
        "#![cfg(",
        "#[cfg_attr(",
        "cfg!(",
        "cfg_if::cfg_if! {",
        "if #[cfg(",
        "else",
        "mod_use!(",
        "cfg(",
        "any(",
        "all(",
        "not(",
        'target_os = "solaris"',
        "unix",
        ",",
        ")",
        "]",
        "{",
        "}",
        "(",
        "[",
        '"',
        "'",
        "'a",
        "'\\''",
        'r#"',
        '"#',
        "//",
        "/*",
        "*/",
        "\n",
        " ",
        "$meta",
        "\\",
        "fn f() ",
        ";",
    ]
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")), deadline=None)
@given(st.lists(_FUZZ_PIECES, max_size=60).map("".join))
def test_fuzz_scanner_never_raises(text: str) -> None:
    """Any token soup is either scanned or reported with a reason; sites always point inside the file."""
    fs = scanner.scan_rust("fuzz.rs", text)
    assert fs.error is None or fs.error_line is not None or "nesting" in fs.error
    lines = text.count("\n") + 1
    for site in fs.sites:
        assert 1 <= site.line <= lines
        if site.error is None and site.kind != "cfg_if-else":
            assert site.expr is not None  # a site is either evaluated or carries its reason


def test_apply_keeps_vendor_checksums_valid(tmp_path: Path) -> None:
    """`cargo vendor` records a sha256 per file; --apply must update it or cargo rejects the crate."""
    import hashlib

    vendor = tmp_path / "vendor"
    shutil.copytree(DATA / "gapcrate", vendor / "gapcrate")
    crate = vendor / "gapcrate"
    files = {
        p.relative_to(crate).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in crate.rglob("*")
        if p.is_file()
    }
    (crate / ".cargo-checksum.json").write_text(json.dumps({"files": files, "package": "0" * 64}))
    _port(str(vendor), "--apply", "--libc-dir", str(tmp_path))
    recorded = json.loads((crate / ".cargo-checksum.json").read_text())["files"]
    for rel in ("src/lib.rs", "Cargo.toml", "build.rs"):
        assert recorded[rel] == hashlib.sha256((crate / rel).read_bytes()).hexdigest(), rel
    assert recorded["src/lib.rs"] != files["src/lib.rs"]  # it was patched


def test_site_diverging_both_ways_is_patched_once(tmp_path: Path) -> None:
    # solaris-only when feature a is on, illumos-only when feature b is on: two findings, one edit
    (tmp_path / "src").mkdir()
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "both"\nversion = "0.1.0"\n')
    (tmp_path / "src" / "lib.rs").write_text(
        '#[cfg(any(all(target_os = "solaris", feature = "a"), '
        'all(not(target_os = "solaris"), feature = "b")))]\n'
        "pub fn f() {}\n"
    )
    data = _port(str(tmp_path), "--apply")
    rules = sorted(f["rule"] for f in data["findings"])
    assert rules == ["port/illumos-only", "port/solaris-only"]
    assert (tmp_path / "src" / "lib.rs").read_text().splitlines()[0] == (
        '#[cfg(any(all(any(target_os = "solaris", target_os = "illumos"), feature = "a"), '
        'all(not(any(target_os = "solaris", target_os = "illumos")), feature = "b")))]'
    )


_CTX: list[Context] = []


@settings(max_examples=max(1, int(os.environ.get("FUZZ_EXAMPLES", "500")) // 10), deadline=None)
@given(st.lists(_FUZZ_PIECES, max_size=60).map("".join))
def test_fuzz_analysis_never_raises(text: str) -> None:
    """The whole per-crate pipeline (scan, classify, candidate edits) on token soup: findings, no crash."""
    import tempfile

    if not _CTX:
        _CTX.append(engine.make_context())
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "lib.rs").write_text(text)
        _root, crates = workspace.discover([d])
        res = analyze_crate(crates[0], _CTX[0])
    for f in res.findings:
        assert f.location.path == "lib.rs"


def test_a_bug_in_one_crate_does_not_stop_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    _root, crates = workspace.discover([str(DATA / "gapcrate"), str(DATA / "siblingcrate")])
    real = analyze_crate  # the function engine imports from analysis, patched below

    def flaky(crate: workspace.Crate, ctx: Context) -> CrateResult:
        if crate.root.endswith("siblingcrate"):
            raise KeyError("boom")
        return real(crate, ctx)

    monkeypatch.setattr(engine, "analyze_crate", flaky)
    results = engine.scan(crates, engine.make_context(), jobs=1)
    by_root = {os.path.basename(r.crate.root): r for r in results}
    (err,) = by_root["siblingcrate"].findings
    assert err.rule == "port/not-parsed" and "internal error" in err.message and "KeyError" in err.message
    assert any(f.rule == "port/solaris-only" for f in by_root["gapcrate"].findings)


def test_library_api_matches_the_command() -> None:
    """`illumos_rust.port.run_port` is what the CLI renders: same findings, same diff."""
    from illumos_rust.port import run_port

    _libc_dirs()
    report = run_port([str(DATA / "siblingcrate")], jobs=1)
    data = _port(str(DATA / "siblingcrate"), "--jobs", "1")
    assert [f.rule for f in report.findings] == [f["rule"] for f in data["findings"]]
    assert report.summary()["cfg_sites"] == 3  # the two cfg_if conditions and the else branch
    assert (
        '+    } else if #[cfg(any(target_os = "linux", target_os = "android", target_os = "illumos"))] {'
        in (report.diff().splitlines())
    )


def test_manifest_cfg_keys_outside_table_headers(tmp_path: Path) -> None:
    # a dotted key under [target] is as valid to cargo as a [target.'cfg(..)'.dependencies] header
    text = (
        '[package]\nname = "x"\nversion = "0.1.0"\n\n'
        '[target]\n\'cfg(target_os = "solaris")\'.dependencies.libc = "0.2"\n'
    )
    assert tomllib.loads(text)["target"]  # cargo's own reading: the key exists
    fs = scanner.scan_manifest("Cargo.toml", text)
    assert [(s.line, s.expr) for s in fs.sites] == [(6, cfgexpr.parse('target_os = "solaris"'))]
    (tmp_path / "Cargo.toml").write_text(text)
    data = _port(str(tmp_path), "--patch", str(tmp_path / "d.diff"))
    (f,) = [f for f in data["findings"] if f["rule"] == "port/solaris-only"]
    assert f["properties"]["patch"] == "refused"
    assert (tmp_path / "d.diff").read_text() == ""


def test_dangling_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.rs").write_text('#[cfg(target_os = "solaris")]\nfn f() {}\n')
    (tmp_path / "gone.rs").symlink_to(tmp_path / "nowhere.rs")
    data = _port(str(tmp_path))
    got = {(f["rule"], f["location"]["path"]) for f in data["findings"]}
    assert ("port/not-parsed", "gone.rs") in got
    assert ("port/solaris-only", "ok.rs") in got


def test_broken_manifest_is_reported_and_sources_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package\nname = "x"\n')
    (tmp_path / "lib.rs").write_text('#[cfg(target_os = "solaris")]\nfn f() {}\n')
    data = _port(str(tmp_path))
    got = {(f["rule"], f["location"]["path"]): f for f in data["findings"]}
    assert "not valid TOML" in got[("port/not-parsed", "Cargo.toml")]["message"]
    assert ("port/solaris-only", "lib.rs") in got
