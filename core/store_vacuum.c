/* core/store_vacuum.c: reclaiming what no kept version references.
 *
 * Kept: the newest `keep` versions (the current one always among them) and every
 * pinned one (a snapshot: a reader that has not moved on, an open file).
 *
 * Order, and the crash each step is safe against:
 *   1. Drop. Under idx, the versions to drop leave the version table (no new pin can
 *      reach them), then a DROP record is appended and fdatasync'd: a commit point.
 *      Crash before its sync: the versions come back on reopen, nothing was deleted.
 *   2. Mark everything the kept versions reach (trees, chunks, objects by tier).
 *   3. Sweep objects/ of every tier: unlink any object not marked, including orphans
 *      of transactions that died before their commit. No fsync: an unlink lost in a
 *      power cut only brings back an unreferenced file, removed next time.
 *   4. Compact: the lowest packs whose live share is under the threshold have their
 *      live records copied to the end of the log (same bytes, same ids), fdatasync,
 *      then a COMPACT record naming the first pack still needed, fdatasync. Only then
 *      are the old packs unmapped and unlinked. Crash before the COMPACT sync: the
 *      copies are an uncommitted tail, cut off on reopen, and the old packs are intact.
 *      Crash after it: store_open finishes the removal. Packs go only from the low
 *      end, so the numbering never has a gap. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

int mark_version_locked(struct store *s, uint64_t root, struct u64map *tids,
                        struct u64map *objs, struct smfs_err *err)
{
    size_t n = 0, cap = 64;
    uint64_t *stack = malloc(cap * sizeof *stack);
    if (!stack) return err_set(err, -ENOMEM, "out of memory marking live trees");
    stack[n++] = root;
    int rc = 0;
    while (n && rc == 0) {
        uint64_t tid = stack[--n];
        if (u64map_get(tids, tid, NULL)) continue;   /* shared with a version already marked */
        if ((rc = u64map_put(tids, tid, 1)) < 0) break;
        struct tree_view t;
        if ((rc = tree_get_locked(s, tid, &t, err)) < 0) break;
        for (uint32_t i = 0; i < t.n && rc == 0; i++) {
            uint64_t child = 0;
            if (t.level == 1) {
                uint32_t count;
                rc = tree_chunk_at(&t, i, &child, &count, err);
            } else {
                struct store_entry e;
                rc = tree_entry_at(&t, i, &e, err);
                if (rc == 0 && e.kind == STORE_DIR) child = e.id;
                else if (rc == 0) rc = u64map_put(objs, obj_key(e.id, e.tier), 1);
            }
            if (rc < 0 || !child) continue;
            if (n == cap) {
                uint64_t *ns = realloc(stack, cap * 2 * sizeof *ns);
                if (!ns) { rc = -ENOMEM; break; }
                stack = ns;
                cap *= 2;
            }
            stack[n++] = child;
        }
    }
    free(stack);
    if (rc == -ENOMEM) return err_set(err, -ENOMEM, "out of memory marking live trees");
    return rc;
}

static int drop_versions(struct store *s, uint32_t keep, struct store_vacuum_report *rep,
                         struct smfs_err *err)
{
    uint64_t *drop = malloc((s->nvers ? s->nvers : 1) * sizeof *drop);
    if (!drop) return err_set(err, -ENOMEM, "out of memory choosing versions to drop");
    size_t nd = 0;
    pthread_rwlock_wrlock(&s->idx);
    size_t n = s->nvers;
    for (size_t i = 0; i < n; i++) {
        const struct ver *v = &s->vers[i];
        if (i + keep >= n || atomic_load(&v->pins) > 0) continue;
        drop[nd++] = v->version;
    }
    for (size_t i = 0; i < nd; i++) vers_remove_locked(s, drop[i]);
    pthread_rwlock_unlock(&s->idx);
    rep->versions_dropped = (uint32_t)nd;
    rep->versions_kept = (uint32_t)(n - nd);
    int rc = 0;
    if (nd) {
        struct buf b;
        buf_init(&b, REC_MAX);
        rc = buf_put_u32(&b, (uint32_t)nd);
        if (rc == 0) rc = buf_put_u32(&b, 0);
        for (size_t i = 0; i < nd && rc == 0; i++) rc = buf_put_u64(&b, drop[i]);
        uint64_t loc;
        if (rc < 0) rc = err_set(err, rc, "drop record for %zu versions does not fit", nd);
        else rc = pack_append(s, REC_DROP, 0, b.p, (uint32_t)b.len, &loc, err);
        if (rc == 0 && fault_hit("vacuum.drop_written")) rc = err_set(err, -EIO, "injected fault at vacuum.drop_written");
        /* Commit point 1/3: the DROP record durable before any object is unlinked
         * (sweep_tier). An unlink that reached disk before the record would, after a
         * crash, leave a version that reopens as kept yet has lost its files. */
        if (rc == 0) rc = pack_sync(s, err);
        if (rc < 0) store_mark_broken(s, err);
        buf_release(&b);
    }
    free(drop);
    return rc;
}

static int sweep_tier(struct store *s, unsigned t, const struct u64map *objs,
                      struct store_vacuum_report *rep, struct smfs_err *err)
{
    for (unsigned x = 0; x < 256; x++) {
        char sub[4];
        snprintf(sub, sizeof sub, "%02x", x);
        int dfd = openat(s->obj_fd[t], sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return err_sys(err, "open", sub);
        DIR *d = fdopendir(dfd);
        if (!d) {
            close(dfd);
            return err_sys(err, "opendir", sub);
        }
        int rc = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            const char *nm = de->d_name;
            size_t l = strlen(nm);
            if (l < 16 || strspn(nm, "0123456789abcdef") != 16 || (l != 16 && strcmp(nm + 16, ".tmp") != 0))
                continue;   /* not ours: leave it */
            uint64_t id = strtoull(nm, NULL, 16);
            if (l == 16 && u64map_get(objs, obj_key(id, t), NULL)) continue;
            struct stat st;
            if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0) rep->object_bytes += (uint64_t)st.st_size;
            if (fault_hit("vacuum.unlink")) {
                rc = err_set(err, -EIO, "injected fault at vacuum.unlink");
                break;
            }
            if (unlinkat(dfd, nm, 0) < 0 && errno != ENOENT) {
                rc = err_sys(err, "unlink", nm);
                break;
            }
            rep->objects_removed++;
        }
        closedir(d);
        if (rc < 0) return err_wrap(err, "tier '%s' objects/%s", s->tiers[t].name, sub);
    }
    return 0;
}

/* Copy the live records of packs [0, k) to the end of the log; RELOC gets the new
 * location of every copied tree (by tree id) and version (in the version table, done
 * by the caller under idx). */
static int copy_live(struct store *s, size_t k, const struct u64map *live, struct u64map *reloc,
                     struct u64map *vreloc, uint64_t *copied, struct smfs_err *err)
{
    /* Snapshot the maps and sizes: appends may add packs and move s->packs. */
    size_t nsrc = k;
    struct pack *src = malloc(nsrc * sizeof *src);
    if (!src) return err_set(err, -ENOMEM, "out of memory compacting");
    memcpy(src, s->packs, nsrc * sizeof *src);
    int rc = 0;
    for (size_t i = 0; i < nsrc && rc == 0; i++) {
        for (uint64_t off = PACK_HDR; off + REC_HDR <= src[i].size && rc == 0;) {
            const uint8_t *h = src[i].map + off;
            uint32_t len = le32(h + 8);
            uint8_t type = h[4];
            uint64_t id = le64(h + 16), here = loc_make(src[i].seq, off), cur, nloc;
            off += REC_HDR + pad8(len);
            bool want = false;
            if (type == REC_TREE)
                want = u64map_get(live, id, NULL) && u64map_get(&s->tids, id, &cur) && cur == here;
            else if (type == REC_COMMIT) {
                const struct ver *v = vers_find_locked(s, id);
                want = v && v->loc == here;
            }
            if (!want) continue;
            rc = pack_append(s, type, id, h + REC_HDR, len, &nloc, err);
            if (rc == 0) rc = u64map_put(type == REC_TREE ? reloc : vreloc, id, nloc);
            if (rc == -ENOMEM) rc = err_set(err, -ENOMEM, "out of memory compacting");
            *copied += REC_HDR + pad8(len);
        }
    }
    free(src);
    return rc;
}

static int compact(struct store *s, double below, const struct u64map *live,
                   struct store_vacuum_report *rep, struct smfs_err *err)
{
    size_t np = s->npacks;
    uint64_t *used = calloc(np, sizeof *used);
    if (!used) return err_set(err, -ENOMEM, "out of memory compacting");
    uint32_t first = s->packs[0].seq;
    for (size_t i = 0; i < s->tids.cap + s->nvers; i++) {
        uint64_t loc;
        if (i < s->tids.cap) {
            if (!s->tids.key[i] || !u64map_get(live, s->tids.key[i], NULL)) continue;
            loc = s->tids.val[i];
        } else {
            loc = s->vers[i - s->tids.cap].loc;
        }
        uint8_t type;
        uint64_t id;
        const uint8_t *p;
        uint32_t len;
        struct smfs_err ignore;
        if (pack_record(s, loc, &type, &id, &p, &len, &ignore) == 0)
            used[loc_seq(loc) - first] += REC_HDR + pad8(len);
    }
    size_t k = 0;
    while (k + 1 < np && (double)used[k] < below * (double)(s->packs[k].size - PACK_HDR)) k++;
    free(used);
    if (k == 0) return 0;

    struct u64map reloc = { 0 }, vreloc = { 0 }, next = { 0 };
    uint64_t copied = 0, freed = 0;
    uint32_t keep_seq = s->packs[k].seq;
    for (size_t i = 0; i < k; i++) freed += s->packs[i].size;
    int rc = copy_live(s, k, live, &reloc, &vreloc, &copied, err);
    /* Commit point 2/3: the copies durable before the COMPACT record that makes them
     * the only copies. Were the record to reach disk first, a crash would reopen a
     * log whose COMPACT says "the low packs are gone" while the copies it relies on
     * are a torn tail. */
    if (rc == 0) rc = pack_sync(s, err);
    if (rc == 0 && fault_hit("vacuum.copied")) rc = err_set(err, -EIO, "injected fault at vacuum.copied");
    /* The map after the switch: every tree outside the emptied packs, and the copies. */
    for (size_t i = 0; rc == 0 && i < s->tids.cap; i++) {
        uint64_t key = s->tids.key[i], loc;
        if (!key) continue;
        if (u64map_get(&reloc, key, &loc)) rc = u64map_put(&next, key, loc);
        else if (loc_seq(s->tids.val[i]) >= keep_seq) rc = u64map_put(&next, key, s->tids.val[i]);
        if (rc == -ENOMEM) rc = err_set(err, -ENOMEM, "out of memory compacting");
    }
    uint64_t loc;
    if (rc == 0) rc = pack_append(s, REC_COMPACT, keep_seq, NULL, 0, &loc, err);
    if (rc == 0 && fault_hit("vacuum.compact_written")) rc = err_set(err, -EIO, "injected fault at vacuum.compact_written");
    /* Commit point 3/3: the COMPACT record durable before the low packs are
     * unlinked. A crash before this sync reopens with the old packs intact (the
     * copies are an uncommitted tail); after it, store_open finishes the unlinks. */
    if (rc == 0) rc = pack_sync(s, err);
    if (rc < 0) {
        store_mark_broken(s, err);
        goto out;
    }
    /* Switch, then unmap: no reader holds a pointer into a pack outside idx. */
    pthread_rwlock_wrlock(&s->idx);
    u64map_release(&s->tids);
    s->tids = next;
    next = (struct u64map){ 0 };
    for (size_t i = 0; i < s->nvers; i++) u64map_get(&vreloc, s->vers[i].version, &s->vers[i].loc);
    for (size_t i = 0; i < k; i++) munmap(s->packs[i].map, s->packs[i].reserve);
    memmove(s->packs, s->packs + k, (s->npacks - k) * sizeof *s->packs);
    s->npacks -= k;
    pthread_rwlock_unlock(&s->idx);
    for (size_t i = 0; i < k; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%08u.pack", keep_seq - (uint32_t)k + (uint32_t)i);
        if (fault_hit("vacuum.pack_unlink")) {
            rc = err_set(err, -EIO, "injected fault at vacuum.pack_unlink");
            break;
        }
        if (unlinkat(s->packs_fd, name, 0) < 0 && errno != ENOENT) {
            rc = err_sys(err, "unlink", name);
            break;
        }
        rep->packs_removed++;
    }
    /* The packs directory: makes the unlinks durable before a later pack_create can
     * reuse a number, so a power loss never brings an emptied pack back beside newer
     * ones (store_open would otherwise have to tell a stale pack from a live one). */
    if (rc == 0 && !s->no_sync && fsync(s->packs_fd) < 0) rc = err_sys(err, "fsync", "packs");
    rep->pack_bytes = freed > copied ? freed - copied : 0;
out:
    u64map_release(&reloc);
    u64map_release(&vreloc);
    u64map_release(&next);
    return rc;
}

int store_vacuum(struct store *s, const struct store_vacuum_opts *o,
                 struct store_vacuum_report *rep, struct smfs_err *err)
{
    struct store_vacuum_report r = { 0 };
    uint32_t keep = o && o->keep ? o->keep : 1;
    double below = o && o->compact_below > 0 ? o->compact_below : 0.5;
    pthread_mutex_lock(&s->wlock);
    struct u64map tids = { 0 }, objs = { 0 };
    int rc = 0;
    if (s->broken && (rc = store_repair_locked(s, err)) < 0) {
        err_wrap(err, "store '%s' cannot write after a failed index write (%s)", s->home, s->broken_why);
        goto out;
    }
    if ((rc = drop_versions(s, keep, &r, err)) < 0) goto out;
    if (fault_hit("vacuum.dropped")) {
        rc = err_set(err, -EIO, "injected fault at vacuum.dropped");
        goto out;
    }
    for (size_t i = 0; i < s->nvers && rc == 0; i++) {
        rc = mark_version_locked(s, s->vers[i].root, &tids, &objs, err);
        if (rc < 0) err_wrap(err, "version %llu", (unsigned long long)s->vers[i].version);
    }
    for (unsigned t = 0; t < s->ntiers && rc == 0; t++) rc = sweep_tier(s, t, &objs, &r, err);
    if (rc == 0) rc = compact(s, below, &tids, &r, err);
out:
    u64map_release(&tids);
    u64map_release(&objs);
    pthread_mutex_unlock(&s->wlock);
    if (rep) *rep = r;
    if (rc < 0) return err_wrap(err, "vacuum of store '%s'", s->home);
    return 0;
}
