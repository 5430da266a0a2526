/* core/store_verify.c: re-read everything and check it.
 *
 * Three passes, each problem one line to the caller's report function:
 *   1. every record of every pack, by its checksum (the scan at open did the same,
 *      but the page cache may since have read a bad sector);
 *   2. every tree of every kept version: structure, name order, children present;
 *   3. every object a kept version names, once per (object, tier): present, the
 *      right size, and (unless taken without a checksum) the right XXH3-64.
 * Verify holds the writer mutex: no commit or vacuum runs meanwhile; readers go on. */
#include "store_int.h"

#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vctx {
    struct store *s;
    void (*report)(void *arg, const char *line);
    void *arg;
    struct store_verify_report *rep;
    struct smfs_err *err;
    struct u64map trees, objs;
    uint8_t *buf;
    void (*progress)(void *arg, const struct store_verify_progress *p);
    struct store_verify_progress pr;
};

/* The totals for progress: every (object, tier) the kept versions name, once, with
 * its size -- a walk of the index alone, no object is opened. */
static void count_tree(struct vctx *v, uint64_t tid, struct u64map *trees, struct u64map *objs,
                       unsigned depth)
{
    if (depth > STORE_DEPTH_MAX || u64map_get(trees, tid, NULL) || u64map_put(trees, tid, 1) < 0) return;
    struct store_entry ents[64];
    struct smfs_err e;
    for (size_t seen = 0;;) {
        size_t n;
        if (tree_read_locked(v->s, tid, seen, ents, 64, &n, &e) < 0 || n == 0) return;
        for (size_t i = 0; i < n; i++) {
            if (ents[i].kind == STORE_DIR) {
                count_tree(v, ents[i].id, trees, objs, depth + 1);
            } else if (!u64map_get(objs, obj_key(ents[i].id, ents[i].tier), NULL) &&
                       u64map_put(objs, obj_key(ents[i].id, ents[i].tier), 1) == 0) {
                v->pr.objects_total++;
                v->pr.bytes_total += ents[i].size;
            }
        }
        seen += n;
    }
}

static void problem(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vctx *v, const char *fmt, ...)
{
    char line[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (v->rep->problems++ == 0) err_set(v->err, -EIO, "%s", line);
    if (v->report) v->report(v->arg, line);
}

static void check_packs(struct vctx *v)
{
    struct store *s = v->s;
    for (size_t i = 0; i < s->npacks; i++) {
        const struct pack *pk = &s->packs[i];
        for (uint64_t off = PACK_HDR; off < pk->size;) {
            const uint8_t *h = pk->map + off;
            uint32_t len = off + REC_HDR <= pk->size ? le32(h + 8) : 0;
            if (off + REC_HDR > pk->size || le32(h) != REC_MAGIC || len > REC_MAX ||
                off + REC_HDR + pad8(len) > pk->size) {
                problem(v, "p%08u.pack+%llu: record header is damaged; the rest of this pack is unreadable",
                        pk->seq, (unsigned long long)off);
                break;
            }
            if (rec_sum(h, h + REC_HDR, len) != le64(h + 24))
                problem(v, "p%08u.pack+%llu: record (type %u, id %llu) fails its checksum", pk->seq,
                        (unsigned long long)off, h[4], (unsigned long long)le64(h + 16));
            off += REC_HDR + pad8(len);
        }
    }
}

/* PATH as a reader of VERSION sees it (fs/view): files under a segment directory --
 * a tier's name at the top -- live under v<N>$/, the rest at the root. */
static const char *shown_path(const struct store *s, uint64_t version, const char *path, char *buf, size_t n)
{
    const char *slash = strchr(path, '/');
    size_t top = slash ? (size_t)(slash - path) : strlen(path);
    for (size_t t = 0; slash && t < s->ntiers; t++)
        if (strlen(s->tiers[t].name) == top && !strncmp(path, s->tiers[t].name, top)) {
            snprintf(buf, n, "v%llu$/%s", (unsigned long long)version, path);
            return buf;
        }
    return path;
}

static void check_object(struct vctx *v, uint64_t version, const char *full, const struct store_entry *e)
{
    struct store *s = v->s;
    char shown[PATH_MAX + 32];
    const char *path = shown_path(s, version, full, shown, sizeof shown);
    if (u64map_get(&v->objs, obj_key(e->id, e->tier), NULL)) return;
    if (u64map_put(&v->objs, obj_key(e->id, e->tier), 1) < 0) return;
    if (e->flags & STORE_F_REMOTE) {
        /* Checked against the bucket when it was written (size and ETag); a local
         * verify reads no network. */
        v->rep->remote++;
        return;
    }
    v->rep->objects++;
    if (v->progress) {
        /* Counted before the object is read: a problem ends the check early, but the
         * object is done either way. */
        v->pr.objects_done++;
        v->pr.bytes_done += e->size;
        v->progress(v->arg, &v->pr);
        (void)fault_hit("verify.object");   /* FAULT_WAIT only: tests watch a verify run */
    }
    if (e->tier >= s->ntiers) {
        problem(v, "version %llu: '%s': names tier %u, the store has %zu", (unsigned long long)version,
                path, e->tier, s->ntiers);
        return;
    }
    char rel[32];
    object_rel(e->id, rel, sizeof rel);
    int fd = openat(s->obj_fd[e->tier], rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        problem(v, "version %llu: '%s': object %s in tier '%s' is missing (%s)",
                (unsigned long long)version, path, rel, s->tiers[e->tier].name, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != e->size) {
        problem(v, "version %llu: '%s': object %s in tier '%s' has %lld bytes, the index says %llu",
                (unsigned long long)version, path, rel, s->tiers[e->tier].name,
                (long long)st.st_size, (unsigned long long)e->size);
        close(fd);
        return;
    }
    v->rep->bytes += e->size;
    if (e->flags & STORE_F_NOSUM) {
        v->rep->unchecked++;
        close(fd);
        return;
    }
    uint64_t size, sum;
    struct smfs_err rerr;
    int rc = obj_hash(fd, -1, v->buf, rel, NULL, &size, &sum, &rerr);
    close(fd);
    if (rc < 0) {
        problem(v, "version %llu: '%s': %s", (unsigned long long)version, path, rerr.msg);
        return;
    }
    if (sum != e->sum)
        problem(v, "version %llu: '%s': object %s in tier '%s' has checksum %016llx, the index says %016llx (its bytes changed)",
                (unsigned long long)version, path, rel, s->tiers[e->tier].name,
                (unsigned long long)sum, (unsigned long long)e->sum);
}

static void check_tree(struct vctx *v, uint64_t version, uint64_t tid, char *path, size_t plen,
                       unsigned depth)
{
    struct store *s = v->s;
    if (u64map_get(&v->trees, tid, NULL)) return;   /* checked through another version */
    if (u64map_put(&v->trees, tid, 1) < 0) return;
    v->rep->trees++;
    const char *shown = plen ? path : "/";
    if (depth > STORE_DEPTH_MAX) {
        problem(v, "version %llu: '%s': deeper than %d levels", (unsigned long long)version, shown,
                STORE_DEPTH_MAX);
        return;
    }
    size_t total = 0;
    struct tree_view t;
    struct smfs_err e1;
    if (tree_get_locked(s, tid, &t, &e1) < 0) {
        problem(v, "version %llu: '%s': %s", (unsigned long long)version, shown, e1.msg);
        return;
    }
    total = t.total;
    /* Read through the same call readers use, in pages, and check the order. */
    struct store_entry ents[16];
    char prev[STORE_NAME_MAX + 1] = "";
    size_t seen = 0;
    for (;;) {
        size_t n;
        if (tree_read_locked(s, tid, seen, ents, 16, &n, &e1) < 0) {
            problem(v, "version %llu: '%s': %s", (unsigned long long)version, shown, e1.msg);
            return;
        }
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) {
            const struct store_entry *e = &ents[i];
            if (seen + i > 0 && strcmp(prev, e->name) >= 0)
                problem(v, "version %llu: '%s': '%s' is out of order after '%s'",
                        (unsigned long long)version, shown, e->name, prev);
            memcpy(prev, e->name, sizeof prev);
            size_t nl = strlen(e->name);
            if (plen + 1 + nl + 1 > PATH_MAX) continue;
            char *p = path + plen;
            if (plen) *p++ = '/';
            memcpy(p, e->name, nl + 1);
            size_t clen = (size_t)(p - path) + nl;
            if (e->kind == STORE_DIR) check_tree(v, version, e->id, path, clen, depth + 1);
            else check_object(v, version, path, e);
            path[plen] = '\0';
        }
        seen += n;
    }
    if (seen != total)
        problem(v, "version %llu: '%s': lists %zu entries, its header says %zu",
                (unsigned long long)version, shown, seen, total);
}

int store_verify(struct store *s, void (*report)(void *arg, const char *line), void *arg,
                 struct store_verify_report *rep, struct smfs_err *err)
{
    return store_verify_with_progress(s, report, NULL, arg, rep, err);
}

int store_verify_with_progress(struct store *s, void (*report)(void *arg, const char *line),
                               void (*progress)(void *arg, const struct store_verify_progress *p),
                               void *arg, struct store_verify_report *rep, struct smfs_err *err)
{
    struct store_verify_report r = { 0 };
    struct vctx v = { .s = s, .report = report, .arg = arg, .rep = &r, .err = err, .progress = progress };
    v.buf = malloc(OBJ_CHUNK);
    char *path = malloc(PATH_MAX);
    if (!v.buf || !path) {
        free(v.buf);
        free(path);
        return err_set(err, -ENOMEM, "out of memory verifying store '%s'", s->home);
    }
    pthread_mutex_lock(&s->wlock);
    if (progress) {
        struct u64map trees = { 0 }, objs = { 0 };
        for (size_t i = 0; i < s->nvers; i++) count_tree(&v, s->vers[i].root, &trees, &objs, 0);
        u64map_release(&trees);
        u64map_release(&objs);
        progress(arg, &v.pr);
    }
    check_packs(&v);
    r.versions = (uint32_t)s->nvers;
    for (size_t i = 0; i < s->nvers; i++) {
        path[0] = '\0';
        check_tree(&v, s->vers[i].version, s->vers[i].root, path, 0, 0);
    }
    pthread_mutex_unlock(&s->wlock);
    u64map_release(&v.trees);
    u64map_release(&v.objs);
    free(v.buf);
    free(path);
    if (rep) *rep = r;
    if (r.problems) return err_wrap(err, "verify of store '%s' found %llu problem(s); the first", s->home,
                                    (unsigned long long)r.problems);
    return 0;
}
