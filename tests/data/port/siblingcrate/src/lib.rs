//! The Solaris branch calls a door function (Solaris-only in libc); the Linux branch uses eventfd, which
//! libc 0.2.139 declares for illumos too. illumos belongs in the Linux branch.
cfg_if::cfg_if! {
    if #[cfg(target_os = "solaris")] {
        pub fn wakeup_fd() -> i32 {
            unsafe { libc::door_create(None, std::ptr::null_mut(), 0) }
        }
    } else if #[cfg(any(target_os = "linux", target_os = "android"))] {
        pub fn wakeup_fd() -> i32 {
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }
        }
    } else {
        pub fn wakeup_fd() -> i32 {
            -1
        }
    }
}
