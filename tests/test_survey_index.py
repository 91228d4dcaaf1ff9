"""``survey``'s change index and content digest, and ``make corpus``'s package selection.

The rerun bar (a second run after touching one crate costs a small fraction of the first) rests on the
stat index: each crate's directories and input files are remembered and stat'ed directly next time. These
tests check it notices every kind of change that alters what ``port`` reads (an edit in place, a new file,
a removed file) and ignores what does not (a ``touch``, a README, test data). Oracles: a digest computed
here with hashlib from an ``os.walk`` written in the test, and hand-written expectations. Everything runs
in-process on copies of a few crates (no cluster: three or fewer changed items are analysed inline).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from illumos_rust.survey import Store, run_survey
from illumos_rust.survey.sources import Source, content_digest, stat_signature
from illumos_rust.survey.tasks import FAULT_ENV

REGISTRY = Path("/usr/share/cargo/registry")
CRATES = ("adler-1.0.2", "term_size-0.3.1", "fs2-0.4.3")
ROOT = Path(__file__).resolve().parent.parent


def _copies(tmp: Path) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name in CRATES:
        if not (REGISTRY / name / "Cargo.toml").is_file():
            pytest.skip(f"{REGISTRY / name} missing (make sysdeps installs the Debian crate sources)")
        shutil.copytree(REGISTRY / name, corpus / name, symlinks=True)
    return corpus


def _oracle_digest(root: Path) -> str:
    """The documented digest: sha256 over (relative path NUL size NUL bytes) of every *.rs and Cargo.toml
    (no symlinks, no dot-directories, none of port's skipped directories), sorted by relative path."""
    skip = {"target", ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv"}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip and not d.startswith(".")]
        for f in filenames:
            full = Path(dirpath) / f
            if (f.endswith(".rs") or f == "Cargo.toml") and not full.is_symlink():
                found.append(full.relative_to(root).as_posix())
    h = hashlib.sha256()
    for rel in sorted(found):
        data = (root / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def test_digest_covers_port_inputs_only(tmp_path: Path) -> None:
    corpus = _copies(tmp_path)
    crate = corpus / "fs2-0.4.3"
    (crate / "target").mkdir()
    (crate / "target" / "junk.rs").write_text("fn skipped() {}\n")  # build output: port skips it
    src = Source("crate", str(crate), "tree")
    content_digest(src)
    assert src.digest == _oracle_digest(crate)
    before = src.digest
    (crate / "README.md").write_text("not read by port\n")
    (crate / "data.bin").write_bytes(b"\0" * 4096)
    content_digest(src)
    assert src.digest == before
    (crate / "src" / "extra.rs").write_text("// new module\n")
    content_digest(src)
    assert src.digest != before and src.digest == _oracle_digest(crate)


def test_signature_from_layout_equals_walk(tmp_path: Path) -> None:
    """The remembered layout gives the same signature as a fresh walk while nothing changed, and a
    different one after each kind of change."""
    crate = _copies(tmp_path) / "term_size-0.3.1"
    walked = Source("crate", str(crate), "tree")
    stat_signature(walked)
    quick = Source("crate", str(crate), "tree")
    stat_signature(quick, walked.layout)
    assert (quick.signature, quick.size) == (walked.signature, walked.size)
    assert walked.size == sum(
        (Path(d) / f).stat().st_size
        for d, _, fs in os.walk(crate)
        for f in fs
        if f.endswith(".rs") or f == "Cargo.toml"
    )
    lib = crate / "src" / "lib.rs"
    for change in (
        lambda: lib.write_text(lib.read_text() + "\n// edited\n"),  # in place: size and mtime
        lambda: (crate / "src" / "new.rs").write_text(""),  # a new file: the directory's mtime
        lambda: (crate / "src" / "new.rs").unlink(),  # a removed file: the stat fails
    ):
        change()
        again = Source("crate", str(crate), "tree")
        stat_signature(again, walked.layout)
        assert again.signature != walked.signature
        stat_signature(walked)  # what the runner does next: walk again, remember the new layout


def test_rerun_notices_changes_to_port_inputs_only(tmp_path: Path) -> None:
    corpus = _copies(tmp_path)
    store = str(tmp_path / "s.db")
    first = run_survey("crate", [str(corpus)], store)
    assert (first.found, first.analysed, first.failed) == (3, 3, 0)

    def again() -> tuple[int, int]:
        s = run_survey("crate", [str(corpus)], store)
        return s.analysed, s.reused

    fs2 = corpus / "fs2-0.4.3"
    assert again() == (0, 3)
    os.utime(fs2 / "src" / "lib.rs")  # touch: new mtime, same bytes
    assert again() == (0, 3)
    (fs2 / "NOTES.txt").write_text("port never reads this\n")  # new directory mtime, same inputs
    assert again() == (0, 3)
    (fs2 / "src" / "extra.rs").write_text("// a new input\n")
    assert again() == (1, 2)
    (fs2 / "src" / "extra.rs").unlink()  # back to the content analysed first: stored already
    assert again() == (0, 3)
    with Store(store) as st:
        fingerprints = st.fingerprints()
    assert set(fingerprints) == {str(corpus / n) for n in CRATES}
    assert all(layout.count("\0\0") == 1 for _sig, _digest, layout in fingerprints.values())


def test_store_written_before_layouts_opens(tmp_path: Path) -> None:
    """A store from before the layout column: opened, migrated, and its fingerprints still used."""
    corpus = _copies(tmp_path)
    store = tmp_path / "old.db"
    run_survey("crate", [str(corpus)], str(store))
    with sqlite3.connect(store) as con:
        con.execute("ALTER TABLE fingerprints DROP COLUMN layout")
    s = run_survey("crate", [str(corpus)], str(store))
    assert (s.analysed, s.reused) == (0, 3)
    with sqlite3.connect(store) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(fingerprints)")]
    assert columns == ["path", "signature", "digest", "layout"]


FAKE_APT_GET = """#!/bin/sh
# simulate: librust-deep-dev breaks without apt naming it; librust-named-dev is named as unmet
for a in "$@"; do
  case "$a" in
    librust-deep-dev)
      echo "The following packages have unmet dependencies:"
      echo " librust-inner+x-dev : Depends: librust-gone-dev but it is not installable"
      echo "E: Unable to correct problems, you have held broken packages."
      exit 100;;
    librust-named-dev)
      echo "The following packages have unmet dependencies:"
      echo " librust-named-dev:amd64 : Breaks: librust-a-dev (< 2) but 1.0 is to be installed"
      echo "                           Depends: librust-gone-dev but it is not installable"
      echo "E: Unable to correct problems, you have held broken packages."
      exit 100;;
  esac
done
echo "NOTE: This is only a simulation!"
exit 0
"""


def test_corpus_script_drops_unsatisfiable_packages(tmp_path: Path) -> None:
    """scripts/corpus.sh against a fake apt: +feature packages are not candidates, a package apt names
    in its unmet-dependency block is dropped directly, one it does not name is found by bisection."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    names = ["librust-a-dev", "librust-a+std-dev", "librust-b-dev", "librust-deep-dev", "librust-named-dev"]
    names += ["librust-c-dev", "librust-d-dev", "librust-e-dev", "librust-e+serde-dev"]
    scripts = {
        "apt-get": FAKE_APT_GET,
        "apt-cache": "#!/bin/sh\nprintf '%s\\n' " + " ".join(names) + "\n",
        "dpkg-query": "#!/bin/sh\necho 'librust-a-dev installed'\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    out_list = tmp_path / "list.txt"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CORPUS_DRY_RUN": "1",
        "CORPUS_LIST": str(out_list),
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "corpus.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "7 librust-*-dev packages in the archive" in proc.stdout
    assert "5 install together, 2 dropped" in proc.stdout
    expected = ["librust-a-dev", "librust-b-dev", "librust-c-dev", "librust-d-dev", "librust-e-dev"]
    assert out_list.read_text().split() == expected
    assert "4 of them are not installed yet" in proc.stdout  # librust-a-dev is


def test_linked_crates_resolve_like_realpath(tmp_path: Path) -> None:
    """A directory of links (a vendor tree, a registry view): each item's path is os.path.realpath's."""
    real = _copies(tmp_path)
    (tmp_path / "hop").symlink_to(real)  # a link in the target's parent: must be resolved too
    view = tmp_path / "view"
    view.mkdir()
    (view / "a").symlink_to(real / "adler-1.0.2")  # absolute
    (view / "b").symlink_to(Path("..") / "corpus" / "term_size-0.3.1")  # relative, with ..
    (view / "c").symlink_to(tmp_path / "hop" / "fs2-0.4.3")  # through a linked directory
    (view / "d").symlink_to(view / "a")  # a link to a link
    (view / "e").symlink_to("c")  # relative, same directory
    (view / "f").symlink_to(str(real / "adler-1.0.2") + "/")  # a trailing slash
    (view / "g").symlink_to(str(real) + "//fs2-0.4.3")  # a doubled slash
    (view / "h").symlink_to(real / "gone-0.1.0")  # dangling: not an item
    (real / "late").symlink_to(real / "fs2-0.4.3")  # a link the target directory itself holds
    (view / "i").symlink_to(real / "late")
    from illumos_rust.survey.sources import crate_sources

    got = [s.path for s in crate_sources([str(view)])]
    assert got == [os.path.realpath(view / n) for n in "abcdefgi"]


def _oracle_dependencies(manifest: Path) -> list[str]:
    """The whole manifest through tomllib: normal, build and target-specific dependency package names."""
    import tomllib

    data = tomllib.loads(manifest.read_text())
    tables = [data.get("dependencies"), data.get("build-dependencies")]
    for t in data.get("target", {}).values():
        tables += [t.get("dependencies"), t.get("build-dependencies")]
    return sorted(
        {
            spec.get("package", key) if isinstance(spec, dict) else key
            for table in tables
            if table
            for key, spec in table.items()
        }
    )


def test_dependency_edges_match_a_full_parse(tmp_path: Path) -> None:
    """The section-extract parse gives what a full tomllib parse gives: every manifest of the Debian
    registry, plus hand-written ones that must take the full-parse way (dotted keys, an inline table,
    a quoted header, an array of tables, the word in a string)."""
    from illumos_rust.survey.tasks import dependencies

    manifests = sorted(REGISTRY.glob("*/Cargo.toml"))
    if len(manifests) < 30:  # `make sysdeps` alone installs ~40; `make corpus` over 1,000
        pytest.skip(f"Debian crate sources missing under {REGISTRY} (make sysdeps, make corpus)")
    odd = {
        "dotted": '[package]\nname = "a"\n[target."cfg(unix)"]\ndependencies.libc = "0.2"\n',
        "inline": '[package]\nname = "a"\ndependencies = { serde = "1" }\n',
        "quoted": '[package]\nname = "a"\n["dependencies".foo]\nversion = "1"\n'
        "['build-dependencies']\ncc = \"1\"\n",
        "renamed": '[dependencies.x]\npackage = "real-x"\nversion = "1"\n'
        "[target.'cfg(windows)'.build-dependencies]\nw = \"1\"\n",
        "string": '[package]\ndescription = """\n[dependencies]\nnot = "a table"\n"""\n'
        '[dependencies]\ny = "1"\n',
        "arrays": '[[bin]]\nname = "b"\n[dependencies]\nz = "1"\n[[example]]\nname = "e"\n',
        "dev-only": '[dev-dependencies]\nt = "1"\n[features]\ndefault = ["dep:t"]\n',
    }
    for name, text in odd.items():
        (tmp_path / f"{name}.toml").write_text(text)
    manifests += sorted(tmp_path.glob("*.toml"))
    mismatched = [m for m in manifests if dependencies(str(m)) != _oracle_dependencies(m)]
    assert mismatched == []
    assert dependencies(str(tmp_path / "renamed.toml")) == ["real-x", "w"]
    assert dependencies(str(tmp_path / "string.toml")) == ["y"]


def test_split_stat_of_many_crates_sees_an_edit_on_either_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough crates for the rerun's stat phase to be split with a forked child (MIN_SPLIT_ITEMS): the
    split gives exactly the serial numbers, and an edit is noticed in the parent's part and in the
    child's."""
    from illumos_rust import forked
    from illumos_rust.survey.sources import MIN_SPLIT_ITEMS, stat_listed, stat_listed_many

    corpus = tmp_path / "corpus"
    n = MIN_SPLIT_ITEMS + 40
    names = [f"c{i:03d}-0.1.0" for i in range(n)]
    for name in names:
        (corpus / name / "src" / "sys").mkdir(parents=True)
        (corpus / name / "Cargo.toml").write_text(f'[package]\nname = "{name[:4]}"\nversion = "0.1.0"\n')
        (corpus / name / "src" / "lib.rs").write_text("mod sys;\npub fn f() -> u32 { 1 }\n")
        (corpus / name / "src" / "sys" / "mod.rs").write_text('#[cfg(target_os = "linux")]\npub fn g() {}\n')
    store = str(tmp_path / "s.db")
    first = run_survey("crate", [str(corpus)], store, workers=1, dashboard=False)
    assert (first.found, first.analysed, first.failed) == (n, n, 0)
    with Store(store) as st:
        remembered = st.fingerprints()
    items = [(str(corpus / name), "tree", remembered[str(corpus / name)][2]) for name in names]
    serial = [stat_listed(*item) for item in items]
    assert all(x is not None for x in serial)
    splits: list[int] = []
    real_split = forked.run_split

    def counted(*args: Any) -> Any:
        splits.append(1)
        return real_split(*args)

    monkeypatch.setattr(forked, "run_split", counted)
    assert stat_listed_many(items) == serial
    assert len(splits) == (1 if forked.can_split() else 0)
    for where in (names[0], names[-1]):  # the parent stats the first part, the child the rest
        with open(corpus / where / "src" / "sys" / "mod.rs", "a", encoding="utf-8") as fh:
            fh.write("// edited in place: no directory changes\n")
        again = run_survey("crate", [str(corpus)], store)
        assert (again.analysed, again.reused) == (1, n - 1), where
    # every crate touched (new times, same bytes): many stale signatures, so a cluster hashes them; all known
    for name in names:
        os.utime(corpus / name / "src" / "lib.rs")
    touched = run_survey("crate", [str(corpus)], store, workers=1, dashboard=False)
    assert (touched.analysed, touched.reused, touched.failed) == (0, n, 0)


def _crate(root: Path, name: str, lib: str) -> Path:
    (root / name / "src").mkdir(parents=True)
    package = name.split("-")[0].encode("ascii", "ignore").decode() or "odd"  # a name that is not UTF-8: "w"
    (root / name / "Cargo.toml").write_text(f'[package]\nname = "{package}"\nversion = "0.1.0"\n')
    (root / name / "src" / "lib.rs").write_text(lib)
    return root / name


GAP = '#[cfg(target_os = "solaris")]\npub fn only_solaris() {}\n'  # port: a solaris-only gap
PLAIN = "pub fn f() -> u32 { 1 }\n"


def _solaris_only(store: str) -> set[str]:
    with Store(store) as st:
        return {it.path for it in st.items("crate") if it.result.get("rules", {}).get("port/solaris-only")}


def _port_rules(crate: Path) -> set[str]:
    """The oracle: port itself, on the crate alone."""
    from illumos_rust.port import run_port

    return {f.rule for f in run_port([str(crate)], jobs=1).findings}


def test_an_edit_whose_mtime_is_put_back_is_seen(tmp_path: Path) -> None:
    """Same size, same inode, the old mtime restored (touch -r, cp -p, rsync -t): the ctime still moves."""
    corpus = tmp_path / "corpus"
    crate = _crate(corpus, "a-0.1.0", PLAIN)
    _crate(corpus, "b-0.1.0", PLAIN)
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    lib = crate / "src" / "lib.rs"
    before = lib.stat()
    new = "//" + "x" * (len(PLAIN) - 3) + "\n"  # same length as the old text, other bytes
    assert len(new) == len(PLAIN)
    lib.write_text(new)
    os.utime(lib, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (lib.stat().st_size, lib.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    again = run_survey("crate", [str(corpus)], store)
    assert (again.analysed, again.reused) == (1, 1)


def test_linked_and_unreadable_inputs_count_as_port_reads_them(tmp_path: Path) -> None:
    """port reads a *.rs through a link and reports a dangling link or a FIFO as not parsed: the change
    index and the digest must see what port sees (a change of a linked file's target included)."""
    corpus = tmp_path / "corpus"
    linked = _crate(corpus, "linked-0.1.0", "mod extra;\n" + PLAIN)
    odd = _crate(corpus, "odd-0.1.0", PLAIN)
    target = tmp_path / "shared.rs"
    target.write_text(PLAIN)
    (linked / "src" / "extra.rs").symlink_to(target)
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    assert _solaris_only(store) == set()
    target.write_text(GAP)  # only the link's target changes: nothing in the crate's own directory
    again = run_survey("crate", [str(corpus)], store)
    assert (again.analysed, again.reused) == (1, 1)
    assert "port/solaris-only" in _port_rules(linked)
    assert _solaris_only(store) == {str(linked)}
    (odd / "src" / "gone.rs").symlink_to(tmp_path / "nowhere.rs")
    os.mkfifo(odd / "src" / "pipe.rs")  # never opened for reading: a read would block
    again = run_survey("crate", [str(corpus)], store)
    assert (again.analysed, again.reused) == (1, 1)
    with Store(store) as st:
        rules = {it.path: set(it.result.get("rules", {})) for it in st.items("crate")}
    assert rules[str(odd)] == _port_rules(odd) and "port/not-parsed" in rules[str(odd)]


def test_queries_show_the_corpus_as_it_is_now(tmp_path: Path) -> None:
    """A crate put back to content analysed earlier shows that earlier analysis; a removed crate is gone;
    identical items at two paths are two items. The oracle: a fresh store over the corpus as it is."""
    from illumos_rust.survey.query import ask

    corpus = tmp_path / "corpus"
    a = _crate(corpus, "a-0.1.0", GAP)
    b = _crate(corpus, "b-0.1.0", PLAIN)
    c = _crate(corpus, "c-0.1.0", PLAIN)
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    (a / "src" / "lib.rs").write_text(PLAIN)  # the gap fixed...
    run_survey("crate", [str(corpus)], store)
    assert _solaris_only(store) == set()
    (a / "src" / "lib.rs").write_text(GAP)  # ...and put back: content the store analysed first
    shutil.rmtree(c)
    again = run_survey("crate", [str(corpus)], store)
    assert again.analysed == 0  # both contents are stored already
    fresh = str(tmp_path / "fresh.db")
    run_survey("crate", [str(corpus)], fresh)
    assert _solaris_only(store) == _solaris_only(fresh) == {str(a)}
    with Store(store) as st:
        assert [it.path for it in st.items("crate")] == [str(a), str(b)]  # c is gone
    # ten identical corrupt archives: ten failed items (one analysis), in the query as in the run
    archives = tmp_path / "archives"
    archives.mkdir()
    for i in range(3):
        (archives / f"bad{i}-0.1.0.crate").write_bytes(b"not a gzip stream")
    summary = run_survey("crate", [str(archives)], store)
    assert summary.failed == 3
    _q, rows = ask(store, "failed")
    assert sorted(r["path"] for r in rows) == sorted(str(archives / f"bad{i}-0.1.0.crate") for i in range(3))
    assert _solaris_only(store) == {str(a)}  # the other source's view is kept


def _unprivileged() -> list[str]:
    """A prefix that runs a command without root's permission override (as root: setpriv drops the DAC
    capabilities), so that a mode of 000 really denies."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be denied (util-linux)")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def test_unreadable_crates_and_files_are_reported_not_lost(tmp_path: Path) -> None:
    """A crate directory that cannot be searched is a failed item with the reason (it used to vanish from
    the survey); an unreadable file inside a crate is what port makes of it: not parsed, the rest analysed.
    The oracle for the second: `port` itself under the same permissions."""
    import json
    import sys

    corpus = tmp_path / "corpus"
    _crate(corpus, "fine-0.1.0", GAP)
    locked_dir = _crate(corpus, "lockeddir-0.1.0", PLAIN)
    locked_file = _crate(corpus, "lockedfile-0.1.0", "mod extra;\n" + GAP)
    (locked_file / "src" / "extra.rs").write_text(PLAIN)
    cli = [*_unprivileged(), sys.executable, "-m", "illumos_rust.cli.main"]
    os.chmod(locked_file / "src" / "extra.rs", 0)
    os.chmod(locked_dir, 0)
    try:
        proc = subprocess.run(
            [*cli, "survey", "crates", str(corpus), "--store", str(tmp_path / "s.db"), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        port = subprocess.run(
            [*cli, "port", str(locked_file), "--format", "json"], capture_output=True, text=True, timeout=300
        )
    finally:
        os.chmod(locked_dir, 0o755)
        os.chmod(locked_file / "src" / "extra.rs", 0o644)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1 and summary["found"] == 3, proc.stderr
    assert [(f["path"], "Permission denied" in f["reason"]) for f in summary["failures"]] == [
        (str(locked_dir), True)
    ]
    with Store(str(tmp_path / "s.db")) as st:
        by_path = {it.path: it for it in st.items("crate")}
    got = by_path[str(locked_file)]
    expected = {f["rule"] for f in json.loads(port.stdout)["findings"]}
    assert got.status == "ok" and set(got.result["rules"]) == expected
    assert {"port/not-parsed", "port/solaris-only"} <= expected


def test_a_crate_reached_twice_is_one_item(tmp_path: Path) -> None:
    """Named twice, and two links to one crate in a registry view: one item each (equal Dask task keys
    for two one-item chunks used to end the run with a KeyError)."""
    store_dir = tmp_path / "store"
    crates = [_crate(store_dir, f"k{i}-0.1.0", PLAIN if i % 2 else GAP) for i in range(5)]
    view = tmp_path / "view"
    view.mkdir()
    for c in crates:
        (view / c.name).symlink_to(c)
    (view / "again").symlink_to(view / crates[0].name)  # a link to a link to k0
    store = str(tmp_path / "s.db")
    first = run_survey(
        "crate", [str(crates[0]), str(crates[0]), str(view)], store, workers=1, dashboard=False
    )
    assert (first.found, first.analysed, first.failed) == (5, 5, 0)
    again = run_survey("crate", [str(view), str(view)], store)
    assert (again.found, again.analysed, again.reused) == (5, 0, 5)
    assert _solaris_only(store) == {str(crates[0]), str(crates[2]), str(crates[4])}


def test_names_that_are_not_utf8_are_stored_and_queried(tmp_path: Path) -> None:
    """A file and a crate directory whose names are not UTF-8: analysed as port analyses them, stored,
    found unchanged on the rerun, and printed by the query (one such name used to stop the survey)."""
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    plain = _crate(corpus, "plain-0.1.0", "mod odd;\n" + PLAIN)
    with open(os.fsencode(plain / "src") + b"/odd\xff.rs", "wb") as fh:
        fh.write(GAP.encode())
    (plain / "src" / "odd.rs").write_text(GAP)
    weird = corpus / os.fsdecode(b"w\xfe-0.1.0")
    _crate(corpus, weird.name, GAP)
    store = str(tmp_path / "s.db")
    first = run_survey("crate", [str(corpus)], store)
    assert (first.found, first.analysed, first.failed) == (2, 2, 0)
    again = run_survey("crate", [str(corpus)], store)
    assert (again.analysed, again.reused) == (0, 2)
    assert _solaris_only(store) == {str(plain), str(weird)}
    with Store(store) as st:
        rules = {it.path: set(it.result.get("rules", {})) for it in st.items("crate")}
    assert rules[str(plain)] == _port_rules(plain)
    cli = [sys.executable, "-m", "illumos_rust.cli.main", "survey", "query", "solaris-only", "--store", store]
    for fmt in ("text", "json", "csv"):
        proc = subprocess.run([*cli, "--format", fmt], capture_output=True, timeout=120)
        assert proc.returncode == 0 and proc.stderr == b"", (fmt, proc.stderr)
        # text and CSV: the name's own bytes, as ls prints them; JSON: the escaped surrogate
        named = os.fsencode(weird) in proc.stdout or b"w\\udcfe" in proc.stdout
        assert b"plain-0.1.0" in proc.stdout and named, (fmt, proc.stdout)
    # the report: written, the name's byte shown as an escape; a copy with the same bytes is its own page
    shutil.copytree(plain, corpus / "copy-0.1.0", symlinks=True)
    run_survey("crate", [str(corpus)], store)
    from illumos_rust.survey.report import build

    out = build(store, str(tmp_path / "rep"))
    pages = sorted((tmp_path / "rep" / "items").iterdir())
    assert out["pages"] == 4 and len(pages) == 3
    assert any("w\\xfe-0.1.0" in p.read_text() for p in pages)


def test_a_failure_from_the_environment_is_retried(tmp_path: Path) -> None:
    """No rustc on the first run: a failed item; rustc back: the next run analyses it (a failure is not
    kept as the crate's result for good)."""
    import json
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    _crate(corpus, "a-0.1.0", GAP)
    cli = [sys.executable, "-m", "illumos_rust.cli.main", "survey", "crates", str(corpus)]
    cli += ["--store", str(tmp_path / "s.db"), "--format", "json"]
    env = {**os.environ, "RUSTC": str(tmp_path / "no-rustc")}
    broken = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert broken.returncode == 1 and json.loads(broken.stdout)["failed"] == 1, broken.stderr
    fixed = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    summary = json.loads(fixed.stdout)
    assert fixed.returncode == 0 and (summary["analysed"], summary["failed"]) == (1, 0), fixed.stderr
    assert _solaris_only(str(tmp_path / "s.db")) == {str(corpus / "a-0.1.0")}


def test_views_take_any_name_and_follow_the_sources(tmp_path: Path) -> None:
    """Names with a tab or a newline; a registry emptied; a crate surveyed alone, then its registry, then
    removed from the registry: the items are the corpus as it is (the oracle: the directory listing)."""
    corpus = tmp_path / "corpus"
    odd = [_crate(corpus, name, GAP) for name in ("tab\there-0.1.0", "new\nline-0.1.0", "plain-0.1.0")]
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus / "plain-0.1.0")], store)  # alone first: a view of its own
    run_survey("crate", [str(corpus)], store)
    with Store(store) as st:
        assert sorted(it.path for it in st.items("crate")) == sorted(str(c) for c in odd)
    shutil.rmtree(corpus / "plain-0.1.0")  # its own source is gone, its registry is surveyed again
    run_survey("crate", [str(corpus)], store)
    with Store(store) as st:
        assert sorted(it.path for it in st.items("crate")) == sorted(str(c) for c in odd[:2])
    for c in odd[:2]:
        shutil.rmtree(c)
    emptied = run_survey("crate", [str(corpus)], store)
    assert emptied.found == 0
    with Store(store) as st:
        assert list(st.items("crate")) == []


def test_a_store_from_before_views_keeps_its_items(tmp_path: Path) -> None:
    """A store written before views were kept (no views table): its items stay what they were, also those
    of a source the new code has not surveyed again."""
    one, two = tmp_path / "one", tmp_path / "two"
    a, b = _crate(one, "a-0.1.0", GAP), _crate(two, "b-0.1.0", GAP)
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(one)], store)
    run_survey("crate", [str(two)], store)
    with sqlite3.connect(store) as db:  # what the earlier code left: items and fingerprints, no views
        db.execute("DROP TABLE views")
    assert _solaris_only(store) == {str(a), str(b)}
    run_survey("crate", [str(one)], store)
    assert _solaris_only(store) == {str(a), str(b)}


def test_an_item_that_ends_its_process_fails_alone_without_a_cluster(tmp_path: Path) -> None:
    """Analysed in this process (too few to start a cluster), a crate whose analysis ends its process is a
    failed item and the survey finishes; once the fault is gone, the next run analyses it."""
    import json
    import sys

    corpus = tmp_path / "corpus"
    _crate(corpus, "boom-0.1.0", GAP)
    _crate(corpus, "fine-0.1.0", PLAIN)
    cli = [sys.executable, "-m", "illumos_rust.cli.main", "survey", "crates", str(corpus)]
    cli += ["--store", str(tmp_path / "s.db"), "--format", "json"]
    env = {**os.environ, "ILLUMOS_RUST_SURVEY_FAULT": "exit:boom-"}
    crashed = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    summary = json.loads(crashed.stdout)
    assert crashed.returncode == 1 and (summary["analysed"], summary["failed"]) == (2, 1), crashed.stderr
    assert "exit status 70" in summary["failures"][0]["reason"]
    again = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout)["analysed"] == 1, again.stderr
    assert _solaris_only(str(tmp_path / "s.db")) == {str(corpus / "boom-0.1.0")}


def test_many_failures_are_retried_on_a_cluster(tmp_path: Path) -> None:
    """A failure that did not come from the bytes is tried again on the next run, and as many retries as
    changed items would start a cluster do start one (not one by one in this process); a failure from the
    bytes (a corrupt archive) is not tried again, and costs a rerun nothing."""
    corpus = tmp_path / "corpus"
    for i in range(5):
        _crate(corpus, f"flaky{i}-0.1.0", GAP)
        (corpus / f"bad{i}-0.1.0.crate").write_bytes(b"not a gzip stream %d" % i)
    _crate(corpus, "good-0.1.0", PLAIN)
    store = str(tmp_path / "s.db")
    os.environ[FAULT_ENV] = "flaky"
    try:
        first = run_survey("crate", [str(corpus)], store, workers=1, dashboard=False)
    finally:
        del os.environ[FAULT_ENV]
    assert (first.analysed, first.failed) == (11, 10)
    again = run_survey("crate", [str(corpus)], store, workers=1, dashboard=False)
    assert (again.analysed, again.reused, again.failed) == (5, 6, 0) and "cluster_wait" in again.phases
    third = run_survey("crate", [str(corpus)], store, workers=1, dashboard=False)
    assert (third.analysed, third.reused) == (0, 11) and "cluster_wait" not in third.phases


def test_report_takes_a_crate_name_with_dollar_signs(tmp_path: Path) -> None:
    from illumos_rust.survey.report import build

    corpus = tmp_path / "corpus"
    crate = _crate(corpus, "m-0.1.0", GAP)
    (crate / "Cargo.toml").write_text('[package]\nname = "a$\\\\frac$"\nversion = "1.0.0"\n')
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    out = build(store, str(tmp_path / "rep"))
    assert out["pages"] == 2 and "a$\\frac$" in (tmp_path / "rep" / "index.html").read_text()


def test_an_unreadable_subdirectory_is_skipped_as_port_skips_it(tmp_path: Path) -> None:
    """port's os.walk skips a subdirectory it cannot list and analyses the rest; so does the survey (the
    oracle: port under the same permissions). The crate directory itself unreadable stays a failure."""
    import json
    import sys

    corpus = tmp_path / "corpus"
    crate = _crate(corpus, "sub-0.1.0", GAP)
    (crate / "src" / "hidden").mkdir()
    (crate / "src" / "hidden" / "mod.rs").write_text(PLAIN)
    cli = [*_unprivileged(), sys.executable, "-m", "illumos_rust.cli.main"]
    os.chmod(crate / "src" / "hidden", 0)
    try:
        survey = subprocess.run(
            [*cli, "survey", "crates", str(corpus), "--store", str(tmp_path / "s.db"), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        port = subprocess.run([*cli, "port", str(crate), "--format", "json"], capture_output=True, text=True)
    finally:
        os.chmod(crate / "src" / "hidden", 0o755)
    assert survey.returncode == 0 and json.loads(survey.stdout)["failed"] == 0, survey.stdout
    with Store(str(tmp_path / "s.db")) as st:
        (item,) = st.items("crate")
    assert set(item.result["rules"]) == {f["rule"] for f in json.loads(port.stdout)["findings"]}
    assert "port/solaris-only" in item.result["rules"]


def test_copies_keep_their_own_names_and_pages(tmp_path: Path) -> None:
    """Two identical corrupt archives: each item is named after its own file, and a report written again
    after one is removed drops that one's page."""
    from illumos_rust.survey.report import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("alpha", "beta"):
        (corpus / f"{name}-1.0.0.crate").write_bytes(b"the same bytes, not a gzip stream")
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    with Store(store) as st:
        assert sorted(it.name for it in st.items("crate")) == ["alpha-1.0.0", "beta-1.0.0"]
    rep = tmp_path / "rep"
    build(store, str(rep))
    assert len(list((rep / "items").iterdir())) == 2
    (corpus / "beta-1.0.0.crate").unlink()
    run_survey("crate", [str(corpus)], store)
    (rep / "items" / "notes.txt").write_text("not a page of ours")
    build(store, str(rep))
    assert sorted(p.suffix for p in (rep / "items").iterdir()) == [".html", ".txt"]


def test_an_older_snapshot_does_not_replace_a_newer_view(tmp_path: Path) -> None:
    """Two runs over one source at once: the view of the run that looked at the files later wins, whichever
    finishes last."""
    with Store(str(tmp_path / "s.db")) as st:
        st.record_view("crate", "/r", "t", [("/r/a", "new")], as_of=200.0)
        st.record_view("crate", "/r", "t", [("/r/a", "old")], as_of=100.0)  # began earlier, ends later
        (row,) = st.db.execute("SELECT items FROM views WHERE origin='/r'").fetchall()
    assert row[0] == '[["/r/a", "new"]]'


def test_an_item_that_kills_its_workers_fails_alone(tmp_path: Path) -> None:
    """On a local cluster, a crate whose analysis ends its worker process fails (KilledWorker), and none
    of the items queued beside it does."""
    corpus = tmp_path / "corpus"
    for i in range(6):
        _crate(corpus, f"c{i}-0.1.0", GAP if i % 2 else PLAIN)
    os.environ[FAULT_ENV] = "exit:c2-"
    try:
        summary = run_survey("crate", [str(corpus)], str(tmp_path / "s.db"), workers=2, dashboard=False)
    finally:
        del os.environ[FAULT_ENV]
    assert (summary.found, summary.analysed) == (6, 6)
    assert [(os.path.basename(p), "KilledWorker" in r) for p, r in summary.failures] == [("c2-0.1.0", True)]


def test_views_in_the_first_text_format_are_still_read(tmp_path: Path) -> None:
    """Views were "path<TAB>digest" lines for an hour of this tool's history: a store written then keeps
    answering (it read as empty)."""
    corpus = tmp_path / "corpus"
    crate = _crate(corpus, "a-0.1.0", GAP)
    store = str(tmp_path / "s.db")
    run_survey("crate", [str(corpus)], store)
    with Store(store) as st:
        (digest,) = [it.digest for it in st.items("crate")]
        st.db.execute("UPDATE views SET items=?", (f"{crate}\t{digest}",))
    assert _solaris_only(store) == {str(crate)}
