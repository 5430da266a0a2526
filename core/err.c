/* core/err.c: see err.h. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct smfs_err *e)
{
    if (!e) return;
    e->code = 0;
    e->msg[0] = '\0';
}

int err_set(struct smfs_err *e, int code, const char *fmt, ...)
{
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int err_sys(struct smfs_err *e, const char *call, const char *path)
{
    int saved = errno;
    int code = saved ? -saved : -EIO;
    if (path)
        return err_set(e, code, "%s(%s): %s", call, path, strerror(saved));
    return err_set(e, code, "%s: %s", call, strerror(saved));
}

int err_wrap(struct smfs_err *e, const char *fmt, ...)
{
    if (!e) return -EIO;
    if (e->code == 0) e->code = -EIO;
    char where[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    /* Truncation is fine here: the message is for a human and stays terminated. */
    size_t n = strlen(where);
    if (n > sizeof e->msg - 3) n = sizeof e->msg - 3;
    memcpy(e->msg, where, n);
    memcpy(e->msg + n, ": ", 3);
    size_t room = sizeof e->msg - n - 3;
    size_t ol = strnlen(old, sizeof old);
    if (ol > room) ol = room;
    memcpy(e->msg + n + 2, old, ol);
    e->msg[n + 2 + ol] = '\0';
    return e->code;
}
