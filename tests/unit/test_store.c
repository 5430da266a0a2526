/* tests/unit/test_store.c: the tier store. Commit and read back, identity across
 * versions, big directories, errors, abort, the lock, vacuum and compaction, tier
 * moves; crash safety by injected failure and by SIGKILL at every fault point of a
 * commit and a vacuum; torn and damaged packs; flipped object bits; readers running
 * through commits and vacuums. */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/fault.h"
#include "core/store.h"

static char root[512];
static int seq;
static struct store *cur_store;   /* the store expect_file reads objects from */

/* A fresh store path under the test's temp dir, with tiers "fast" (home) and "slow". */
static const char *new_store(bool two_tiers)
{
    static char home[600];
    snprintf(home, sizeof home, "%s/s%d", root, ++seq);
    struct store_tier t[2] = { { .name = "fast" }, { .name = "slow" } };
    snprintf(t[1].path, sizeof t[1].path, "%s/s%d-slow", root, seq);
    struct smfs_err err;
    int rc = store_create(home, t, two_tiers ? 2 : 1, &err);
    if (rc < 0) print_message("create: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return home;
}

static struct store *open_ok(const char *home, const struct store_opts *o,
                             struct store_recovery *rep)
{
    struct store *s = NULL;
    struct smfs_err err;
    int rc = store_open(home, o, &s, rep, &err);
    if (rc < 0) print_message("open: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return s;
}

/* The bytes version V gives PATH in the test workloads. */
static size_t content(uint64_t v, const char *path, char *buf, size_t len)
{
    return (size_t)snprintf(buf, len, "version %llu of %s\n", (unsigned long long)v, path);
}

static void put(struct store_tx *tx, const char *path, uint64_t v, unsigned tier)
{
    char b[256];
    size_t n = content(v, path, b, sizeof b);
    struct smfs_err err;
    int rc = store_tx_put_bytes(tx, path, b, n, tier, &err);
    if (rc < 0) print_message("put %s: %s\n", path, err.msg);
    assert_int_equal(rc, 0);
}

static uint64_t commit_ok(struct store_tx *tx)
{
    uint64_t v = 0;
    struct smfs_err err;
    int rc = store_tx_commit(tx, &v, &err);
    if (rc < 0) print_message("commit: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return v;
}

static struct store_tx *begin_ok(struct store *s)
{
    struct store_tx *tx;
    struct smfs_err err;
    int rc = store_tx_begin(s, &tx, &err);
    if (rc < 0) print_message("begin: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return tx;
}

/* Read the whole object of E. */
static size_t read_obj(struct store *s, const struct store_entry *e, char *buf, size_t len)
{
    struct smfs_err err;
    int fd = store_object_open(s, e, &err);
    if (fd < 0) print_message("object: %s\n", err.msg);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, len);
    close(fd);
    assert_true(n >= 0);
    return (size_t)n;
}

/* PATH in SNAP holds exactly what version WANT wrote. */
static void expect_file(struct store_snap *snap, const char *path, uint64_t want)
{
    struct store_entry e;
    struct smfs_err err;
    int rc = store_lookup(snap, path, &e, &err);
    if (rc < 0) print_message("lookup %s: %s\n", path, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(e.kind, STORE_FILE);
    char got[256], exp[256];
    size_t n = content(want, path, exp, sizeof exp);
    assert_int_equal(e.size, n);
    size_t g = read_obj(cur_store, &e, got, sizeof got);
    assert_int_equal(g, n);
    assert_memory_equal(got, exp, n);
}

static void expect_absent(struct store_snap *snap, const char *path)
{
    struct store_entry e;
    struct smfs_err err;
    assert_int_equal(store_lookup(snap, path, &e, &err), -ENOENT);
}

/* ---- basics ---- */

static void commit_then_read_back_with_stable_identity(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    assert_int_equal(store_current(s), 0);
    struct store_tx *tx = begin_ok(s);
    put(tx, "fast/2024.01.02/trade/price", 1, 0);
    put(tx, "fast/2024.01.02/trade/size", 1, 0);
    put(tx, "fast/2024.01.03/trade/price", 1, 0);
    put(tx, "sym", 1, 0);
    struct smfs_err err;
    assert_int_equal(store_tx_set(tx, "kind", "import", &err), 0);
    assert_int_equal(store_tx_set(tx, "signal", "ts=1", &err), 0);
    assert_int_equal(commit_ok(tx), 1);

    tx = begin_ok(s);
    put(tx, "fast/2024.01.03/trade/price", 2, 0);   /* replace one file */
    char fdpath[600];
    snprintf(fdpath, sizeof fdpath, "%s/../fdsrc", home);
    int fd = open(fdpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char b[256];
    size_t n = content(2, "fast/2024.01.04/trade/price", b, sizeof b);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(store_tx_put_fd(tx, "fast/2024.01.04/trade/price", fd, 0, &err), 0);
    close(fd);
    assert_int_equal(store_tx_set(tx, "kind", "ingest", &err), 0);
    assert_int_equal(commit_ok(tx), 2);

    struct store_snap *s1, *s2;
    assert_int_equal(store_snap_get(s, 1, &s1, &err), 0);
    assert_int_equal(store_snap_get(s, 0, &s2, &err), 0);
    assert_int_equal(store_snap_version(s2), 2);
    expect_file(s1, "fast/2024.01.03/trade/price", 1);
    expect_file(s2, "fast/2024.01.03/trade/price", 2);
    expect_file(s2, "fast/2024.01.04/trade/price", 2);
    expect_file(s2, "sym", 1);
    expect_absent(s1, "fast/2024.01.04");

    /* Identity: the untouched file and the untouched partition keep their ids; the
     * changed partition and everything above it get new tree ids. */
    struct store_entry a, b2;
    assert_int_equal(store_lookup(s1, "fast/2024.01.02/trade/size", &a, &err), 0);
    assert_int_equal(store_lookup(s2, "fast/2024.01.02/trade/size", &b2, &err), 0);
    assert_int_equal(a.id, b2.id);
    assert_int_equal(store_lookup(s1, "fast/2024.01.02", &a, &err), 0);
    assert_int_equal(store_lookup(s2, "fast/2024.01.02", &b2, &err), 0);
    assert_int_equal(a.kind, STORE_DIR);
    assert_int_equal(a.id, b2.id);
    assert_int_equal(store_lookup(s1, "fast/2024.01.03", &a, &err), 0);
    assert_int_equal(store_lookup(s2, "fast/2024.01.03", &b2, &err), 0);
    assert_int_not_equal(a.id, b2.id);
    assert_int_not_equal(store_snap_root(s1), store_snap_root(s2));

    /* Listing by tree id, in name order, from any start index. */
    struct store_entry dir, ents[8];
    assert_int_equal(store_lookup(s2, "fast", &dir, &err), 0);
    assert_int_equal(dir.size, 3);
    size_t got;
    assert_int_equal(store_dir_read(s, dir.id, 0, ents, 8, &got, &err), 0);
    assert_int_equal(got, 3);
    assert_string_equal(ents[0].name, "2024.01.02");
    assert_string_equal(ents[2].name, "2024.01.04");
    assert_int_equal(store_dir_read(s, dir.id, 2, ents, 8, &got, &err), 0);
    assert_int_equal(got, 1);
    assert_string_equal(ents[0].name, "2024.01.04");
    assert_int_equal(store_dir_lookup(s, dir.id, "2024.01.03", &a, &err), 0);
    assert_int_equal(a.id, b2.id);
    assert_int_equal(store_dir_lookup(s, dir.id, "2024.01.09", &a, &err), -ENOENT);
    assert_int_equal(store_dir_lookup(s, dir.id, "..", &a, &err), -ENOENT);
    store_snap_put(s1);
    store_snap_put(s2);
    store_close(s);

    /* Reopen: the same versions, with their metadata, "kind" first. */
    s = cur_store = open_ok(home, NULL, NULL);
    assert_int_equal(store_current(s), 2);
    struct store_version *vs;
    size_t nv;
    assert_int_equal(store_versions(s, &vs, &nv, &err), 0);
    assert_int_equal(nv, 2);
    assert_int_equal(vs[0].version, 1);
    assert_int_equal(vs[1].parent, 1);
    assert_int_equal(vs[0].nkv, 2);
    assert_string_equal(vs[0].key[0], "kind");
    assert_string_equal(vs[0].val[0], "import");
    assert_string_equal(vs[0].key[1], "signal");
    assert_string_equal(vs[1].val[0], "ingest");
    store_versions_free(vs, nv);
    assert_int_equal(store_snap_get(s, 0, &s2, &err), 0);
    expect_file(s2, "fast/2024.01.04/trade/price", 2);
    store_snap_put(s2);
    struct store_verify_report vr;
    assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
    assert_int_equal(vr.versions, 2);
    assert_int_equal(vr.objects, 6);   /* 4 in version 1, 2 more in version 2 */
    store_close(s);
}

static void big_directory_is_chunked_and_one_name_rewrites_little(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, &(struct store_opts){ .no_sync = true }, NULL);
    struct store_tx *tx = begin_ok(s);
    char p[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(p, sizeof p, "seg/d%05d/t/c", i);
        put(tx, p, 1, 0);
    }
    commit_ok(tx);
    char pack[700];
    snprintf(pack, sizeof pack, "%s/packs/p00000001.pack", home);
    struct stat st1, st2;
    assert_int_equal(stat(pack, &st1), 0);
    tx = begin_ok(s);
    put(tx, "seg/d03000/t/c", 2, 0);
    commit_ok(tx);
    assert_int_equal(stat(pack, &st2), 0);
    /* The listing of 3001 names is ~160 KB; a new version must not rewrite it. */
    print_message("index growth for one new partition in a 3000-entry directory: %lld bytes\n",
                  (long long)(st2.st_size - st1.st_size));
    assert_true(st2.st_size - st1.st_size < 40000);

    struct store_snap *sn;
    struct smfs_err err;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    for (int i = 0; i <= 3000; i += 7) {
        snprintf(p, sizeof p, "seg/d%05d/t/c", i);
        expect_file(sn, p, i == 3000 ? 2 : 1);
    }
    expect_file(sn, "seg/d03000/t/c", 2);
    expect_absent(sn, "seg/d03001");
    expect_absent(sn, "seg/a");
    struct store_entry seg;
    assert_int_equal(store_lookup(sn, "seg", &seg, &err), 0);
    assert_int_equal(seg.size, 3001);
    /* Paged listing returns every name once, in order. */
    struct store_entry ents[100];
    size_t total = 0, got;
    char prev[300] = "";
    do {
        assert_int_equal(store_dir_read(s, seg.id, total, ents, 100, &got, &err), 0);
        for (size_t i = 0; i < got; i++) {
            assert_true(strcmp(prev, ents[i].name) < 0);
            memcpy(prev, ents[i].name, sizeof ents[i].name);
        }
        total += got;
    } while (got);
    assert_int_equal(total, 3001);
    store_snap_put(sn);
    store_close(s);
    s = cur_store = open_ok(home, NULL, NULL);
    assert_int_equal(store_verify(s, NULL, NULL, NULL, &err), 0);
    store_close(s);
}

static void bad_paths_and_kinds_are_refused(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct store_tx *tx = begin_ok(s);
    struct smfs_err err;
    put(tx, "a/f", 1, 0);
    assert_int_equal(store_tx_put_bytes(tx, "a/f/g", "x", 1, 0, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "'f' is a file"));
    assert_int_equal(store_tx_put_bytes(tx, "a", "x", 1, 0, &err), -EISDIR);
    assert_int_equal(store_tx_put_bytes(tx, "a/../b", "x", 1, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "bad component '..'"));
    assert_int_equal(store_tx_put_bytes(tx, "", "x", 1, 0, &err), -EINVAL);
    assert_int_equal(store_tx_put_bytes(tx, "b", "x", 1, 3, &err), -EINVAL);
    assert_string_equal(err.msg, "'b': tier 3 does not exist (the store has 1)");
    assert_int_equal(store_tx_remove(tx, "nope", &err), -ENOENT);
    assert_int_equal(store_tx_put_file(tx, "d", "/nonexistent/x", STORE_TAKE_LINK, true, 0, &err), -ENOENT);
    assert_string_equal(err.msg, "stat(/nonexistent/x): No such file or directory");
    put(tx, "a/g", 1, 0);
    put(tx, "c/h", 1, 0);
    assert_int_equal(store_tx_remove(tx, "c", &err), 0);
    commit_ok(tx);
    struct store_snap *sn;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    struct store_entry e;
    assert_int_equal(store_lookup(sn, "a/f/x", &e, &err), -ENOTDIR);
    assert_int_equal(store_lookup(sn, "c", &e, &err), -ENOENT);
    assert_string_equal(err.msg, "'c' is not in version 1 (no 'c')");
    assert_int_equal(store_lookup(sn, "/", &e, &err), 0);
    assert_int_equal(e.kind, STORE_DIR);
    assert_int_equal(e.size, 1);
    store_snap_put(sn);
    assert_int_equal(store_snap_get(s, 7, &sn, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "version 7 is not in store"));
    store_close(s);
}

static void abort_puts_taken_files_back(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    char src[700], src2[700];
    snprintf(src, sizeof src, "%s/../taken", home);
    snprintf(src2, sizeof src2, "%s/../linked", home);
    FILE *f = fopen(src, "w");
    fputs("column bytes", f);
    fclose(f);
    f = fopen(src2, "w");
    fputs("more bytes", f);
    fclose(f);
    struct store_tx *tx = begin_ok(s);
    struct smfs_err err;
    assert_int_equal(store_tx_put_file(tx, "p/c", src, STORE_TAKE_RENAME, true, 0, &err), 0);
    assert_int_equal(store_tx_put_file(tx, "p/d", src2, STORE_TAKE_LINK, false, 0, &err), 0);
    assert_int_not_equal(access(src, F_OK), 0);   /* moved in */
    struct store_entry e;
    assert_int_equal(store_tx_lookup(tx, "p/d", &e, &err), 0);
    assert_int_equal(e.flags & STORE_F_NOSUM, STORE_F_NOSUM);
    assert_int_equal(e.size, 10);
    store_tx_abort(tx);
    assert_int_equal(access(src, F_OK), 0);        /* back where it was */
    struct stat st;
    assert_int_equal(stat(src2, &st), 0);
    assert_int_equal(st.st_nlink, 1);               /* the link is gone */
    assert_int_equal(store_current(s), 0);

    /* The same take, committed: the file is the object, byte for byte. */
    tx = begin_ok(s);
    assert_int_equal(store_tx_put_file(tx, "p/c", src, STORE_TAKE_RENAME, true, 0, &err), 0);
    assert_int_equal(store_tx_put_file(tx, "p/d", src2, STORE_TAKE_LINK, false, 0, &err), 0);
    commit_ok(tx);
    assert_int_not_equal(access(src, F_OK), 0);
    struct store_snap *sn;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    assert_int_equal(store_lookup(sn, "p/c", &e, &err), 0);
    char buf[64];
    assert_int_equal(read_obj(s, &e, buf, sizeof buf), 12);
    assert_memory_equal(buf, "column bytes", 12);
    store_snap_put(sn);
    struct store_verify_report vr;
    assert_int_equal(store_verify(s, NULL, NULL, &vr, &err), 0);
    assert_int_equal(vr.unchecked, 1);
    store_close(s);
}

static void second_open_is_refused_with_the_holder(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = open_ok(home, NULL, NULL);
    struct store *t = NULL;
    struct smfs_err err;
    assert_int_equal(store_open(home, NULL, &t, NULL, &err), -EBUSY);
    char want[800];
    snprintf(want, sizeof want, "store '%s' is in use by process %d", home, (int)getpid());
    assert_non_null(strstr(err.msg, want));
    assert_null(t);
    store_close(s);
    s = open_ok(home, NULL, NULL);
    store_close(s);
    char notstore[600];
    snprintf(notstore, sizeof notstore, "%s/..", home);
    assert_int_equal(store_open(notstore, NULL, &t, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "is not a store (no STORE file)"));
}

/* ---- vacuum ---- */

static int count_objects(const char *dir)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "find '%s/objects' -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}

static void vacuum_keeps_current_and_pinned_versions_only(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    for (uint64_t v = 1; v <= 5; v++) {
        struct store_tx *tx = begin_ok(s);
        put(tx, "f", v, 0);
        if (v == 1) put(tx, "same", 1, 0);
        commit_ok(tx);
    }
    assert_int_equal(count_objects(home), 6);
    struct store_snap *pin2, *sn;
    struct smfs_err err;
    assert_int_equal(store_snap_get(s, 2, &pin2, &err), 0);
    struct store_vacuum_report r;
    assert_int_equal(store_vacuum(s, &(struct store_vacuum_opts){ .keep = 1 }, &r, &err), 0);
    assert_int_equal(r.versions_dropped, 3);
    assert_int_equal(r.versions_kept, 2);
    assert_int_equal(r.objects_removed, 3);
    assert_int_equal(count_objects(home), 3);
    assert_int_equal(store_snap_get(s, 3, &sn, &err), -ENOENT);
    expect_file(pin2, "f", 2);
    expect_file(pin2, "same", 1);
    store_snap_put(pin2);
    store_close(s);

    /* The drop is durable; a second vacuum with no pin leaves only the current. */
    s = cur_store = open_ok(home, NULL, NULL);
    struct store_version *vs;
    size_t nv;
    assert_int_equal(store_versions(s, &vs, &nv, &err), 0);
    assert_int_equal(nv, 2);
    assert_int_equal(vs[0].version, 2);
    store_versions_free(vs, nv);
    assert_int_equal(store_vacuum(s, NULL, &r, &err), 0);
    assert_int_equal(r.versions_dropped, 1);
    assert_int_equal(count_objects(home), 2);
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    expect_file(sn, "f", 5);
    store_snap_put(sn);
    assert_int_equal(store_verify(s, NULL, NULL, NULL, &err), 0);
    store_close(s);
}

static void vacuum_compacts_mostly_dead_packs(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store_opts o = { .pack_max = 8192 };
    struct store *s = cur_store = open_ok(home, &o, NULL);
    char p[64];
    for (uint64_t v = 1; v <= 60; v++) {
        struct store_tx *tx = begin_ok(s);
        snprintf(p, sizeof p, "d/%03llu", (unsigned long long)v % 20);
        put(tx, p, v, 0);
        put(tx, "x/y/z", v, 0);
        commit_ok(tx);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls '%s/packs' | wc -l", home);
    FILE *f = popen(cmd, "r");
    int before = 0;
    assert_int_equal(fscanf(f, "%d", &before), 1);
    pclose(f);
    assert_true(before > 4);
    struct store_vacuum_report r;
    struct smfs_err err;
    assert_int_equal(store_vacuum(s, &(struct store_vacuum_opts){ .keep = 2 }, &r, &err), 0);
    print_message("vacuum: %u packs of %d removed, %llu index bytes freed, %llu objects\n",
                  r.packs_removed, before, (unsigned long long)r.pack_bytes,
                  (unsigned long long)r.objects_removed);
    assert_true(r.packs_removed > 0);
    assert_int_equal(r.versions_kept, 2);
    struct store_snap *sn;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "d/%03d", i);
        expect_file(sn, p, i == 0 ? 60 : (uint64_t)(40 + i));
    }
    store_snap_put(sn);
    store_close(s);
    s = cur_store = open_ok(home, &o, NULL);
    assert_int_equal(store_current(s), 60);
    assert_int_equal(store_snap_get(s, 59, &sn, &err), 0);
    expect_file(sn, "x/y/z", 59);
    store_snap_put(sn);
    assert_int_equal(store_verify(s, NULL, NULL, NULL, &err), 0);
    /* Commits continue on the compacted log. */
    struct store_tx *tx = begin_ok(s);
    put(tx, "x/y/z", 61, 0);
    assert_int_equal(commit_ok(tx), 61);
    store_close(s);
}

static void tier_move_copies_verifies_and_reclaims(void **state)
{
    (void)state;
    const char *home = new_store(true);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct store_tx *tx = begin_ok(s);
    put(tx, "fast/2024.01.02/t/a", 1, 0);
    put(tx, "fast/2024.01.02/t/b", 1, 0);
    commit_ok(tx);
    tx = begin_ok(s);
    struct smfs_err err;
    assert_int_equal(store_tx_move(tx, "fast/2024.01.02", 1, &err), 0);
    commit_ok(tx);
    struct store_snap *s1, *s2;
    assert_int_equal(store_snap_get(s, 1, &s1, &err), 0);
    assert_int_equal(store_snap_get(s, 2, &s2, &err), 0);
    struct store_entry a1, a2;
    assert_int_equal(store_lookup(s1, "fast/2024.01.02/t/a", &a1, &err), 0);
    assert_int_equal(store_lookup(s2, "fast/2024.01.02/t/a", &a2, &err), 0);
    assert_int_equal(a1.tier, 0);
    assert_int_equal(a2.tier, 1);
    assert_int_equal(a1.id, a2.id);   /* same bytes, same identity */
    char path[4200];
    assert_int_equal(store_object_path(s, &a2, path, sizeof path, &err), 0);
    assert_non_null(strstr(path, "-slow/objects/"));
    expect_file(s1, "fast/2024.01.02/t/a", 1);
    expect_file(s2, "fast/2024.01.02/t/b", 1);
    store_snap_put(s1);
    store_snap_put(s2);
    struct store_vacuum_report r;
    assert_int_equal(store_vacuum(s, NULL, &r, &err), 0);
    assert_int_equal(r.objects_removed, 2);   /* the fast copies */
    assert_int_equal(count_objects(home), 0);
    assert_int_equal(store_verify(s, NULL, NULL, NULL, &err), 0);
    store_close(s);
}

static void take_from_another_filesystem_copies_then_unlinks_after_commit(void **state)
{
    (void)state;
    char src[64];
    snprintf(src, sizeof src, "/dev/shm/smfs-take.%d", (int)getpid());
    FILE *f = fopen(src, "w");
    if (!f) {
        print_message("skipped: /dev/shm is not writable, no second filesystem to take from\n");
        skip();
    }
    fputs("bytes on tmpfs", f);
    fclose(f);
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct smfs_err err;
    /* Aborted: the copy goes, the source stays. */
    struct store_tx *tx = begin_ok(s);
    assert_int_equal(store_tx_put_file(tx, "x", src, STORE_TAKE_RENAME, true, 0, &err), 0);
    store_tx_abort(tx);
    assert_int_equal(access(src, F_OK), 0);
    assert_int_equal(count_objects(home), 0);
    /* Committed: the source is unlinked only once the version is durable. */
    tx = begin_ok(s);
    assert_int_equal(store_tx_put_file(tx, "x", src, STORE_TAKE_RENAME, true, 0, &err), 0);
    assert_int_equal(access(src, F_OK), 0);
    commit_ok(tx);
    assert_int_not_equal(access(src, F_OK), 0);
    struct store_snap *sn;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    struct store_entry e;
    assert_int_equal(store_lookup(sn, "x", &e, &err), 0);
    assert_int_equal(e.flags & STORE_F_NOSUM, 0);
    char buf[64];
    assert_int_equal(read_obj(s, &e, buf, sizeof buf), 14);
    assert_memory_equal(buf, "bytes on tmpfs", 14);
    store_snap_put(sn);
    assert_int_equal(store_verify(s, NULL, NULL, NULL, &err), 0);
    store_close(s);
}

/* ---- damage ---- */

static void flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    if (off < 0) off += lseek(fd, 0, SEEK_END);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

struct lines { char text[4096]; int n; };
static void collect(void *arg, const char *line)
{
    struct lines *l = arg;
    l->n++;
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s\n", line);
}

static void flipped_object_bit_is_reported_and_never_moved(void **state)
{
    (void)state;
    const char *home = new_store(true);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct store_tx *tx = begin_ok(s);
    put(tx, "d/a", 1, 0);
    put(tx, "d/b", 1, 0);
    commit_ok(tx);
    struct store_snap *sn;
    struct smfs_err err;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    struct store_entry e;
    assert_int_equal(store_lookup(sn, "d/b", &e, &err), 0);
    store_snap_put(sn);
    char path[4200];
    assert_int_equal(store_object_path(s, &e, path, sizeof path, &err), 0);
    chmod(path, 0644);
    flip(path, 3);
    struct lines l = { "", 0 };
    struct store_verify_report vr;
    assert_int_equal(store_verify(s, collect, &l, &vr, &err), -EIO);
    assert_int_equal(l.n, 1);
    print_message("verify: %s", l.text);
    assert_non_null(strstr(l.text, "version 1: 'd/b': object "));
    assert_non_null(strstr(l.text, "(its bytes changed)"));
    assert_non_null(strstr(err.msg, "found 1 problem(s)"));
    tx = begin_ok(s);
    assert_int_equal(store_tx_move(tx, "d", 1, &err), -EIO);
    assert_non_null(strstr(err.msg, "is damaged"));
    store_tx_abort(tx);
    /* A truncated object is reported by size. */
    assert_int_equal(truncate(path, 2), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_verify(s, collect, &l, &vr, &err), -EIO);
    assert_non_null(strstr(l.text, "has 2 bytes, the index says"));
    store_close(s);
}

static char *last_pack(const char *home)
{
    static char p[800];
    for (int i = 99; i >= 1; i--) {
        snprintf(p, sizeof p, "%s/packs/p%08d.pack", home, i);
        if (access(p, F_OK) == 0) return p;
    }
    return NULL;
}

static void torn_pack_tail_is_cut_back_to_the_last_commit(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct store_tx *tx = begin_ok(s);
    put(tx, "a/b", 1, 0);
    commit_ok(tx);
    store_close(s);
    struct stat st;
    char *pack = last_pack(home);
    assert_int_equal(stat(pack, &st), 0);
    off_t v1 = st.st_size;
    s = cur_store = open_ok(home, NULL, NULL);
    tx = begin_ok(s);
    put(tx, "a/b", 2, 0);
    put(tx, "a/c", 2, 0);
    commit_ok(tx);
    store_close(s);
    assert_int_equal(stat(pack, &st), 0);
    off_t v2 = st.st_size;
    char copy[900];
    snprintf(copy, sizeof copy, "%s.v2", pack);
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", pack, copy);
    assert_int_equal(system(cmd), 0);
    /* Every cut inside version 2's records leaves exactly version 1. */
    for (off_t cut = v1 + 1; cut < v2; cut += 13) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, pack);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(truncate(pack, cut), 0);
        struct store_recovery rep;
        s = cur_store = open_ok(home, NULL, &rep);
        assert_int_equal(store_current(s), 1);
        assert_int_equal(rep.discarded_bytes, (uint64_t)(cut - v1));
        assert_non_null(strstr(rep.note, "recovered at version 1"));
        struct store_snap *sn;
        struct smfs_err err;
        assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
        expect_file(sn, "a/b", 1);
        expect_absent(sn, "a/c");
        store_snap_put(sn);
        store_close(s);
        assert_int_equal(stat(pack, &st), 0);
        assert_int_equal(st.st_size, v1);   /* the cut is made on disk */
    }
    /* Garbage appended after the last commit is a torn tail too. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && head -c 1000 /dev/urandom >> '%s'", copy, pack, pack);
    assert_int_equal(system(cmd), 0);
    struct store_recovery rep;
    s = cur_store = open_ok(home, NULL, &rep);
    assert_int_equal(store_current(s), 2);
    assert_int_equal(rep.discarded_bytes, 1000);
    /* And the store takes new commits after the cut. */
    tx = begin_ok(s);
    put(tx, "a/d", 3, 0);
    assert_int_equal(commit_ok(tx), 3);
    store_close(s);
    s = cur_store = open_ok(home, NULL, &rep);
    assert_int_equal(rep.discarded_bytes, 0);
    assert_int_equal(store_current(s), 3);
    store_close(s);
}

static void damaged_record_before_a_commit_is_refused(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    for (uint64_t v = 1; v <= 3; v++) {
        struct store_tx *tx = begin_ok(s);
        put(tx, "a/b", v, 0);
        commit_ok(tx);
    }
    store_close(s);
    /* Byte 40 is inside version 1's first tree record (pack header 32, record 32). */
    flip(last_pack(home), 70);
    struct smfs_err err;
    assert_int_equal(store_open(home, NULL, &s, NULL, &err), -EIO);
    print_message("open: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "p00000001.pack is damaged at offset 32"));
    assert_non_null(strstr(err.msg, "not a torn tail"));
    /* A bad pack header is reported the same way. */
    flip(last_pack(home), 70);
    flip(last_pack(home), 2);
    assert_int_equal(store_open(home, NULL, &s, NULL, &err), -EIO);
    assert_non_null(strstr(err.msg, "damaged at offset 0"));
}

/* ---- crashes ---- */

/* Version 1: a, b/c, b/d. Version 2 replaces b/c, removes b/d, adds e/f. */
static void build_v1(const char *home)
{
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct store_tx *tx = begin_ok(s);
    put(tx, "a", 1, 0);
    put(tx, "b/c", 1, 0);
    put(tx, "b/d", 1, 0);
    commit_ok(tx);
    store_close(s);
}

static int write_v2(struct store *s, struct smfs_err *err)
{
    struct store_tx *tx;
    int rc = store_tx_begin(s, &tx, err);
    if (rc < 0) return rc;
    char b[256];
    size_t n = content(2, "b/c", b, sizeof b);
    rc = store_tx_put_bytes(tx, "b/c", b, n, 0, err);
    if (rc == 0) rc = store_tx_remove(tx, "b/d", err);
    n = content(2, "e/f", b, sizeof b);
    if (rc == 0) rc = store_tx_put_bytes(tx, "e/f", b, n, 0, err);
    if (rc < 0) {
        store_tx_abort(tx);
        return rc;
    }
    return store_tx_commit(tx, NULL, err);
}

/* The store is at exactly version 1 or 2 (reported in *v), every byte right, and
 * verify finds nothing. */
static void expect_v1_or_v2(const char *home, uint64_t *v)
{
    struct store *s = cur_store = open_ok(home, NULL, NULL);
    struct smfs_err err;
    struct store_snap *sn;
    assert_int_equal(store_snap_get(s, 0, &sn, &err), 0);
    *v = store_snap_version(sn);
    assert_true(*v == 1 || *v == 2);
    expect_file(sn, "a", 1);
    expect_file(sn, "b/c", *v);
    if (*v == 1) {
        expect_file(sn, "b/d", 1);
        expect_absent(sn, "e");
    } else {
        expect_absent(sn, "b/d");
        expect_file(sn, "e/f", 2);
    }
    store_snap_put(sn);
    int rc = store_verify(s, NULL, NULL, NULL, &err);
    if (rc < 0) print_message("verify: %s\n", err.msg);
    assert_int_equal(rc, 0);
    store_close(s);
}

static void commit_failing_at_every_point_keeps_old_or_new(void **state)
{
    (void)state;
    const char *home = new_store(false);
    build_v1(home);
    unsigned n;
    int seen[3] = { 0 };
    for (n = 1;; n++) {
        struct store *s = open_ok(home, NULL, NULL);
        struct smfs_err err;
        fault_arm("*", n, FAULT_FAIL);
        int rc = write_v2(s, &err);
        unsigned hits = fault_count();
        fault_disarm();
        store_close(s);
        uint64_t v;
        expect_v1_or_v2(home, &v);
        seen[v]++;
        if (rc == 0) {
            assert_int_equal(v, 2);
            assert_true(hits < n);   /* walked past the last point */
            break;
        }
        assert_non_null(strstr(err.msg, "injected fault"));
        if (v == 2) break;   /* failed after the commit point: reported, yet durable */
        /* Back to version 1 for the next point: the failed commit left v1. */
    }
    print_message("commit: %u fault points, %d left version 1, %d version 2\n", n, seen[1], seen[2]);
    assert_true(n >= 5);
}

/* Fork a writer that commits version 2 and then vacuums, SIGKILL it at fault point N. */
static int run_killed(const char *home, unsigned n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *s;
        struct smfs_err err;
        /* Small packs, so the vacuum compacts and its copy and unlink steps are
         * among the kill points too. */
        if (store_open(home, &(struct store_opts){ .pack_max = 400 }, &s, NULL, &err) < 0) _exit(3);
        fault_arm("*", n, FAULT_KILL);
        int rc = write_v2(s, &err);
        if (rc == 0) rc = store_vacuum(s, &(struct store_vacuum_opts){ .keep = 1, .compact_below = 1.0 }, NULL, &err);
        _exit(rc == 0 ? 0 : 4);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) {
        assert_int_equal(WTERMSIG(st), SIGKILL);
        return 1;
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    return 0;
}

static void sigkill_at_every_point_of_commit_and_vacuum(void **state)
{
    (void)state;
    unsigned n, kills = 0, at_v2 = 0;
    for (n = 1; n < 500; n++) {
        const char *home = new_store(false);
        build_v1(home);
        int killed = run_killed(home, n);
        uint64_t v;
        expect_v1_or_v2(home, &v);
        if (!killed) {
            assert_int_equal(v, 2);
            break;
        }
        kills++;
        at_v2 += v == 2;
        /* A kill in vacuum must leave it re-runnable: run it again, then check. */
        struct store *s = cur_store = open_ok(home, NULL, NULL);
        struct smfs_err err;
        assert_int_equal(store_vacuum(s, NULL, NULL, &err), 0);
        store_close(s);
        expect_v1_or_v2(home, &v);
    }
    print_message("sigkill: %u kill points, %u left version 2, then a clean run\n", kills, at_v2);
    assert_true(kills >= 10);
    assert_true(at_v2 > 0 && at_v2 < kills);
}

/* ---- concurrency ---- */

struct reader {
    struct store *s;
    atomic_int *stop;
    int checked;
    int bad;
};

/* Each version V writes every file "k/<i>" with content (V, path): a reader that
 * ever sees two versions' bytes in one snapshot found a torn version. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(r->stop)) {
        struct store_snap *sn;
        struct smfs_err err;
        if (store_snap_get(r->s, 0, &sn, &err) < 0) continue;
        uint64_t v = store_snap_version(sn);
        for (int i = 0; i < 8; i++) {
            char p[32], exp[256], got[256];
            snprintf(p, sizeof p, "k/%d", i);
            struct store_entry e;
            if (store_lookup(sn, p, &e, &err) < 0) {
                if (r->bad++ < 3) print_message("reader: %s\n", err.msg);
                continue;
            }
            size_t n = content(v, p, exp, sizeof exp);
            int fd = store_object_open(r->s, &e, &err);
            if (fd < 0) {
                if (r->bad++ < 3) print_message("reader: %s\n", err.msg);
                continue;
            }
            ssize_t g = read(fd, got, sizeof got);
            close(fd);
            if (g != (ssize_t)n || memcmp(got, exp, n) != 0) r->bad++;
        }
        r->checked++;
        store_snap_put(sn);
    }
    return NULL;
}

static void readers_see_whole_versions_through_commits_and_vacuums(void **state)
{
    (void)state;
    const char *home = new_store(false);
    struct store_opts o = { .no_sync = true, .pack_max = 16384 };
    struct store *s = cur_store = open_ok(home, &o, NULL);
    atomic_int stop = 0;
    struct store_tx *tx = begin_ok(s);
    char p[32];
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "k/%d", i);
        put(tx, p, 1, 0);
    }
    commit_ok(tx);
    struct reader r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct reader){ .s = s, .stop = &stop };
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    }
    struct smfs_err err;
    for (uint64_t v = 2; v <= 80; v++) {
        tx = begin_ok(s);
        for (int i = 0; i < 8; i++) {
            snprintf(p, sizeof p, "k/%d", i);
            put(tx, p, v, 0);
        }
        commit_ok(tx);
        if (v % 5 == 0) assert_int_equal(store_vacuum(s, NULL, NULL, &err), 0);
    }
    atomic_store(&stop, 1);
    int checked = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].bad, 0);
        checked += r[i].checked;
    }
    print_message("readers checked %d whole snapshots during 79 commits and 15 vacuums\n", checked);
    assert_true(checked > 0);
    store_close(s);
}

int main(void)
{
    snprintf(root, sizeof root, "%s", test_tmpdir());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commit_then_read_back_with_stable_identity),
        cmocka_unit_test(big_directory_is_chunked_and_one_name_rewrites_little),
        cmocka_unit_test(bad_paths_and_kinds_are_refused),
        cmocka_unit_test(abort_puts_taken_files_back),
        cmocka_unit_test(second_open_is_refused_with_the_holder),
        cmocka_unit_test(vacuum_keeps_current_and_pinned_versions_only),
        cmocka_unit_test(vacuum_compacts_mostly_dead_packs),
        cmocka_unit_test(tier_move_copies_verifies_and_reclaims),
        cmocka_unit_test(take_from_another_filesystem_copies_then_unlinks_after_commit),
        cmocka_unit_test(flipped_object_bit_is_reported_and_never_moved),
        cmocka_unit_test(torn_pack_tail_is_cut_back_to_the_last_commit),
        cmocka_unit_test(damaged_record_before_a_commit_is_refused),
        cmocka_unit_test(commit_failing_at_every_point_keeps_old_or_new),
        cmocka_unit_test(sigkill_at_every_point_of_commit_and_vacuum),
        cmocka_unit_test(readers_see_whole_versions_through_commits_and_vacuums),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (rc == 0 && system(cmd) != 0) rc = 1;
    return rc;
}
