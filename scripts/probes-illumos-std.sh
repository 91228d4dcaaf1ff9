#!/usr/bin/env bash
# Build std for x86_64-unknown-illumos from Debian's rust-web-src with Debian's rustc-web (versions must
# match), the way shared/fixtures/illumos-rust/regen.sh does, and lay it out as a sysroot for
# tests/test_probes_illumos.py (which compiles generated probe modules with --emit obj against it).
# Usage: bash scripts/probes-illumos-std.sh [TARGET]   (root for apt-get if packages are missing; ~10 min
# on 2 shared cores). TARGET defaults to x86_64-unknown-illumos; aarch64-unknown-linux-gnu gives the
# aarch64 Linux backend test its std.
# Output: .cache/illumos-std/sysroot (or $ILLUMOS_RUST_STD_SYSROOT) for illumos, .cache/std-TARGET/sysroot else
set -euo pipefail
cd "$(dirname "$0")/.."
RUST_VER=1.96.0
for p in rustc-web cargo-web rust-web-src; do
  dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p"
done
W=$PWD/.cache/illumos-std
TARGET=${1:-x86_64-unknown-illumos}
if [ "$TARGET" = x86_64-unknown-illumos ]; then
  SYSROOT=${ILLUMOS_RUST_STD_SYSROOT:-$W/sysroot}
else
  SYSROOT=$PWD/.cache/std-$TARGET/sysroot
fi
mkdir -p "$W/proj/src" "$W/proj/.cargo"
cat >"$W/proj/Cargo.toml" <<'TOML'
[package]
name = "stdseed"
version = "0.1.0"
edition = "2021"
[lib]
path = "src/lib.rs"
[profile.release]
panic = "abort"
TOML
echo 'pub fn f() -> usize { std::process::id() as usize }' >"$W/proj/src/lib.rs"
cat >"$W/proj/.cargo/config.toml" <<TOML
[source.crates-io]
replace-with = "debian-rust-src-vendor"
[source.debian-rust-src-vendor]
directory = "/usr/src/rustc-$RUST_VER/library/vendor"
TOML
(
  cd "$W/proj"
  export PATH=/usr/bin:/bin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_HOME="$W/cargo-home"
  rustc --version | grep -q "^rustc $RUST_VER " || { echo "need Debian rustc $RUST_VER" >&2; exit 1; }
  cargo build --offline -Zbuild-std=std,panic_abort --target "$TARGET" --release
)
LIB="$SYSROOT/lib/rustlib/$TARGET/lib"
rm -rf "$SYSROOT"
mkdir -p "$LIB"
cp "$W/proj/target/$TARGET/release/deps/"*.rlib "$LIB/"
rm -f "$LIB"/libstdseed-*.rlib
echo "$SYSROOT"
