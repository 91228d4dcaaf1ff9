//! A crate written for Solaris only, with the shapes of the real gaps (users, fs2, stacker, term_size).

#[cfg(any(target_os = "linux", target_os = "solaris"))]
pub fn listed() -> i32 {
    unsafe { libc::getpid() }
}

#[cfg(not(target_os = "solaris"))]
fn flock() -> i32 {
    0
}

#[cfg(target_os = "solaris")]
fn flock() -> i32 {
    unsafe { libc::fcntl(0, libc::F_GETFD) }
}

pub fn use_flock() -> i32 {
    flock()
}

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "solaris"))] {
        pub fn stack() -> usize {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
            unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
            0
        }
    } else if #[cfg(target_os = "freebsd")] {
        pub fn stack() -> usize {
            let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
            unsafe { libc::pthread_attr_get_np(libc::pthread_self(), attr.as_mut_ptr()) };
            0
        }
    } else {
        pub fn stack() -> usize {
            0
        }
    }
}

#[cfg(target_os = "solaris")]
static TIOCGWINSZ: libc::c_ulong = 0x5468;

#[cfg(target_os = "solaris")]
pub fn raw() -> i64 {
    unsafe { libc::syscall(143) }
}

#[cfg(target_os = "fuschia")]
pub fn typo() {}
