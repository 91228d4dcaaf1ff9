/* Calls every function of asmframes.s so the linker keeps them (tests/test_audit_verdicts.py). */
extern long cfa_rbp_not_frame(void), true_frame(void), leaf_with_syscall(void);
extern long calls_without_frame(const void *, void *), prologue_then_clobber(void *);
extern long big_without_cfi(void), unsized_stub(void), after_stub(void);

int main(int argc, char **argv) {
    if (argc > 5) {
        char buf[16];
        return (int)(cfa_rbp_not_frame() + true_frame() + leaf_with_syscall() + calls_without_frame(argv, buf) +
                     prologue_then_clobber(argv) + big_without_cfi() + unsized_stub() + after_stub());
    }
    return 0;
}
