/* RFD 0161's example provider: plain C types, which the usdt crate's grammar refuses. */
provider foo {
    probe bar(int, char *);
};
