// A `cdylib` exporting only C symbols.
#[no_mangle]
pub extern "C" fn cexport_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[no_mangle]
pub extern "C" fn cexport_len(s: *const std::ffi::c_char) -> usize {
    if s.is_null() {
        return 0;
    }
    unsafe { std::ffi::CStr::from_ptr(s) }.to_bytes().len()
}
