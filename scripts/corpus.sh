#!/usr/bin/env bash
# `make corpus`: install the crate-source corpus that `illumos-rust port` and `survey` are measured on:
# every Debian crate source package that installs. Debian's librust-*-dev packages unpack crate sources
# under /usr/share/cargo/registry (one directory per crate version).
#
#  1. list every librust-*-dev from apt-cache (the librust-X+feature-dev packages are empty metapackages that
#     only pull dependencies in: skipped);
#  2. drop what apt cannot install together: simulate the whole install (`apt-get install -s`, no lock, no
#     change), read the package names from apt's "The following packages have unmet dependencies:" block
#     (` pkg : Depends: ... but it is not installable`, ` pkg : Breaks: ...`), drop them, repeat until the
#     simulation succeeds; when the block names none of the listed packages (a broken dependency deeper
#     down), find the culprits by bisection (a half that simulates cleanly is kept whole);
#  3. install the rest (--no-install-recommends keeps the set deterministic) and report the count.
#
# Needs root and the Debian archive; CORPUS_DRY_RUN=1 prints the plan without installing (no root needed).
# The installable set is written to $CORPUS_LIST (default: /tmp/illumos-rust-corpus-packages.txt).
# scripts/corpus-packages.txt is the older, hand-picked 235-package list, used only when apt-cache lists no
# librust-*-dev at all (an archive without the Rust team's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=/usr/share/cargo/registry
FALLBACK=scripts/corpus-packages.txt
OUT=${CORPUS_LIST:-/tmp/illumos-rust-corpus-packages.txt}
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" = 0 ] && [ -z "${CORPUS_DRY_RUN:-}" ]; then
  apt-get update -qq
fi

mapfile -t candidates < <(apt-cache pkgnames librust- | grep -E '^librust-[^+]*-dev$' | LC_ALL=C sort -u)
if [ ${#candidates[@]} -eq 0 ]; then
  echo "corpus: apt-cache lists no librust-*-dev; falling back to $FALLBACK" >&2
  mapfile -t candidates < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$FALLBACK" | grep -v '^$')
fi
echo "corpus: ${#candidates[@]} librust-*-dev packages in the archive"

# simulate LIST...: succeeds when apt could install all of them together; apt's report in $sim_log
sim_log=$(mktemp)
trap 'rm -f "$sim_log"' EXIT
simulate() {
  apt-get install -s --no-install-recommends "$@" >"$sim_log" 2>&1
}

# unmet PKG...: the packages apt names in its unmet-dependencies block, restricted to the ones given
unmet() {
  sed -n '/have unmet dependencies:/,/^E:/p' "$sim_log" |
    sed -n -E 's/^ ([^ :]+)(:[a-z0-9]+)? : .*/\1/p' | LC_ALL=C sort -u |
    LC_ALL=C comm -12 - <(printf '%s\n' "$@" | LC_ALL=C sort -u)
}

# bisect PKG...: print the packages that do not simulate cleanly, testing halves
bisect() {
  if [ $# -eq 0 ] || simulate "$@"; then return 0; fi
  if [ $# -eq 1 ]; then
    echo "$1"
    return 0
  fi
  local half=$(($# / 2))
  local before
  before=$(bisect "${@:1:half}")
  [ -n "$before" ] && printf '%s\n' "$before"
  bisect "${@:half+1}"
}

keep=("${candidates[@]}")
dropped=()
for _round in $(seq 1 100); do
  if simulate "${keep[@]}"; then break; fi
  mapfile -t bad < <(unmet "${keep[@]}")
  if [ ${#bad[@]} -eq 0 ]; then
    mapfile -t bad < <(bisect "${keep[@]}")
  fi
  if [ ${#bad[@]} -eq 0 ]; then
    # every half installs alone but not all together (a conflict across halves): give up loudly
    echo "corpus: apt cannot install the set, and no single package is to blame:" >&2
    grep -E '^( |E:)' "$sim_log" >&2 || true
    exit 2
  fi
  dropped+=("${bad[@]}")
  mapfile -t keep < <(printf '%s\n' "${keep[@]}" | LC_ALL=C comm -23 - <(printf '%s\n' "${bad[@]}" | LC_ALL=C sort -u))
done
simulate "${keep[@]}" || {
  echo "corpus: still not installable after 100 rounds" >&2
  exit 2
}
printf '%s\n' "${keep[@]}" >"$OUT"
echo "corpus: ${#keep[@]} install together, ${#dropped[@]} dropped as unsatisfiable: ${dropped[*]:-none}"
echo "corpus: the installable list is in $OUT"

# one dpkg-query for all of them (a dpkg -s per package costs minutes for 1,500)
mapfile -t missing < <(printf '%s\n' "${keep[@]}" | LC_ALL=C comm -23 - <(
  dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null | awk '$2 == "installed" {print $1}' |
    LC_ALL=C sort -u))
if [ -n "${CORPUS_DRY_RUN:-}" ]; then
  echo "corpus: dry run: ${#missing[@]} of them are not installed yet"
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "corpus: ${#missing[@]} packages missing and not root; rerun as root (apt-get install ...)" >&2
    exit 2
  fi
  echo "corpus: installing ${#missing[@]} packages"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
ncrates=$(find "$REGISTRY" -mindepth 1 -maxdepth 1 -type d | wc -l)
nrs=$(find "$REGISTRY" -name '*.rs' -type f | wc -l)
size=$(du -sb "$REGISTRY" | cut -f1)
echo "corpus: $REGISTRY has $ncrates crate directories, $nrs .rs files, $size bytes"
