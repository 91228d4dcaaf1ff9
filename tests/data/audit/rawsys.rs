// A raw getrandom with the Solaris number (143), as rand 0.5 issued it (rust-random/rand#637), and a
// constant-argument call to libc syscall() (318 = getrandom on Linux).
use std::arch::asm;
use std::hint::black_box;

extern "C" {
    fn syscall(number: i64, ...) -> i64;
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn solaris_getrandom(buf: *mut u8, len: usize) -> isize {
    let ret: isize;
    unsafe {
        asm!("syscall", inlateout("rax") 143isize => ret, in("rdi") buf, in("rsi") len, in("rdx") 0,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn libc_indirect_getrandom(buf: *mut u8, len: usize) -> i64 {
    unsafe { syscall(318, buf, len, 0) }
}

fn main() {
    let mut b = [0u8; 8];
    if black_box(false) {
        solaris_getrandom(b.as_mut_ptr(), b.len());
    }
    println!("{}", libc_indirect_getrandom(b.as_mut_ptr(), b.len()));
}
