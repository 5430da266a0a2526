/* fuzz_upd: a tickerplant's updates as the stream takes them. The input is read as a
 * -11! log would be (an optional ff01 header, then q objects back to back, at most 64):
 * each object is classified as the stream classifies a message (upd, .u.end, other), an
 * update is checked against the embedded default assembly and appended to a spill (the
 * first after skipping the rows the input's last byte says, as a replay does), and every
 * object is also offered as a subscription's schema. A refused update must say why and
 * add no row; an accepted one exactly the rows it has past the skip; a checkpoint and a
 * read of every table must then succeed. The spill lives on /dev/shm (or /tmp) and
 * starts afresh every 256 inputs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/k_ser.h"
#include "core/spill.h"
#include "ipc/tp.h"

static struct cfg *cfg;
static struct spill *sp;
static char base[96], dir[128];
static unsigned inputs, gen;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_upd: %s: %s\n", what, msg);
    abort();
}

static void fresh(void)
{
    struct smfs_err e = {0};
    if (!cfg) {
        if (cfg_parse("default", cfg_default_yaml, strlen(cfg_default_yaml), &cfg, &e)) die("assembly", e.msg);
        snprintf(base, sizeof base, "%s/smfs-fuzz-upd.%d", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm",
                 (int)getpid());
        if (mkdir(base, 0700)) die("mkdir", base);
    }
    if (sp) {
        spill_close(sp);
        if (spill_remove(dir, &e)) die("spill_remove", e.msg);
    }
    snprintf(dir, sizeof dir, "%s/s%u", base, gen++);
    struct spill_opts o = {.cfg = cfg, .budget = 1 << 20};
    if (spill_create(dir, "fuzz.log", &o, &sp, &e)) die("spill_create", e.msg);
}

static void one(struct k *x, uint64_t skip)
{
    struct smfs_err e = {0};
    size_t untyped;
    for (size_t t = 0; t < cfg->ntables; t++) {
        if (spill_schema_check(cfg, cfg->tables[t].name, x, &untyped, &e) && !e.msg[0]) die("schema", "no reason");
        e.msg[0] = 0;
    }
    struct tp_msg m;
    tp_classify(x, &m);
    if (m.kind == TP_UPD) {
        int64_t before = spill_rows(sp, m.table);
        uint64_t rows = 0;
        int rc = spill_append(sp, m.table, m.data, skip, &rows, &e);
        int64_t after = spill_rows(sp, m.table);
        if (rc) {
            if (!e.msg[0]) die("append", "refused without a reason");
            if (after != before) die("append", "refused, yet rows were added");
        } else {
            int64_t want = before + (int64_t)(rows > skip ? rows - skip : 0);
            if (after != want) die("append", "the rows added are not the rows the update has");
        }
    } else if (m.kind == TP_OTHER && !m.what[0]) {
        die("classify", "an unknown message without a description");
    }
    tp_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    if (!sp || ++inputs % 256 == 0) fresh();
    if (n < 1) return 0;
    uint64_t skip = p[n - 1] % 4;
    size_t at = n >= 8 && p[0] == 0xff && p[1] == 0x01 ? 8 : 0;
    for (int i = 0; i < 64 && at < n; i++) {
        struct k *x = NULL;
        size_t used = 0;
        struct smfs_err e = {0};
        if (k_deserialize_prefix(p + at, n - at, &x, &used, &e)) {
            if (!e.msg[0]) die("decode", "refused without a reason");
            break;
        }
        at += used;
        one(x, i == 0 ? skip : 0);
    }
    struct smfs_err e = {0};
    if (spill_checkpoint(sp, NULL, &e)) die("checkpoint", e.msg);
    for (size_t t = 0; t < cfg->ntables; t++) {
        struct k *r = NULL;
        int64_t have = spill_rows(sp, cfg->tables[t].name);
        if (spill_read(sp, cfg->tables[t].name, have > 3 ? (uint64_t)have - 3 : 0, 3, &r, &e)) die("read", e.msg);
        k_free(r);
    }
    return 0;
}
