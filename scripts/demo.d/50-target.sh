section "target diff x86_64-unknown-illumos x86_64-pc-solaris"
$IR target diff x86_64-unknown-illumos x86_64-pc-solaris || true
