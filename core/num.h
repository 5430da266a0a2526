/* core/num.h: whole decimal numbers from the command line, an environment variable or
 * a config value, checked against the range the caller allows: the one parser behind
 * every numeric option of smfs and smctl.
 * Owns:    nothing; no allocation, no global state.
 * Never:   accepts a sign, spaces, a base prefix or trailing characters where a plain
 *          decimal is meant ("12k", " 5", "0x10", "" are all refused); reads errno
 *          except right after strtoull/strtoll.
 * Threads: reentrant.
 * Errors:  0, or -EINVAL (not a whole decimal number) / -ERANGE (outside [lo, hi]),
 *          with *err saying "WHAT: 'S' is not a whole number from LO to HI". */
#ifndef SMFS_NUM_H
#define SMFS_NUM_H

#include <stdint.h>

#include "core/err.h"

int num_parse_u64(const char *s, uint64_t lo, uint64_t hi, const char *what, uint64_t *out,
                  struct smfs_err *err) __attribute__((warn_unused_result));
/* As num_parse_u64, but a leading '-' is allowed. */
int num_parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out,
                  struct smfs_err *err) __attribute__((warn_unused_result));

#endif
