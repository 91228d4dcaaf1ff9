# edit: elfedit-style RUNPATH on a real Solaris binary (dry run, then written to a copy) and on the Rust program.
if [ -f "$SHARED/fixtures/elf/exe_solaris64_cc.elf" ]; then
  cp "$SHARED/fixtures/elf/exe_solaris64_cc.elf" "$OUT/solaris.elf"; chmod u+w "$OUT/solaris.elf"
  section "edit: add RUNPATH to a Solaris binary inside its DT_SUNW_STRPAD reserve (written to a copy)"
  $IR edit --runpath '$ORIGIN/../lib' --write "$OUT/solaris.elf"
  { cmp -l "$SHARED/fixtures/elf/exe_solaris64_cc.elf" "$OUT/solaris.elf" || true; } | wc -l | sed "s/$/ bytes differ (cmp -l)/"
fi
section "edit: drop the pkgsrc RUNPATH from the Rust program built above, then run it"
$IR edit --drop-runpath-prefix /opt/local --runpath '$ORIGIN/../lib' --write "$OUT/hello"
"$OUT/hello"
