/* fuzz_store: arbitrary bytes as a store's only pack file. Opening (the scan, the
 * torn-tail cut), listing and looking up every name of every version, and verify must
 * never crash, leak or overrun, whatever the records claim. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/store.h"

static char home[64], pack[96];

static void walk(struct store *s, struct store_snap *snap, uint64_t dir, int depth)
{
    struct store_entry ents[8];
    size_t n;
    struct smfs_err e;
    for (uint64_t at = 0; depth < 8 && at < 4096; at += n) {
        if (store_dir_read(s, dir, at, ents, 8, &n, &e) < 0 || n == 0) return;
        for (size_t i = 0; i < n; i++) {
            struct store_entry x;
            (void)store_dir_lookup(s, dir, ents[i].name, &x, &e);
            if (ents[i].kind == STORE_DIR) walk(s, snap, ents[i].id, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct smfs_err e;
    if (!home[0]) {
        snprintf(home, sizeof home, "/tmp/smfs-fuzz-store.%d", (int)getpid());
        struct store_tier t = { .name = "hdb" };
        if (store_create(home, &t, 1, &e) < 0) abort();
        snprintf(pack, sizeof pack, "%s/packs/p00000001.pack", home);
    }
    if (file_write(pack, p, n, false, &e) < 0) abort();
    struct store *s;
    struct store_opts o = { .no_sync = true, .pack_max = 1 << 20 };
    if (store_open(home, &o, &s, NULL, &e) < 0) return 0;
    struct store_version *v;
    size_t nv;
    if (store_versions(s, &v, &nv, &e) == 0) {
        for (size_t i = 0; i < nv; i++) {
            struct store_snap *snap;
            if (store_snap_get(s, v[i].version, &snap, &e) < 0) continue;
            struct store_entry x;
            (void)store_lookup(snap, "a/b", &x, &e);
            walk(s, snap, store_snap_root(snap), 0);
            store_snap_put(snap);
        }
        store_versions_free(v, nv);
    }
    (void)store_verify(s, NULL, NULL, NULL, &e);
    store_close(s);
    return 0;
}
