/* Functions without FDEs (-fno-asynchronous-unwind-tables), one build with frame pointers and endbr64
 * (-fcf-protection), one without frame pointers. */
#include <stdio.h>

extern int audit_sink(const char *, long);

long audit_nofde_calls(long x) {
    char buf[64];
    snprintf(buf, sizeof buf, "%ld", x * 3);
    return audit_sink(buf, x) + 1;
}

long audit_nofde_early(long x) {
    if (x == 0)
        return -1; /* a fast path gcc may place before the prologue (shrink-wrapping) */
    char buf[64];
    snprintf(buf, sizeof buf, "%ld", x);
    return audit_sink(buf, x);
}

int audit_nofde_leaf(int a, int b) { return a * 7 + b; }
