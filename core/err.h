/* core/err.h: the error context every fallible smfs call fills.
 * Owns:    nothing but the caller's struct; no allocation, no global state.
 * Never:   logs, exits, or reads errno later than right after the failing call.
 * Threads: one context per thread of work; the functions are reentrant.
 * Sequence: callee err_set/err_sys (says why) → each caller err_wrap (adds where)
 *          → the top prints e->msg as one line: "import 2024.01.02/trade: column
 *          'price': file '…/price' truncated: header says 1000 items (8016 bytes),
 *          file has 4096 bytes".
 * Errors:  every function returns e->code, a negative errno (or -EINVAL etc.), so
 *          `return err_set(err, -EINVAL, "...")` is the idiom. e may be NULL. */
#ifndef SMFS_ERR_H
#define SMFS_ERR_H

#define ERR_MSG_MAX 512

struct smfs_err {
    int  code;              /* -errno style; 0 when clear */
    char msg[ERR_MSG_MAX];  /* lower case, no final period, truncated to fit */
};

void err_clear(struct smfs_err *e);

/* Set code and message. Returns code. */
int err_set(struct smfs_err *e, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "call(path): strerror(errno)", code = -errno. Reads errno first thing, so call it
 * straight after the failing syscall. path may be NULL. Returns the code. */
int err_sys(struct smfs_err *e, const char *call, const char *path);

/* Prefix the existing message with "where: ". Keeps the code; returns it
 * (-EIO if the context held no error, which is our bug, not the input's). */
int err_wrap(struct smfs_err *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Make S valid UTF-8 in place: every byte of an invalid, overlong, surrogate or cut
 * sequence becomes '?'. Messages cross into JSON (REST, the admin socket, status),
 * which must be UTF-8, and a file name, a peer's bytes or a "%.200s" may not be: a
 * message jansson refuses would reach the user as no message at all. err_set and
 * err_wrap scrub what they write. */
void err_scrub(char *s);

#endif
