/* Calls late_asm.s; linked with lld after crtendS.o (tests/test_audit_verdicts.py). */
extern void late_entry(void);
int main(int argc, char **argv) { if (argc > 3) late_entry(); return 0; }
