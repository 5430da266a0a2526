/* fs/s3cache.h: the local cache that lets a stock kdb+ (without the object-store
 * library) \l partitions of the S3 tier through the mount (smfs --s3-cache DIR[:SIZE]).
 * A file of the bucket is fetched whole on its first open into DIR/<object id>, checked
 * (its size; its checksum when the store has one), and served from there; files not
 * open are evicted least recently used first once the cache holds more than SIZE bytes.
 * A file open is never evicted (the bound may be exceeded while more is open than fits).
 *
 * Where a file is in the bucket: the store names it under .smfs/s3/<tier>/<date>/...,
 * and the view hands the mount only its object id, so the cache maps ids to keys by
 * walking that directory of the version once per tree (a migration makes a new one).
 *
 * Owns:    DIR's files named by object id (emptied at start: it is a cache), one S3
 *          handle per fetch in flight, the id -> key maps.
 * Never:   serves bytes it has not checked against the store's size (and checksum);
 *          evicts a file that is open; holds its mutex across a download.
 * Threads: every call from any FUSE thread; one mutex; a second open of a file being
 *          fetched waits for that fetch.
 * Errors:  0 / an fd, or -errno with *err naming the key and why. */
#ifndef SMFS_S3CACHE_H
#define SMFS_S3CACHE_H

#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/s3.h"
#include "core/store.h"

struct s3cache;

/* SPEC is "DIR" or "DIR:SIZE" (SIZE in bytes, or with K, M, G, T; default 10G). The
 * object tier is CFG's last date tier; -EINVAL if it has none. Credentials and endpoint
 * from the AWS variables (s3_conf_env). */
int s3cache_new(const char *spec, const struct cfg *cfg, struct store *s, struct s3cache **out,
                struct smfs_err *err) __attribute__((warn_unused_result));
void s3cache_free(struct s3cache *c);

/* The tier's segment name (the view serves it as v<N>$/<name>) and its par.txt line. */
const char *s3cache_segment(const struct s3cache *c);
const char *s3cache_line(const struct s3cache *c);

/* An O_RDONLY fd of remote file OBJ of VERSION (pinned by the caller), fetched first if
 * need be; s3cache_close when done with it. */
int s3cache_open(struct s3cache *c, uint64_t version, const struct store_entry *obj, struct smfs_err *err)
        __attribute__((warn_unused_result));
void s3cache_close(struct s3cache *c, uint64_t id, int fd);

struct s3cache_stats {
    uint64_t hits, misses, fetched_bytes, evicted, bytes, files, max_bytes;
};
void s3cache_stats(struct s3cache *c, struct s3cache_stats *st);

#endif
