/* core/u64map.c: see u64map.h. Linear probing; deletion shifts the cluster back so
 * no tombstones are needed. */
#include "u64map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>


static size_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

static int u64map_grow(struct u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = calloc(cap, sizeof *k), *v = malloc(cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->key[i]) continue;
        size_t j = mix(m->key[i]) & (cap - 1);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = m->key[i];
        v[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    m->key = k;
    m->val = v;
    m->cap = cap;
    return 0;
}

int u64map_reserve(struct u64map *m, size_t extra)
{
    while ((m->n + extra + 1) * 4 > m->cap * 3)
        if (u64map_grow(m) < 0) return -ENOMEM;
    return 0;
}

int u64map_put(struct u64map *m, uint64_t k, uint64_t v)
{
    if (u64map_reserve(m, 1) < 0) return -ENOMEM;
    u64map_put_reserved(m, k, v);
    return 0;
}

void u64map_put_reserved(struct u64map *m, uint64_t k, uint64_t v)
{
    size_t j = mix(k) & (m->cap - 1);
    while (m->key[j] && m->key[j] != k) j = (j + 1) & (m->cap - 1);
    if (!m->key[j]) m->n++;
    m->key[j] = k;
    m->val[j] = v;
}

bool u64map_get(const struct u64map *m, uint64_t k, uint64_t *v)
{
    if (!m->cap) return false;
    size_t j = mix(k) & (m->cap - 1);
    while (m->key[j]) {
        if (m->key[j] == k) {
            if (v) *v = m->val[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void u64map_release(struct u64map *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

bool u64map_del(struct u64map *m, uint64_t k)
{
    if (!m->cap) return false;
    size_t mask = m->cap - 1, j = mix(k) & mask;
    while (m->key[j] != k) {
        if (!m->key[j]) return false;
        j = (j + 1) & mask;
    }
    /* Backward shift: move each later member of the cluster into the hole when its
     * home slot does not lie cyclically in (hole, its slot], so every key stays
     * reachable from its home without tombstones. */
    size_t hole = j;
    for (size_t i = (j + 1) & mask; m->key[i]; i = (i + 1) & mask) {
        size_t home = mix(m->key[i]) & mask;
        bool between = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (between) continue;
        m->key[hole] = m->key[i];
        m->val[hole] = m->val[i];
        hole = i;
    }
    m->key[hole] = 0;
    m->n--;
    return true;
}
