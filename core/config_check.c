/* core/config_check.c: checks that need the whole assembly (references between
 * tables, mounts, buses and tiers; the order of tiers; stores that must not
 * overlap) and the facts derived from it once: the HDB mount, the date tiers in
 * order, each tier's store, the segments and the par.txt lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "fileio.h"

#define E(c, pos, ...) cfg_diag((c), CFG_ERROR, (pos), __VA_ARGS__)
#define W(c, pos, ...) cfg_diag((c), CFG_WARNING, (pos), __VA_ARGS__)

static const char *mount_names(struct cfg *c)
{
    char list[512] = "";
    for (size_t i = 0; i < c->nmounts; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 c->mounts[i].name);
    return cfg_strdup(c, c->nmounts ? list : "none");
}

static const struct cfg_pos top = {1, 1};

static void check_tables(struct cfg *c)
{
    bool partitioned = false;
    for (size_t i = 0; i < c->ntables; i++) {
        const struct cfg_table *t = &c->tables[i];
        if (t->type == CFG_PARTITIONED) partitioned = true;
        for (size_t j = 0; j < t->ncols; j++) {
            const struct cfg_column *col = &t->cols[j];
            if (!col->foreign) continue;
            const char *dot = strchr(col->foreign, '.');
            char path[512];
            snprintf(path, sizeof path, "%s.columns[%zu].foreign", t->path, j);
            if (!dot) {
                E(c, col->pos, path, "'%s' is not table.column", col->foreign);
                continue;
            }
            char tn[256];
            snprintf(tn, sizeof tn, "%.*s", (int)(dot - col->foreign), col->foreign);
            const struct cfg_table *ft = cfg_table_find(c, tn);
            if (!ft)
                E(c, col->pos, path, "table '%s' is not defined", tn);
            else if (!cfg_column_find(ft, dot + 1))
                E(c, col->pos, path, "'%s' is not a column of table '%s'", dot + 1, tn);
        }
    }
    if (c->tables && !partitioned)
        E(c, c->ntables ? c->tables[0].pos : top, "tables",
          "no partitioned table: smfs serves a date-partitioned database (type: partitioned, with a prtnCol)");
}

static void check_mounts(struct cfg *c)
{
    char path[512];
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        if (!m->type || !m->partition) continue;
        snprintf(path, sizeof path, "%s.baseURI", m->path);
        if (m->type == CFG_MOUNT_STREAM) {
            if (m->partition != CFG_PART_NONE)
                E(c, m->pos, m->path, "a stream mount keeps data in memory: partition must be none");
            if (m->base.text && m->base.kind != CFG_URI_NONE)
                E(c, m->base_pos, path, "a stream mount has no files: baseURI must be none, found '%s'",
                  m->base.text);
            continue;
        }
        if (m->partition == CFG_PART_NONE)
            E(c, m->pos, m->path, "a local mount is partitioned: partition must be ordinal or date");
        if (m->base.text && m->base.kind != CFG_URI_FILE)
            E(c, m->base_pos, path, "a local mount needs an absolute file:// baseURI, found '%s'",
              m->base.text);
        if (m->base.kind != CFG_URI_FILE) continue;
        for (size_t j = 0; j < i; j++) {
            const struct cfg_mount *o = &c->mounts[j];
            if (o->base.kind == CFG_URI_FILE && (file_path_within(m->base.path, o->base.path) ||
                                                 file_path_within(o->base.path, m->base.path)))
                E(c, m->base_pos, path, "'%s' overlaps the baseURI of mount '%s' ('%s'); each mount owns "
                  "everything beneath its baseURI", m->base.text, o->name, o->base.text);
        }
    }
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        snprintf(path, sizeof path, "%s.dependency", m->path);
        for (size_t j = 0; j < m->dependency.n; j++)
            if (!cfg_mount_find(c, m->dependency.v[j]))
                E(c, m->pos, path, "mount '%s' is not defined (defined: %s)", m->dependency.v[j],
                  mount_names(c));
    }
}

static void check_buses(struct cfg *c)
{
    char path[512];
    for (size_t i = 0; i < c->nbuses; i++) {
        const struct cfg_bus *b = &c->buses[i];
        snprintf(path, sizeof path, "bus.%s.nodes", b->name);
        for (size_t j = 0; j < b->nodes.n; j++) {
            const char *colon = strrchr(b->nodes.v[j], ':');
            char *end;
            long port = colon ? strtol(colon + 1, &end, 10) : 0;
            if (!colon || colon == b->nodes.v[j] || !colon[1] || *end || port < 1 || port > 65535)
                E(c, b->pos, path, "'%s' is not host:port", b->nodes.v[j]);
        }
    }
    const struct cfg_sm *sm = &c->sm;
    if (!sm->source) return;
    for (size_t i = 0; i < c->nbuses; i++)
        if (!strcmp(c->buses[i].name, sm->source)) return;
    E(c, sm->source_pos, "elements.sm.source", "bus '%s' is not defined%s", sm->source,
      c->nbuses ? " in bus" : " (there is no bus section)");
}

/* Tier names become directory names in the view (v7$/<tier>). */
static bool segment_name(const char *s)
{
    if (!*s || *s == '.' || s[strlen(s) - 1] == '$') return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

static void check_tier(struct cfg *c, struct cfg_tier *t, size_t i, const struct cfg_tier **dflt)
{
    char path[512];
    struct cfg_sm *sm = &c->sm;
    for (size_t j = 0; j < i; j++)
        if (sm->tiers[j].name && !strcmp(sm->tiers[j].name, t->name))
            E(c, t->pos, t->path, "duplicate tier name '%s' (first at line %d)", t->name,
              sm->tiers[j].pos.line);
    if (!segment_name(t->name))
        E(c, t->pos, t->path, "tier name '%s' names a directory of the view: use letters, digits, "
          "'_', '-' and '.'", t->name);
    const struct cfg_mount *m = cfg_mount_find(c, t->mount_name);
    snprintf(path, sizeof path, "%s.mount", t->path);
    if (!m) {
        E(c, t->mount_pos, path, "mount '%s' is not defined (defined: %s)", t->mount_name,
          mount_names(c));
        return;
    }
    t->mount = m;
    if (m->type == CFG_MOUNT_STREAM) t->kind = CFG_TIER_STREAM;
    else if (m->type == CFG_MOUNT_LOCAL && m->partition == CFG_PART_ORDINAL) t->kind = CFG_TIER_ORDINAL;
    else if (m->type == CFG_MOUNT_LOCAL && m->partition == CFG_PART_DATE) t->kind = CFG_TIER_DATE;
    else return;   /* the mount's own error says why */

    snprintf(path, sizeof path, "%s.store", t->path);
    bool object = t->store.kind >= CFG_URI_S3;
    if (t->kind == CFG_TIER_STREAM) {
        if (t->store_explicit && t->store.kind != CFG_URI_NONE)
            W(c, t->store_pos, path, "a stream tier has no store (ignored)");
        memset(&t->store, 0, sizeof t->store);
        t->store.text = "none";
    } else if (t->kind == CFG_TIER_ORDINAL) {
        /* sm-spec §6.4: "for an ordinal local mount, an explicit value is ignored". */
        if (t->store_explicit)
            W(c, t->store_pos, path, "an ordinal tier is stored at its mount's baseURI (ignored)");
        t->store = m->base;
    } else if (!t->store_explicit) {
        if (*dflt && (*dflt)->mount == m)
            E(c, t->pos, t->path, "tiers '%s' and '%s' both use mount '%s' without an explicit "
              "store; give all but one a store outside the mount's baseURI", (*dflt)->name,
              t->name, m->name);
        else
            *dflt = t;
        if (m->base.kind == CFG_URI_FILE) {
            t->store.kind = CFG_URI_FILE;
            t->store.path = cfg_strfmt(c, "%s/data", strcmp(m->base.path, "/") ? m->base.path : "");
            t->store.text = cfg_strfmt(c, "file://%s", t->store.path);
        }
    } else if (t->store.kind == CFG_URI_NONE && t->store.text) {
        E(c, t->store_pos, path, "a date tier needs a store (file:// or s3://)");
    } else if (t->store.kind == CFG_URI_FILE && m->base.kind == CFG_URI_FILE &&
               (file_path_within(t->store.path, m->base.path) || file_path_within(m->base.path, t->store.path))) {
        E(c, t->store_pos, path, "store '%s' overlaps the mount's baseURI '%s': an explicit store "
          "must be outside it (only the tier without a store lives there, in %s/data)",
          t->store.text, m->base.text, m->base.text);
    }
    if (object && t->kind != CFG_TIER_DATE)
        E(c, t->store_pos, path, "object storage can only hold a date tier");
    else if (t->store.kind == CFG_URI_GS || t->store.kind == CFG_URI_MS)
        E(c, t->store_pos, path, "'%s': smfs supports s3:// object storage only", t->store.text);
    if (t->kind == CFG_TIER_DATE && !object) t->segment = t->name;

    snprintf(path, sizeof path, "%s.retain", t->path);
    if (t->retain_count || t->retain_size_pct) {
        if (t->kind == CFG_TIER_ORDINAL)
            E(c, t->retain_pos, path, "retention cannot be used on ordinal tiers (their partitions "
              "move to the next tier at end of day)");
        else if (t->kind == CFG_TIER_DATE && t->retain_count && t->retain_unit < CFG_DAYS)
            E(c, t->retain_pos, path, "a date tier keeps whole days: give days, weeks, months or "
              "years, not %s", cfg_unit_name(t->retain_unit));
        else if (t->kind == CFG_TIER_STREAM && t->retain_unit > CFG_HOURS)
            E(c, t->retain_pos, path, "a stream tier keeps hours, minutes or seconds, not %s",
              cfg_unit_name(t->retain_unit));
        if (t->retain_size_pct && (t->kind != CFG_TIER_DATE || object))
            E(c, t->retain_pos, path, "sizePct applies to local date tiers only");
    }
    snprintf(path, sizeof path, "%s.compression", t->path);
    if (t->zip_set && t->kind != CFG_TIER_DATE)
        E(c, t->zip_pos, path, "compression applies to date tiers only");
    snprintf(path, sizeof path, "%s.inventory", t->path);
    if (t->inventory && !object)
        W(c, t->pos, path, "an inventory applies to object-storage tiers only (ignored)");
}

static int by_index(const void *a, const void *b)
{
    const struct cfg_tier *x = *(const struct cfg_tier *const *)a, *y = *(const struct cfg_tier *const *)b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return x < y ? -1 : x > y;   /* ties keep list order */
}

static void check_tiers(struct cfg *c)
{
    struct cfg_sm *sm = &c->sm;
    const struct cfg_tier *dflt = NULL, *first[4] = {0};
    enum cfg_tier_kind last = 0;
    bool unresolved = false;   /* a tier whose kind is unknown already has its error */
    for (size_t i = 0; i < sm->ntiers; i++) {
        struct cfg_tier *t = &sm->tiers[i];
        if (!t->name || !t->mount_name) {
            unresolved = true;
            continue;
        }
        check_tier(c, t, i, &dflt);
        if (!t->kind) {
            unresolved = true;
            continue;
        }
        if (t->kind < last)
            E(c, t->pos, t->path, "%s tier '%s' comes after a %s tier: tiers go newest to oldest, "
              "the stream tier, the ordinal tier, then the date tiers", cfg_tier_kind_name(t->kind),
              t->name, cfg_tier_kind_name(last));
        else
            last = t->kind;
        if (t->kind != CFG_TIER_DATE && first[t->kind])
            E(c, t->pos, t->path, "a second %s tier (the first is '%s'): an assembly has at most one",
              cfg_tier_kind_name(t->kind), first[t->kind]->name);
        else if (t->kind == CFG_TIER_DATE && first[t->kind] && first[t->kind]->mount != t->mount)
            E(c, t->mount_pos, t->path, "date tiers on mounts '%s' and '%s': kdb+ loads one "
              "segmented database, so every date tier uses the same mount",
              first[t->kind]->mount->name, t->mount->name);
        if (!first[t->kind]) first[t->kind] = t;
    }
    c->stream_tier = first[CFG_TIER_STREAM];
    c->ordinal_tier = first[CFG_TIER_ORDINAL];
    if (!first[CFG_TIER_DATE]) {
        if (!unresolved && (sm->tiers || !c->nerrors))
            E(c, sm->pos, "elements.sm.tiers", "no date tier: smfs serves a date-partitioned HDB; "
              "add a tier on a local mount with partition: date");
        return;
    }
    c->hdb = first[CFG_TIER_DATE]->mount;

    size_t nd = 0;
    const struct cfg_tier **dt = cfg_alloc(c, sm->ntiers * sizeof *dt);
    if (!dt) return;
    for (size_t i = 0; i < sm->ntiers; i++)
        if (sm->tiers[i].kind == CFG_TIER_DATE && sm->tiers[i].mount == c->hdb) dt[nd++] = &sm->tiers[i];
    qsort(dt, nd, sizeof *dt, by_index);
    c->date_tiers = dt;
    c->ndate = nd;

    bool local = false;
    for (size_t i = 0; i < nd; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s.store", dt[i]->path);
        /* A bad baseURI leaves the default store unknown; its own error says so. */
        if (dt[i]->store.kind == CFG_URI_FILE || (!dt[i]->store_explicit && c->hdb->base.kind != CFG_URI_FILE))
            local = true;
        if (dt[i]->store.kind >= CFG_URI_S3 && i + 1 < nd)
            E(c, dt[i]->store_pos, path, "object-storage tier '%s' must be the last tier (tier '%s' "
              "follows it)", dt[i]->name, dt[i + 1]->name);
    }
    /* Retention within object storage: the bucket's data is immutable here (as in
     * Insights), so nothing is deleted from it; said rather than silently ignored. */
    for (size_t i = 0; i < nd; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s.retain", dt[i]->path);
        if (!dt[i]->retain_count && !dt[i]->retain_size_pct) continue;
        if (dt[i]->store.kind >= CFG_URI_S3) {
            W(c, dt[i]->retain_pos, path, "has no effect: partitions in object storage are immutable and are not "
              "deleted by this build; they stay in the bucket (a lifecycle rule of the bucket can expire them)");
            c->npending++;
        }
    }
    if (!local)
        E(c, first[CFG_TIER_DATE]->pos, "elements.sm.tiers", "no local date tier: the sym file and "
          "new partitions need a local store before object storage");

    /* Every local store is a directory of its own: two tiers sharing one (or one inside
     * the other) would each believe they own the other's files. */
    for (size_t i = 0; i < sm->ntiers; i++) {
        const struct cfg_tier *a = &sm->tiers[i];
        if (a->store.kind != CFG_URI_FILE || !a->kind) continue;
        for (size_t j = 0; j < i; j++) {
            const struct cfg_tier *b = &sm->tiers[j];
            if (b->store.kind != CFG_URI_FILE || !b->kind) continue;
            if (!a->store_explicit && !b->store_explicit && a->mount == b->mount)
                continue;   /* reported as two tiers without a store */
            if (file_path_within(a->store.path, b->store.path) || file_path_within(b->store.path, a->store.path)) {
                char path[512];
                snprintf(path, sizeof path, "%s.store", a->path);
                E(c, a->store_pos, path, "store '%s' of tier '%s' overlaps store '%s' of tier '%s'; "
                  "each tier needs its own directory", a->store.text, a->name, b->store.text, b->name);
            }
        }
    }
}

void cfg_check(struct cfg *c)
{
    check_tables(c);
    check_mounts(c);
    check_buses(c);
    check_tiers(c);
}

int cfg_store_par_txt(const struct cfg *c, struct buf *out)
{
    for (size_t i = 0; i < c->ndate; i++) {
        const struct cfg_tier *t = c->date_tiers[i];
        int rc = buf_printf(out, "%s\n", t->segment ? t->segment : t->store.text);
        if (rc) return rc;
    }
    return 0;
}

int cfg_par_txt(const struct cfg *c, uint64_t version, struct buf *out)
{
    for (size_t i = 0; i < c->ndate; i++) {
        const struct cfg_tier *t = c->date_tiers[i];
        int rc = t->segment ? buf_printf(out, "v%llu$/%s\n", (unsigned long long)version, t->segment)
                            : buf_printf(out, "%s\n", t->store.text);
        if (rc) return rc;
    }
    return 0;
}
