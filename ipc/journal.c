/* ipc/journal.c: see journal.h. Messages are decoded from a buffer filled by pread:
 * a decode that runs out of bytes asks for more (twice as much each time, up to the
 * end of the file); one that runs out at the end of the file is a torn tail, one that
 * meets bytes that are not q's serialization a bad message. The decoder also says how
 * long the message was, so nothing else needs to parse it. */
#include "ipc/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/k_ser.h"

#define READ_MIN ((size_t)1 << 20)

struct journal {
    char     *path;
    int       fd;
    uint64_t  size;             /* of the file, as last seen */
    uint64_t  off, index;       /* the next message */
    uint8_t  *buf;              /* bytes [boff, boff + blen) of the file */
    size_t    blen, bcap;
    uint64_t  boff;
};

static int stat_size(struct journal *j, struct smfs_err *err)
{
    struct stat st;
    if (fstat(j->fd, &st) < 0) return err_sys(err, "stat", j->path);
    j->size = (uint64_t)st.st_size;
    return 0;
}

/* Make the buffer hold the file from j->off on, at least WANT bytes of it where the
 * file has them. A file that shrank below what was buffered drops the excess. */
static int fill(struct journal *j, size_t want, struct smfs_err *err)
{
    if (j->off < j->boff || j->off > j->boff + j->blen) {   /* a seek: start afresh */
        j->boff = j->off;
        j->blen = 0;
    } else if (j->off > j->boff) {                          /* drop what was consumed */
        size_t used = (size_t)(j->off - j->boff);
        memmove(j->buf, j->buf + used, j->blen - used);
        j->blen -= used;
        j->boff = j->off;
    }
    if (want > JOURNAL_MAX_MSG + READ_MIN) want = JOURNAL_MAX_MSG + READ_MIN;
    if (want > j->bcap) {
        uint8_t *b = realloc(j->buf, want);
        if (!b) return err_set(err, -ENOMEM, "journal '%s': out of memory for a %zu-byte read", j->path, want);
        j->buf = b;
        j->bcap = want;
    }
    while (j->blen < want) {
        ssize_t r = pread(j->fd, j->buf + j->blen, want - j->blen, (off_t)(j->boff + j->blen));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_sys(err, "read", j->path);
        if (r == 0) break;
        j->blen += (size_t)r;
    }
    if (j->boff + j->blen > j->size) j->size = j->boff + j->blen;
    return 0;
}

int journal_open(const char *path, struct journal **out, struct smfs_err *err)
{
    struct journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return err_set(err, -ENOMEM, "out of memory");
    }
    j->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = j->fd < 0 ? err_sys(err, "open", path) : stat_size(j, err);
    if (!rc) rc = fill(j, READ_MIN, err);
    if (rc == 0 && (j->blen < JOURNAL_HDR || j->buf[0] != 0xff || j->buf[1] != 0x01 || j->buf[2] != 0 ||
                    j->buf[3] != 0))
        rc = err_set(err, -EBADMSG, "'%s' is not a tickerplant journal: it does not start with a serialized "
                     "general list (ff 01 00 00; %llu bytes)", path, (unsigned long long)j->size);
    if (rc) {
        journal_close(j);
        return rc;
    }
    j->off = JOURNAL_HDR;
    *out = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    free(j->buf);
    free(j->path);
    free(j);
}

int journal_refresh(struct journal *j, struct smfs_err *err)
{
    return stat_size(j, err);
}

void journal_seek(struct journal *j, uint64_t index, uint64_t off)
{
    j->index = index;
    j->off = off < JOURNAL_HDR ? JOURNAL_HDR : off;
}

uint64_t journal_index(const struct journal *j) { return j->index; }
uint64_t journal_offset(const struct journal *j) { return j->off; }
uint64_t journal_size(const struct journal *j) { return j->size; }

/* Decode the message at j->off, reading more while the decoder runs out of bytes and
 * the file has more. */
static int next(struct journal *j, struct k **msg, size_t *used, struct smfs_err *err)
{
    *msg = NULL;
    size_t want = READ_MIN;
    for (;;) {
        int rc = fill(j, want, err);
        if (rc) return rc;
        if (j->blen == 0) return 1;
        struct smfs_err de = {0};
        rc = k_deserialize_prefix(j->buf, j->blen, msg, used, &de);
        if (rc == 0) return 0;
        bool more = j->off + j->blen < j->size || (stat_size(j, err) == 0 && j->off + j->blen < j->size);
        if (rc == -ENODATA && more && j->blen < JOURNAL_MAX_MSG) {
            want = j->blen * 2;
            continue;
        }
        if (rc == -ENODATA && more)
            return err_set(err, -E2BIG, "journal '%s': message %llu at offset %llu is larger than %zu MiB",
                           j->path, (unsigned long long)j->index, (unsigned long long)j->off,
                           JOURNAL_MAX_MSG >> 20);
        if (rc == -ENODATA)
            return err_set(err, -ENODATA, "journal '%s': message %llu at offset %llu is cut short (%zu bytes to the "
                           "end of the file): a torn tail, or a message still being written", j->path,
                           (unsigned long long)j->index, (unsigned long long)j->off, j->blen);
        return err_set(err, rc == -ENOMEM ? rc : -EBADMSG, "journal '%s': message %llu at offset %llu does not "
                       "decode: %s", j->path, (unsigned long long)j->index, (unsigned long long)j->off, de.msg);
    }
}

int journal_next(struct journal *j, struct k **msg, uint64_t *index, uint64_t *off, struct smfs_err *err)
{
    uint64_t at = j->off;
    size_t used = 0;
    int rc = next(j, msg, &used, err);
    if (rc) return rc;
    if (index) *index = j->index;
    if (off) *off = at;
    j->off += used;   /* the decoder says how many bytes the message took */
    j->index++;
    return 0;
}

int journal_skip(struct journal *j, uint64_t n, struct smfs_err *err)
{
    for (uint64_t i = 0; i < n; i++) {
        struct k *m = NULL;
        int rc = journal_next(j, &m, NULL, NULL, err);
        k_free(m);
        if (rc) return rc;
    }
    return 0;
}

int journal_scan(const char *path, struct journal_scan *out, struct smfs_err *err)
{
    memset(out, 0, sizeof *out);
    struct journal *j;
    int rc = journal_open(path, &j, err);
    if (rc) return rc;
    
    for (;;) {
        struct k *m = NULL;
        struct smfs_err e = {0};
        rc = journal_next(j, &m, NULL, NULL, &e);
        k_free(m);
        if (rc == 1) break;
        if (rc < 0) {
            out->torn = true;
            snprintf(out->why, sizeof out->why, "%s", e.msg);
            break;
        }
    }
    out->messages = j->index;
    out->valid_bytes = j->off;
    out->file_bytes = j->size;
    journal_close(j);
    return 0;
}

int journal_upd(const struct k *msg, const char **table, const struct k **data, struct smfs_err *err)
{
    /* (`upd;`t;x): a general list, or a symbol vector when x is itself a symbol list
     * (q collapses (`upd;`t;`a`b) to a mixed list anyway, so only the first form). */
    if (msg->t != KT_LIST || msg->n != 3 || msg->u.kk[0]->t != -KT_SYM || msg->u.kk[1]->t != -KT_SYM)
        return err_set(err, -EBADMSG, "not an update (`upd;`table;data) but a %s of %lld items", k_type_name(msg->t),
                       (long long)(msg->t >= 0 ? msg->n : 1));
    *table = msg->u.kk[1]->u.s ? msg->u.kk[1]->u.s : "";
    *data = msg->u.kk[2];
    const char *f = msg->u.kk[0]->u.s ? msg->u.kk[0]->u.s : "";
    if (strcmp(f, "upd") && strcmp(f, ".u.upd"))
        return err_set(err, -EBADMSG, "not an update: the function is `%s, not `upd", f);
    return 0;
}
