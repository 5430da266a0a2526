/* core/store_tree.c: the directory tree records of the index, and reading them.
 *
 * Format of a TREE record's payload (little-endian):
 *    0  u8  level: 0 = a list of entries, 1 = an index of chunks (each a level-0 tree)
 *    1  3 zero bytes
 *    4  u32 n: entries (level 0) or chunks (level 1)
 *    8  u32 length of the name area
 *   12  u32 total entries of the directory (level 0: n)
 *   16  i64 written, ns since the epoch
 *   24  n entries, then the name area (names are not NUL-terminated)
 * level-0 entry (48 bytes), sorted by name (bytewise, shorter first on a tie):
 *    0  u64 id: object id (file) or tree id (directory)
 *    8  u64 size: bytes (file) or entries (directory)
 *   16  u64 XXH3-64 of the file's bytes (0 for a directory)
 *   24  i64 mtime ns
 *   32  u32 name offset   36 u16 name length   38 u8 kind   39 u8 tier   40 u8 flags
 *   41  1 zero byte   42 u16 mode: a linked file's permission bits when taken (0: none)
 *   44  4 zero bytes  (stores written before the mode field have 0 there: no mode)
 * level-1 entry (24 bytes), in name order of the chunks' first names:
 *    0  u64 tree id of the chunk   8 u32 entries in it   12 u32 name offset
 *   16  u16 name length (the chunk's first name)   18  6 zero bytes
 *
 * Why chunks. A segment directory of a date-partitioned HDB holds thousands of
 * partitions, and every version adds one. Rewriting the whole listing per version
 * would make the index grow by the listing's size each day. Directories above
 * TREE_FLAT_MAX entries are cut into chunks at content-defined boundaries (a name
 * whose hash has its low 5 bits zero, at least TREE_CHUNK_MIN entries in), so adding
 * or replacing one name rewrites one chunk and the small index, and every other chunk
 * is byte-identical to its old self and keeps its tree id (store_tx.c). */
#include "store_int.h"

#include <errno.h>
#include <string.h>
#include <xxhash.h>

#include "buf.h"

bool store_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > STORE_NAME_MAX) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

int tree_get_locked(struct store *s, uint64_t tid, struct tree_view *t, struct smfs_err *err)
{
    uint64_t loc;
    if (!u64map_get(&s->tids, tid, &loc))
        return err_set(err, -ESTALE, "tree %llu is not in the index (vacuumed, or never written)",
                       (unsigned long long)tid);
    uint8_t type;
    uint64_t id;
    int rc = pack_record(s, loc, &type, &id, &t->p, &t->len, err);
    if (rc < 0) return rc;
    if (type != REC_TREE || id != tid)
        return err_set(err, -EIO, "index says tree %llu is at p%08u+%llu, but the record there is type %u id %llu",
                       (unsigned long long)tid, loc_seq(loc), (unsigned long long)loc_off(loc),
                       type, (unsigned long long)id);
    if (t->len < TREE_HDR) goto bad;
    t->level = t->p[0];
    t->n = le32(t->p + 4);
    t->names_len = le32(t->p + 8);
    t->total = le32(t->p + 12);
    t->mtime_ns = (int64_t)le64(t->p + 16);
    uint32_t esz = t->level == 0 ? TREE_ENT : TREE_IDX_ENT;
    if (t->level > 1 || (uint64_t)TREE_HDR + (uint64_t)t->n * esz + t->names_len != t->len ||
        (t->level == 0 && t->total != t->n))
        goto bad;
    t->names = t->p + TREE_HDR + (size_t)t->n * esz;
    return 0;
bad:
    return err_set(err, -EIO, "tree %llu (p%08u+%llu) is malformed: %u bytes do not hold its header's entries",
                   (unsigned long long)tid, loc_seq(loc), (unsigned long long)loc_off(loc), t->len);
}

static int name_at(const struct tree_view *t, uint32_t off, uint32_t len, const uint8_t **name,
                   struct smfs_err *err)
{
    if ((uint64_t)off + len > t->names_len || !store_name_ok((const char *)t->names + off, len))
        return err_set(err, -EIO, "tree entry names a bad or out-of-bounds name (offset %u, length %u)",
                       off, len);
    *name = t->names + off;
    return 0;
}

int tree_entry_at(const struct tree_view *t, uint32_t i, struct store_entry *e,
                  struct smfs_err *err)
{
    const uint8_t *p = t->p + TREE_HDR + (size_t)i * TREE_ENT;
    const uint8_t *name = NULL;
    uint16_t nl = (uint16_t)(p[36] | p[37] << 8);
    int rc = name_at(t, le32(p + 32), nl, &name, err);
    if (rc < 0) return rc;
    e->kind = p[38];
    e->tier = p[39];
    e->flags = p[40];
    e->mode = (uint16_t)(p[42] | p[43] << 8);
    e->id = le64(p);
    e->size = le64(p + 8);
    e->sum = le64(p + 16);
    e->mtime_ns = (int64_t)le64(p + 24);
    if ((e->kind != STORE_FILE && e->kind != STORE_DIR) || e->tier >= STORE_TIERS_MAX || e->id == 0)
        return err_set(err, -EIO, "tree entry '%.*s' has kind %u, tier %u, id %llu", nl, name,
                       e->kind, e->tier, (unsigned long long)e->id);
    memcpy(e->name, name, nl);
    e->name[nl] = '\0';
    return 0;
}

int tree_chunk_at(const struct tree_view *t, uint32_t i, uint64_t *tid, uint32_t *count,
                  struct smfs_err *err)
{
    const uint8_t *p = t->p + TREE_HDR + (size_t)i * TREE_IDX_ENT;
    *tid = le64(p);
    *count = le32(p + 8);
    if (*tid == 0 || *count == 0)
        return err_set(err, -EIO, "tree index entry %u names chunk %llu of %u entries", i,
                       (unsigned long long)*tid, *count);
    return 0;
}

static int chunk_name(const struct tree_view *t, uint32_t i, const uint8_t **name, size_t *len,
                      struct smfs_err *err)
{
    const uint8_t *p = t->p + TREE_HDR + (size_t)i * TREE_IDX_ENT;
    uint16_t nl = (uint16_t)(p[16] | p[17] << 8);
    *len = nl;
    return name_at(t, le32(p + 12), nl, name, err);
}

static int leaf_find(const struct tree_view *t, const char *name, size_t nlen,
                     struct store_entry *e, struct smfs_err *err)
{
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *p = t->p + TREE_HDR + (size_t)mid * TREE_ENT;
        uint32_t off = le32(p + 32);
        uint16_t nl = (uint16_t)(p[36] | p[37] << 8);
        if ((uint64_t)off + nl > t->names_len)
            return err_set(err, -EIO, "tree entry %u has its name out of bounds", mid);
        int c = store_name_cmp(t->names + off, nl, name, nlen);
        if (c == 0) return tree_entry_at(t, mid, e, err);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -ENOENT;
}

int tree_find_locked(struct store *s, uint64_t tid, const char *name, size_t nlen,
                     struct store_entry *e, struct smfs_err *err)
{
    struct tree_view t;
    int rc = tree_get_locked(s, tid, &t, err);
    if (rc < 0) return rc;
    if (t.level == 0) return leaf_find(&t, name, nlen, e, err);
    /* The last chunk whose first name is <= NAME. */
    uint32_t lo = 0, hi = t.n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *cn = NULL;
        size_t cl;
        rc = chunk_name(&t, mid, &cn, &cl, err);
        if (rc < 0) return rc;
        if (store_name_cmp(cn, cl, name, nlen) <= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return -ENOENT;
    uint64_t ctid;
    uint32_t count;
    rc = tree_chunk_at(&t, lo - 1, &ctid, &count, err);
    if (rc < 0) return rc;
    struct tree_view c;
    rc = tree_get_locked(s, ctid, &c, err);
    if (rc < 0) return rc;
    if (c.level != 0)
        return err_set(err, -EIO, "chunk %llu of tree %llu is itself an index",
                       (unsigned long long)ctid, (unsigned long long)tid);
    return leaf_find(&c, name, nlen, e, err);
}

int tree_read_locked(struct store *s, uint64_t tid, uint64_t start, struct store_entry *ents,
                     size_t max, size_t *n, struct smfs_err *err)
{
    *n = 0;
    struct tree_view t;
    int rc = tree_get_locked(s, tid, &t, err);
    if (rc < 0) return rc;
    if (t.level == 0) {
        for (uint64_t i = start; i < t.n && *n < max; i++) {
            rc = tree_entry_at(&t, (uint32_t)i, &ents[*n], err);
            if (rc < 0) return rc;
            (*n)++;
        }
        return 0;
    }
    uint64_t base = 0;
    for (uint32_t ci = 0; ci < t.n && *n < max; ci++) {
        uint64_t ctid;
        uint32_t count;
        rc = tree_chunk_at(&t, ci, &ctid, &count, err);
        if (rc < 0) return rc;
        if (base + count <= start) {
            base += count;
            continue;
        }
        struct tree_view c;
        rc = tree_get_locked(s, ctid, &c, err);
        if (rc < 0) return rc;
        if (c.level != 0 || c.n != count)
            return err_set(err, -EIO, "chunk %llu of tree %llu holds %u entries, its index says %u",
                           (unsigned long long)ctid, (unsigned long long)tid, c.n, count);
        for (uint64_t i = start > base ? start - base : 0; i < c.n && *n < max; i++) {
            rc = tree_entry_at(&c, (uint32_t)i, &ents[*n], err);
            if (rc < 0) return rc;
            (*n)++;
        }
        base += count;
    }
    return 0;
}

static int put_hdr(struct buf *b, uint8_t level, uint32_t n, uint32_t names_len, uint32_t total,
                   int64_t mtime)
{
    uint8_t h[TREE_HDR] = { level };
    st32(h + 4, n);
    st32(h + 8, names_len);
    st32(h + 12, total);
    st64(h + 16, (uint64_t)mtime);
    return buf_append(b, h, sizeof h);
}

int tree_encode_leaf(struct buf *b, const struct tree_ent *ents, size_t n, int64_t mtime)
{
    uint32_t names = 0;
    for (size_t i = 0; i < n; i++) names += ents[i].nlen;
    int rc = put_hdr(b, 0, (uint32_t)n, names, (uint32_t)n, mtime);
    uint32_t off = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct tree_ent *e = &ents[i];
        uint8_t p[TREE_ENT] = { 0 };
        size_t nl = e->nlen;
        st64(p, e->id);
        st64(p + 8, e->size);
        st64(p + 16, e->sum);
        st64(p + 24, (uint64_t)e->mtime_ns);
        st32(p + 32, off);
        p[36] = (uint8_t)nl;
        p[37] = (uint8_t)(nl >> 8);
        p[38] = e->kind;
        p[39] = e->tier;
        p[40] = e->flags;
        p[42] = (uint8_t)e->mode;
        p[43] = (uint8_t)(e->mode >> 8);
        off += (uint32_t)nl;
        rc = buf_append(b, p, sizeof p);
    }
    for (size_t i = 0; i < n && rc == 0; i++) rc = buf_append(b, ents[i].name, ents[i].nlen);
    return rc;
}

int tree_encode_index(struct buf *b, const uint64_t *tids, const uint32_t *counts,
                      const struct tree_ent *const *firsts, size_t n, int64_t mtime)
{
    uint32_t names = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        names += firsts[i]->nlen;
        total += counts[i];
    }
    int rc = put_hdr(b, 1, (uint32_t)n, names, total, mtime);
    uint32_t off = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t p[TREE_IDX_ENT] = { 0 };
        size_t nl = firsts[i]->nlen;
        st64(p, tids[i]);
        st32(p + 8, counts[i]);
        st32(p + 12, off);
        p[16] = (uint8_t)nl;
        p[17] = (uint8_t)(nl >> 8);
        off += (uint32_t)nl;
        rc = buf_append(b, p, sizeof p);
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = buf_append(b, firsts[i]->name, firsts[i]->nlen);
    return rc;
}

bool tree_boundary(const struct tree_ent *e, size_t in_chunk)
{
    if (in_chunk >= TREE_CHUNK_MAX) return true;
    return in_chunk >= TREE_CHUNK_MIN && (XXH3_64bits(e->name, e->nlen) & 31) == 0;
}
