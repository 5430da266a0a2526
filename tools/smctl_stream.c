/* tools/smctl_stream.c: smctl stream (the running smfs's subscription: its state,
 * and the rows it holds for today) and smctl journal (a tickerplant log read offline,
 * as -11!(-2;x) would: whole messages, where a torn tail starts, rows per table). */
#include "tools/smctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc/journal.h"
#include "ipc/tp.h"

void smctl_print_stream(json_t *st)
{
    if (!st) return;
    const char *state = S(st, "state");
    if (!strcmp(state, "off")) {
        printf("stream: off (%s)\n", S(st, "why"));
        return;
    }
    time_t since = (time_t)(I(st, "since_ns") / 1000000000);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", gmtime(&since));
    printf("stream: %s since %s UTC, tickerplant %s\n", state, ts, S(st, "tickerplant"));
    if (*S(st, "error")) printf("        last problem: %s\n", S(st, "error"));
    if (*S(st, "gap")) printf("        ROWS MISSING today: %s\n", S(st, "gap"));
    if (*S(st, "last_refused")) printf("        last refused: %s\n", S(st, "last_refused"));
    if (*S(st, "log")) {
        json_t *p = json_object_get(st, "position");
        printf("        log %s: %lld messages at subscription, %lld received since", S(st, "log"),
               I(p, "log_messages_at_subscribe"), I(p, "received_since"));
        if (!strcmp(state, "replaying")) printf("; replaying %lld of %lld", I(p, "replay_done"), I(p, "replay_total"));
        printf("\n");
    }
    json_t *tables = json_object_get(st, "tables"), *t;
    const char *name;
    printf("        today:");
    json_object_foreach(tables, name, t) {
        printf(" %s %lld rows", name, I(t, "rows"));
        if (I(t, "refused")) printf(" (%lld refused)", I(t, "refused"));
        printf(";");
    }
    printf("\n");
    json_t *c = json_object_get(st, "counts");
    printf("        %lld updates taken, %lld replayed, %lld refused, %lld reconnects, %lld gaps, %lld checkpoints, "
           "%lld days sealed, %lld signals published\n", I(c, "messages"), I(c, "replayed"), I(c, "refused"),
           I(c, "reconnects"), I(c, "gaps"), I(c, "checkpoints"), I(c, "days_sealed"), I(c, "signals_sent"));
    if (json_object_get(st, "last_message_ns")) {
        time_t lm = (time_t)(I(st, "last_message_ns") / 1000000000);
        strftime(ts, sizeof ts, "%H:%M:%S", gmtime(&lm));
        printf("        last update at %s UTC, lag %.3f s (receipt minus event time)\n", ts, I(st, "lag_ns") / 1e9);
    }
    json_t *sp = json_object_get(st, "spill");
    if (sp)
        printf("        rows in %s: %.1f MiB on disk, %.1f MiB in memory (budget %.0f MiB), %lld symbols\n",
               S(sp, "dir"), I(sp, "bytes_disk") / 1048576.0, I(sp, "bytes_memory") / 1048576.0,
               I(sp, "budget") / 1048576.0, I(sp, "symbols"));
}

static void usage_stream(FILE *f)
{
    fprintf(f, "usage: smctl stream [-c ASSEMBLY] [--admin SOCKET] [--json]\n"
               "       smctl stream rows TABLE [--from N] [--limit N] [-c ASSEMBLY] [--admin SOCKET] [--json]\n"
               "The running smfs's subscription to its tickerplant, or the rows it holds for today\n"
               "(from row N, at most --limit, default 1000, up to 100000 at a time).\n");
}

static void print_rows(json_t *r)
{
    json_t *cols = json_object_get(r, "columns"), *rows = json_object_get(r, "rows"), *row, *v;
    size_t i, j;
    json_array_foreach(cols, j, v) printf("%s%s", j ? "\t" : "", json_string_value(v));
    printf("\n");
    json_array_foreach(rows, i, row) {
        json_array_foreach(row, j, v) {
            if (j) putchar('\t');
            if (json_is_string(v)) fputs(json_string_value(v), stdout);
            else if (json_is_null(v)) fputs("0N", stdout);
            else {
                char *s = json_dumps(v, JSON_ENCODE_ANY);
                fputs(s ? s : "?", stdout);
                free(s);
            }
        }
        putchar('\n');
    }
}

int smctl_stream(int argc, char **argv)
{
    static const struct option lo[] = {
        { "admin", required_argument, 0, 'a' }, { "json", no_argument, 0, 'j' },
        { "from", required_argument, 0, 'f' }, { "limit", required_argument, 0, 'l' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL, *given = NULL;
    bool json = false;
    uint64_t from = 0, limit = 1000;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'a': given = optarg; break;
        case 'j': json = true; break;
        case 'f': if (!smctl_u64_arg(optarg, 0, INT64_MAX, "stream rows: --from", &from)) return 2; break;
        case 'l': if (!smctl_u64_arg(optarg, 0, 100000, "stream rows: --limit", &limit)) return 2; break;
        case 'h': usage_stream(stdout); return 0;
        default: usage_stream(stderr); return 2;
        }
    }
    bool rows = optind < argc && !strcmp(argv[optind], "rows");
    if ((rows && optind + 2 != argc) || (!rows && optind != argc && strcmp(argv[optind], "status"))) {
        usage_stream(stderr);
        return 2;
    }
    char path[PATH_MAX];
    if (smctl_admin_path(cfgpath, given, path, sizeof path)) return 1;
    json_t *req = rows ? json_pack("{s:s,s:s,s:I,s:I}", "cmd", "stream-rows", "table", argv[optind + 1], "from",
                                   (json_int_t)from, "limit", (json_int_t)limit)
                       : json_pack("{s:s}", "cmd", "status");
    json_t *r = NULL;
    int rc = smctl_admin_call(path, req, &r, false);
    json_decref(req);
    if (rc) return rc;
    json_t *out = rows ? r : json_object_get(r, "stream");
    if (json) {
        json_object_del(out, "ok");
        char *s = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else if (rows) {
        print_rows(r);
    } else {
        smctl_print_stream(out);
    }
    json_decref(r);
    return 0;
}

/* ---- smctl eod -------------------------------------------------------------------- */

void smctl_print_eod(json_t *e)
{
    if (!e) return;
    json_t *last = json_object_get(e, "last"), *man = json_object_get(e, "manual");
    printf("eod: %lld written, %lld failed tries, %lld days waiting", I(e, "done"), I(e, "failed"), I(e, "pending"));
    if (man) printf("; manual EOD %s: %s", *S(man, "date") ? S(man, "date") : "(today)", S(man, "state"));
    printf("\n");
    if (last) {
        time_t at = (time_t)(I(last, "at_ns") / 1000000000);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", gmtime(&at));
        printf("     last: %s at %s UTC, version %lld, %lld rows (%lld late, %lld refused) in %lld partitions, "
               "%lld files, %.1f MiB, %.3f s\n", S(last, "date"), ts, I(last, "version"), I(last, "rows"),
               I(last, "late_rows"), I(last, "refused_rows"), I(last, "partitions"), I(last, "files"),
               I(last, "bytes") / 1048576.0, json_real_value(json_object_get(last, "duration_s")));
    }
    if (*S(e, "error")) printf("     LAST FAILURE (retried every 30 s): %s\n", S(e, "error"));
    json_t *eoi = json_object_get(e, "eoi"), *le = json_object_get(eoi, "last");
    if (eoi && (I(eoi, "done") || I(eoi, "failed"))) {
        printf("eoi: %lld intervals written, %lld failed tries", I(eoi, "done"), I(eoi, "failed"));
        if (le) {
            time_t end = (time_t)(I(le, "end_ns") / 1000000000);
            char ts[32];
            strftime(ts, sizeof ts, "%H:%M:%S", gmtime(&end));
            printf("; last: idb/%lld to %s UTC, %lld rows, version %lld, %.3f s", I(le, "ordinal"), ts, I(le, "rows"),
                   I(le, "version"), json_real_value(json_object_get(le, "duration_s")));
        }
        printf("\n");
    }
}

int smctl_eod(int argc, char **argv)
{
    static const struct option lo[] = {
        { "admin", required_argument, 0, 'a' }, { "json", no_argument, 0, 'j' },
        { "date", required_argument, 0, 'd' }, { "wait", no_argument, 0, 'w' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *cfgpath = NULL, *given = NULL, *date = NULL;
    bool json = false, wait = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': cfgpath = optarg; break;
        case 'a': given = optarg; break;
        case 'j': json = true; break;
        case 'd': date = optarg; break;
        case 'w': wait = true; break;
        case 'h':
            printf("usage: smctl eod [--date YYYY.MM.DD] [--wait] [-c ASSEMBLY] [--admin SOCKET] [--json]\n"
                   "End the day now, as kdb Insights' manual EOD does: the rows the running smfs holds are sealed\n"
                   "and written down as their dates' partitions in one commit; later rows of the day are late data\n"
                   "for the next end of day. --wait: until the writedown is done (its state: pending, queued,\n"
                   "processing, completed, failed -- a failed one is retried every 30 s).\n");
            return 0;
        default: return 2;
        }
    }
    if (optind != argc) {
        smctl_errf("eod: unexpected argument '%s'", argv[optind]);
        return 2;
    }
    char path[PATH_MAX];
    if (smctl_admin_path(cfgpath, given, path, sizeof path)) return 1;
    json_t *req = json_pack("{s:s}", "cmd", "eod"), *r = NULL;
    if (date) json_object_set_new(req, "date", json_string(date));
    int rc = smctl_admin_call(path, req, &r, false);
    json_decref(req);
    if (rc) return rc;
    if (!json) printf("eod %s: %lld rows sealed in %s\n", S(r, "date"), I(r, "rows"), S(r, "sealed"));
    json_decref(r);
    while (wait) {
        json_t *sq = json_pack("{s:s}", "cmd", "status"), *st = NULL;
        rc = smctl_admin_call(path, sq, &st, false);
        json_decref(sq);
        if (rc) return rc;
        json_t *e = json_object_get(st, "eod");
        const char *state = S(json_object_get(e, "manual"), "state");
        bool end = !strcmp(state, "completed") || !strcmp(state, "failed");
        if (end) {
            if (json) {
                char *s = json_dumps(e, JSON_INDENT(2));
                printf("%s\n", s);
                free(s);
            } else {
                smctl_print_eod(e);
            }
            rc = strcmp(state, "completed") ? 1 : 0;
        }
        json_decref(st);
        if (end) return rc;
        usleep(100000);
    }
    return 0;
}

/* ---- smctl journal ------------------------------------------------------------------ */

struct tally {
    char     table[64];
    uint64_t updates, rows;
};

static int journal_one(const char *path, bool tables, bool json)
{
    struct smfs_err e = {0};
    struct journal *j;
    if (journal_open(path, &j, &e)) {
        smctl_errf("journal: %s", e.msg);
        return 1;
    }
    struct tally t[64];
    size_t nt = 0;
    uint64_t other = 0;
    int rc;
    for (;;) {
        struct k *raw = NULL;
        rc = journal_next(j, &raw, NULL, NULL, &e);
        if (rc) break;
        if (!tables) {
            k_free(raw);
            continue;
        }
        struct tp_msg m;
        tp_classify(raw, &m);
        if (m.kind == TP_UPD) {
            size_t i = 0;
            while (i < nt && strcmp(t[i].table, m.table)) i++;
            if (i == nt && nt < 64) {
                memset(&t[nt], 0, sizeof t[nt]);
                snprintf(t[nt++].table, sizeof t[0].table, "%s", m.table);
            }
            if (i < nt) {
                const struct k *d = m.data;
                const struct k *first = d->t == KT_TABLE ? d->u.kk[0]->u.kk[1] : d;
                int64_t n = first->t == KT_LIST && first->n ? k_count(first->u.kk[0]) : 0;
                t[i].updates++;
                t[i].rows += n < 0 ? 1 : (uint64_t)n;   /* an atom: one row */
            }
        } else {
            other++;
        }
        tp_msg_free(&m);
    }
    uint64_t msgs = journal_index(j), valid = journal_offset(j);
    struct { uint64_t size; } st = {journal_size(j)};
    journal_close(j);
    bool torn = rc != 1;
    if (json) {
        json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:b}", "file", path, "messages", (json_int_t)msgs, "valid_bytes",
                              (json_int_t)valid, "file_bytes", (json_int_t)st.size, "torn", torn);
        if (torn) json_object_set_new(o, "why", json_string(e.msg));
        if (tables) {
            json_t *jt = json_object();
            for (size_t i = 0; i < nt; i++)
                json_object_set_new(jt, t[i].table, json_pack("{s:I,s:I}", "updates", (json_int_t)t[i].updates,
                                                               "rows", (json_int_t)t[i].rows));
            json_object_set_new(o, "tables", jt);
            json_object_set_new(o, "other", json_integer((json_int_t)other));
        }
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%s: %llu whole messages, %llu of %llu bytes\n", path, (unsigned long long)msgs,
               (unsigned long long)valid, (unsigned long long)st.size);
        if (torn)
            printf("  %s\n  (kdb+ repairs a log by truncating it to the whole messages: truncate -s %llu %s)\n", e.msg,
                   (unsigned long long)valid, path);
        for (size_t i = 0; i < nt; i++)
            printf("  %-20s %llu updates, %llu rows\n", t[i].table, (unsigned long long)t[i].updates,
                   (unsigned long long)t[i].rows);
        if (tables && other) printf("  %llu messages that are not updates\n", (unsigned long long)other);
    }
    return torn ? 1 : 0;
}

int smctl_journal(int argc, char **argv)
{
    static const struct option lo[] = {
        { "json", no_argument, 0, 'j' }, { "tables", no_argument, 0, 't' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    bool json = false, tables = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 't': tables = true; break;
        case 'h':
            printf("usage: smctl journal [--tables] [--json] LOG...\n"
                   "Read tickerplant logs (-11! format) as kdb+'s -11!(-2;x) does: whole messages, their bytes,\n"
                   "where a torn or bad message starts; --tables counts updates and rows per table.\n"
                   "Exit status 1 when a log is torn or is not a log.\n");
            return 0;
        default: return 2;
        }
    }
    if (optind == argc) {
        smctl_errf("journal: which log? (smctl journal --help)");
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) rc |= journal_one(argv[i], tables, json);
    return rc;
}
