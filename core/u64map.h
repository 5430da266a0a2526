/* core/u64map.h: a u64 → u64 hash map (open addressing, linear probing).
 * Owns:    its two arrays.
 * Never:   stores key 0 (it marks an empty slot); locks (the caller does).
 * Errors:  -ENOMEM from the calls that grow. */
#ifndef SMFS_U64MAP_H
#define SMFS_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
    uint64_t *key, *val;
    size_t    cap, n;    /* cap a power of two, n < cap * 3/4 */
};

int  u64map_put(struct u64map *m, uint64_t k, uint64_t v) __attribute__((warn_unused_result));
int  u64map_reserve(struct u64map *m, size_t extra) __attribute__((warn_unused_result));
void u64map_put_reserved(struct u64map *m, uint64_t k, uint64_t v);  /* after a reserve */
bool u64map_get(const struct u64map *m, uint64_t k, uint64_t *v);
bool u64map_del(struct u64map *m, uint64_t k);                       /* false if absent */
void u64map_release(struct u64map *m);

#endif
