/* fs/s3cache.c: see s3cache.h.
 *
 * A fetch writes DIR/<id>.part, checks it, then renames it to DIR/<id>: a file under its
 * final name is always whole and checked, whatever was killed when. An entry's states:
 * loading (one thread fetches; others wait on the condition), ready (on disk), or gone. */
#include "fs/s3cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/fileio.h"
#include "core/num.h"
#include "core/tiers.h"
#include "core/u64map.h"

#define DEFAULT_MAX   (10ull << 30)
#define FETCH_CHUNK   (8u << 20)

struct centry {
    uint64_t id, size, stamp;
    uint32_t refs;
    bool     ready, loading;
};

/* Object id -> relative path, for one tree of .smfs/s3/<tier>. */
struct keymap {
    uint64_t       tid;
    struct u64map  ids;      /* id -> index + 1 into rels and sums */
    char         **rels;
    uint64_t      *sums;     /* the store's XXH3 of the object; 0 with no checksum (imported unread) */
    size_t         n, cap;
    struct keymap *next;
};

struct s3cache {
    char            dir[4096];
    uint64_t        max;
    struct s3_conf  conf;
    const struct cfg_tier *t;
    char            prefix[1100];
    char            line[1200];
    char            s3dir[300];
    struct store   *s;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct u64map   ents;    /* id -> struct centry * */
    struct keymap  *maps;
    uint64_t        bytes, clock;
    struct s3cache_stats st;
};

static int parse_size(const char *s, uint64_t *out, struct smfs_err *err)
{
    char num[64];
    size_t n = strlen(s);
    uint64_t mul = 1;
    if (n && strchr("KkMmGgTt", s[n - 1])) {
        char u = (char)(s[n - 1] | 0x20);
        mul = u == 'k' ? 1ull << 10 : u == 'm' ? 1ull << 20 : u == 'g' ? 1ull << 30 : 1ull << 40;
        n--;
    }
    if (n == 0 || n >= sizeof num) return err_set(err, -EINVAL, "--s3-cache: size '%s' is not a number of bytes", s);
    memcpy(num, s, n);
    num[n] = 0;
    uint64_t v;
    int rc = num_parse_u64(num, 1, UINT64_MAX / mul, "--s3-cache size", &v, err);
    if (rc) return rc;
    *out = v * mul;
    return 0;
}

int s3cache_new(const char *spec, const struct cfg *cfg, struct store *s, struct s3cache **out,
                struct smfs_err *err)
{
    *out = NULL;
    const struct cfg_tier *t = cfg->ndate ? cfg->date_tiers[cfg->ndate - 1] : NULL;
    if (!t || t->segment || t->store.kind != CFG_URI_S3)
        return err_set(err, -EINVAL, "--s3-cache: the assembly has no s3:// tier to cache");
    struct s3cache *c = calloc(1, sizeof *c);
    if (!c) return err_set(err, -ENOMEM, "out of memory");
    c->max = DEFAULT_MAX;
    const char *colon = strrchr(spec, ':');
    size_t dl = colon ? (size_t)(colon - spec) : strlen(spec);
    int rc = 0;
    if (dl == 0 || dl >= sizeof c->dir) rc = err_set(err, -EINVAL, "--s3-cache: '%s' names no directory", spec);
    if (!rc && colon) rc = parse_size(colon + 1, &c->max, err);
    if (!rc) {
        memcpy(c->dir, spec, dl);
        c->dir[dl] = 0;
        rc = file_mkdirs(c->dir, 0700, err);
    }
    if (!rc) rc = s3_conf_env(&c->conf, err);
    if (!rc && tiers_s3_dir(t, c->s3dir, sizeof c->s3dir)) rc = err_set(err, -ENAMETOOLONG, "tier name too long");
    if (rc) {
        free(c);
        return err_wrap(err, "--s3-cache");
    }
    c->t = t;
    c->s = s;
    snprintf(c->prefix, sizeof c->prefix, "%s%s", t->store.prefix, *t->store.prefix ? "/" : "");
    snprintf(c->line, sizeof c->line, "%s", t->store.text);
    c->st.max_bytes = c->max;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    /* A cache: what an earlier run left is not trusted, only removed. */
    DIR *d = opendir(c->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] >= '0' && de->d_name[0] <= '9') unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    *out = c;
    return 0;
}

static void keymap_free(struct keymap *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->rels[i]);
    free(k->rels);
    free(k->sums);
    u64map_release(&k->ids);
    free(k);
}

void s3cache_free(struct s3cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->ents.cap; i++)
        if (c->ents.key && c->ents.key[i]) free((void *)(uintptr_t)c->ents.val[i]);
    u64map_release(&c->ents);
    for (struct keymap *k = c->maps, *n; k; k = n) {
        n = k->next;
        keymap_free(k);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    explicit_bzero(&c->conf, sizeof c->conf);
    free(c);
}

const char *s3cache_segment(const struct s3cache *c)
{
    return c->t->name;
}

const char *s3cache_line(const struct s3cache *c)
{
    return c->line;
}

/* ---- id -> key ------------------------------------------------------------------- */

static int walk(struct s3cache *c, struct keymap *k, uint64_t dir, const char *base, int depth, struct smfs_err *err)
{
    if (depth > STORE_DEPTH_MAX) return err_set(err, -ELOOP, "'%s': too deep", base);
    struct store_entry ents[64];
    for (uint64_t at = 0;;) {
        size_t n = 0;
        int rc = store_dir_read(c->s, dir, at, ents, 64, &n, err);
        if (rc) return rc;
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            if (snprintf(path, sizeof path, "%s%s%s", base, *base ? "/" : "", ents[i].name) >= (int)sizeof path)
                return err_set(err, -ENAMETOOLONG, "'%s/%s': too long", base, ents[i].name);
            if (ents[i].kind == STORE_DIR) {
                rc = walk(c, k, ents[i].id, path, depth + 1, err);
            } else if (ents[i].flags & STORE_F_REMOTE) {
                if (k->n == k->cap) {
                    size_t cap = k->cap ? k->cap * 2 : 256;
                    char **r = realloc(k->rels, cap * sizeof *r);
                    if (r) k->rels = r;
                    uint64_t *su = r ? realloc(k->sums, cap * sizeof *su) : NULL;
                    if (!su) return err_set(err, -ENOMEM, "out of memory");
                    k->sums = su;
                    k->cap = cap;
                }
                k->sums[k->n] = ents[i].flags & STORE_F_NOSUM ? 0 : ents[i].sum;
                if (!(k->rels[k->n] = strdup(path))) return err_set(err, -ENOMEM, "out of memory");
                k->n++;
                rc = u64map_put(&k->ids, ents[i].id, k->n) ? err_set(err, -ENOMEM, "out of memory") : 0;
            }
            if (rc) return rc;
        }
        if (n < 64) return 0;
        at += n;
    }
}

/* The key of object ID in VERSION, "<prefix><date>/<table>/<file>", and the checksum the
 * store recorded for it (*SUM 0: none). */
static int key_of(struct s3cache *c, uint64_t version, uint64_t id, char *key, size_t n, uint64_t *sum,
                  struct smfs_err *err)
{
    struct store_snap *snap;
    int rc = store_snap_get(c->s, version, &snap, err);
    if (rc) return rc;
    struct store_entry d;
    rc = store_lookup(snap, c->s3dir, &d, err);
    store_snap_put(snap);
    if (rc) return err_wrap(err, "version %" PRIu64 " names no object storage", version);
    pthread_mutex_lock(&c->mu);
    struct keymap *k = c->maps;
    while (k && k->tid != d.id) k = k->next;
    pthread_mutex_unlock(&c->mu);
    if (!k) {
        /* Built outside the lock (a tree is immutable), then published; a race builds
         * it twice and keeps one. */
        struct keymap *nk = calloc(1, sizeof *nk);
        if (!nk) return err_set(err, -ENOMEM, "out of memory");
        nk->tid = d.id;
        rc = walk(c, nk, d.id, "", 0, err);
        if (rc) {
            keymap_free(nk);
            return rc;
        }
        pthread_mutex_lock(&c->mu);
        for (k = c->maps; k && k->tid != d.id;) k = k->next;
        if (!k) {
            nk->next = c->maps;
            c->maps = k = nk;
            nk = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (nk) keymap_free(nk);
    }
    uint64_t ix;
    if (!u64map_get(&k->ids, id, &ix)) return err_set(err, -ENOENT, "object %" PRIu64 " is not in object storage", id);
    if (snprintf(key, n, "%s%s", c->prefix, k->rels[ix - 1]) >= (int)n) return err_set(err, -ENAMETOOLONG, "key too long");
    *sum = k->sums[ix - 1];
    return 0;
}

/* ---- fetch and evict --------------------------------------------------------------------- */

static void evict_locked(struct s3cache *c)
{
    while (c->bytes > c->max) {
        struct centry *old = NULL;
        for (size_t i = 0; i < c->ents.cap; i++) {
            if (!c->ents.key[i]) continue;
            struct centry *e = (struct centry *)(uintptr_t)c->ents.val[i];
            if (e->ready && !e->refs && (!old || e->stamp < old->stamp)) old = e;
        }
        if (!old) return;   /* everything open: over the bound until files close */
        char p[4200];
        snprintf(p, sizeof p, "%s/%" PRIu64, c->dir, old->id);
        unlink(p);
        c->bytes -= old->size;
        c->st.evicted++;
        u64map_del(&c->ents, old->id);
        free(old);
    }
}

static int fetch(struct s3cache *c, uint64_t version, const struct store_entry *obj, struct smfs_err *err)
{
    char key[2400], part[4200], fin[4200];
    uint64_t sum = 0;
    int rc = key_of(c, version, obj->id, key, sizeof key, &sum, err);
    if (rc) return rc;
    snprintf(part, sizeof part, "%s/%" PRIu64 ".part", c->dir, obj->id);
    snprintf(fin, sizeof fin, "%s/%" PRIu64, c->dir, obj->id);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(err, "open", part);
    struct s3 *h;
    rc = s3_open(&c->conf, c->t->store.bucket, &h, err);
    XXH3_state_t *xs = XXH3_createState();
    if (!xs) rc = err_set(err, -ENOMEM, "out of memory");
    else XXH3_64bits_reset(xs);
    uint64_t got = 0;
    struct buf b;
    buf_init(&b, FETCH_CHUNK + 1);
    while (!rc && got < obj->size) {
        b.len = 0;
        uint64_t want = obj->size - got < FETCH_CHUNK ? obj->size - got : FETCH_CHUNK;
        rc = s3_get(h, key, got, want, &b, err);
        if (!rc && b.len != want)
            rc = err_set(err, -EIO, "s3://%s/%s: %zu bytes at %" PRIu64 ", the store says the object has %" PRIu64,
                         c->t->store.bucket, key, b.len, got, obj->size);
        if (!rc && pwrite(fd, b.p, b.len, (off_t)got) != (ssize_t)b.len) rc = err_sys(err, "write", part);
        if (!rc) XXH3_64bits_update(xs, b.p, b.len);
        got += b.len;
    }
    buf_release(&b);
    if (!rc && sum && XXH3_64bits_digest(xs) != sum)
        rc = err_set(err, -EIO, "s3://%s/%s: its bytes do not match the checksum the store recorded at upload",
                     c->t->store.bucket, key);
    if (xs) XXH3_freeState(xs);
    if (h) s3_close(h);
    if (close(fd) < 0 && !rc) rc = err_sys(err, "close", part);
    if (!rc && rename(part, fin) < 0) rc = err_sys(err, "rename", part);
    if (rc) unlink(part);
    return rc;
}

int s3cache_open(struct s3cache *c, uint64_t version, const struct store_entry *obj, struct smfs_err *err)
{
    char fin[4200];
    snprintf(fin, sizeof fin, "%s/%" PRIu64, c->dir, obj->id);
    pthread_mutex_lock(&c->mu);
    uint64_t v;
    struct centry *e = u64map_get(&c->ents, obj->id, &v) ? (struct centry *)(uintptr_t)v : NULL;
    while (e && e->loading) {
        pthread_cond_wait(&c->cv, &c->mu);
        e = u64map_get(&c->ents, obj->id, &v) ? (struct centry *)(uintptr_t)v : NULL;
    }
    int rc = 0;
    if (e) {
        c->st.hits++;
    } else {
        c->st.misses++;
        e = calloc(1, sizeof *e);
        if (!e || u64map_put(&c->ents, obj->id, (uint64_t)(uintptr_t)e)) {
            free(e);
            pthread_mutex_unlock(&c->mu);
            return err_set(err, -ENOMEM, "out of memory");
        }
        e->id = obj->id;
        e->size = obj->size;
        e->loading = true;
        pthread_mutex_unlock(&c->mu);
        rc = fetch(c, version, obj, err);
        pthread_mutex_lock(&c->mu);
        e->loading = false;
        if (rc) {
            u64map_del(&c->ents, obj->id);
            free(e);
            e = NULL;
        } else {
            e->ready = true;
            c->bytes += e->size;
            c->st.fetched_bytes += e->size;
        }
        pthread_cond_broadcast(&c->cv);
    }
    if (e) {
        e->refs++;
        e->stamp = ++c->clock;
        evict_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc) return rc;
    int fd = open(fin, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = err_sys(err, "open", fin);
        s3cache_close(c, obj->id, -1);
        return rc;
    }
    return fd;
}

void s3cache_close(struct s3cache *c, uint64_t id, int fd)
{
    if (fd >= 0) close(fd);
    pthread_mutex_lock(&c->mu);
    uint64_t v;
    if (u64map_get(&c->ents, id, &v)) {
        struct centry *e = (struct centry *)(uintptr_t)v;
        if (e->refs) e->refs--;
        evict_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
}

void s3cache_stats(struct s3cache *c, struct s3cache_stats *st)
{
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    st->bytes = c->bytes;
    st->files = c->ents.n;
    pthread_mutex_unlock(&c->mu);
}
