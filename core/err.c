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
    err_scrub(e->msg);
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
    err_scrub(e->msg);
    return e->code;
}

/* The length of the valid UTF-8 sequence at P (at most N bytes), 0 if none starts there. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range (RFC 3629's table) */
    if (p[0] >= 0xc2 && p[0] <= 0xdf) len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        if (p[0] == 0xe0) lo = 0xa0;          /* overlong */
        if (p[0] == 0xed) hi = 0x9f;          /* surrogates */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        if (p[0] == 0xf0) lo = 0x90;          /* overlong */
        if (p[0] == 0xf4) hi = 0x8f;          /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return len;
}

void err_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            i += k;
        } else {
            p[i++] = '?';
        }
    }
}
