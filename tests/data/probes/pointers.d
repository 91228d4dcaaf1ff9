provider ptrs {
    probe buf(uint8_t *buf, size_t len);     // a space before the star, which usdt refuses
    probe words(const uint64_t *w, uintptr_t n);
    probe opaque(void *p, const volatile int *ip);
    probe name(const char *name, char *mutable_name);
    probe nothing();
};
