# core: post-mortem of the bundled Linux core of a panicking Rust program (../shared/fixtures/cores).
if [ -f "$SHARED/fixtures/cores/core.rust-crash.panic.xz" ]; then
  xz -dc "$SHARED/fixtures/cores/core.rust-crash.panic.xz" > "$OUT/core.rust-crash.panic"
  xz -dc "$SHARED/fixtures/cores/rust-crash.xz" > "$OUT/rust-crash"; chmod +x "$OUT/rust-crash"
  section "core: what crashed, where and why (a Rust panic=abort core, with the binary)"
  $IR core "$OUT/core.rust-crash.panic" "$OUT/rust-crash" | head -32
fi
