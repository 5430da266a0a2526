/* core/kdb_file.c: kdb+ files on disk: open (mapped), probe, decompress, load, save. */
#include "kdb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

int kdb_file_open(struct kdb_file *f, const char *path, struct smfs_err *err)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return err_set(err, -ENOMEM, "out of memory");
    struct file_map m;
    int rc = file_map(path, &m, err);
    if (rc < 0) goto fail;
    f->map = m.p;
    f->maplen = m.len;
    if (f->maplen >= 8 && memcmp(f->map, KDB_ZIP_MAGIC, 8) == 0) {
        f->compressed = true;
        rc = kdb_zip_info(f->map, f->maplen, path, &f->z, err);
        if (rc < 0) goto fail;
        if (f->z.ulen > KDB_MAX_LOAD) {
            rc = err_set(err, -EFBIG, "'%s': %" PRIu64 " uncompressed bytes is over the %zu-byte limit",
                         path, f->z.ulen, KDB_MAX_LOAD);
            goto fail;
        }
    }
    return 0;
fail:
    kdb_file_close(f);
    return rc;
}

void kdb_file_close(struct kdb_file *f)
{
    struct file_map m = { f->map, f->maplen };
    file_unmap(&m);
    free(f->raw);
    free(f->path);
    memset(f, 0, sizeof *f);
}

int kdb_file_content(struct kdb_file *f, const uint8_t **p, size_t *len, struct smfs_err *err)
{
    if (!f->compressed) {
        *p = f->map;
        *len = f->maplen;
        return 0;
    }
    if (!f->raw) {
        struct buf b;
        buf_init(&b, KDB_MAX_LOAD);
        int rc = kdb_unzip_blocks(f->map, f->maplen, &f->z, 0, f->z.nblocks, f->path, &b, err);
        if (rc < 0) {
            buf_release(&b);
            return rc;
        }
        f->raw = buf_take(&b, &f->rawlen);
        if (!f->raw) f->raw = calloc(1, 1);   /* ulen 0 cannot pass kdb_zip_info; be safe */
        if (!f->raw) return err_set(err, -ENOMEM, "out of memory");
    }
    *p = f->raw;
    *len = f->rawlen;
    return 0;
}

int kdb_file_info(struct kdb_file *f, struct kdb_info *info, struct smfs_err *err)
{
    int rc;
    if (f->compressed && !f->raw) {
        /* Probe from block 0 alone where the format allows: vectors and enums carry
         * their count in the first 4096 bytes and we know the total size. */
        struct buf b;
        buf_init(&b, 0);
        rc = kdb_unzip_blocks(f->map, f->maplen, &f->z, 0, 1, f->path, &b, err);
        if (rc < 0) {
            buf_release(&b);
            return rc;
        }
        bool object = b.len >= 2 && b.p[0] == 0xff && b.p[1] == 0x01;
        bool whole = f->z.nblocks == 1;
        if (whole || object) {
            buf_release(&b);
            const uint8_t *p;
            size_t len;
            if ((rc = kdb_file_content(f, &p, &len, err)) < 0) return rc;
            rc = kdb_probe(p, len, f->path, info, err);
        } else {
            rc = kdb_probe_head(b.p, b.len, f->z.ulen, f->path, info, err);
            buf_release(&b);
        }
    } else {
        const uint8_t *p;
        size_t len;
        if ((rc = kdb_file_content(f, &p, &len, err)) < 0) return rc;
        rc = kdb_probe(p, len, f->path, info, err);
    }
    if (rc < 0) return rc;
    info->file_size = f->maplen;
    info->compressed = f->compressed;
    if (f->compressed) info->z = f->z;
    return 0;
}

int kdb_file_head(struct kdb_file *f, const struct kdb_info *in, int64_t n, struct k **out,
                  struct smfs_err *err)
{
    *out = NULL;
    bool e32 = in->fmt == KDB_FMT_ENUM32;
    if (in->fmt != KDB_FMT_VECTOR && in->fmt != KDB_FMT_ENUM && !e32)
        return err_set(err, -EINVAL, "'%s': only vector and enumeration files have a head to read", f->path);
    if (n > in->count) n = in->count;
    if (n < 0) n = 0;
    int w = e32 ? 4 : k_width(in->type);
    uint64_t need = in->data_off + (uint64_t)n * (uint64_t)w;   /* within the probed size */
    const uint8_t *p = f->map;
    struct buf b;
    buf_init(&b, 0);
    if (f->compressed) {
        uint64_t blocks = need ? (need + f->z.block_size - 1) / f->z.block_size : 1;
        int rc = kdb_unzip_blocks(f->map, f->maplen, &f->z, 0, blocks, f->path, &b, err);
        if (rc < 0) {
            buf_release(&b);
            return rc;
        }
        p = b.p;
    }
    struct k *x = in->type == KT_ENUM ? k_enum(in->domain, n) : k_vec((int8_t)in->type, n);
    if (!x) {
        buf_release(&b);
        return err_set(err, -ENOMEM, "out of memory");
    }
    x->attr = (uint8_t)in->attr;
    if (e32) {
        for (int64_t i = 0; i < n; i++) ((int64_t *)x->u.v)[i] = (int32_t)le32(p + in->data_off + 4 * (uint64_t)i);
    } else if (n) {
        memcpy(x->u.v, p + in->data_off, (size_t)n * (size_t)w);
    }
    buf_release(&b);
    *out = x;
    return 0;
}

int kdb_load(const char *path, struct k **out, struct smfs_err *err)
{
    *out = NULL;
    struct kdb_file f, h;
    int rc = kdb_file_open(&f, path, err);
    if (rc < 0) return rc;
    const uint8_t *p;
    size_t len;
    if ((rc = kdb_file_content(&f, &p, &len, err)) < 0) goto out;
    /* Objects decode in one pass (their probe would deserialize them too). */
    if (len >= 3 && p[0] == 0xff && p[1] == 0x01) {
        rc = kdb_decode(p, len, path, out, err);
        goto out;
    }
    struct kdb_info in;
    if ((rc = kdb_probe(p, len, path, &in, err)) < 0) goto out;
    if (in.fmt == KDB_FMT_ANYMAP) {
        char hp[4096];
        if (snprintf(hp, sizeof hp, "%s#", path) >= (int)sizeof hp) {
            rc = err_set(err, -ENAMETOOLONG, "path '%s' is too long", path);
            goto out;
        }
        if ((rc = kdb_file_open(&h, hp, err)) < 0) {
            err_wrap(err, "nested column '%s' needs its heap", path);
            goto out;
        }
        const uint8_t *hp_p;
        size_t hp_len;
        rc = kdb_file_content(&h, &hp_p, &hp_len, err);
        if (rc == 0) rc = kdb_decode_nested(p, len, hp_p, hp_len, path, out, err);
        kdb_file_close(&h);
    } else {
        rc = kdb_decode_probed(p, len, path, &in, out, err);
    }
out:
    kdb_file_close(&f);
    return rc;
}

static int save_one(const char *path, const struct buf *b, const struct kdb_zparams *zp, bool sync,
                    struct smfs_err *err)
{
    if (!zp || zp->alg == KDB_ZIP_NONE) return file_write(path, b->p, b->len, sync, err);
    struct buf z;
    buf_init(&z, 0);
    int rc = kdb_zip(b->p, b->len, zp, &z, err);
    if (rc == 0) rc = file_write(path, z.p, z.len, sync, err);
    else err_wrap(err, "'%s'", path);
    buf_release(&z);
    return rc;
}

int kdb_save(const char *path, const struct k *x, unsigned flags, const struct kdb_zparams *zp,
             bool sync, struct smfs_err *err)
{
    struct buf a, h;
    buf_init(&a, 0);
    buf_init(&h, 0);
    int rc;
    /* A general list as a column file is a nested column (col + col#), empty or not. */
    bool nested = x->t == KT_LIST;
    if (nested) {
        rc = kdb_encode_nested(x, &a, &h, err);
        if (rc == 0) {
            char hp[4096];
            if (snprintf(hp, sizeof hp, "%s#", path) >= (int)sizeof hp) {
                rc = err_set(err, -ENAMETOOLONG, "path '%s' is too long", path);
                goto out;
            }
            /* Heap first: an index that appears without its heap is a broken column. */
            rc = save_one(hp, &h, zp, sync, err);
            if (rc == 0) rc = save_one(path, &a, zp, sync, err);
        }
    } else {
        rc = kdb_encode(x, flags, &a, err);
        if (rc == 0) rc = save_one(path, &a, zp, sync, err);
    }
    if (rc < 0 && !strstr(err->msg, path)) err_wrap(err, "'%s'", path);
out:
    buf_release(&a);
    buf_release(&h);
    return rc;
}
