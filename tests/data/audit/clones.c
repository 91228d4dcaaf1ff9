/* gcc -O2 splits these into clones (tests/test_audit_verdicts.py): partial.part.0 (partial inlining of
 * the part after the early exit), isra_target.isra.0 (IPA-SRA: the struct passed as scalars) and
 * checked.cold (hot/cold partitioning of the block that only calls cold functions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct big { int a, b, c, d; char name[64]; };

static __attribute__((noinline)) int isra_target(struct big b) {
    printf("%d %d\n", b.a, b.c);
    return b.a * 3 + b.c;
}
int caller1(struct big *p) { return isra_target(*p); }
int caller2(struct big *p) { return isra_target(p[1]) + 1; }

static int partial(const char *s, int n) {
    if (__builtin_expect(s == NULL, 1))
        return 0;
    int total = 0;
    for (int i = 0; i < n; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s-%d", s, i);
        total += (int)strlen(buf);
        puts(buf);
        fputs(buf, stderr);
    }
    return total;
}
int use_partial(const char *s, int n) { return partial(s, n) + 1; }
int use_partial2(const char *s, int n) { return partial(s, n * 2) + 2; }
int use_partial3(const char *s, int n) { return partial(s, n * 3) + 3; }

__attribute__((cold, noinline)) void report(int x, const char *s) { fprintf(stderr, "bad %d %s\n", x, s); }
int checked(int x, const char *s) {
    int t = 0;
    for (int i = 0; i < x; i++) {
        if (s[i] == 0) {
            report(x, s);
            report(i, s + 1);
            abort();
        }
        t += putchar(s[i]);
    }
    return t;
}

int main(int argc, char **argv) {
    struct big b[2] = {{argc, 2, 3, 4, "x"}, {5, 6, 7, 8, "y"}};
    return caller1(b) + caller2(b) + use_partial(argv[0], argc) + use_partial2(argv[1], argc) +
           use_partial3(argv[2], argc) + checked(argc, argv[0]);
}
