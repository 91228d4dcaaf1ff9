#!/usr/bin/env bash
# `make demo`: the main jobs on bundled real inputs — a real Solaris binary from ../shared (when present),
# the rustc-built illumos fixtures, and a Rust program built here with the installed rustc.
set -euo pipefail
cd "$(dirname "$0")/.."
IR=.venv/bin/illumos-rust
SHARED="${ILLUMOS_RUST_SHARED:-../shared}"
OUT=demo-out
mkdir -p "$OUT"

# Bold headings only on a terminal and without NO_COLOR (https://no-color.org): `make demo > log` stays plain.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  section() { printf '\n== %s\n' "$*"; }
fi

cat > "$OUT/hello.rs" <<'RS'
use std::collections::HashMap;
fn main() {
    let mut m = HashMap::new();
    for (i, w) in ["illumos", "rust", "mdb", "dtrace"].iter().enumerate() { m.insert(*w, i); }
    println!("{:?}", m.get("illumos"));
}
RS
rustc -O -C force-frame-pointers=yes -C link-arg=-Wl,-rpath,/opt/local/lib -o "$OUT/hello" "$OUT/hello.rs"

section "inspect: a Rust program built here with $(rustc --version)"
$IR inspect "$OUT/hello"

if [ -f "$SHARED/fixtures/elf/exe_solaris64_cc.elf" ]; then
  section "inspect: a real Solaris binary (Sun C 5.12, Solaris link-editor)"
  $IR inspect "$SHARED/fixtures/elf/exe_solaris64_cc.elf"
else
  echo "(skipping the Solaris fixture: $SHARED/fixtures/elf not present)"
fi

for extra in scripts/demo.d/*.sh; do
  [ -f "$extra" ] && source "$extra"
done
section "done (outputs in $OUT/)"
