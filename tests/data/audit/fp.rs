// Frame-pointer fixture: a leaf, a non-leaf with a big frame, and a HashMap user (elf-tooling.md §2).
use std::collections::HashMap;
use std::hint::black_box;

#[inline(never)]
#[no_mangle]
pub extern "C" fn audit_leaf_add(a: u64, b: u64) -> u64 {
    a.wrapping_mul(31).wrapping_add(b)
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn audit_nonleaf(n: u64) -> u64 {
    let mut buf = [0u64; 64];
    for (i, slot) in buf.iter_mut().enumerate() {
        *slot = audit_leaf_add(black_box(i as u64), n);
    }
    black_box(&mut buf);
    buf.iter().sum()
}

fn main() {
    let mut m = HashMap::new();
    for i in 0..black_box(10u64) {
        m.insert(i, audit_nonleaf(i));
    }
    println!("{}", m.values().sum::<u64>());
}
