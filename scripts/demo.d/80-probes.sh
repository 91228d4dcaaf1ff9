# probes: a D provider file as dtrace -h accepts it, the Rust module generated from it, and the probes listed.
cat > "$OUT/demo.d" <<'D'
provider demo {
    probe request__start(uint64_t id, const char *path);
    probe request__done(uint64_t id, int status);
};
D
section "probes gen: a dependency-free Rust module from a D provider file (first lines)"
$IR probes gen "$OUT/demo.d" -o "$OUT/demo_probes.rs"
head -12 "$OUT/demo_probes.rs"
cat > "$OUT/probed.rs" <<'RS'
mod demo_probes; // the generated file, beside this one
fn main() {
    for id in 0..3u64 {
        demo_probes::demo::request__start!(|| (id, "/index.html"));
        demo_probes::demo::request__done!(|| (id, 200));
    }
    println!("served 3");
}
RS
rustc --edition 2021 -O -o "$OUT/probed" "$OUT/probed.rs"
"$OUT/probed"
section "probes list: the SystemTap notes of the program (gdb, perf, bpftrace see them)"
$IR probes list "$OUT/probed"
