/* core/num.c: see num.h. */
#include "num.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int refuse(struct smfs_err *err, int code, const char *what, const char *s, long long lo,
                  unsigned long long hi, int neg_lo)
{
    if (neg_lo)
        return err_set(err, code, "%s: '%.64s' is not a whole number from %lld to %llu", what, s, lo, hi);
    return err_set(err, code, "%s: '%.64s' is not a whole number from %llu to %llu", what, s,
                   (unsigned long long)lo, hi);
}

int num_parse_u64(const char *s, uint64_t lo, uint64_t hi, const char *what, uint64_t *out,
                  struct smfs_err *err)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return refuse(err, -EINVAL, what, s ? s : "", (long long)lo, hi, 0);
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi) return refuse(err, -ERANGE, what, s, (long long)lo, hi, 0);
    *out = v;
    return 0;
}

int num_parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out,
                  struct smfs_err *err)
{
    const char *d = s && *s == '-' ? s + 1 : s;
    if (!d || !*d || strspn(d, "0123456789") != strlen(d))
        return refuse(err, -EINVAL, what, s ? s : "", lo, (unsigned long long)hi, lo < 0);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi) return refuse(err, -ERANGE, what, s, lo, (unsigned long long)hi, lo < 0);
    *out = v;
    return 0;
}
