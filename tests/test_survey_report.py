"""``survey report``: the static HTML renders in headless Chromium from ``file://`` with no console error,
and the rendered DOM has the plots and tables (Chromium is the oracle: we parse what it rendered, not
what we wrote)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import build_rust, require_tool
from illumos_rust.survey import Store, build_report, run_survey
from illumos_rust.survey.report import _page_name

REGISTRY = Path("/usr/share/cargo/registry")
CRATES = ("fs2-0.4.3", "users-0.11.0", "adler-1.0.2")
RUST_MAIN = 'fn main() { println!("{}", std::env::args().count()); }\n'


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return require_tool("chromium")


def _render(chromium: str, page: Path, tmp: Path, *extra: str) -> tuple[str, list[str]]:
    """Run headless Chromium on a file:// page; returns (stdout, console messages it logged)."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",  # the tests run as root in a container
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *extra,
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def test_console_capture_sees_errors(tmp_path: Path) -> None:
    """The harness itself: a page with a script error must show up, or 'no console errors' proves nothing."""
    chromium = _chromium()
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>noSuchFunction();</script></body></html>")
    _, console = _render(chromium, page, tmp_path, "--dump-dom")
    assert any("noSuchFunction" in line for line in console), console


def test_report_renders_with_plots_and_tables(tmp_path: Path) -> None:
    chromium = _chromium()
    crates = [REGISTRY / c for c in CRATES if (REGISTRY / c / "Cargo.toml").is_file()]
    if len(crates) < 3:
        pytest.skip(f"Debian crate sources missing under {REGISTRY} (make sysdeps installs them)")
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(c) for c in crates], store)  # 3 items: analysed in this process
    bins = tmp_path / "bins"
    bins.mkdir()
    shutil.copy(build_rust(RUST_MAIN, "svrep", "-C", "force-frame-pointers=yes"), bins / "withfp")
    shutil.copy(build_rust(RUST_MAIN, "svrepnofp", "-C", "force-frame-pointers=no", "-O"), bins / "nofp")
    run_survey("binary", [str(bins)], store)
    out = tmp_path / "report"
    info = build_report(store, str(out))
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert info["bytes"] == total and total < 5_000_000
    index = out / "index.html"

    shot = tmp_path / "index.png"
    _, console = _render(chromium, index, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400")
    assert console == []
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few hundred bytes
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom, console = _render(chromium, index, tmp_path, "--dump-dom")
    assert console == []
    plots = re.findall(r"<figure class=\"plot\" data-plot=\"([^\"]+)\"><svg", dom)
    assert plots == ["readiness", "gaps by kind", "blocking reverse dependencies", "frame-pointer coverage"]
    for cls in ("crates", "binaries"):
        table = re.search(rf"<table class=\"{cls}\">.*?</table>", dom, re.S)
        assert table, cls
        assert table.group(0).count("<tr>") == (3 if cls == "crates" else 2) + 1  # header + one per item
    # every linked item page exists; fs2's carries its proposed patch
    links = re.findall(r'href="(items/[^"]+)"', dom)
    assert len(links) == 5 and all((out / link).is_file() for link in links)
    fs2 = next(link for link in links if "fs2" in dom.split(link, 1)[1][:40])
    page_dom, console = _render(chromium, out / fs2, tmp_path, "--dump-dom")
    assert console == []
    assert "Proposed patch" in page_dom and "+++ " in page_dom and "port/solaris-only" in page_dom
    assert os.path.getsize(out / fs2) < 200_000

    # the binary without frame pointers: its page names functions as rustfilt (the oracle) demangles them,
    # and says when the store kept only the first findings of a rule
    rustfilt = require_tool("rustfilt")
    with Store(store) as st:
        nofp = next(it for it in st.items("binary") if it.path.endswith("/nofp"))
    text = (out / "items" / _page_name(nofp)).read_text()
    mangled = [
        f["location"]["symbol"]
        for f in nofp.result["findings"]
        if str(f["location"].get("symbol", "")).startswith(("_ZN", "_R"))
    ]
    assert mangled, "no Rust symbol among the findings"
    shown = subprocess.run([rustfilt], input="\n".join(mangled), capture_output=True, text=True, check=True)
    for sym, name in zip(mangled, shown.stdout.splitlines(), strict=True):
        assert html.escape(name) in text and sym not in text, (sym, name)
    total = int(nofp.result["rules"].get("fp-missing", 0))
    kept = sum(f["rule"] == "fp-missing" for f in nofp.result["findings"])
    assert (f"fp-missing: {kept:,} of {total:,}" in text) == (total > kept)


def test_reverse_dependencies_follow_version_requirements(tmp_path: Path) -> None:
    """Two versions of one package: each is credited only with the crates whose requirement admits it
    (Cargo's caret rule: "0.8" is >=0.8.0, <0.9.0; "0.6.5" is >=0.6.5, <0.7.0), transitively. Expected by
    hand: a-0.8.1 <- b (requires "0.8") <- d (requires b "1"); a-0.6.9 <- c (requires "0.6.5"); e's "=0.8.0"
    admits neither."""
    from illumos_rust.survey.report import reverse_dependents

    corpus = tmp_path / "corpus"
    deps = {
        ("a", "0.8.1"): "",
        ("a", "0.6.9"): "",
        ("b", "1.2.0"): 'a = "0.8"\n',
        ("c", "0.1.0"): '[dependencies.a]\nversion = "0.6.5"\n',
        ("d", "0.1.0"): 'b = { version = "1" }\n',
        ("e", "0.1.0"): 'a = "=0.8.0"\n',
    }
    for (name, version), table in deps.items():
        root = corpus / f"{name}-{version}"
        (root / "src").mkdir(parents=True)
        (root / "src" / "lib.rs").write_text("pub fn f() {}\n")
        (root / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "{version}"\n\n[dependencies]\n{table}'
        )
    store = str(tmp_path / "s.db")
    summary = run_survey("crate", [str(corpus)], store, workers=1)
    assert (summary.found, summary.failed) == (6, 0)
    with Store(store) as st:
        rdeps = reverse_dependents([it for it in st.items("crate") if it.status == "ok"])
    assert rdeps.get("a-0.8.1") == {"b-1.2.0", "d-0.1.0"}
    assert rdeps.get("a-0.6.9") == {"c-0.1.0"}
    assert rdeps.get("b-1.2.0") == {"d-0.1.0"}


def test_two_copies_of_a_crate_are_two_bars_and_two_rows(tmp_path: Path) -> None:
    """matplotlib draws equal category labels as one bar: two copies of fs2 (a vendored one beside the
    registry's) were one bar in the gaps ranking, and two rows the reader could not tell apart."""
    fs2 = REGISTRY / "fs2-0.4.3"
    if not (fs2 / "Cargo.toml").is_file():
        pytest.skip(f"{fs2} missing (make sysdeps installs it)")
    copies = [tmp_path / "one" / fs2.name, tmp_path / "two" / fs2.name]
    for c in copies:
        shutil.copytree(fs2, c, symlinks=True)
    (copies[1] / "src" / "lib.rs").write_text((copies[1] / "src" / "lib.rs").read_text() + "\n// vendored\n")
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(c) for c in copies], store)
    out = tmp_path / "report"
    build_report(store, str(out))
    index = (out / "index.html").read_text()
    figure = re.search(r"data-plot='blocking reverse dependencies'>(.*?)</figure>", index, re.S)
    assert figure is not None
    assert figure.group(1).count(">fs2-0.4.3<") == 2  # two tick labels, one per bar
    table = re.search(r"<table class='crates'>.*?</table>", index, re.S)
    assert table is not None and all(html.escape(str(c)) in table.group(0) for c in copies)
