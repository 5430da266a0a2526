/* tests/unit/test_reload.c: the reload registry (fs/reload) with a recording sender
 * and a clock the test moves: registration (errors, timeouts granted, the old sync
 * form, re-registration), which mounts a commit signals, acknowledgements (exact ts,
 * older ones, unknown ones), deadlines, disconnects, a sender that fails; a previous
 * version is held (a real store snapshot: vacuum keeps it) exactly until nobody
 * waits; and the q and JSON forms of a signal. */
#include "testutil.h"

#include "core/config.h"
#include "core/k_fmt.h"
#include "core/store.h"
#include "control/reload.h"

#define SEC INT64_C(1000000000)

static const char yaml[] =
    "name: t\n"
    "tables:\n"
    "  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: sym, type: symbol}]}\n"
    "bus:\n"
    "  stream: {protocol: tp, nodes: [\"localhost:5010\"]}\n"
    "mounts:\n"
    "  rdb: {type: stream, baseURI: none, partition: none}\n"
    "  idb: {type: local, baseURI: \"file:///tmp/smfs-reload-t/idb\", partition: ordinal}\n"
    "  hdb: {type: local, baseURI: \"file:///tmp/smfs-reload-t/hdb\", partition: date}\n"
    "elements:\n"
    "  sm:\n"
    "    source: stream\n"
    "    tiers:\n"
    "      - {name: stream, mount: rdb}\n"
    "      - {name: idb, mount: idb}\n"
    "      - {name: hdb, mount: hdb}\n";

struct sent { uint64_t id; char mount[16]; int64_t ts; };
static struct sent sent[64];
static int nsent, fail_conn = -1;
static uint64_t released[16];
static int nreleased;

static int rec_send(void *arg, struct reload_client *c, const struct reload_signal *sig)
{
    (void)arg;
    if ((int)c->conn == fail_conn) return -ENOTCONN;
    sent[nsent].id = c->id;
    snprintf(sent[nsent].mount, sizeof sent[nsent].mount, "%s", sig->mount->name);
    sent[nsent++].ts = sig->ts;
    return 0;
}

static void rec_released(void *arg, uint64_t v)
{
    (void)arg;
    released[nreleased++] = v;
}

static struct cfg *cfg;
static struct store *st;
static char tmp[] = "/tmp/smfs-test-reload.XXXXXX";

static int setup(void **state)
{
    (void)state;
    struct smfs_err e;
    if (cfg_parse("t.yaml", yaml, strlen(yaml), &cfg, &e)) {
        print_message("cfg: %s\n", e.msg);
        return -1;
    }
    if (!mkdtemp(tmp)) return -1;
    char home[600];
    snprintf(home, sizeof home, "%s/store", tmp);
    struct store_tier t[1] = {{.name = "hdb"}};
    struct store_opts o = {.no_sync = true};
    if (store_create(home, t, 1, &e) || store_open(home, &o, &st, NULL, &e)) return -1;
    /* Three versions, so there are previous ones to hold. */
    for (int i = 0; i < 3; i++) {
        struct store_tx *tx;
        uint64_t v;
        if (store_tx_begin(st, &tx, &e) || store_tx_put_bytes(tx, "sym", "s", 1, 0, &e) ||
            store_tx_commit(tx, &v, &e))
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(st);
    cfg_free(cfg);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd);
}

/* Signals of a version whose HDB spans [lo, hi] (unix ns), made at TS. */
static void sigs_for(struct reload_signal s[3], uint64_t version, int64_t ts, int64_t lo, int64_t hi, bool hdb_changed)
{
    for (int i = 0; i < 3; i++) {
        s[i] = (struct reload_signal){.mount = &cfg->mounts[i], .version = version, .ts = ts,
                                      .min_ts = hi + 1, .max_ts = i == 0 ? KNULL_J : hi,
                                      .start_ts = KNULL_J, .end_ts = KNULL_J, .pos = KNULL_J};
    }
    s[2].min_ts = lo;
    s[2].changed = hdb_changed;
}

static struct reload *fresh(void)
{
    nsent = nreleased = 0;
    fail_conn = -1;
    struct reload_ops ops = {.send = rec_send, .released = rec_released};
    struct reload *r;
    struct smfs_err e;
    assert_int_equal(reload_new(cfg, 60 * SEC, &ops, &r, &e), 0);
    return r;
}

static uint64_t reg(struct reload *r, enum reload_kind k, uint64_t conn, const char *mount, int64_t timeout,
                    int64_t *granted)
{
    struct reload_reg g = {.kind = k, .conn = conn, .mount = mount, .callback = "cb", .peer = "p",
                           .timeout_ns = timeout};
    const struct reload_signal *s;
    struct smfs_err e;
    int64_t gr;
    int rc = reload_register(r, &g, 0, &s, &gr, &e);
    if (granted) *granted = gr;
    if (rc) return 0;
    return reload_client_at(r, reload_nclients(r) - 1)->id;
}

static void test_register(void **state)
{
    (void)state;
    struct reload *r = fresh();
    struct reload_reg g = {.kind = RELOAD_Q, .conn = 1, .mount = "hdb", .callback = "cb", .timeout_ns = SEC};
    const struct reload_signal *s;
    int64_t gr;
    struct smfs_err e;
    assert_int_equal(reload_register(r, &g, 0, &s, &gr, &e), -EAGAIN);   /* no version yet: 'state */
    struct reload_signal sg[3];
    sigs_for(sg, 2, 100, 1000, 2000, false);
    reload_set_signals(r, sg, 3);
    g.mount = "nope";
    assert_int_equal(reload_register(r, &g, 0, &s, &gr, &e), -ENOENT);    /* 'mount */
    assert_non_null(strstr(e.msg, "nope"));
    assert_int_not_equal(reg(r, RELOAD_Q, 1, "hdb", 5 * SEC, &gr), 0);
    assert_int_equal(gr, 5 * SEC);
    reg(r, RELOAD_Q, 2, "hdb", 3600 * SEC, &gr);
    assert_int_equal(gr, 60 * SEC);                                          /* capped by reloadTimeout */
    reg(r, RELOAD_Q, 3, "hdb", KNULL_J, &gr);
    assert_int_equal(gr, 0);                                                 /* null: not waited for */
    reg(r, RELOAD_Q_SYNC, 4, "hdb", 0, &gr);
    assert_int_equal(gr, 60 * SEC);                                          /* sync 1b: waited, answer = ack */
    reg(r, RELOAD_REST, 0, "hdb", 5 * SEC, &gr);
    assert_int_equal(gr, 0);                                                 /* REST cannot acknowledge */
    /* The same connection and mount again: one registration, updated. */
    reg(r, RELOAD_Q, 1, "hdb", 7 * SEC, &gr);
    assert_int_equal(reload_nclients(r), 5);
    assert_int_equal(reload_client_at(r, 0)->timeout_ns, 7 * SEC);
    /* The same connection for another mount: a second registration. */
    reg(r, RELOAD_Q, 1, "idb", SEC, &gr);
    assert_int_equal(reload_nclients(r), 6);
    struct reload_stats rs;
    reload_stats(r, &rs);
    assert_int_equal(rs.clients_q, 5);
    assert_int_equal(rs.clients_rest, 1);
    reload_free(r);
}

static struct store_snap *pin(uint64_t v)
{
    struct store_snap *s;
    struct smfs_err e;
    assert_int_equal(store_snap_get(st, v, &s, &e), 0);
    return s;
}

static uint32_t pins_of(uint64_t v)
{
    struct store_version *vv;
    size_t n;
    struct smfs_err e;
    assert_int_equal(store_versions(st, &vv, &n, &e), 0);
    uint32_t p = 0;
    for (size_t i = 0; i < n; i++)
        if (vv[i].version == v) p = vv[i].pins;
    store_versions_free(vv, n);
    return p;
}

static void test_commit_ack_timeout(void **state)
{
    (void)state;
    struct reload *r = fresh();
    struct reload_signal sg[3];
    sigs_for(sg, 1, 100, 1000, 2000, false);
    reload_set_signals(r, sg, 3);
    uint64_t a = reg(r, RELOAD_Q, 1, "hdb", 10 * SEC, NULL);   /* acknowledges */
    uint64_t b = reg(r, RELOAD_Q, 2, "hdb", 5 * SEC, NULL);    /* never does */
    reg(r, RELOAD_Q, 3, "hdb", 0, NULL);                       /* not waited for */
    uint64_t d = reg(r, RELOAD_Q, 4, "rdb", 10 * SEC, NULL);   /* another mount */

    /* A commit into the HDB that does not move its end: only hdb registrants hear. */
    sigs_for(sg, 2, 200, 1000, 2000, true);
    reload_commit(r, sg, 3, pin(1), 0);
    assert_int_equal(nsent, 3);
    for (int i = 0; i < 3; i++) assert_string_equal(sent[i].mount, "hdb");
    assert_int_equal(pins_of(1), 1);   /* held for A and B */
    struct reload_stats rs;
    reload_stats(r, &rs);
    assert_int_equal(rs.pending, 2);
    assert_int_equal(rs.held, 1);

    /* A acknowledges with the exact ts; an unknown ts changes nothing. */
    assert_int_equal(reload_ack(r, 1, 999), 0);
    assert_int_equal(reload_ack(r, 1, 200), 1);
    assert_int_equal(reload_ack(r, 1, 200), 0);
    assert_int_equal(nreleased, 0);
    assert_int_equal(reload_tick(r, 4 * SEC), 5 * SEC);   /* B's deadline is next */
    assert_int_equal(nreleased, 0);
    assert_int_equal(reload_tick(r, 5 * SEC), INT64_MAX);
    assert_int_equal(nreleased, 1);
    assert_int_equal(released[0], 1);
    assert_int_equal(pins_of(1), 0);    /* vacuum may take it now */
    assert_int_equal(reload_client_at(r, 1)->timeouts, 1);
    assert_int_equal(reload_client_at(r, 0)->acked, 1);
    (void)a, (void)b, (void)d;

    /* The HDB grows: its end moves, so the idb and rdb purviews (which start after
     * it) move too and their registrants hear, with no `changed' flag needed. */
    nsent = 0;
    sigs_for(sg, 3, 300, 1000, 3000, true);
    reload_commit(r, sg, 3, NULL, SEC * 6);
    assert_int_equal(nsent, 4);
    assert_string_equal(sent[3].mount, "rdb");
    reload_free(r);
}

static void test_disconnect_and_failures(void **state)
{
    (void)state;
    struct reload *r = fresh();
    struct reload_signal sg[3];
    sigs_for(sg, 1, 100, 1000, 2000, false);
    reload_set_signals(r, sg, 3);
    reg(r, RELOAD_Q, 1, "hdb", 10 * SEC, NULL);
    reg(r, RELOAD_Q, 1, "idb", 10 * SEC, NULL);   /* same connection, second mount */
    reg(r, RELOAD_Q, 2, "hdb", 10 * SEC, NULL);
    reg(r, RELOAD_Q_SYNC, 3, "hdb", 0, NULL);
    sigs_for(sg, 2, 200, 1000, 3000, true);
    reload_commit(r, sg, 3, pin(1), 0);
    assert_int_equal(nsent, 4);
    /* Connection 1 waits twice with the same ts: one ack answers one of them. */
    assert_int_equal(reload_ack(r, 1, 200), 1);
    assert_int_equal(reload_ack(r, 1, 200), 1);
    /* The sync form: its response is the acknowledgement. */
    assert_int_equal(reload_ack_sync(r, 3), 1);
    assert_int_equal(reload_ack_sync(r, 3), 0);
    assert_int_equal(nreleased, 0);
    /* Connection 2 goes away: nobody waits any more. */
    reload_drop_conn(r, 2);
    assert_int_equal(nreleased, 1);
    assert_int_equal(reload_nclients(r), 3);

    /* A sender that fails drops that registration and holds nothing for it. */
    fail_conn = 1;
    nsent = nreleased = 0;
    sigs_for(sg, 3, 300, 1000, 4000, true);
    reload_commit(r, sg, 3, pin(2), 0);
    assert_int_equal(nsent, 1);          /* connection 3 only */
    assert_int_equal(reload_nclients(r), 1);
    assert_int_equal(nreleased, 0);      /* 3 (sync) still owes its answer */
    assert_int_equal(reload_ack_sync(r, 3), 1);
    assert_int_equal(nreleased, 1);

    /* Pending acks of older signals are answered by a newer ts. */
    fail_conn = -1;
    reg(r, RELOAD_Q, 5, "hdb", 10 * SEC, NULL);
    nreleased = 0;
    sigs_for(sg, 4, 400, 1000, 5000, true);
    reload_commit(r, sg, 3, pin(2), 0);
    sigs_for(sg, 5, 500, 1000, 6000, true);
    reload_commit(r, sg, 3, pin(3), 0);
    struct reload_stats rs;
    reload_stats(r, &rs);
    assert_int_equal(rs.pending, 4);   /* connections 3 and 5, twice each */
    assert_int_equal(rs.held, 2);
    assert_int_equal(reload_ack(r, 5, 500), 2);   /* the newer ts answers the older too */
    assert_int_equal(nreleased, 0);               /* 3 still owes both */
    reload_free(r);   /* puts the snapshot still held for 3 */
    assert_int_equal(pins_of(2), 0);
}

static void test_encodings(void **state)
{
    (void)state;
    struct reload *r = fresh();
    struct reload_signal sg[3];
    /* 2024.01.02D00:00:00 .. 2024.01.03D23:59:59.999999999, ts 2024.01.04D01:02:03.000000004 */
    int64_t d0 = INT64_C(1704153600) * SEC, end = d0 + 2 * 86400 * SEC - 1;
    sigs_for(sg, 3, d0 + 2 * 86400 * SEC + 3723 * SEC + 4, d0, end, false);
    reload_set_signals(r, sg, 3);
    const struct reload_signal *h = reload_signal_at(r, 2), *s = reload_signal_at(r, 0);

    struct k *x = reload_signal_k(h, -1);
    assert_int_equal(x->t, KT_DICT);
    assert_int_equal(x->u.kk[1]->t, KT_TIMESTAMP);   /* q collapses three timestamps */
    assert_string_equal(k_symv_at(x->u.kk[0], 2), "maxTS");
    assert_int_equal(((int64_t *)x->u.kk[1]->u.v)[1], k_ts_from_unix_ns(d0));
    k_free(x);
    x = reload_signal_k(h, 90 * SEC);
    assert_int_equal(x->u.kk[1]->t, KT_LIST);
    assert_string_equal(k_symv_at(x->u.kk[0], 3), "timeout");
    assert_int_equal(x->u.kk[1]->u.kk[3]->t, -KT_TIMESPAN);
    k_free(x);
    x = reload_signal_k(s, -1);
    assert_int_equal(x->u.kk[0]->n, 5);
    assert_string_equal(k_symv_at(x->u.kk[0], 4), "pos");
    assert_int_equal(x->u.kk[1]->u.kk[4]->t, -KT_LONG);
    assert_int_equal(x->u.kk[1]->u.kk[2]->u.j, KNULL_J);
    k_free(x);

    json_t *j = reload_signal_json(h, 90 * SEC);
    char *txt = json_dumps(j, JSON_COMPACT);
    assert_string_equal(txt, "{\"ts\":\"2024.01.04D01:02:03.000000004\",\"minTS\":\"2024.01.02D00:00:00.000000000\","
                             "\"maxTS\":\"2024.01.03D23:59:59.999999999\",\"timeout\":\"0D00:01:30.000000000\"}");
    free(txt);
    json_decref(j);
    j = reload_signal_json(s, -1);
    txt = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(txt, "\"startTS\":null"));
    assert_non_null(strstr(txt, "\"pos\":null"));
    free(txt);
    json_decref(j);
    reload_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_commit_ack_timeout),
        cmocka_unit_test(test_disconnect_and_failures),
        cmocka_unit_test(test_encodings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
