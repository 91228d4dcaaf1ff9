"""``survey``: the Dask fan-out finds what ``port``/``audit`` find item by item, keeps results by content
hash, records bad items as failed, and answers the common questions.

Oracles: ``run_port`` on each crate alone (the issue's definition of "the same findings as port run crate by
crate"), ``audit`` on each binary alone, readelf for the RUNPATH a binary was linked with, and tar/CSV/JSON
parsers from the standard library for the outputs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from conftest import build_rust, require_tool
from illumos_rust.audit import audit
from illumos_rust.port import run_port
from illumos_rust.survey import Store, ask, run_survey
from illumos_rust.survey.query import render
from illumos_rust.survey.tasks import FAULT_ENV

REGISTRY = Path("/usr/share/cargo/registry")
# Debian packages in the Makefile's DEB_PKGS: crates with known Solaris-only gaps, and one without OS code.
SAMPLE = ("fs2-0.4.3", "users-0.11.0", "stacker-0.1.9", "term_size-0.3.1", "adler-1.0.2")


def _sample() -> list[Path]:
    found = [REGISTRY / name for name in SAMPLE if (REGISTRY / name / "Cargo.toml").is_file()]
    if len(found) < 4:
        pytest.skip(f"Debian crate sources missing under {REGISTRY} (make sysdeps installs them)")
    return found


def _norm(findings: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f["rule"], str(f["location"].get("path")), str(f["location"].get("line")), f["message"])
        for f in findings
    )


def _crate_archive(src: Path, out: Path) -> Path:
    """A .crate as cargo packages it: a gzipped tar whose one top directory is NAME-VERSION."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    return out


@pytest.fixture(scope="module")
def crate_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One local-cluster run (2 workers) over the sample, a copied crate, a .crate archive, a corrupt
    archive and a crate whose analysis gets an injected fault; shared by the tests below (a cluster
    start costs seconds)."""
    crates = _sample()
    tmp = tmp_path_factory.mktemp("survey")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for c in crates:
        os.symlink(c, corpus / c.name)
    shutil.copytree(crates[0], corpus / "faulty-0.1.0", symlinks=True)
    with open(corpus / "faulty-0.1.0" / "src" / "lib.rs", "a") as fh:
        fh.write("\n// a copy: other content, so another store key than the original\n")
    (corpus / "broken-1.0.0.crate").write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream at all")
    archive = _crate_archive(crates[1], tmp / f"{crates[1].name}.crate")
    store = str(tmp / "survey.db")
    old = os.environ.get(FAULT_ENV)
    os.environ[FAULT_ENV] = "faulty-0.1.0"  # the LocalCluster's worker processes inherit it
    try:
        summary = run_survey("crate", [str(corpus), str(archive)], store, workers=2)
    finally:
        if old is None:
            del os.environ[FAULT_ENV]
        else:
            os.environ[FAULT_ENV] = old
    return {"crates": crates, "corpus": corpus, "archive": archive, "store": store, "summary": summary}


def test_same_findings_as_port_crate_by_crate(crate_run: dict[str, Any]) -> None:
    with Store(crate_run["store"]) as store:
        by_path = {it.path: it for it in store.items("crate")}
    for c in crate_run["crates"]:
        item = by_path[str((crate_run["corpus"] / c.name).resolve())]
        assert item.status == "ok", item.reason
        expected = run_port([str(c)], jobs=1)
        assert _norm(item.result["findings"]) == _norm([f.to_dict() for f in expected.findings]), c.name
        assert item.result["patch"] == expected.diff()
    # the gap the Makefile's comment promises is really there (fs2 uses Solaris-only libc items)
    fs2 = by_path[str((crate_run["corpus"] / "fs2-0.4.3").resolve())]
    assert any(f["rule"] == "port/solaris-only" for f in fs2.result["findings"])


def test_crate_archive_analysed_like_its_directory(crate_run: dict[str, Any]) -> None:
    with Store(crate_run["store"]) as store:
        by_path = {it.path: it for it in store.items("crate")}
    item = by_path[str(crate_run["archive"].resolve())]
    assert item.status == "ok", item.reason
    assert item.name == crate_run["crates"][1].name  # name-version from the unpacked Cargo.toml
    expected = run_port([str(crate_run["crates"][1])], jobs=1)
    assert _norm(item.result["findings"]) == _norm([f.to_dict() for f in expected.findings])


def test_bad_items_recorded_as_failed_and_survey_finishes(crate_run: dict[str, Any]) -> None:
    s = crate_run["summary"]
    assert s.found == len(crate_run["crates"]) + 3
    assert s.analysed == s.found and s.failed == 2
    reasons = dict(s.failures)
    broken = str((crate_run["corpus"] / "broken-1.0.0.crate").resolve())
    faulty = str((crate_run["corpus"] / "faulty-0.1.0").resolve())
    assert set(reasons) == {broken, faulty}
    assert "injected fault" in reasons[faulty]
    assert "gzip" in reasons[broken].lower() or "tar" in reasons[broken].lower()
    _, rows = ask(crate_run["store"], "failed")
    assert {r["path"] for r in rows} == {broken, faulty}


def test_rerun_analyses_only_what_changed(crate_run: dict[str, Any], tmp_path: Path) -> None:
    store = str(tmp_path / "copy.db")
    shutil.copy(crate_run["store"], store)
    again = run_survey("crate", [str(crate_run["corpus"]), str(crate_run["archive"])], store, workers=1)
    # the crate whose analysis had a fault injected is tried again, and now succeeds; the corrupt archive
    # failed because of its bytes: not tried again; everything else is unchanged
    found = crate_run["summary"].found
    assert (again.analysed, again.reused, again.failed) == (1, found - 1, 0)
    # touch: same bytes, new times -> unchanged; an edit -> exactly that crate again
    faulty = crate_run["corpus"] / "faulty-0.1.0"
    lib = faulty / "src" / "lib.rs"
    os.utime(lib)
    touched = run_survey("crate", [str(crate_run["corpus"])], store)
    assert (touched.analysed, touched.failed) == (0, 0)
    lib.write_text(lib.read_text() + "\n// edited\n")
    third = run_survey("crate", [str(crate_run["corpus"])], store)
    assert (third.analysed, third.failed) == (1, 0)


def test_query_formats(crate_run: dict[str, Any]) -> None:
    q, rows = ask(crate_run["store"], "solaris-only")
    names = {r["crate"] for r in rows}
    assert "fs2-0.4.3" in names and "adler-1.0.2" not in names
    parsed = list(csv.DictReader(io.StringIO(render(q, rows, "csv"))))
    assert [r["crate"] for r in parsed] == [r["crate"] for r in rows]
    assert json.loads(render(q, rows, "json"))["rows"] == rows
    assert render(q, rows, "text").splitlines()[0].split() == list(q.columns)


def test_gap_questions_count_what_port_classes_as_gaps(tmp_path: Path) -> None:
    """``gaps`` and ``solaris-only`` count the findings port classes gap, probable gap or refusal (and raw
    syscalls), never the deliberate ones (class info). termios-0.3.3 handles illumos beside each of its
    four Solaris sites (port's README: "deliberate: the cfg at line N handles illumos"), so it has Solaris
    findings and no gap; fs2-0.4.3 has an illumos-only gap at src/unix.rs, which a count of the
    solaris-only rule alone missed. Expected: port's own findings on each crate, read by class."""
    names = ("termios-0.3.3", "fs2-0.4.3", "stacker-0.1.9")
    crates = [REGISTRY / n for n in names]
    if not all((c / "Cargo.toml").is_file() for c in crates):
        pytest.skip(f"Debian crate sources {names} missing under {REGISTRY} (make sysdeps installs them)")
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(c) for c in crates], store)
    expected: dict[str, dict[str, int]] = {}
    for c in crates:
        counts: dict[str, int] = {}
        for f in run_port([str(c)], jobs=1).findings:
            cls = f.properties.get("class")
            if cls in ("gap", "probable gap", "refusal") or f.rule in (
                "port/raw-syscall",
                "port/ioctl-constant",
            ):
                counts[f.rule] = counts.get(f.rule, 0) + 1
        expected[c.name] = counts
    termios_rules = {f.rule for f in run_port([str(crates[0])], jobs=1).findings}
    assert "port/solaris-only" in termios_rules and expected["termios-0.3.3"] == {}  # the premise holds
    assert expected["fs2-0.4.3"].get("port/illumos-only", 0) >= 1

    _, rows = ask(store, "gaps")
    got = {
        r["crate"]: {f"port/{k}": v for k, v in r.items() if k not in ("crate", "path", "refused") and v}
        for r in rows
    }
    assert got == {n: e for n, e in expected.items() if e}
    _, rows = ask(store, "solaris-only")
    assert {r["crate"]: r["solaris_only"] for r in rows} == {
        n: e["port/solaris-only"] for n, e in expected.items() if e.get("port/solaris-only")
    }
    assert "termios-0.3.3" not in {r["crate"] for r in rows}


RUST_MAIN = 'fn main() { println!("{}", std::env::args().count()); }\n'


def test_binaries_match_audit_and_queries(tmp_path: Path) -> None:
    readelf = require_tool("readelf")
    tree = tmp_path / "bins"
    tree.mkdir()
    plain = build_rust(RUST_MAIN, "svplain", "-C", "force-frame-pointers=no", "-C", "opt-level=2")
    optlocal = build_rust(RUST_MAIN, "svoptlocal", "-C", "link-arg=-Wl,-rpath,/opt/local/lib")
    shutil.copy(plain, tree / "plain")
    shutil.copy(optlocal, tree / "optlocal")
    # a RUNPATH that only begins like /opt/local: not pkgsrc's prefix
    lookalike = build_rust(RUST_MAIN, "svlookalike", "-C", "link-arg=-Wl,-rpath,/opt/localtools/lib")
    shutil.copy(lookalike, tree / "lookalike")
    data = plain.read_bytes()
    (tree / "truncated").write_bytes(data[:200])  # an ELF header whose tables point past the end
    dyn = subprocess.run([readelf, "-d", str(tree / "optlocal")], capture_output=True, text=True).stdout
    assert "/opt/local/lib" in dyn  # the oracle: the linker really recorded it
    dyn = subprocess.run([readelf, "-d", str(tree / "lookalike")], capture_output=True, text=True).stdout
    assert "/opt/localtools/lib" in dyn
    store = str(tmp_path / "b.db")
    summary = run_survey("binary", [str(tree)], store)
    assert (summary.found, summary.failed) == (4, 1)
    with Store(store) as st:
        items = {Path(it.path).name: it for it in st.items("binary")}
    assert items["truncated"].status == "failed" and "FormatError" in items["truncated"].reason
    for name in ("plain", "optlocal"):
        expected = audit(tree / name)
        assert items[name].result["rules"] == {
            r: sum(f.rule == r for f in expected.findings) for r in {f.rule for f in expected.findings}
        }
    _, rows = ask(store, "opt-local")
    assert [Path(r["binary"]).name for r in rows] == ["optlocal"]
    _, rows = ask(store, "no-frame-pointers")
    assert "plain" in {Path(r["binary"]).name for r in rows}


def test_packages_are_surveyed_member_by_member(tmp_path: Path) -> None:
    """A repository of packages: a .deb built by dpkg-deb and a pkgsrc-style .tgz, each holding the two
    Rust programs and a text file, give one binary per ELF member, named PACKAGE!/path, with audit's
    findings on the same file; the members found are the ELF files ``dpkg-deb -x`` (the oracle) extracts;
    a damaged package is one failed item, not tried again."""
    dpkg_deb = require_tool("dpkg-deb")
    plain = build_rust(RUST_MAIN, "svplain", "-C", "force-frame-pointers=no", "-C", "opt-level=2")
    optlocal = build_rust(RUST_MAIN, "svoptlocal", "-C", "link-arg=-Wl,-rpath,/opt/local/lib")
    root = tmp_path / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: svtest\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: t\n"
    )
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copy(plain, root / "usr" / "bin" / "plain")
    shutil.copy(optlocal, root / "usr" / "bin" / "optlocal")
    (root / "usr" / "bin" / "README").write_text("not a binary\n")
    os.link(root / "usr" / "bin" / "plain", root / "usr" / "bin" / "plain-again")  # tar: a LNKTYPE member
    (root / "usr" / "bin" / "broken").write_bytes(plain.read_bytes()[:3000])  # an ELF header, tables cut off
    repo = tmp_path / "repo"
    repo.mkdir()
    deb = repo / "svtest_1.0_amd64.deb"
    subprocess.run(
        [dpkg_deb, "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    zst = repo / "svtest_1.0_zst.deb"  # Ubuntu's compression since 21.10: data.tar.zst
    subprocess.run(
        [dpkg_deb, "--root-owner-group", "-Zzstd", "--build", str(root), str(zst)],
        check=True,
        capture_output=True,
    )
    with tarfile.open(repo / "svtest-1.0.tgz", "w:gz") as tar:
        tar.add(root / "usr", arcname="usr")
    (repo / "damaged_1.0_amd64.deb").write_bytes(deb.read_bytes()[:3000])
    extracted = tmp_path / "x"
    subprocess.run([dpkg_deb, "-x", str(deb), str(extracted)], check=True)
    oracle = sorted(
        str(p.relative_to(extracted))
        for p in extracted.rglob("*")
        if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
    )
    assert oracle == ["usr/bin/broken", "usr/bin/optlocal", "usr/bin/plain", "usr/bin/plain-again"]

    store = str(tmp_path / "p.db")
    summary = run_survey("binary", [str(repo)], store)
    # the damaged package, and the broken file in each of the three readable ones
    assert (summary.found, summary.failed) == (4, 4)
    _, failed = ask(store, "failed")
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in failed) == ["broken"] * 3 + ["damaged_1.0_amd64.deb"]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in summary.failures) == sorted(
        r["path"].rsplit("/", 1)[-1] for r in failed
    )
    for pkg in (deb, zst, repo / "svtest-1.0.tgz"):
        with Store(store) as st:
            item = next(it for it in st.items("binary") if it.path == str(pkg))
        members = {m["member"]: m for m in item.result["members"]}
        assert sorted(members) == oracle, pkg.name
        for name, original in (("plain", plain), ("plain-again", plain), ("optlocal", optlocal)):
            expected = audit(original)
            got = members[f"usr/bin/{name}"]
            assert got["status"] == "ok", got["reason"]
            assert got["result"]["rules"] == {
                r: sum(f.rule == r for f in expected.findings) for r in {f.rule for f in expected.findings}
            }
    _, rows = ask(store, "opt-local")
    assert sorted(r["binary"] for r in rows) == sorted(
        f"{p}!/usr/bin/optlocal" for p in (deb, zst, repo / "svtest-1.0.tgz")
    )
    again = run_survey("binary", [str(repo)], store)
    # nothing analysed again (the failures come from the bytes), and all four still stand
    assert (again.analysed, again.reused, again.standing) == (0, 4, 4)


def test_a_new_libc_in_the_registry_reanalyses_crates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """port resolves a crate's libc to the lowest version its requirement admits among the libc sources it
    finds; a new one (here libc 0.2.100 under $CARGO_HOME/registry/src) changes port's answer for fs2
    without a byte of fs2 changing. The survey must analyse fs2 again and give port's new findings (the
    oracle: run_port under the same environment); it used to answer "unchanged" with the old ones."""
    crate = REGISTRY / "fs2-0.4.3"
    libcs = sorted(REGISTRY.glob("libc-0.2.*"))
    if not (crate / "Cargo.toml").is_file() or not libcs:
        pytest.skip(f"fs2-0.4.3 or libc sources missing under {REGISTRY} (make sysdeps installs them)")
    home = tmp_path / "cargo"
    monkeypatch.setenv("CARGO_HOME", str(home))
    store = str(tmp_path / "s.db")
    first = run_survey("crate", [str(crate)], store)
    assert (first.analysed, first.failed) == (1, 0)
    assert run_survey("crate", [str(crate)], store).analysed == 0  # nothing changed: nothing analysed

    older = home / "registry" / "src" / "index.example" / "libc-0.2.100"
    shutil.copytree(libcs[-1], older, symlinks=True)
    manifest = older / "Cargo.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace(f'version = "{libcs[-1].name[5:]}"', 'version = "0.2.100"', 1))
    expected = run_port([str(crate)], jobs=1)
    assert any("libc 0.2.100" in (f.fix or "") for f in expected.findings)  # the premise: port's answer moved
    again = run_survey("crate", [str(crate)], store)
    assert (again.analysed, again.failed) == (1, 0) and again.tool != first.tool
    with Store(store) as st:
        (item,) = list(st.items("crate"))
    assert _norm(item.result["findings"]) == _norm([f.to_dict() for f in expected.findings])
    fixes = sorted(
        (f["rule"], str(f["location"].get("line")), str(f.get("fix"))) for f in item.result["findings"]
    )
    assert fixes == sorted((f.rule, str(f.location.line), str(f.fix)) for f in expected.findings)

    # an edit deep in that libc (not src/lib.rs): illumos now declares an item; again analysed, again port's
    illumos_rs = older / "src" / "unix" / "solarish" / "illumos.rs"
    illumos_rs.write_text(illumos_rs.read_text() + "\npub const SURVEY_TEST_EDIT: ::c_int = 1;\n")
    edited = run_survey("crate", [str(crate)], store)
    assert (edited.analysed, edited.failed) == (1, 0) and edited.tool != again.tool


def test_the_same_bytes_as_two_kinds_of_package_are_two_analyses(tmp_path: Path) -> None:
    """A package is read as its name says; one file's bytes named .deb and .tgz are two readings (a
    Debian reading fails: no ar header; a tar reading succeeds), so neither may answer for the other."""
    with tarfile.open(tmp_path / "p.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("usr/share/doc/x")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    shutil.copy(tmp_path / "p.tgz", tmp_path / "p.deb")
    store = str(tmp_path / "s.db")
    run_survey("binary", [str(tmp_path / "p.tgz"), str(tmp_path / "p.deb")], store)
    with Store(store) as st:
        items = {Path(it.path).name: it for it in st.items("binary")}
    assert items["p.tgz"].status == "ok" and items["p.tgz"].result["members"] == []
    assert items["p.deb"].status == "failed" and "BadPackage" in items["p.deb"].reason


def test_a_package_whose_file_failed_by_chance_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ELF file in a package whose analysis failed for another reason than its bytes (an injected
    exception here; memory or a killed worker in life) is retried on the next run, as the same file
    outside a package is; the run that met it exits as failed."""
    with tarfile.open(tmp_path / "p.tgz", "w:gz") as tar:
        tar.add("/bin/true", arcname="usr/bin/true")
    store = str(tmp_path / "s.db")
    monkeypatch.setenv(FAULT_ENV, "illumos-rust-package-")  # the path each member is analysed at
    first = run_survey("binary", [str(tmp_path / "p.tgz")], store)
    assert first.failed == 1 and "injected fault" in first.failures[0][1]
    monkeypatch.delenv(FAULT_ENV)
    second = run_survey("binary", [str(tmp_path / "p.tgz")], store)
    assert (second.analysed, second.failed, second.standing) == (1, 0, 0)
