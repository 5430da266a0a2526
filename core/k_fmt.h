/* core/k_fmt.h: render K objects the way q prints them on one line (q's -3!), and the
 * calendar arithmetic of kdb+'s temporal types (epoch 2000.01.01).
 * Owns:    nothing.
 * Never:   prints more than max_items items of one vector or list (then " .."), so a
 *          billion-row column renders in constant time.
 * Threads: reentrant.
 * Errors:  0 or -ENOMEM / -E2BIG from the buffer. */
#ifndef SMFS_K_FMT_H
#define SMFS_K_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "k.h"

/* Append q's one-line form of x: `1 2 3i`, "abc", `a`b!1 2, +`a`b!(1 2;3 4)…
 * Enumerations print as `dom!indices (resolve them first for names). */
int k_fmt(const struct k *x, size_t max_items, struct buf *out) __attribute__((warn_unused_result));

/* Item i of vector x as an atom without type suffix where q has none ("2024.01.02",
 * "1.5", "AAPL" for symbols, unquoted). For JSON and tables. */
int k_fmt_item(const struct k *x, int64_t i, struct buf *out) __attribute__((warn_unused_result));

#define K_NS_PER_DAY     INT64_C(86400000000000)
#define K_EPOCH_DAYS     10957   /* 1970.01.01 → 2000.01.01, kdb+'s epoch */
#define K_EPOCH_UNIX_NS  ((int64_t)K_EPOCH_DAYS * K_NS_PER_DAY)

/* ns since 1970 <-> a q timestamp (ns since 2000.01.01); the null stays null. */
static inline int64_t k_ts_from_unix_ns(int64_t ns)
{
    return ns == INT64_MIN ? ns : ns - K_EPOCH_UNIX_NS;
}
static inline int64_t k_unix_ns_from_ts(int64_t ts)
{
    return ts == INT64_MIN ? ts : ts + K_EPOCH_UNIX_NS;
}

/* Days since 2000.01.01 <-> civil date. */
int32_t k_days_from_ymd(int y, int m, int d);
void    k_ymd_from_days(int32_t days, int *y, int *m, int *d);

/* "YYYY.MM.DD" of DAYS (a partition's name), NUL-terminated. */
void k_date_str(int32_t days, char out[11]);

/* Parse "YYYY.MM.DD" exactly (a kdb+ date partition name); false if not a valid date. */
bool k_parse_date(const char *s, int32_t *days);

#endif
