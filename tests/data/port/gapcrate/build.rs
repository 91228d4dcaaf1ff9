fn main() {
    let target = std::env::var("TARGET").unwrap();
    if target.contains("solaris") {
        println!("cargo:rustc-link-lib=nsl");
    }
    match std::env::var("CARGO_CFG_TARGET_OS").unwrap().as_str() {
        "solaris" => println!("cargo:rustc-cfg=sol"),
        _ => {}
    }
}
