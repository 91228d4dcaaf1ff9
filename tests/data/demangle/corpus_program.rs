// A Rust program whose only purpose is to contain symbols that exercise every corner of both mangling
// schemes: generics, closures, const generics of every kind, dyn traits with associated types,
// higher-ranked lifetimes, fn pointers with ABIs, and non-ASCII identifiers. The demangling tests compile it
// (v0 and legacy) and compare every symbol against the rustc-demangle oracle; nothing here is run.
#![cfg_attr(nightly_consts, feature(adt_const_params, unsized_const_params))]
#![allow(unused_braces, dead_code, non_snake_case, incomplete_features, uncommon_codepoints, mixed_script_confusables)]
use std::fmt::Debug;
use std::hint::black_box;

pub trait Shape {
    type Unit: Debug;
    fn area(&self) -> Self::Unit;
}
#[derive(Debug, Clone, Copy)]
pub struct Square<T>(pub T);
impl<T: Copy + std::ops::Mul<Output = T> + Debug> Shape for Square<T> {
    type Unit = T;
    #[inline(never)]
    fn area(&self) -> T {
        self.0 * self.0
    }
}
impl<T> Square<T> {
    #[inline(never)]
    pub fn inherent<U: Debug>(&self, u: U) -> usize {
        black_box(format!("{:?}", u)).len()
    }
}

#[inline(never)]
pub fn generic<T: Debug>(t: T) -> String {
    format!("{:?}", t)
}
#[inline(never)]
pub fn takes_dyn(s: &dyn Shape<Unit = u32>) -> u32 {
    s.area()
}
#[inline(never)]
pub fn boxed_iter(it: Box<dyn Iterator<Item = (u8, char)> + Send + 'static>) -> usize {
    it.count()
}
#[inline(never)]
pub fn higher_ranked<F: for<'a> Fn(&'a str) -> &'a str>(f: F) -> usize {
    f("abc").len()
}
#[inline(never)]
pub fn with_fn_ptr<T>(_t: T) -> usize {
    std::mem::size_of::<T>()
}
#[inline(never)]
pub fn apply<F: FnOnce(u32) -> u32>(f: F) -> u32 {
    f(black_box(3))
}
#[inline(never)]
pub fn cu<const N: usize>() -> usize { N }
#[inline(never)]
pub fn ci8<const N: i8>() -> i8 { N }
#[inline(never)]
pub fn ci64<const N: i64>() -> i64 { N }
#[inline(never)]
pub fn cu128<const N: u128>() -> u128 { N }
#[inline(never)]
pub fn ci128<const N: i128>() -> i128 { N }
#[inline(never)]
pub fn cb<const B: bool>() -> bool { B }
#[inline(never)]
pub fn cc<const C: char>() -> char { C }
pub struct Arr<T, const N: usize>(pub [T; N]);
impl<T: Debug, const N: usize> Arr<T, N> {
    #[inline(never)]
    pub fn show(&self) -> String { format!("{:?}", &self.0[..]) }
}

pub mod größe {
    #[inline(never)]
    pub fn ünïcödé<T: std::fmt::Debug>(t: T) -> String { format!("{:?}", t) }
    pub struct 東京<T>(pub T);
    impl<T: Copy> 東京<T> {
        #[inline(never)]
        pub fn 駅(&self) -> T { self.0 }
    }
    #[inline(never)]
    pub fn ääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääää() -> u8 { 1 }
    #[inline(never)]
    pub fn mixed_ascii_und_ß() -> u8 { 2 }
}

#[cfg(nightly_consts)]
pub mod nightly_consts {
    use std::marker::ConstParamTy;
    #[derive(PartialEq, Eq, ConstParamTy)]
    pub struct Point { pub x: i32, pub y: u8 }
    #[derive(PartialEq, Eq, ConstParamTy)]
    pub struct Wrap(pub u16, pub bool);
    #[derive(PartialEq, Eq, ConstParamTy)]
    pub enum Choice { Empty, Tuple(char), Named { v: u64 } }
    #[inline(never)]
    pub fn s<const S: &'static str>() -> usize { S.len() }
    #[inline(never)]
    pub fn p<const P: Point>() -> i32 { P.x }
    #[inline(never)]
    pub fn w<const W: Wrap>() -> u16 { W.0 }
    #[inline(never)]
    pub fn e<const E: Choice>() -> u8 { 0 }
    #[inline(never)]
    pub fn t<const T: (u8, char, bool)>() -> u8 { T.0 }
    #[inline(never)]
    pub fn a<const A: [u16; 3]>() -> u16 { A[1] }
    #[inline(never)]
    pub fn r<const R: &'static [u8]>() -> usize { R.len() }
    pub fn all() -> usize {
        s::<"abc">() + s::<"">() + s::<"quote\"'\\ tab\t nl\n nul\0">() + s::<"é\u{301} ∂ 🦀 \u{ad}\u{200d}">()
            + p::<{ Point { x: -7, y: 200 } }>() as usize + w::<{ Wrap(9, true) }>() as usize
            + e::<{ Choice::Empty }>() as usize + e::<{ Choice::Tuple('ß') }>() as usize
            + e::<{ Choice::Named { v: u64::MAX } }>() as usize
            + t::<{ (1, 'x', false) }>() as usize + t::<{ (2, '\'', true) }>() as usize
            + a::<{ [1, 2, 3] }>() as usize + r::<b"hi">()
    }
}

pub fn main() {
    let mut n = 0usize;
    n += generic(1u8).len() + generic("x").len() + generic((1i16, 'c', [0u64; 2])).len();
    n += generic(Some(vec![Square(1.5f64)])).len() + generic(&&()).len();
    n += takes_dyn(&Square(3u32)) as usize;
    n += boxed_iter(Box::new(vec![(1u8, 'a')].into_iter()));
    n += higher_ranked(|s| &s[1..]);
    n += with_fn_ptr(generic::<u8> as fn(u8) -> String);
    n += with_fn_ptr::<for<'a> fn(&'a u8, &'a mut [u16]) -> &'a u8>(|a, _| a);
    n += with_fn_ptr::<unsafe extern "C" fn(*const u8, ...) -> i32>(printf);
    n += with_fn_ptr::<extern "system" fn()>(sys_fn);
    n += with_fn_ptr::<Box<dyn for<'a> Fn(&'a u8) -> &'a u8 + Send + Sync>>(Box::new(|x| x));
    n += with_fn_ptr::<&dyn Shape<Unit = f32>>(&Square(1.0f32));
    n += with_fn_ptr::<*mut (dyn Debug + 'static)>(std::ptr::null_mut::<u8>() as *mut dyn Debug);
    n += with_fn_ptr::<(i128, u128, isize, f32, f64, ())>((1, 2, 3, 4.0, 5.0, ()));
    n += with_fn_ptr::<fn() -> !>(never);
    n += apply(|x| x + n as u32) as usize;
    n += apply(move |x| { let inner = |y: u32| y * 2; inner(x) }) as usize;
    n += cu::<0>() + cu::<18446744073709551615>() + ci8::<-11>() as usize + ci8::<-128>() as usize;
    n += ci64::<{ i64::MIN }>() as usize + cu128::<{ u128::MAX }>() as usize + ci128::<{ i128::MIN }>() as usize;
    n += cb::<true>() as usize + cb::<false>() as usize;
    n += cc::<'a'>() as usize + cc::<'\''>() as usize + cc::<'"'>() as usize + cc::<'\\'>() as usize;
    n += cc::<'\n'>() as usize + cc::<'\0'>() as usize + cc::<'ä'>() as usize + cc::<'\u{301}'>() as usize;
    n += cc::<'🦀'>() as usize + cc::<'\u{ad}'>() as usize + cc::<'\u{10ffff}'>() as usize + cc::<' '>() as usize;
    n += Arr([1u8, 2, 3]).show().len() + Arr::<&str, 0>([]).show().len();
    n += Square(2u16).inherent(("a", 1)) + Square(()).inherent([Square(1u8)]);
    n += größe::ünïcödé(1u8).len() + größe::東京(5u8).駅() as usize;
    n += größe::ääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääääää() as usize;
    n += größe::mixed_ascii_und_ß() as usize;
    #[cfg(nightly_consts)]
    { n += nightly_consts::all(); }
    std::process::exit(black_box(n as i32) & 0);
}

unsafe extern "C" {
    fn printf(fmt: *const u8, ...) -> i32;
}
extern "system" fn sys_fn() {}
fn never() -> ! { std::process::exit(0) }
