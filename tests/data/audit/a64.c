/* aarch64 frame-pointer fixture, built with clang -target aarch64-linux-gnu and linked by rust-lld. */
extern int ext(int);
int a64_leaf(int a, int b) { return a * 3 + b; }
int a64_nonleaf(int a) { volatile int buf[16]; buf[a & 15] = a; return ext(buf[3]) + 1; }
