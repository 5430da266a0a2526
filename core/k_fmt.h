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

/* Days since 2000.01.01 <-> civil date. */
int32_t k_days_from_ymd(int y, int m, int d);
void    k_ymd_from_days(int32_t days, int *y, int *m, int *d);

/* Parse "YYYY.MM.DD" exactly (a kdb+ date partition name); false if not a valid date. */
bool k_parse_date(const char *s, int32_t *days);

#endif
