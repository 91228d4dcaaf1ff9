// Calls into the gcc -O2 object cobj.o, linked with -C link-arg.
extern "C" {
    fn audit_c_nonleaf(s: *const std::ffi::c_char) -> i64;
    fn audit_c_second(x: i64) -> i64;
}

fn main() {
    let n = unsafe { audit_c_nonleaf(c"audit".as_ptr()) + audit_c_second(7) };
    println!("{n}");
}
