/* Every spelling of the C integer types, and the system typedefs. */
provider ints {
    probe a(char, signed char, unsigned char, short, short int, unsigned short int);
    probe b(int, signed, signed int, unsigned, unsigned int, long);
    probe c(long int, unsigned long, long unsigned int, long long, unsigned long long, long long int);
    probe d(int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t);
    probe e(uint32_t, uint64_t, intptr_t, uintptr_t, size_t, ssize_t);
    probe f(off_t, pid_t, uid_t, gid_t, ptrdiff_t, hrtime_t);
};
