/* core/store_pack.c: the index log: pack files, records, the scan at open and the
 * recovery of a torn tail.
 *
 * Format. packs/p<8 decimal digits>.pack, numbered without gaps (a compaction removes
 * the lowest ones, so the run may start above 1). All integers little-endian.
 *
 *   pack header (32 bytes)
 *     0  "SMFSPACK"
 *     8  u32 format (1)
 *    12  u32 sequence number (must match the file name)
 *    16  i64 created, ns since the epoch
 *    24  u64 XXH3-64 of bytes 0..24
 *   records, each at an 8-aligned offset
 *     0  u32 magic "SMPR"
 *     4  u8  type (enum rec_type)   5..8 zero
 *     8  u32 payload length L (<= REC_MAX)   12..16 zero
 *    16  u64 id (tree id, version, or for COMPACT the first pack still needed)
 *    24  u64 XXH3-64 of bytes 0..24 then the payload
 *    32  payload, then zeros to the next multiple of 8
 *
 * Payloads. TREE: store_tree.c. COMMIT: u64 version, parent, root tree, next object
 * id, next tree id; i64 time ns; u32 number of pairs; u32 0; then per pair u16 key
 * length, u16 0, u32 value length, key bytes, value bytes. DROP: u32 n, u32 0, n × u64
 * version. COMPACT: empty (the id says which packs are obsolete).
 *
 * Commit points. COMMIT, DROP and COMPACT records are the only records that make
 * anything current, and each is appended only after everything it depends on was
 * fdatasync'd (store_tx.c, store_vacuum.c), then fdatasync'd itself. So every record
 * before the last valid commit point reached the disk before it did.
 *
 * Recovery (pack_open_all). Scan every pack in order, checking every record's
 * checksum. Tree records are held back until the commit point that follows them. At
 * the first record that does not check out (or a short tail), look for any valid
 * commit point later in the log:
 *   - none: the tail was being written when the process or machine died. Cut the
 *     log back to the end of the last commit point (ftruncate, and remove any later
 *     pack), report the bytes and records discarded, and carry on;
 *   - one: a record that was durable before a later commit has gone bad. That is
 *     damage, not a crash; refuse to open (-EIO) naming the pack and offset, rather
 *     than silently serving a store with a hole in its history. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "buf.h"
#include "ckd.h"
#include "fault.h"

uint64_t rec_sum(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, hdr, 24);
    if (len) XXH3_64bits_update(&st, payload, len);
    return XXH3_64bits_digest(&st);
}

static void pack_name(uint32_t seq, char *buf, size_t n)
{
    snprintf(buf, n, "p%08u.pack", seq);
}

struct pack *pack_by_seq(struct store *s, uint32_t seq)
{
    if (s->npacks == 0 || seq < s->packs[0].seq) return NULL;
    size_t i = seq - s->packs[0].seq;
    return i < s->npacks ? &s->packs[i] : NULL;
}

static int pack_map(struct store *s, struct pack *p, int fd, struct smfs_err *err)
{
    char name[32];
    pack_name(p->seq, name, sizeof name);
    p->reserve = s->pack_max + REC_MAX + PACK_HDR;
    /* One reservation per pack for its whole life: the writer appends with pwrite and
     * readers see the new bytes through the shared page cache, so a pack is never
     * remapped under a reader. Pages past EOF are never touched: readers only follow
     * locations published after the bytes were written. */
    void *m = mmap(NULL, p->reserve, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return err_sys(err, "mmap", name);
    p->map = m;
    return 0;
}

static void hdr_encode(uint8_t *h, uint32_t seq)
{
    memset(h, 0, PACK_HDR);
    memcpy(h, PACK_MAGIC, 8);
    st32(h + 8, PACK_FORMAT);
    st32(h + 12, seq);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    st64(h + 16, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    st64(h + 24, XXH3_64bits(h, 24));
}

int pack_create(struct store *s, uint32_t seq, struct smfs_err *err)
{
    char name[32];
    /* The pack being sealed is synced first: pack_sync syncs only the last pack, so
     * records a commit wrote here before rolling over (its trees) would otherwise
     * reach the disk after the commit record in the next pack, and a crash between
     * would leave a commit naming trees that never became durable. */
    if (s->npacks > 0) {
        struct pack *prev = &s->packs[s->npacks - 1];
        if (prev->fd >= 0 && !s->no_sync && fdatasync(prev->fd) < 0) {
            pack_name(prev->seq, name, sizeof name);
            err_sys(err, "fdatasync", name);
            store_mark_broken(s, err);
            return err->code;
        }
        s->synced_seq = prev->seq;
        s->synced_off = prev->size;
    }
    pack_name(seq, name, sizeof name);
    int fd = openat(s->packs_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return err_sys(err, "open", name);
    uint8_t h[PACK_HDR];
    hdr_encode(h, seq);
    int rc = 0;
    if (pwrite(fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        rc = err_sys(err, "write", name);
        goto fail;
    }
    if (fault_hit("pack.create")) {
        rc = err_set(err, -EIO, "injected fault at pack.create");
        goto fail;
    }
    /* The header and the name durable before any record in this pack is: otherwise a
     * crash could leave later commits in a pack whose name did not survive. */
    if (!s->no_sync && (fdatasync(fd) < 0 || fsync(s->packs_fd) < 0)) {
        rc = err_sys(err, "fsync", name);
        goto fail;
    }
    struct pack p = { .seq = seq, .fd = fd, .size = PACK_HDR };
    rc = pack_map(s, &p, fd, err);
    if (rc < 0) goto fail;
    /* The array moves: only under idx, where no reader is looking at it. */
    pthread_rwlock_wrlock(&s->idx);
    struct pack *np = realloc(s->packs, (s->npacks + 1) * sizeof *np);
    if (!np) {
        pthread_rwlock_unlock(&s->idx);
        munmap(p.map, p.reserve);
        rc = err_set(err, -ENOMEM, "out of memory adding pack '%s'", name);
        goto fail;
    }
    s->packs = np;
    /* The previous last pack is sealed: it keeps its map, not its fd. */
    if (s->npacks > 0 && s->packs[s->npacks - 1].fd >= 0) {
        close(s->packs[s->npacks - 1].fd);
        s->packs[s->npacks - 1].fd = -1;
    }
    s->packs[s->npacks++] = p;
    pthread_rwlock_unlock(&s->idx);
    return 0;
fail:
    close(fd);
    unlinkat(s->packs_fd, name, 0);
    return rc;
}

int pack_record(struct store *s, uint64_t loc, uint8_t *type, uint64_t *id,
                const uint8_t **p, uint32_t *len, struct smfs_err *err)
{
    struct pack *pk = pack_by_seq(s, loc_seq(loc));
    uint64_t off = loc_off(loc);
    if (!pk || off + REC_HDR > pk->size)
        return err_set(err, -EIO, "index location p%08u+%llu is outside the log",
                       loc_seq(loc), (unsigned long long)off);
    const uint8_t *h = pk->map + off;
    uint32_t l = le32(h + 8);
    if (le32(h) != REC_MAGIC || l > REC_MAX || off + REC_HDR + l > pk->size)
        return err_set(err, -EIO, "record at p%08u+%llu is damaged (magic %08x, length %u)",
                       pk->seq, (unsigned long long)off, le32(h), l);
    *type = h[4];
    *id = le64(h + 16);
    *p = h + REC_HDR;
    *len = l;
    return 0;
}

int pack_append(struct store *s, uint8_t type, uint64_t id, const void *p, uint32_t len,
                uint64_t *loc, struct smfs_err *err)
{
    if (len > REC_MAX)
        return err_set(err, -EFBIG, "index record of %u bytes exceeds the %u-byte limit",
                       len, REC_MAX);
    struct pack *pk = &s->packs[s->npacks - 1];
    uint64_t total = REC_HDR + pad8(len);
    if (pk->size > PACK_HDR && pk->size + total > s->pack_max) {
        int rc = pack_create(s, pk->seq + 1, err);
        if (rc < 0) return rc;
        pk = &s->packs[s->npacks - 1];
    }
    uint8_t h[REC_HDR] = { 0 };
    st32(h, REC_MAGIC);
    h[4] = type;
    st32(h + 8, len);
    st64(h + 16, id);
    st64(h + 24, rec_sum(h, p, len));
    static const uint8_t zero[8];
    struct iovec iov[3] = {
        { h, REC_HDR }, { (void *)p, len }, { (void *)zero, total - REC_HDR - len },
    };
    char name[32];
    pack_name(pk->seq, name, sizeof name);
    /* A torn record, for the crash tests: half of it reaches the file. */
    if (fault_hit("pack.torn_record")) {
        if (pwrite(pk->fd, h, REC_HDR, (off_t)pk->size) < 0) {}
        err_set(err, -EIO, "injected fault at pack.torn_record");
        store_mark_broken(s, err);
        return -EIO;
    }
    ssize_t w = pwritev(pk->fd, iov, 3, (off_t)pk->size);
    if (w >= 0 && w != (ssize_t)total) {
        /* A short write is the disk filling up: write the rest to learn why (ENOSPC,
         * EDQUOT…), so the message says so rather than counting bytes. */
        char rest[REC_HDR + 8] = {0};
        errno = EIO;
        if (pwrite(pk->fd, rest, 1, (off_t)(pk->size + (uint64_t)w)) >= 0) errno = EIO;
        w = -1;
    }
    if (w < 0) {
        char path[PATH_MAX + 48];
        snprintf(path, sizeof path, "%s/packs/%s", s->home, name);
        err_sys(err, "write", path);
        store_mark_broken(s, err);
        return err->code;
    }
    *loc = loc_make(pk->seq, pk->size);
    /* Readers learn of the record only through locations published later under idx;
     * size is the writer's append point and the bound pack_record checks. */
    pthread_rwlock_wrlock(&s->idx);
    pk->size += total;
    pthread_rwlock_unlock(&s->idx);
    return 0;
}

int pack_sync(struct store *s, struct smfs_err *err)
{
    struct pack *pk = &s->packs[s->npacks - 1];
    if (!s->no_sync && fdatasync(pk->fd) < 0) {
        char path[PATH_MAX + 48];
        snprintf(path, sizeof path, "%s/packs/p%08u.pack", s->home, pk->seq);
        err_sys(err, "fdatasync", path);
        store_mark_broken(s, err);
        return err->code;
    }
    /* Everything up to here is durable and whole: what a repair cuts back to. Earlier
     * packs were synced before the log moved on to this one (pack_create). */
    s->synced_seq = pk->seq;
    s->synced_off = pk->size;
    return 0;
}

void store_mark_broken(struct store *s, const struct smfs_err *why)
{
    pthread_mutex_lock(&s->why_mu);
    if (!atomic_load(&s->broken))
        snprintf(s->broken_why, sizeof s->broken_why, "%s", why && why->msg[0] ? why->msg : "an index write failed");
    atomic_store(&s->broken, true);
    pthread_mutex_unlock(&s->why_mu);
}

bool store_broken(struct store *s, char *why, size_t n)
{
    if (!atomic_load(&s->broken)) return false;
    pthread_mutex_lock(&s->why_mu);
    if (why) snprintf(why, n, "%s", s->broken_why);
    pthread_mutex_unlock(&s->why_mu);
    return true;
}

int store_repair(struct store *s, struct smfs_err *err)
{
    pthread_mutex_lock(&s->wlock);
    int rc = store_repair_locked(s, err);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int store_repair_locked(struct store *s, struct smfs_err *err)
{
    if (!atomic_load(&s->broken)) return 0;
    if (s->needs_reopen)
        return err_set(err, -EIO, "a commit reached the disk but not this process's memory: reopen the store");
    /* Packs begun after the last sync hold nothing published: they go, newest first,
     * and the directory is synced before anything reuses their numbers. */
    bool removed = false;
    while (s->npacks > 1 && s->packs[s->npacks - 1].seq > s->synced_seq) {
        struct pack *pk = &s->packs[s->npacks - 1];
        char name[32];
        pack_name(pk->seq, name, sizeof name);
        pthread_rwlock_wrlock(&s->idx);
        munmap(pk->map, pk->reserve);
        if (pk->fd >= 0) close(pk->fd);
        s->npacks--;
        pthread_rwlock_unlock(&s->idx);
        if (unlinkat(s->packs_fd, name, 0) < 0 && errno != ENOENT)
            return err_sys(err, "unlink", name);
        removed = true;
    }
    struct pack *pk = &s->packs[s->npacks - 1];
    if (pk->seq != s->synced_seq) return err_set(err, -EIO, "the index's last sync point is lost: reopen the store");
    /* The cut: the bytes after the last sync (a torn record, or records of a commit that
     * failed) go from the file and from the page cache; nothing published points there.
     * Made durable before any new record is appended after it. */
    if (ftruncate(pk->fd, (off_t)s->synced_off) < 0 || (!s->no_sync && fdatasync(pk->fd) < 0) ||
        (removed && !s->no_sync && fsync(s->packs_fd) < 0)) {
        char path[PATH_MAX + 48];
        snprintf(path, sizeof path, "%s/packs/p%08u.pack", s->home, pk->seq);
        return err_sys(err, "truncate", path);
    }
    pthread_rwlock_wrlock(&s->idx);
    pk->size = s->synced_off;
    pthread_rwlock_unlock(&s->idx);
    pthread_mutex_lock(&s->why_mu);
    atomic_store(&s->broken, false);
    s->broken_why[0] = '\0';
    pthread_mutex_unlock(&s->why_mu);
    return 0;
}

int commit_parse(const uint8_t *p, uint32_t len, uint64_t version, struct ver *v,
                 struct smfs_err *err)
{
    if (len < 56)
        return err_set(err, -EIO, "commit record of version %llu is %u bytes, expected at least 56",
                       (unsigned long long)version, len);
    memset(v, 0, sizeof *v);
    v->version = le64(p);
    v->parent = le64(p + 8);
    v->root = le64(p + 16);
    v->next_oid = le64(p + 24);
    v->next_tid = le64(p + 32);
    v->time_ns = (int64_t)le64(p + 40);
    if (v->version != version || v->parent >= version || v->root == 0)
        return err_set(err, -EIO, "commit record of version %llu is inconsistent (says version %llu, parent %llu)",
                       (unsigned long long)version, (unsigned long long)v->version,
                       (unsigned long long)v->parent);
    return 0;
}

/* ---- the scan at open ---- */

struct scan {
    struct store *s;
    uint64_t     *held;        /* tree records since the last commit point: tid, loc */
    size_t        nheld, capheld;
    uint32_t      compact_below;
    uint32_t      good_seq;    /* end of the last commit point */
    uint64_t      good_off;
    uint64_t      max_oid, max_tid;
};

static int grow_u64(uint64_t **a, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    uint64_t *n = realloc(*a, c * sizeof *n);
    if (!n) return -ENOMEM;
    *a = n;
    *cap = c;
    return 0;
}

/* Is there a whole, checksummed record of type COMMIT/DROP/COMPACT at or after OFF in
 * pack index PI, or in any later pack? Used only after a bad record, to tell damage
 * from a torn tail. Steps through 8-aligned offsets, since the bad record's length
 * cannot be trusted. */
static bool later_commit_point(struct store *s, size_t pi, uint64_t off)
{
    for (; pi < s->npacks; pi++, off = PACK_HDR) {
        const struct pack *pk = &s->packs[pi];
        for (; off + REC_HDR <= pk->size; off += 8) {
            const uint8_t *h = pk->map + off;
            if (le32(h) != REC_MAGIC || h[4] < REC_COMMIT || h[4] > REC_COMPACT) continue;
            uint32_t l = le32(h + 8);
            if (l > REC_MAX || off + REC_HDR + l > pk->size) continue;
            if (rec_sum(h, h + REC_HDR, l) == le64(h + 24)) return true;
        }
    }
    return false;
}

static int scan_record(struct scan *sc, struct pack *pk, uint64_t off, const uint8_t *h,
                       struct smfs_err *err)
{
    struct store *s = sc->s;
    uint8_t type = h[4];
    uint32_t len = le32(h + 8);
    uint64_t id = le64(h + 16);
    const uint8_t *p = h + REC_HDR;
    uint64_t loc = loc_make(pk->seq, off);
    switch (type) {
    case REC_TREE:
        if (id == 0)
            return err_set(err, -EIO, "p%08u+%llu: tree record with id 0", pk->seq,
                           (unsigned long long)off);
        if (grow_u64(&sc->held, &sc->capheld, sc->nheld + 2) < 0) return -ENOMEM;
        sc->held[sc->nheld++] = id;
        sc->held[sc->nheld++] = loc;
        if (id >= sc->max_tid) sc->max_tid = id + 1;
        return 0;
    case REC_COMMIT: {
        struct ver v;
        int rc = commit_parse(p, len, id, &v, err);
        if (rc < 0) return err_wrap(err, "p%08u+%llu", pk->seq, (unsigned long long)off);
        v.loc = loc;
        if (v.next_oid > sc->max_oid) sc->max_oid = v.next_oid;
        if (v.next_tid > sc->max_tid) sc->max_tid = v.next_tid;
        /* A compaction copies a kept version's commit record forward: the later copy
         * replaces the earlier (same bytes, new place). */
        struct ver *old = vers_find_locked(s, id);
        if (old) old->loc = loc;
        else if (vers_insert_locked(s, &v) < 0) return -ENOMEM;
        break;
    }
    case REC_DROP: {
        uint32_t n = len >= 8 ? le32(p) : 0;
        if (len < 8 || (uint64_t)n * 8 + 8 != len)
            return err_set(err, -EIO, "p%08u+%llu: drop record of %u bytes lists %u versions",
                           pk->seq, (unsigned long long)off, len, n);
        for (uint32_t i = 0; i < n; i++) vers_remove_locked(s, le64(p + 8 + 8 * i));
        break;
    }
    case REC_COMPACT:
        if (id > sc->compact_below) sc->compact_below = (uint32_t)id;
        break;
    default:
        return err_set(err, -EIO, "p%08u+%llu: unknown record type %u", pk->seq,
                       (unsigned long long)off, type);
    }
    /* A commit point: the tree records before it are now part of the store. */
    for (size_t i = 0; i < sc->nheld; i += 2)
        if (u64map_put(&s->tids, sc->held[i], sc->held[i + 1]) < 0) return -ENOMEM;
    sc->nheld = 0;
    sc->good_seq = pk->seq;
    sc->good_off = off + REC_HDR + pad8(len);
    return 0;
}

static int list_packs(struct store *s, uint32_t **out, size_t *n, struct smfs_err *err)
{
    int dfd = dup(s->packs_fd);
    if (dfd < 0) return err_sys(err, "dup", "packs");
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return err_sys(err, "opendir", "packs");
    }
    rewinddir(d);
    uint64_t *seqs = NULL;
    size_t ns = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (strlen(nm) != 14 || nm[0] != 'p' || strcmp(nm + 9, ".pack") != 0 ||
            strspn(nm + 1, "0123456789") != 8)
            continue;
        unsigned long q = strtoul(nm + 1, NULL, 10);
        if (grow_u64(&seqs, &cap, ns + 1) < 0) { rc = -ENOMEM; break; }
        seqs[ns++] = q;
    }
    closedir(d);
    if (rc < 0) {
        free(seqs);
        return err_set(err, rc, "out of memory listing packs");
    }
    /* Few packs: insertion sort. */
    for (size_t i = 1; i < ns; i++)
        for (size_t j = i; j > 0 && seqs[j - 1] > seqs[j]; j--) {
            uint64_t t = seqs[j]; seqs[j] = seqs[j - 1]; seqs[j - 1] = t;
        }
    uint32_t *o = malloc((ns ? ns : 1) * sizeof *o);
    if (!o) {
        free(seqs);
        return err_set(err, -ENOMEM, "out of memory listing packs");
    }
    for (size_t i = 0; i < ns; i++) o[i] = (uint32_t)seqs[i];
    free(seqs);
    *out = o;
    *n = ns;
    return 0;
}

int pack_open_all(struct store *s, struct store_recovery *rep, struct smfs_err *err)
{
    uint32_t *seqs = NULL;
    size_t ns = 0;
    int rc = list_packs(s, &seqs, &ns, err);
    if (rc < 0) return rc;
    if (ns == 0) {
        free(seqs);
        return err_set(err, -EIO, "store '%s' has no pack files in packs/", s->home);
    }
    for (size_t i = 1; i < ns; i++)
        if (seqs[i] != seqs[i - 1] + 1) {
            rc = err_set(err, -EIO, "pack p%08u.pack is missing (found p%08u and p%08u): the index has a gap",
                         seqs[i - 1] + 1, seqs[i - 1], seqs[i]);
            free(seqs);
            return rc;
        }
    s->packs = calloc(ns, sizeof *s->packs);
    if (!s->packs) {
        free(seqs);
        return err_set(err, -ENOMEM, "out of memory opening packs");
    }
    struct scan sc = { .s = s, .good_seq = seqs[0], .good_off = PACK_HDR };
    bool torn = false;
    size_t torn_pi = 0;
    uint64_t torn_off = 0;
    for (size_t i = 0; i < ns; i++) {
        char name[32];
        pack_name(seqs[i], name, sizeof name);
        int fd = openat(s->packs_fd, name, O_RDWR | O_CLOEXEC);
        if (fd < 0) { rc = err_sys(err, "open", name); goto fail; }
        struct stat st;
        if (fstat(fd, &st) < 0) { rc = err_sys(err, "fstat", name); close(fd); goto fail; }
        struct pack *pk = &s->packs[s->npacks];
        pk->seq = seqs[i];
        pk->fd = -1;
        pk->size = (uint64_t)st.st_size;
        if (pk->size > s->pack_max + REC_MAX + PACK_HDR) {
            rc = err_set(err, -EIO, "pack '%s' is %llu bytes, more than the %llu a pack may hold",
                         name, (unsigned long long)pk->size,
                         (unsigned long long)(s->pack_max + REC_MAX + PACK_HDR));
            close(fd);
            goto fail;
        }
        rc = pack_map(s, pk, fd, err);
        if (rc < 0) { close(fd); goto fail; }
        s->npacks++;
        if (i + 1 == ns) pk->fd = fd;
        else close(fd);
        if (torn) continue;   /* mapped only so later_commit_point can look at it */
        const uint8_t *h = pk->map;
        if (pk->size < PACK_HDR || memcmp(h, PACK_MAGIC, 8) != 0 || le32(h + 8) != PACK_FORMAT ||
            le32(h + 12) != pk->seq || le64(h + 24) != XXH3_64bits(h, 24)) {
            torn = true;
            torn_pi = s->npacks - 1;
            torn_off = 0;
            continue;
        }
        uint64_t off = PACK_HDR;
        while (off < pk->size) {
            const uint8_t *r = pk->map + off;
            uint32_t len = off + REC_HDR <= pk->size ? le32(r + 8) : 0;
            if (off + REC_HDR > pk->size || le32(r) != REC_MAGIC || len > REC_MAX ||
                off + REC_HDR + pad8(len) > pk->size || rec_sum(r, r + REC_HDR, len) != le64(r + 24)) {
                torn = true;
                torn_pi = s->npacks - 1;
                torn_off = off;
                break;
            }
            rc = scan_record(&sc, pk, off, r, err);
            if (rc == -ENOMEM) { rc = err_set(err, -ENOMEM, "out of memory scanning the index"); goto fail; }
            if (rc < 0) goto fail;
            off += REC_HDR + pad8(len);
        }
    }
    free(seqs);
    seqs = NULL;

    if (torn && later_commit_point(s, torn_pi, torn_off ? torn_off + 8 : PACK_HDR)) {
        rc = err_set(err, -EIO, "pack p%08u.pack is damaged at offset %llu: a record there fails its "
                     "checksum, yet later commits follow it (not a torn tail); the store needs repair "
                     "from a copy", s->packs[torn_pi].seq, (unsigned long long)torn_off);
        goto fail;
    }

    /* Cut the log back to the last commit point. Everything after it was never made
     * current; the cut makes the next append start on a clean record boundary. */
    uint64_t cut = 0;
    uint32_t cut_recs = (uint32_t)(sc.nheld / 2);
    size_t keep = 0;
    for (size_t i = 0; i < s->npacks; i++) {
        struct pack *pk = &s->packs[i];
        if (pk->seq < sc.good_seq) { keep = i + 1; continue; }
        if (pk->seq == sc.good_seq) {
            keep = i + 1;
            if (pk->size > sc.good_off) {
                cut += pk->size - sc.good_off;
                if (pk->fd < 0) {
                    char name[32];
                    pack_name(pk->seq, name, sizeof name);
                    pk->fd = openat(s->packs_fd, name, O_RDWR | O_CLOEXEC);
                    if (pk->fd < 0) { rc = err_sys(err, "open", name); goto fail; }
                }
                /* The tail cut is made durable before anything is appended after it:
                 * a new record written over an unsynced cut could, after a power
                 * loss, end up followed by the old torn bytes' length on disk, and
                 * the next open would read a record boundary that never existed. */
                if (ftruncate(pk->fd, (off_t)sc.good_off) < 0 || (!s->no_sync && fdatasync(pk->fd) < 0)) {
                    rc = err_sys(err, "ftruncate", "packs");
                    goto fail;
                }
                pk->size = sc.good_off;
            }
            continue;
        }
        cut += pk->size;
    }
    uint32_t removed = 0;
    while (s->npacks > keep) {
        struct pack *pk = &s->packs[--s->npacks];
        char name[32];
        pack_name(pk->seq, name, sizeof name);
        munmap(pk->map, pk->reserve);
        if (pk->fd >= 0) close(pk->fd);
        if (unlinkat(s->packs_fd, name, 0) < 0) { rc = err_sys(err, "unlink", name); goto fail; }
        removed++;
    }
    /* A compaction that committed (its COMPACT record is in) may have died before it
     * removed the packs it emptied: finish that now. Their records were all copied
     * forward before the COMPACT record, so nothing current refers to them. */
    uint32_t first = s->packs[0].seq;
    if (sc.compact_below > first) {
        size_t k = 0;
        while (k < s->npacks - 1 && s->packs[k].seq < sc.compact_below) k++;
        struct u64map keepmap = { 0 };
        for (size_t i = 0; i < s->tids.cap; i++)
            if (s->tids.key[i] && loc_seq(s->tids.val[i]) >= s->packs[k].seq &&
                u64map_put(&keepmap, s->tids.key[i], s->tids.val[i]) < 0) {
                u64map_release(&keepmap);
                rc = err_set(err, -ENOMEM, "out of memory finishing a compaction");
                goto fail;
            }
        u64map_release(&s->tids);
        s->tids = keepmap;
        for (size_t i = 0; i < k; i++) {
            char name[32];
            pack_name(s->packs[i].seq, name, sizeof name);
            munmap(s->packs[i].map, s->packs[i].reserve);
            if (unlinkat(s->packs_fd, name, 0) < 0 && errno != ENOENT) {
                rc = err_sys(err, "unlink", name);
                goto fail;
            }
            removed++;
        }
        memmove(s->packs, s->packs + k, (s->npacks - k) * sizeof *s->packs);
        s->npacks -= k;
    }
    /* The unlinks of torn or emptied packs are made durable before a new pack can
     * take the next number: otherwise a power loss could bring back an old pack
     * p0000000N.pack beside a newer one of the same or a later number, and the scan
     * would splice the two logs together (the pack numbering must never have a gap or
     * a stale member). */
    if (removed && !s->no_sync && fsync(s->packs_fd) < 0) {
        rc = err_sys(err, "fsync", "packs");
        goto fail;
    }
    if (s->npacks == 0) {
        /* Every pack was a torn tail (a crash while creating the first one). */
        rc = err_set(err, -EIO, "store '%s' has no usable pack", s->home);
        goto fail;
    }
    struct pack *last = &s->packs[s->npacks - 1];
    if (last->fd < 0) {
        /* The tail cut removed the packs after it: appends go here now. */
        char name[32];
        pack_name(last->seq, name, sizeof name);
        last->fd = openat(s->packs_fd, name, O_RDWR | O_CLOEXEC);
        if (last->fd < 0) {
            rc = err_sys(err, "open", name);
            goto fail;
        }
    }
    s->next_oid = sc.max_oid ? sc.max_oid : 1;
    s->next_tid = sc.max_tid ? sc.max_tid : 1;
    s->synced_seq = last->seq;   /* what open found is durable (the tail cut was synced) */
    s->synced_off = last->size;
    atomic_store(&s->current, s->nvers ? s->vers[s->nvers - 1].version : 0);
    if (rep) {
        rep->version = atomic_load(&s->current);
        rep->discarded_bytes = cut;
        rep->discarded_records = cut_recs;
        rep->removed_packs = removed;
        if (cut || removed)
            snprintf(rep->note, sizeof rep->note,
                     "recovered at version %llu: discarded %llu bytes of uncommitted or torn index "
                     "(%u whole records), removed %u pack file(s)",
                     (unsigned long long)rep->version, (unsigned long long)cut, cut_recs, removed);
    }
    free(sc.held);
    return 0;
fail:
    free(seqs);
    free(sc.held);
    return rc;
}

void pack_close_all(struct store *s)
{
    for (size_t i = 0; i < s->npacks; i++) {
        if (s->packs[i].map) munmap(s->packs[i].map, s->packs[i].reserve);
        if (s->packs[i].fd >= 0) close(s->packs[i].fd);
    }
    free(s->packs);
    s->packs = NULL;
    s->npacks = 0;
}
