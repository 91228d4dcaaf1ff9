// Hand-annotated fixture: the test lists the line of every real cfg site.
// #[cfg(target_os = "in_line_comment")]
/* #[cfg(target_os = "in_block_comment")] /* nested #[cfg(a)] */ still comment cfg!(x) */
const S: &str = "#[cfg(target_os = \"in_string\")] cfg!(unix)";
const R: &str = r#"#[cfg(target_os = "in_raw_string")] "quoted" cfg!(x)"#;
const B: &[u8] = br##"cfg_if! { if #[cfg(x)] {} }"##;
const C: char = '"';
const Q: char = '\'';
fn lifetimes<'a>(x: &'a str) -> &'a str { x }

#[cfg(target_os = "solaris")]
fn line11() {}

#[cfg(any(
    target_os = "linux", // a comment inside the predicate
    target_os = "solaris",
))]
fn line14() {}

#[cfg_attr(target_os = "solaris", path = "x.rs")]
mod line20 {}

fn line22() -> bool {
    cfg!(target_os = "solaris") && cfg!(unix)
}

cfg_if::cfg_if! {
    if #[cfg(target_os = "linux")] {
        fn a() {}
    } else if #[cfg(any(target_os = "solaris", target_os = "illumos"))] {
        #[cfg(target_os = "illumos")]
        fn b() {}
    } else {
        fn c() {}
    }
}

mod_use!(cfg(target_os = "solaris"), solaris);

#[doc(cfg(unix))]
fn not_a_site() {}

macro_rules! templ {
    ($meta:meta) => {
        #[cfg($meta)]
        fn t() {}
    };
}
