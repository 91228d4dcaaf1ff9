/* A gcc -O2 C object linked into a Rust binary: gcc omits the frame pointer unless told not to. */
#include <stdio.h>
#include <string.h>

long audit_c_nonleaf(const char *s) {
    char buf[256];
    long n = (long)strlen(s);
    snprintf(buf, sizeof buf, "%s:%ld", s, n);
    puts(buf);
    return n + (long)strlen(buf);
}

/* A file-local helper: its STT_FILE-attributed local symbol lets the audit name this object. */
__attribute__((noinline)) static long audit_c_helper(long x) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%ld", x);
    return (long)strlen(tmp);
}

long audit_c_second(long x) { return audit_c_helper(x) + 1; }
