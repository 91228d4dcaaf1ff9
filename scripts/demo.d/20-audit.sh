# audit: the rustc-built illumos fixtures (illumos vs Solaris target), and the program built above.
if [ -d "$SHARED/fixtures/illumos-rust/bin" ]; then
  section "audit: a Rust program for x86_64-unknown-illumos and the same for x86_64-pc-solaris"
  $IR audit -q "$SHARED/fixtures/illumos-rust/bin/illumos/hello" "$SHARED/fixtures/illumos-rust/bin/solaris/hello" || true
fi
section "audit --format sarif (first lines) of the Linux program built above"
$IR audit --format sarif "$OUT/hello" > "$OUT/hello.sarif" || true
head -c 600 "$OUT/hello.sarif"; echo " ..."
