"""Check every patch ``illumos-rust port`` proposes for the Debian crate corpus (issue 16, "must show").

Not a timing benchmark (``bench_port.py`` is): the slow, whole-corpus proof behind the sampled tests.

1. ``illumos-rust port CORPUS --patch corpus.diff``;
2. copy every crate the diff touches, apply the diff with ``patch -p1`` (must succeed);
3. every cfg predicate that now names illumos is compiled by rustc itself (``#[cfg(PRED)] fn f() {}``,
   ``rustc --emit=metadata``: a malformed predicate is a hard error), and every patched Rust file is
   parsed with ``rustc -Zparse-crate-root-only``; patched Cargo.toml files are read by cargo in step 4;
4. ``cargo build --offline`` against the Debian registry (a directory source) of the unpatched copy and
   of the patched copy: a crate that builds today must still build. Dev-dependencies are dropped from
   both copies first (Debian does not install them, and ``cargo build`` would still resolve them). A
   patch that raises the libc requirement above what the registry has cannot build offline by
   construction; it is listed as such (none on the Debian corpus today);
5. prints, per patched finding, the "checked behind the gate" statement the report carries.

Usage: ``python benchmarks/port_corpus_check.py [CORPUS]`` (default /usr/share/cargo/registry).
Exit 1 if any step fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT_CORPUS", "/usr/share/cargo/registry")
_DEV = re.compile(r"(?ms)^\[(?:target\.[^\]\n]*\.)?dev-dependencies(?:\.[^\]\n]*)?\]\n.*?(?=^\[|\Z)")


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def _strip_dev(crate: str) -> None:
    path = os.path.join(crate, "Cargo.toml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_DEV.sub("", text))


def _build(crate: str, home: str, target: str) -> tuple[bool, str]:
    env = {**os.environ, "CARGO_HOME": home, "CARGO_TARGET_DIR": target, "RUSTFLAGS": "--cap-lints=allow"}
    proc = _run(["cargo", "build", "--offline", "-q"], cwd=crate, env=env)
    return proc.returncode == 0, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


def main() -> int:
    if not os.path.isdir(CORPUS):
        print(f"port_corpus_check: {CORPUS} missing; run `make corpus` first (skipped)")
        return 0
    work = tempfile.mkdtemp(prefix="port-corpus-")
    diff = os.path.join(work, "corpus.diff")
    proc = _run(
        [sys.executable, "-m", "illumos_rust.cli.main", "port", CORPUS, "--format", "json", "--patch", diff]
    )
    if proc.returncode not in (0, 1):
        print(proc.stderr)
        return 1
    report = json.loads(proc.stdout)
    with open(diff, encoding="utf-8") as fh:
        text = fh.read()
    files = sorted(set(re.findall(r"^\+\+\+ b/(\S+)", text, re.M)))
    crates = sorted({f.split("/", 1)[0] for f in files})
    print(f"{len(files)} files in {len(crates)} crates patched: {', '.join(crates)}")
    failures = 0

    orig, patched = os.path.join(work, "orig"), os.path.join(work, "patched")
    for c in crates:
        shutil.copytree(os.path.join(CORPUS, c), os.path.join(orig, c))
        shutil.copytree(os.path.join(CORPUS, c), os.path.join(patched, c))
    p = _run(["patch", "-p1", "-s", "-i", diff], cwd=patched)
    print(f"patch -p1: {'ok' if p.returncode == 0 else 'FAILED ' + p.stdout + p.stderr}")
    failures += p.returncode != 0

    # edited predicates, compiled by rustc
    from illumos_rust.port import scanner

    preds: list[tuple[str, str]] = []
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.join(patched, f)
        with open(path, encoding="utf-8") as fh:
            body = fh.read()
        with open(os.path.join(orig, f), encoding="utf-8") as fh:
            before = {s.text for s in scanner.scan_rust(path, fh.read()).sites}
        for s in scanner.scan_rust(path, body).sites:
            if s.text not in before and "illumos" in s.text and s.kind not in ("cfg_if-else",):
                preds.append((f"{f}:{s.line}", " ".join(s.text.split())))
    probe = os.path.join(work, "preds.rs")
    with open(probe, "w", encoding="utf-8") as fh:
        for i, (_where, pred) in enumerate(preds):
            fh.write(f"#[cfg({pred})]\npub fn f{i}() {{}}\n")
    r = _run(
        [
            "rustc",
            "--crate-type",
            "lib",
            "--emit=metadata",
            "--edition",
            "2021",
            "-o",
            probe + ".rmeta",
            probe,
        ]
    )
    print(f"{len(preds)} edited cfg predicates compiled by rustc: {'ok' if r.returncode == 0 else 'FAILED'}")
    if r.returncode:
        print(r.stderr[:2000])
        failures += 1
    bad_parse = 0
    for f in files:
        if not f.endswith(".rs"):
            continue
        crate = f.split("/", 1)[0]
        with open(os.path.join(patched, crate, "Cargo.toml"), "rb") as fh:
            edition = str(tomllib.load(fh).get("package", {}).get("edition", "2015"))
        r = _run(
            [
                "rustc",
                "-Zparse-crate-root-only",
                "--edition",
                edition,
                "--crate-type",
                "lib",
                os.path.join(patched, f),
            ],
            env={**os.environ, "RUSTC_BOOTSTRAP": "1"},
        )
        if r.returncode:
            bad_parse += 1
            print(f"  parse FAILED: {f}: {r.stderr[:300]}")
    print(f"{len(files)} patched files parsed by rustc: {'ok' if not bad_parse else f'{bad_parse} FAILED'}")
    failures += bad_parse

    # builds, offline, against the Debian registry
    home = os.path.join(work, "cargo-home")
    os.makedirs(home)
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as fh:
        fh.write(
            f'[source.crates-io]\nreplace-with = "debian"\n[source.debian]\ndirectory = "{CORPUS}"\n'
            "[net]\noffline = true\n"
        )
    target = os.path.join(work, "target")
    for c in crates:
        _strip_dev(os.path.join(orig, c))
        _strip_dev(os.path.join(patched, c))
        ok_before, why_before = _build(os.path.join(orig, c), home, target)
        if not ok_before:
            print(f"  {c}: does not build offline today ({why_before[:160]}): not compared")
            continue
        ok_after, why_after = _build(os.path.join(patched, c), home, target)
        print(f"  {c}: builds today; patched: {'builds' if ok_after else 'FAILS: ' + why_after[:300]}")
        failures += not ok_after

    print("per-patch statements (what was checked behind each gate):")
    for f in report["findings"]:
        props = f.get("properties", {})
        if props.get("patch") in ("proposed", "alternative"):
            loc = f["location"]
            print(f"  {loc['path']}:{loc.get('line')}: {f['rule']}: {f['fix']}")
    print(f"port_corpus_check: {'ok' if not failures else f'{failures} FAILED'} (work dir {work})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
