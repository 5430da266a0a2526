/* tests/unit/test_config.c: the assembly loader. One test per class of error with its
 * exact message and position; the examples and the embedded default load clean; the
 * derived view (tiers in order, stores, par.txt); resolution order; hostile input. */
#include "testutil.h"

#include <sys/stat.h>

#include "core/config.h"
#include "core/k.h"

/* A valid base, one construct per line so positions are easy to read:
 * line 1 name, 2-3 tables, 4-5 bus, 6-7 mounts, 8-12 elements (tier on line 12). */
#define NAME   "name: t\n"
#define TABLES "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: sym, type: symbol}]}\n"
#define BUS    "bus:\n  stream: {protocol: tp}\n"
#define MOUNTS "mounts:\n  hdb: {type: local, baseURI: 'file:///d/hdb', partition: date}\n"
#define SM     "elements:\n  sm:\n    source: stream\n    tiers:\n"
#define HDB    "      - {name: hdb, mount: hdb}\n"
#define BASE   NAME TABLES BUS MOUNTS SM HDB

static struct cfg *parse(const char *yaml, int *rc)
{
    struct cfg *c = NULL;
    struct smfs_err err;
    *rc = cfg_parse("t.yaml", yaml, strlen(yaml), &c, &err);
    assert_non_null(c);
    return c;
}

static void dump(const struct cfg *c)
{
    char line[2048];
    for (size_t i = 0; i < c->ndiags; i++) {
        cfg_diag_str(c, &c->diags[i], line, sizeof line);
        print_message("  diag: %s\n", line);
    }
}

/* YAML must produce the diagnostic "t.yaml:" WANT (and be invalid unless WANT is a
 * warning). */
static void expect(const char *yaml, const char *want)
{
    int rc;
    struct cfg *c = parse(yaml, &rc);
    char line[2048], full[2048];
    snprintf(full, sizeof full, "t.yaml:%s", want);
    bool found = false;
    for (size_t i = 0; i < c->ndiags && !found; i++) {
        cfg_diag_str(c, &c->diags[i], line, sizeof line);
        found = strcmp(line, full) == 0;
    }
    if (!found) {
        print_message("wanted: %s\n", full);
        dump(c);
    }
    assert_true(found);
    if (!strstr(want, ": warning: ")) assert_int_equal(rc, -EINVAL);
    cfg_free(c);
}

static struct cfg *valid(const char *yaml)
{
    int rc;
    struct cfg *c = parse(yaml, &rc);
    if (rc || c->nwarnings > c->npending) dump(c);
    assert_int_equal(rc, 0);
    assert_int_equal(c->nwarnings - c->npending, 0);   /* "has no effect yet" aside */
    return c;
}

/* --- values ------------------------------------------------------------------- */

static void timespans(void **state)
{
    (void)state;
    int64_t ns;
    const int64_t s = 1000000000;
    assert_int_equal(cfg_parse_timespan("0D00:10:00", &ns), 0); assert_true(ns == 600 * s);
    assert_int_equal(cfg_parse_timespan("00:10:00", &ns), 0);   assert_true(ns == 600 * s);
    assert_int_equal(cfg_parse_timespan("1D00:00:00", &ns), 0); assert_true(ns == 86400 * s);
    assert_int_equal(cfg_parse_timespan("01:35", &ns), 0);      assert_true(ns == 5700 * s);
    assert_int_equal(cfg_parse_timespan("2D", &ns), 0);         assert_true(ns == 2 * 86400 * s);
    assert_int_equal(cfg_parse_timespan("0D00:00:01.5", &ns), 0); assert_true(ns == s + s / 2);
    assert_int_equal(cfg_parse_timespan("-00:00:01", &ns), 0);  assert_true(ns == -s);
    const char *bad[] = {"", "10", "10 minutes", "0D24:00:00", "00:60:00", "00:10:61", "D",
                         "00:10:00.", "00:10:00.1234567890", "x00:10", "0D00:10:00Z", "99999999D"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (cfg_parse_timespan(bad[i], &ns) == 0) print_message("accepted '%s'\n", bad[i]);
        assert_int_equal(cfg_parse_timespan(bad[i], &ns), -EINVAL);
    }
}

static void durations(void **state)
{
    (void)state;
    int64_t n;
    enum cfg_unit u;
    assert_int_equal(cfg_parse_duration("2 weeks", &n, &u), 0);   assert_true(n == 2 && u == CFG_WEEKS);
    assert_int_equal(cfg_parse_duration("12 Months", &n, &u), 0); assert_true(n == 12 && u == CFG_MONTHS);
    assert_int_equal(cfg_parse_duration("1 day", &n, &u), 0);     assert_true(n == 1 && u == CFG_DAYS);
    assert_int_equal(cfg_parse_duration("5 HOURS", &n, &u), 0);   assert_true(n == 5 && u == CFG_HOURS);
    assert_int_equal(cfg_parse_duration("3Years", &n, &u), 0);    assert_true(n == 3 && u == CFG_YEARS);
    const char *bad[] = {"", "weeks", "2", "0 days", "-1 days", "2 fortnights", "2 weeks ago", "1.5 days"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(cfg_parse_duration(bad[i], &n, &u), -EINVAL);
}

static void qtypes(void **state)
{
    (void)state;
    int8_t t;
    bool v;
    assert_int_equal(cfg_parse_qtype("float", &t, &v), 0);     assert_true(t == KT_FLOAT && !v);
    assert_int_equal(cfg_parse_qtype("floats", &t, &v), 0);    assert_true(t == KT_FLOAT && v);
    assert_int_equal(cfg_parse_qtype("string", &t, &v), 0);    assert_true(t == KT_CHAR && v);
    assert_int_equal(cfg_parse_qtype("", &t, &v), 0);          assert_true(t == 0 && !v);
    assert_int_equal(cfg_parse_qtype("timestamp", &t, &v), 0); assert_true(t == KT_TIMESTAMP && !v);
    assert_int_equal(cfg_parse_qtype("symbols", &t, &v), 0);   assert_true(t == KT_SYM && v);
    assert_int_equal(cfg_parse_qtype("guid", &t, &v), 0);      assert_true(t == KT_GUID);
    const char *bad[] = {"f", "Float", "symbl", "strings", "s", "floatss"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(cfg_parse_qtype(bad[i], &t, &v), -EINVAL);
}

/* --- one test per error class ------------------------------------------------------ */

static void syntax_errors(void **state)
{
    (void)state;
    expect("name: t\ntables: [\n", "3:1: YAML syntax: did not find expected node content while parsing a flow node");
    expect("name: t\n  bad: indent\n", "2:6: YAML syntax: mapping values are not allowed in this context");
    expect("", "1:1: the assembly must be a mapping of keys (name, tables, mounts, bus, elements); the file is empty");
    expect("- a\n- b\n", "1:1: the assembly must be a mapping of keys (name, tables, mounts, bus, elements)");
    expect("name: \"a\\0b\"\n" TABLES BUS MOUNTS SM HDB, "1:7: name: the value contains a NUL character");
}

static void keys_unknown_duplicate_missing(void **state)
{
    (void)state;
    expect(BASE "colour: red\n", "13:1: warning: colour: unknown key (ignored)");
    expect(NAME "name: u\n" TABLES BUS MOUNTS SM HDB, "2:1: name: duplicate key (first at line 1)");
    expect(TABLES BUS MOUNTS SM HDB, "1:1: name: required key is missing");
    expect(NAME BUS MOUNTS SM HDB, "1:1: tables: required key is missing (at least one partitioned table)");
    expect(NAME TABLES BUS MOUNTS "elements:\n  sm:\n    source: stream\n",
           "10:5: elements.sm.tiers: required key is missing (the tiers, newest first)");
    expect(NAME TABLES BUS MOUNTS SM "      - {mount: hdb}\n", "12:9: elements.sm.tiers[0].name: required key is missing");
    expect(NAME "tables: 3\n" BUS MOUNTS SM HDB, "2:9: tables: expected a mapping, found a scalar");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: [a], mount: hdb}\n",
           "12:16: elements.sm.tiers[0].name: expected a value, found a list");
}

static void column_types_and_attributes(void **state)
{
    (void)state;
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: sym, type: symbl}]}\n" BUS MOUNTS SM HDB,
           "3:104: tables.trade.columns[1].type: 'symbl' is not a q type name (boolean guid byte short int long real float char symbol timestamp month date datetime timespan minute second time, a plural for a vector column, string, or \"\")");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp, attrDisk: partd}]}\n" BUS MOUNTS SM HDB,
           "3:95: tables.trade.columns[0].attrDisk: 'partd' is not one of: sorted, unique, parted, grouped");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time}]}\n" BUS MOUNTS SM HDB,
           "3:55: tables.trade.columns[0].type: required key is missing");
    expect(NAME "tables:\n  trade: {type: splayd, columns: [{name: time, type: timestamp}]}\n" BUS MOUNTS SM HDB,
           "3:17: tables.trade.type: 'splayd' is not one of: partitioned, splayed, basic, splayed_mem");
}

static void column_names(void **state)
{
    (void)state;
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: date, type: date}]}\n" BUS MOUNTS SM HDB,
           "3:93: tables.trade.columns[1].name: 'date' is reserved in q (date, int, label_*, and q keywords such as sum or select)");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: label_x, type: long}]}\n" BUS MOUNTS SM HDB,
           "3:93: tables.trade.columns[1].name: 'label_x' is reserved in q (date, int, label_*, and q keywords such as sum or select)");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: 2x, type: long}]}\n" BUS MOUNTS SM HDB,
           "3:93: tables.trade.columns[1].name: '2x' is not a q name (a letter, then letters, digits or '_')");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: time, type: long}]}\n" BUS MOUNTS SM HDB,
           "3:86: tables.trade.columns[1]: duplicate column 'time' (first at line 3)");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}]}\n  trade: {type: splayed, columns: [{name: a, type: long}]}\n" BUS MOUNTS SM HDB,
           "4:3: tables.trade: duplicate key (first at line 3)");
}

static void partition_column(void **state)
{
    (void)state;
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: sym, columns: [{name: time, type: timestamp}, {name: sym, type: symbol}]}\n" BUS MOUNTS SM HDB,
           "3:39: tables.trade.prtnCol: column 'sym' is of type 'symbol'; the partition column must be a timestamp");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: ts, columns: [{name: time, type: timestamp}]}\n" BUS MOUNTS SM HDB,
           "3:39: tables.trade.prtnCol: 'ts' is not a column of table 'trade'");
    expect(NAME "tables:\n  trade: {type: partitioned, columns: [{name: time, type: timestamp}]}\n" BUS MOUNTS SM HDB,
           "3:10: tables.trade.prtnCol: required key is missing");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, sortColsDisk: [sym, nope], columns: [{name: time, type: timestamp}, {name: sym, type: symbol}]}\n" BUS MOUNTS SM HDB,
           "3:59: tables.trade.sortColsDisk: 'nope' is not a column of table 'trade'");
    expect(NAME "tables:\n  ref: {type: splayed, columns: [{name: a, type: long}]}\n" BUS MOUNTS SM HDB,
           "3:3: tables: no partitioned table: smfs serves a date-partitioned database (type: partitioned, with a prtnCol)");
}

static void mounts_and_uris(void **state)
{
    (void)state;
    expect(NAME TABLES BUS "mounts:\n  hdb: {type: local, baseURI: 'file://rel/hdb', partition: date}\n" SM HDB,
           "7:31: mounts.hdb.baseURI: 'file://rel/hdb': the path must be absolute (file:///abs/path)");
    expect(NAME TABLES BUS "mounts:\n  hdb: {type: local, baseURI: '/d/hdb', partition: date}\n" SM HDB,
           "7:31: mounts.hdb.baseURI: '/d/hdb': expected 'none', an absolute file:// URI or an object-storage URI (s3://bucket/prefix)");
    expect(NAME TABLES BUS "mounts:\n  hdb: {type: local, baseURI: 'file:///d/../hdb', partition: date}\n" SM HDB,
           "7:31: mounts.hdb.baseURI: 'file:///d/../hdb': the path has a '.' or '..' component");
    expect(NAME TABLES BUS "mounts:\n  hdb: {type: local, baseURI: 's3://bkt/hdb', partition: date}\n" SM HDB,
           "7:31: mounts.hdb.baseURI: a local mount needs an absolute file:// baseURI, found 's3://bkt/hdb'");
    expect(NAME TABLES BUS MOUNTS "  idb: {type: local, baseURI: 'file:///d/hdb/idb', partition: ordinal}\n" SM HDB,
           "8:31: mounts.idb.baseURI: 'file:///d/hdb/idb' overlaps the baseURI of mount 'hdb' ('file:///d/hdb'); each mount owns everything beneath its baseURI");
    expect(NAME TABLES BUS MOUNTS "  rdb: {type: stream, baseURI: none, partition: date}\n" SM HDB,
           "8:3: mounts.rdb: a stream mount keeps data in memory: partition must be none");
    expect(NAME TABLES BUS "mounts:\n  hdb: {type: local, baseURI: 'file:///d/hdb', partition: daily}\n" SM HDB,
           "7:59: mounts.hdb.partition: 'daily' is not one of: none, ordinal, date");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, store: 'gs://bkt/db'}\n      - {name: h2, mount: hdb, store: 'file:///e/h2'}\n",
           "12:40: elements.sm.tiers[0].store: 'gs://bkt/db': smfs supports s3:// object storage only");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: s3, mount: hdb, store: 's3://Bkt/db'}\n",
           "13:39: elements.sm.tiers[1].store: 's3://Bkt/db': the bucket name takes lower-case letters, digits, '-' and '.' only");
}

static void tiers_mount_and_order(void **state)
{
    (void)state;
    const char *three = "mounts:\n  rdb: {type: stream, baseURI: none, partition: none}\n"
                        "  idb: {type: local, baseURI: 'file:///d/idb', partition: ordinal}\n"
                        "  hdb: {type: local, baseURI: 'file:///d/hdb', partition: date}\n";
    char y[4096];
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hbd}\n",
           "12:28: elements.sm.tiers[0].mount: mount 'hbd' is not defined (defined: hdb)");
    snprintf(y, sizeof y, NAME TABLES BUS "%s" SM HDB "      - {name: idb, mount: idb}\n", three);
    expect(y, "15:9: elements.sm.tiers[1]: ordinal tier 'idb' comes after a date tier: tiers go newest to oldest, the stream tier, the ordinal tier, then the date tiers");
    snprintf(y, sizeof y, NAME TABLES BUS "%s" SM "      - {name: s1, mount: rdb}\n      - {name: s2, mount: rdb}\n" HDB, three);
    expect(y, "15:9: elements.sm.tiers[1]: a second stream tier (the first is 's1'): an assembly has at most one");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: hdb, mount: hdb, store: 'file:///e/x'}\n",
           "13:9: elements.sm.tiers[1]: duplicate tier name 'hdb' (first at line 12)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: v1$, mount: hdb}\n",
           "12:9: elements.sm.tiers[0]: tier name 'v1$' names a directory of the view: use letters, digits, '_', '-' and '.'");
    snprintf(y, sizeof y, NAME TABLES BUS "%s" SM "      - {name: idb, mount: idb}\n", three);
    expect(y, "12:5: elements.sm.tiers: no date tier: smfs serves a date-partitioned HDB; add a tier on a local mount with partition: date");
    expect(NAME TABLES BUS MOUNTS "  h2: {type: local, baseURI: 'file:///d/h2', partition: date}\n" SM HDB "      - {name: b, mount: h2}\n",
           "14:26: elements.sm.tiers[1]: date tiers on mounts 'hdb' and 'h2': kdb+ loads one segmented database, so every date tier uses the same mount");
}

static void stores(void **state)
{
    (void)state;
    expect(NAME TABLES BUS MOUNTS SM "      - {name: s3, mount: hdb, store: 's3://bkt/db'}\n" HDB,
           "12:39: elements.sm.tiers[0].store: object-storage tier 's3' must be the last tier (tier 'hdb' follows it)");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: h2, mount: hdb}\n",
           "13:9: elements.sm.tiers[1]: tiers 'hdb' and 'h2' both use mount 'hdb' without an explicit store; give all but one a store outside the mount's baseURI");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: h2, mount: hdb, store: 'file:///d/hdb/slow'}\n",
           "13:39: elements.sm.tiers[1].store: store 'file:///d/hdb/slow' overlaps the mount's baseURI 'file:///d/hdb': an explicit store must be outside it (only the tier without a store lives there, in file:///d/hdb/data)");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: h2, mount: hdb, store: 'file:///e/s'}\n      - {name: h3, mount: hdb, store: 'file:///e/s/t'}\n",
           "14:39: elements.sm.tiers[2].store: store 'file:///e/s/t' of tier 'h3' overlaps store 'file:///e/s' of tier 'h2'; each tier needs its own directory");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: s3, mount: hdb, store: 's3://bkt/db'}\n",
           "12:9: elements.sm.tiers: no local date tier: the sym file and new partitions need a local store before object storage");
}

static void retention(void **state)
{
    (void)state;
    const char *idb = "mounts:\n  idb: {type: local, baseURI: 'file:///d/idb', partition: ordinal}\n"
                      "  hdb: {type: local, baseURI: 'file:///d/hdb', partition: date}\n";
    char y[4096];
    snprintf(y, sizeof y, NAME TABLES BUS "%s" SM "      - {name: idb, mount: idb, retain: {time: 2 days}}\n" HDB, idb);
    expect(y, "13:41: elements.sm.tiers[0].retain: retention cannot be used on ordinal tiers (their partitions move to the next tier at end of day)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, retain: {time: 6 hours}}\n",
           "12:41: elements.sm.tiers[0].retain: a date tier keeps whole days: give days, weeks, months or years, not hours");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, retain: {time: two weeks}}\n",
           "12:48: elements.sm.tiers[0].retain.time: 'two weeks' is not a duration (a count and a unit: 2 weeks, 12 Months, 5 days, 6 hours)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, retain: {sizePct: 120}}\n",
           "12:51: elements.sm.tiers[0].retain.sizePct: 120 is out of range (1..100)");
    expect(NAME TABLES BUS MOUNTS SM HDB "      - {name: s3, mount: hdb, store: 's3://bkt/db', retain: {sizePct: 50}}\n",
           "13:62: elements.sm.tiers[1].retain: sizePct applies to local date tiers only");
}

static void compression(void **state)
{
    (void)state;
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, compression: {algorithm: zstd, level: 23}}\n",
           "12:71: elements.sm.tiers[0].compression.level: level 23 is out of range for zstd (-7..22)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, compression: {algorithm: lz4hc, level: 0}}\n",
           "12:72: elements.sm.tiers[0].compression.level: level 0 is out of range for lz4hc (1..12)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, compression: {algorithm: gzip, block: 21}}\n",
           "12:71: elements.sm.tiers[0].compression.block: 21 is out of range (12..20)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, compression: {algorithm: brotli}}\n",
           "12:58: elements.sm.tiers[0].compression.algorithm: 'brotli' is not one of: none, qipc, gzip, snappy, lz4hc, zstd");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, compression: {algorithm: none, block: 17}}\n",
           "12:71: warning: elements.sm.tiers[0].compression.block: algorithm none takes no block size (ignored)");
}

static void schedule_and_scalars(void **state)
{
    (void)state;
    expect(NAME TABLES BUS MOUNTS "elements:\n  sm:\n    source: stream\n    reloadTimeout: 10 minutes\n    tiers:\n" HDB,
           "11:20: elements.sm.reloadTimeout: '10 minutes' is not a q timespan (e.g. 0D00:10:00 or 00:10:00)");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, schedule: {freq: 00:10:00, offset: 00:20:00}}\n",
           "12:68: elements.sm.tiers[0].schedule.offset: the offset must be shorter than freq");
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, schedule: {snap: 1D01:00:00}}\n",
           "12:50: elements.sm.tiers[0].schedule.snap: snap is a time of day (00:00:00 up to 23:59:59)");
    expect(NAME TABLES BUS MOUNTS "elements:\n  sm:\n    source: stream\n    initialImport: maybe\n    tiers:\n" HDB,
           "11:20: elements.sm.initialImport: expected true or false, found 'maybe'");
    expect(NAME TABLES BUS MOUNTS "elements:\n  sm:\n    source: stream\n    chunkSize: lots\n    tiers:\n" HDB,
           "11:16: elements.sm.chunkSize: expected an integer, found 'lots'");
    expect(NAME TABLES BUS MOUNTS "elements:\n  sm:\n    source: stream\n    eodPeachLevel: [row]\n    tiers:\n" HDB,
           "11:20: elements.sm.eodPeachLevel: 'row' is not one of part, table, column");
}

static void references(void **state)
{
    (void)state;
    expect(NAME TABLES MOUNTS SM HDB, "8:13: elements.sm.source: bus 'stream' is not defined (there is no bus section)");
    expect(NAME TABLES "bus:\n  feed: {protocol: tp, nodes: ['tick:5010']}\n" MOUNTS SM HDB,
           "10:13: elements.sm.source: bus 'stream' is not defined in bus");
    expect(NAME TABLES "bus:\n  stream: {protocol: tp, nodes: ['tick']}\n" MOUNTS SM HDB,
           "5:3: bus.stream.nodes: 'tick' is not host:port");
    expect(BASE "  dap:\n    instances:\n      db: {mountList: [hdb, rdb]}\n",
           "15:23: elements.dap.instances.db.mountList: mount 'rdb' is not defined");
    expect(NAME "tables:\n  trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}, {name: s, type: symbol, foreign: ref.x}]}\n" BUS MOUNTS SM HDB,
           "3:86: tables.trade.columns[1].foreign: table 'ref' is not defined");
    expect(BASE "dbSettings:\n  encryption: {encryptAll: true}\n",
           "14:28: dbSettings.encryption.encryptAll: encryption at rest is not supported by smfs; it would store your data unencrypted");
}

static void all_errors_at_once(void **state)
{
    (void)state;
    int rc;
    struct cfg *c = parse(NAME "tables:\n  trade: {type: partitioned, prtnCol: sym, columns: [{name: time, type: timestmp}, {name: sym, type: symbol}]}\n"
                          MOUNTS SM "      - {name: hdb, mount: nope, retain: {time: soon}}\n", &rc);
    assert_int_equal(rc, -EINVAL);
    /* type, prtnCol, source, mount, retain.time: five independent problems, and no
     * "no date tier" cascading from the undefined mount. */
    if (c->nerrors != 5) dump(c);
    assert_int_equal(c->nerrors, 5);
    for (size_t i = 1; i < c->ndiags; i++)   /* reported top to bottom */
        assert_true(c->diags[i - 1].pos.line <= c->diags[i].pos.line);
    cfg_free(c);
}

/* --- what is derived ---------------------------------------------------------------- */

/* Settings smfs reads but does not act on yet are warned about, at their line. */
static void settings_without_effect_are_named(void **state)
{
    (void)state;
    struct cfg *c = NULL;
    struct smfs_err err;
    assert_int_equal(cfg_load("mnt-examples/tiers-s3.yaml", &c, &err), 0);
    const char *want[] = {
        "mnt-examples/tiers-s3.yaml:48:26: warning: elements.sm.tiers[2].schedule.snap: has no effect yet: no end of day runs at snap time yet (it follows the tickerplant's .u.end, or smctl eod)",
        "mnt-examples/tiers-s3.yaml:58:20: warning: elements.sm.tiers[4].inventory: has no effect yet: no object-storage inventory is written yet",
    };
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        bool found = false;
        char line[2048];
        for (size_t i = 0; i < c->ndiags && !found; i++) {
            cfg_diag_str(c, &c->diags[i], line, sizeof line);
            found = !strcmp(line, want[w]);
        }
        if (!found) {
            print_message("wanted: %s\n", want[w]);
            dump(c);
        }
        assert_true(found);
    }
    assert_int_equal(c->npending, 2);
    assert_int_equal(c->nwarnings, c->npending);
    cfg_free(c);
    /* Retention by size or rows is not one of smfs's: time and sizePct are. */
    expect(NAME TABLES BUS MOUNTS SM "      - {name: hdb, mount: hdb, retain: {size: 10}}\n",
           "12:41: warning: elements.sm.tiers[0].retain: retention by size or rows is not supported (ignored); "
           "time and sizePct are");
}

static void examples_load_clean(void **state)
{
    (void)state;
    const char *files[] = {"mnt-examples/full.yaml", "mnt-examples/minimal.yaml", "mnt-examples/tiers-s3.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct cfg *c = NULL;
        struct smfs_err err;
        int rc = cfg_load(files[i], &c, &err);
        if (rc) print_message("%s: %s\n", files[i], err.msg);
        assert_int_equal(rc, 0);
        if (c->nwarnings > c->npending) dump(c);
        assert_int_equal(c->nwarnings - c->npending, 0);
        assert_non_null(c->hdb);
        assert_true(c->ndate >= 1);
        cfg_free(c);
    }
}

static void full_example_derives_the_view(void **state)
{
    (void)state;
    struct cfg *c = NULL;
    struct smfs_err err;
    assert_int_equal(cfg_load("mnt-examples/full.yaml", &c, &err), 0);
    assert_string_equal(c->name, "equities");
    assert_int_equal(c->ntables, 3);
    const struct cfg_table *t = cfg_table_find(c, "trade");
    assert_non_null(t);
    assert_int_equal(t->type, CFG_PARTITIONED);
    assert_string_equal(t->prtn_col, "time");
    const struct cfg_column *sym = cfg_column_find(t, "sym"), *cond = cfg_column_find(t, "cond");
    assert_true(sym->type == KT_SYM && !sym->vector && sym->attr_disk == KA_PARTED && sym->attr_mem == KA_GROUPED);
    assert_true(cond->type == KT_CHAR && cond->vector);
    assert_string_equal(c->hdb->name, "hdb");
    assert_string_equal(c->stream_tier->name, "stream");
    assert_string_equal(c->ordinal_tier->name, "idb");
    assert_int_equal(c->ndate, 3);
    assert_string_equal(c->date_tiers[0]->store.path, "/data/db/hdb/data");
    assert_string_equal(c->date_tiers[0]->segment, "hdbfast");
    assert_string_equal(c->date_tiers[1]->store.path, "/data/db/hdbslow");
    assert_int_equal(c->date_tiers[2]->store.kind, CFG_URI_S3);
    assert_string_equal(c->date_tiers[2]->store.bucket, "acme-kdb");
    assert_string_equal(c->date_tiers[2]->store.prefix, "equities/db");
    assert_null(c->date_tiers[2]->segment);
    assert_true(c->date_tiers[0]->retain_count == 2 && c->date_tiers[0]->retain_unit == CFG_WEEKS);
    assert_int_equal(c->date_tiers[0]->retain_size_pct, 80);
    assert_true(c->date_tiers[0]->zip_set && c->date_tiers[0]->zip.alg == KDB_ZIP_LZ4HC &&
                c->date_tiers[0]->zip.block_log2 == 17 && c->date_tiers[0]->zip.level == 4);
    assert_true(c->date_tiers[0]->snap_ns == (int64_t)5700 * 1000000000);
    assert_true(c->sm.reload_timeout_ns == (int64_t)600 * 1000000000);
    assert_string_equal(c->ordinal_tier->store.path, "/data/db/idb");
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(cfg_par_txt(c, 42, &b), 0);
    assert_int_equal(b.len, strlen("v42$/hdbfast\nv42$/hdbslow\ns3://acme-kdb/equities/db\n"));
    assert_memory_equal(b.p, "v42$/hdbfast\nv42$/hdbslow\ns3://acme-kdb/equities/db\n", b.len);
    buf_release(&b);
    cfg_free(c);
}

static void index_orders_date_tiers_and_spec_wrapper(void **state)
{
    (void)state;
    struct cfg *c = valid("apiVersion: insights.kx.com/v1\nkind: Assembly\nmetadata: {name: t}\nspec:\n"
                          "  name: t\n"
                          "  tables:\n    trade: {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}]}\n"
                          "  bus: {stream: {protocol: rt}}\n"
                          "  mounts: {hdb: {type: local, baseURI: 'file:///d/hdb/', partition: date}}\n"
                          "  elements:\n    sm:\n      source: stream\n      tiers:\n"
                          "        - {name: old, mount: hdb, store: 'file:///e/old', index: 2}\n"
                          "        - {name: new, mount: hdb, index: 1}\n");
    assert_int_equal(c->ndate, 2);
    assert_string_equal(c->date_tiers[0]->name, "new");
    assert_string_equal(c->date_tiers[1]->name, "old");
    assert_string_equal(c->hdb->base.path, "/d/hdb");   /* trailing '/' dropped */
    assert_string_equal(c->date_tiers[0]->store.text, "file:///d/hdb/data");
    cfg_free(c);
}

static void default_and_resolution_order(void **state)
{
    (void)state;
    char cwd[4096], path[4200];
    struct cfg *c = NULL;
    struct smfs_err err;
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *dir = test_tmpdir();

    unsetenv("KXI_ASSEMBLY_FILE");
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(cfg_open(NULL, &c, &err), 0);   /* nothing found: the embedded default */
    assert_string_equal(c->origin, "embedded default");
    assert_string_equal(c->file, CFG_DEFAULT_NAME);
    assert_int_equal(c->nwarnings - c->npending, 0);
    assert_non_null(cfg_table_find(c, "quote"));
    cfg_free(c);

    FILE *f = fopen("assembly.yaml", "w");
    assert_non_null(f);
    fputs(BASE, f);
    fclose(f);
    assert_int_equal(cfg_open(NULL, &c, &err), 0);
    assert_string_equal(c->origin, "./assembly.yaml");
    cfg_free(c);

    snprintf(path, sizeof path, "%s/mnt-examples/minimal.yaml", cwd);
    setenv("KXI_ASSEMBLY_FILE", path, 1);
    assert_int_equal(cfg_open(NULL, &c, &err), 0);
    assert_string_equal(c->origin, "$KXI_ASSEMBLY_FILE");
    assert_string_equal(c->name, "minimal");
    cfg_free(c);

    snprintf(path, sizeof path, "%s/mnt-examples/full.yaml", cwd);
    assert_int_equal(cfg_open(path, &c, &err), 0);    /* -c wins over everything */
    assert_string_equal(c->origin, "-c");
    assert_string_equal(c->name, "equities");
    cfg_free(c);

    setenv("KXI_ASSEMBLY_FILE", "/nonexistent/assembly.yaml", 1);
    assert_int_equal(cfg_open(NULL, &c, &err), -ENOENT);
    assert_null(c);
    assert_string_equal(err.msg, "$KXI_ASSEMBLY_FILE: assembly file: open(/nonexistent/assembly.yaml): No such file or directory");
    unsetenv("KXI_ASSEMBLY_FILE");
    unlink("assembly.yaml");
    assert_int_equal(chdir(cwd), 0);
}

/* --- hostile input -------------------------------------------------------------------- */

static void hostile_input_never_crashes(void **state)
{
    (void)state;
    const char *inputs[] = {
        "\xff\xfe\x00garbage",
        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        "a: &x [*x]\n",
        "a: *nope\n",
        "tables: &t {trade: *t}\nname: x\n",
        "name: t\ntables:\n  t: &c {type: partitioned, prtnCol: time, columns: [{name: time, type: timestamp}]}\n"
        "  u: *c\nmounts: {hdb: {type: local, baseURI: 'file:///a', partition: date}}\n"
        "elements: {sm: {source: s, tiers: [{name: h, mount: hdb}, {name: h, mount: hdb}]}}\n",
        "name: t\nelements: {sm: {tiers: [~, 3, [], {}]}}\nmounts: {a: ~, b: [1], c: {}}\ntables: {x: ~, y: {columns: [~, 1, {}]}}\n",
        "name: t\n---\nname: u\n",
        "? [complex, key]\n: value\n",
        "name: !!binary aGVsbG8=\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        struct cfg *c = NULL;
        struct smfs_err err;
        size_t len = i == 0 ? 10 : strlen(inputs[i]);
        int rc = cfg_parse("h.yaml", inputs[i], len, &c, &err);
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc) assert_true(c->nerrors > 0);
        cfg_free(c);
    }
    /* Deeply nested flow collections: libyaml's own stack copes; we only walk the schema. */
    size_t n = 200000;
    char *deep = malloc(2 * n + 16);
    memcpy(deep, "a: ", 3);
    memset(deep + 3, '[', n);
    memset(deep + 3 + n, ']', n);
    deep[3 + 2 * n] = '\0';
    struct cfg *c = NULL;
    struct smfs_err err;
    int rc = cfg_parse("deep.yaml", deep, strlen(deep), &c, &err);
    assert_true(rc == -EINVAL);
    cfg_free(c);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timespans),
        cmocka_unit_test(durations),
        cmocka_unit_test(qtypes),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(keys_unknown_duplicate_missing),
        cmocka_unit_test(column_types_and_attributes),
        cmocka_unit_test(column_names),
        cmocka_unit_test(partition_column),
        cmocka_unit_test(mounts_and_uris),
        cmocka_unit_test(tiers_mount_and_order),
        cmocka_unit_test(stores),
        cmocka_unit_test(retention),
        cmocka_unit_test(compression),
        cmocka_unit_test(schedule_and_scalars),
        cmocka_unit_test(references),
        cmocka_unit_test(all_errors_at_once),
        cmocka_unit_test(examples_load_clean),
        cmocka_unit_test(settings_without_effect_are_named),
        cmocka_unit_test(full_example_derives_the_view),
        cmocka_unit_test(index_orders_date_tiers_and_spec_wrapper),
        cmocka_unit_test(default_and_resolution_order),
        cmocka_unit_test(hostile_input_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
