#!/usr/bin/env bash
# Assemble README.md from its parts in docs/readme/ (one file per subcommand), so each part is edited where
# its subject lives. `make readme` writes it; the tests check that README.md is the assembly of the parts.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=(00-intro 10-inspect audit edit port target demangle dwarf core 90-benchmarks)
out=$(mktemp README.md.XXXXXX)
trap 'rm -f "$out"' EXIT
first=1
for part in "${parts[@]}"; do
    if [[ $first -eq 0 ]]; then echo >>"$out"; fi
    cat "docs/readme/$part.md" >>"$out"
    first=0
done
if [[ "${1:-}" == "--check" ]]; then
    cmp -s "$out" README.md || { echo "README.md is not the assembly of docs/readme/: run make readme" >&2; exit 1; }
else
    chmod 644 "$out"
    mv "$out" README.md
fi
