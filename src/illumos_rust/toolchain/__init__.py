"""``toolchain``: build a std for any target rustc knows, with the platform's own codegen choices.

RFD 0161: "no production binaries should be delivered until a rust toolchain with this fix [frame pointers]
is available". ``build-std`` wraps ``cargo -Zbuild-std`` around a ``rust-src`` tree matching the compiler and
then measures what it built with ``audit``'s frame-pointer classifier, crate by crate.
"""
