provider alpha {
    probe one(int);
    probe two(long, long);
};
provider beta {
    probe three(char *);
};
