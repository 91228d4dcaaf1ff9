#!/usr/bin/env bash
# `make corpus`: install the crate-source corpus that `illumos-rust port` is benchmarked and checked on.
# Debian's librust-*-dev packages unpack crate sources under /usr/share/cargo/registry; we install the
# documented list in scripts/corpus-packages.txt (>= 200 system-level crates) and report what landed.
# Needs root and the Debian archive (apt); --no-install-recommends keeps the set deterministic.
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=scripts/corpus-packages.txt
REGISTRY=/usr/share/cargo/registry
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$')
echo "corpus: ${#pkgs[@]} packages listed in $LIST"
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "corpus: ${#missing[@]} packages missing and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 2
  fi
  echo "corpus: installing ${#missing[@]} packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
ncrates=$(find "$REGISTRY" -mindepth 1 -maxdepth 1 -type d | wc -l)
nrs=$(find "$REGISTRY" -name '*.rs' -type f | wc -l)
size=$(du -sb "$REGISTRY" | cut -f1)
echo "corpus: $REGISTRY has $ncrates crate directories, $nrs .rs files, $size bytes"
