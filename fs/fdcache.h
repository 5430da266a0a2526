/* fs/fdcache.h: the descriptors the cached path (FUSE without passthrough) reads store
 * objects through, bounded. One fd per object however many opens share it, at most
 * MAX of them, the least recently used closed first when a new one is needed; a
 * read in flight holds its fd, and when every cached fd is held a read gets a
 * descriptor of its own for the call. So 24,000 files held open through the mount
 * cost at most MAX descriptors, and no read ever fails for the bound.
 * Owns:    the descriptors it opened, until evicted or fdcache_free.
 * Never:   closes a descriptor a read holds; fails a read because the cache is full.
 * Threads: every call from any thread; one mutex, never held across open(2) or a read.
 * Sequence: fdcache_new → (fdcache_get → read → fdcache_put)* → fdcache_drop (after a
 *          vacuum: unlinked objects give their space back) → fdcache_free.
 * Errors:  fdcache_get returns the fd or -errno with *err filled (from OPEN). */
#ifndef SMFS_FDCACHE_H
#define SMFS_FDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/store.h"

struct fdcache;
struct fdcache_hold {            /* what fdcache_get hands out, for fdcache_put */
    void *ent;                   /* NULL: a descriptor of the call's own */
    int   fd;
};

typedef int fdcache_open_fn(void *arg, const struct store_entry *obj, struct smfs_err *err);

int fdcache_new(size_t max, struct fdcache **out);
void fdcache_free(struct fdcache *c);

/* The fd of OBJ (cached by object id and tier), opened with OPEN when not cached. */
int fdcache_get(struct fdcache *c, const struct store_entry *obj, fdcache_open_fn *open, void *arg,
                struct fdcache_hold *h, struct smfs_err *err) __attribute__((warn_unused_result));
void fdcache_put(struct fdcache *c, struct fdcache_hold *h);

/* Close every cached fd no read holds (after a vacuum). */
void fdcache_drop(struct fdcache *c);

struct fdcache_stats {
    uint64_t open, held, max, hits, misses, evictions, overflow;   /* overflow: own-fd reads */
};
void fdcache_stats(struct fdcache *c, struct fdcache_stats *st);

#endif
