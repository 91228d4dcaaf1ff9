"""``dist``: a rustup distribution tree (rust-installer component tarballs + a v2 channel manifest).

RFD 0161 asks for Rust toolchains for illumos "available via rustup"; this capability packages a std built by
``toolchain build-std`` and a host toolchain installed on this machine into the layout static.rust-lang.org
uses, so stock rustup installs from it with ``RUSTUP_DIST_SERVER`` pointed at any static file server.
"""
