/* tests/unit/test_view.c: the view of a store that smfs serves (fs/view), without
 * FUSE: the root shows par.txt (rewritten under v<N>$), sym and root tables and
 * nothing else; segments live under v<N>$; an unchanged file keeps its inode across
 * versions while directories get new ones; a new version changes exactly the names
 * it should; an open file pins its version against vacuum and an unpinned old
 * version answers ESTALE; passthrough registrations are kept after the last close
 * and given back at FORGET, beyond the bound and for retired versions, each once.
 * Also u64map deletion, which the inode table relies on. */
#include "testutil.h"

#include <sys/stat.h>

#include "core/store.h"
#include "core/u64map.h"
#include "fs/view.h"

static void test_u64map_delete(void **state)
{
    (void)state;
    struct u64map m = {0};
    enum { N = 20000 };
    for (uint64_t k = 1; k <= N; k++) assert_int_equal(u64map_put(&m, k * 7919, k), 0);
    /* Delete every third key in a scattered order, so clusters get holes. */
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = (i * 7 % N) + 1;
        if (k % 3 == 0) assert_true(u64map_del(&m, k * 7919));
    }
    for (uint64_t k = 1; k <= N; k++) {
        uint64_t v;
        bool have = u64map_get(&m, k * 7919, &v);
        assert_int_equal(have, k % 3 != 0);
        if (have) assert_int_equal(v, k);
    }
    assert_false(u64map_del(&m, 3 * 7919));
    assert_int_equal(m.n, N - N / 3);
    u64map_release(&m);
}

static char home[600];

static void put(struct store_tx *tx, const char *path, const char *text)
{
    struct smfs_err e;
    int rc = store_tx_put_bytes(tx, path, text, strlen(text), 0, &e);
    if (rc) print_message("put %s: %s\n", path, e.msg);
    assert_int_equal(rc, 0);
}

static uint64_t commit(struct store_tx *tx)
{
    uint64_t v;
    struct smfs_err e;
    int rc = store_tx_commit(tx, &v, &e);
    if (rc) print_message("commit: %s\n", e.msg);
    assert_int_equal(rc, 0);
    return v;
}

struct names { char buf[1024]; size_t n; };

static bool collect(void *arg, const char *name, const struct view_attr *a, uint64_t next)
{
    (void)a, (void)next;
    struct names *l = arg;
    size_t len = strlen(l->buf);
    snprintf(l->buf + len, sizeof l->buf - len, "%s ", name);
    l->n++;
    return true;
}

static const char *ls(struct view *v, uint64_t ino)
{
    static struct names l;
    memset(&l, 0, sizeof l);
    struct smfs_err e;
    assert_int_equal(view_readdir(v, ino, 0, false, collect, &l, &e), 0);
    return l.buf;
}

/* Look PATH up component by component from the root; each lookup is given back. */
static int walk(struct view *v, const char *path, struct view_attr *a)
{
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    uint64_t ino = VIEW_ROOT_INO;
    struct smfs_err e;
    for (char *save, *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int rc = view_lookup(v, ino, c, a, &e);
        if (rc) return rc;
        ino = a->ino;
    }
    return 0;
}

/* An empty store of one tier (hdb) in a new directory made from TMPL. */
static struct store *new_store(char *tmpl)
{
    assert_non_null(mkdtemp(tmpl));
    snprintf(home, sizeof home, "%s/store", tmpl);
    struct store_tier t[1] = {{.name = "hdb"}};
    struct smfs_err e;
    assert_int_equal(store_create(home, t, 1, &e), 0);
    struct store *s;
    struct store_opts o = {.no_sync = true};
    assert_int_equal(store_open(home, &o, &s, NULL, &e), 0);
    return s;
}

static void remove_tree(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_view_tree(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/smfs-test-view.XXXXXX";
    struct smfs_err e;
    struct store *s = new_store(tmpl);
    struct store_tx *tx;
    assert_int_equal(store_tx_begin(s, &tx, &e), 0);
    put(tx, "par.txt", "hdb\nslow\ns3://bucket/db\n");
    put(tx, "sym", "sym v1");
    put(tx, "hdb/2024.01.02/trade/.d", "d");
    put(tx, "hdb/2024.01.02/trade/price", "p1");
    put(tx, "slow/2023.01.02/trade/price", "p0");
    put(tx, "ref/.d", "d");
    assert_int_equal(commit(tx), 1);

    struct view *v;
    assert_int_equal(view_new(s, &(struct view_opts){0}, &v, &e), 0);
    assert_string_equal(ls(v, VIEW_ROOT_INO), "par.txt ref sym v1$ ");
    struct view_attr a, a1, d1, vd;
    assert_int_equal(walk(v, "hdb", &a), -ENOENT);     /* segments only under v<N>$ */
    assert_int_equal(walk(v, "v2$", &a), -ENOENT);
    assert_int_equal(walk(v, "v01$", &a), -ENOENT);
    assert_int_equal(walk(v, "sym/x", &a), -ENOTDIR);
    assert_int_equal(walk(v, "v1$", &vd), 0);
    assert_true(S_ISDIR(vd.mode));
    assert_string_equal(ls(v, vd.ino), "hdb slow ");
    assert_int_equal(walk(v, "v1$/ref", &a), -ENOENT);

    assert_int_equal(walk(v, "par.txt", &a), 0);
    struct view_file f;
    assert_int_equal(view_open(v, a.ino, &f, &e), 0);
    assert_true(f.memory);
    assert_int_equal(f.len, a.size);
    assert_memory_equal(f.p, "v1$/hdb\nv1$/slow\ns3://bucket/db\n", f.len);
    view_close(v, &f);

    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/trade/price", &a1), 0);
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02", &d1), 0);
    assert_int_equal(a1.size, 2);

    /* Version 2 changes sym only. */
    assert_int_equal(store_tx_begin(s, &tx, &e), 0);
    put(tx, "sym", "sym v2");
    assert_int_equal(commit(tx), 2);
    struct view_change chg;
    assert_int_equal(view_publish(v, 0, &chg, &e), 0);
    char got[256] = "";
    for (size_t i = 0; i < chg.n; i++) strcat(strcat(got, chg.names[i]), " ");
    assert_string_equal(got, "par.txt v1$ v2$ sym ");
    view_change_free(&chg);
    assert_string_equal(ls(v, VIEW_ROOT_INO), "par.txt ref sym v2$ ");

    struct view_attr a2, d2;
    assert_int_equal(walk(v, "v2$/hdb/2024.01.02/trade/price", &a2), 0);
    assert_int_equal(walk(v, "v2$/hdb/2024.01.02", &d2), 0);
    assert_int_equal(a2.ino, a1.ino);                  /* same object: same inode */
    assert_int_not_equal(d2.ino, d1.ino);              /* one parent per directory inode */

    /* An open file of version 1 keeps it; closed, vacuum may drop it. */
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/trade/.d", &a), 0);
    assert_int_equal(view_open(v, a.ino, &f, &e), 0);
    struct store_vacuum_opts vo = {.keep = 1};
    struct store_vacuum_report rep;
    assert_int_equal(store_vacuum(s, &vo, &rep, &e), 0);
    assert_int_equal(rep.versions_dropped, 0);
    view_close(v, &f);
    assert_int_equal(store_vacuum(s, &vo, &rep, &e), 0);
    assert_int_equal(rep.versions_dropped, 1);
    assert_int_equal(view_lookup(v, d1.ino, "trade", &a, &e), -ESTALE);
    assert_int_equal(walk(v, "v1$", &a), -ENOENT);

    assert_int_equal(view_vdir_version("v12$"), 12);
    assert_int_equal(view_vdir_version("v0$"), 0);
    assert_int_equal(view_vdir_version("v1"), 0);
    assert_int_equal(view_vdir_version("v1$x"), 0);
    assert_int_equal(view_vdir_version("v99999999999999999999$"), 0);

    view_free(v);
    store_close(s);
    remove_tree(tmpl);
}

/* Passthrough registrations, as the kernel would see them: ids handed out and given
 * back, each exactly once. */
struct fake_pt {
    int  next, live, opens, closes;
    bool open_id[64];
};

static int fake_open(void *arg, const struct store_entry *obj)
{
    (void)obj;
    struct fake_pt *k = arg;
    int id = ++k->next;
    assert_true(id < 64);
    k->open_id[id] = true;
    k->live++, k->opens++;
    return id;
}

static void fake_close(void *arg, int id)
{
    struct fake_pt *k = arg;
    assert_true(id > 0 && id < 64 && k->open_id[id]);   /* never twice, never unknown */
    k->open_id[id] = false;
    k->live--, k->closes++;
}

/* Open and close PATH's inode INO once: the backing id it got. */
static int open_close(struct view *v, uint64_t ino)
{
    struct view_file f;
    struct smfs_err e;
    int id = 0;
    assert_int_equal(view_open(v, ino, &f, &e), 0);
    assert_int_equal(view_pt_acquire(v, ino, &f, &id), 0);
    view_pt_release(v, ino);
    view_close(v, &f);
    return id;
}

static void test_view_backings_kept(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/smfs-test-view.XXXXXX";
    struct smfs_err e;
    struct store *s = new_store(tmpl);
    struct store_tx *tx;
    assert_int_equal(store_tx_begin(s, &tx, &e), 0);
    put(tx, "par.txt", "hdb\n");
    put(tx, "sym", "sym v1");
    put(tx, "hdb/2024.01.02/t/a", "a1");
    put(tx, "hdb/2024.01.02/t/b", "b1");
    put(tx, "hdb/2024.01.02/t/c", "c1");
    put(tx, "hdb/2024.01.02/t/d", "d1");
    assert_int_equal(commit(tx), 1);

    struct view *v;
    struct fake_pt k = {0};
    struct view_stats st;
    assert_int_equal(view_new(s, &(struct view_opts){0}, &v, &e), 0);
    view_pt_setup(v, fake_open, fake_close, &k, 2);
    struct view_attr a, b, c, d;
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/t/a", &a), 0);
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/t/b", &b), 0);
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/t/c", &c), 0);
    assert_int_equal(walk(v, "v1$/hdb/2024.01.02/t/d", &d), 0);

    /* A warm open reuses the id kept at the last close: one registration. */
    int ida = open_close(v, a.ino);
    assert_int_equal(open_close(v, a.ino), ida);
    assert_int_equal(k.opens, 1);
    assert_int_equal(k.closes, 0);
    view_stats(v, &st);
    assert_int_equal(st.pt_registered, 1);
    assert_int_equal(st.pt_kept, 1);

    /* Two opens at once share the id; it is kept only after the second close. */
    struct view_file f1, f2;
    int id1, id2;
    assert_int_equal(view_open(v, b.ino, &f1, &e), 0);
    assert_int_equal(view_pt_acquire(v, b.ino, &f1, &id1), 0);
    assert_int_equal(view_open(v, b.ino, &f2, &e), 0);
    assert_int_equal(view_pt_acquire(v, b.ino, &f2, &id2), 0);
    assert_int_equal(id1, id2);
    view_pt_release(v, b.ino);
    view_close(v, &f1);
    view_stats(v, &st);
    assert_int_equal(st.pt_kept, 1);                   /* a only: b is still open */
    view_pt_release(v, b.ino);
    view_close(v, &f2);

    /* Beyond the bound (2) the least recently closed goes: a. */
    open_close(v, c.ino);
    assert_int_equal(k.opens, 3);
    assert_int_equal(k.closes, 1);
    assert_false(k.open_id[ida]);
    view_stats(v, &st);
    assert_int_equal(st.pt_kept, 2);
    assert_int_equal(st.pt_registered, 2);
    assert_int_not_equal(open_close(v, a.ino), ida);   /* registered again; b goes */
    assert_int_equal(k.closes, 2);

    /* FORGET gives the id back with the inode. */
    view_forget(v, c.ino, 5);   /* walk looked it up once; more is clamped */
    assert_int_equal(k.closes, 3);
    view_stats(v, &st);
    assert_int_equal(st.pt_kept, 1);

    /* A file the kernel forgot while open: given back at its close, not kept. */
    assert_int_equal(view_open(v, d.ino, &f1, &e), 0);
    assert_int_equal(view_pt_acquire(v, d.ino, &f1, &id1), 0);
    view_forget(v, d.ino, 1);
    assert_int_equal(k.live, 2);
    view_pt_release(v, d.ino);
    view_close(v, &f1);
    assert_int_equal(k.live, 1);

    /* A new version retires version 1; vacuum deletes its objects, and the id kept
     * for a file of it (a, seen only through v1$) is given back. */
    assert_int_equal(store_tx_begin(s, &tx, &e), 0);
    put(tx, "par.txt", "hdb\n");
    put(tx, "sym", "sym v2");
    put(tx, "hdb/2024.01.03/t/a", "a2");
    assert_int_equal(commit(tx), 2);
    assert_int_equal(view_publish(v, 0, NULL, &e), 0);
    struct store_vacuum_opts vo = {.keep = 1};
    struct store_vacuum_report rep;
    assert_int_equal(store_vacuum(s, &vo, &rep, &e), 0);
    assert_int_equal(view_pt_drop_retired(v), 1);
    assert_int_equal(k.live, 0);
    view_stats(v, &st);
    assert_int_equal(st.pt_kept, 0);
    assert_int_equal(st.pt_registered, 0);

    /* Files of the current version stay kept through a vacuum; KEEP 0 keeps none. */
    struct view_attr a2;
    assert_int_equal(walk(v, "v2$/hdb/2024.01.03/t/a", &a2), 0);
    open_close(v, a2.ino);
    assert_int_equal(view_pt_drop_retired(v), 0);
    assert_int_equal(k.live, 1);
    view_forget(v, a2.ino, 1);
    assert_int_equal(k.live, 0);
    view_pt_setup(v, fake_open, fake_close, &k, 0);
    assert_int_equal(walk(v, "v2$/hdb/2024.01.03/t/a", &a2), 0);
    open_close(v, a2.ino);
    assert_int_equal(k.live, 0);
    assert_int_equal(k.opens, k.closes);

    view_free(v);
    store_close(s);
    remove_tree(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64map_delete),
        cmocka_unit_test(test_view_tree),
        cmocka_unit_test(test_view_backings_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
