/*
 * typedefs made in the file, resolved to their C types in records and DOF.
 */
typedef unsigned long long ts_t;
typedef char *str_t;
typedef uint32_t id32_t;

provider corp {
    probe request__start(ts_t when, str_t path, id32_t id);
    probe request__done(ts_t when, int status);
};
