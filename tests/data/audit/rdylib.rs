// A `dylib` crate: Rust ABI exported (RFD 0161: no stable-ABI Rust shared objects).
pub fn rust_api_area(w: u32, h: u32) -> u64 {
    u64::from(w) * u64::from(h)
}

pub struct Counter(pub u64);

impl Counter {
    pub fn bump(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}
