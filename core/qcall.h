/* core/qcall.h: a q function call written as text -- what a q user sends first,
 * h".sm.api.getStatus[]" -- parsed into a name and literal arguments, never
 * evaluated. smfs has no q interpreter; this accepts exactly:
 *
 *   call    := name '[' [ literal { ';' literal } ] ']'   f[] is f[::], as in q
 *            | name literal                               f x
 *   name    := ('.' | letter) { letter | digit | '.' | '_' }
 *   literal := `sym | ` (empty) | "string" | 0b 1b | 123 123j 42i | 1.5 1.5f
 *            | 2024.01.02 (date) | 2024.01.02D10:00:00.000000000 (timestamp)
 *            | 0D00:05:00 (timespan; with D, any fraction) | 00:05 (minute)
 *            | 00:05:00 (second) | 00:05:00.000 (time) | 00:05:00.000000000 (timespan)
 *            | 0Nn 0Np 0Nd 0Nj 0N 0Ni 0n (nulls) | :: | (::)
 *
 * with blanks allowed around tokens. Anything else (an expression, a lambda, an
 * assignment) is refused, saying at which character and why.
 * Owns:    nothing after return.
 * Never:   evaluates, looks up or defines a name; accepts more than QCALL_MAX_ARGS
 *          arguments or more than QCALL_MAX_LEN characters.
 * Threads: reentrant.
 * Errors:  0, or -EINVAL with *err saying what is wrong where ("at character 12:
 *          expected ';' or ']'"), -ENOMEM. */
#ifndef SMFS_QCALL_H
#define SMFS_QCALL_H

#include <stddef.h>

#include "err.h"
#include "k.h"

#define QCALL_MAX_ARGS 8
#define QCALL_MAX_LEN  4096

/* Parse TEXT[0..len). On success *name (caller frees) is the function and *args a
 * general list of its arguments (caller k_frees; one (::) for f[]). */
int qcall_parse(const char *text, size_t len, char **name, struct k **args, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
