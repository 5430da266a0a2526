/* core/config_int.h: private to core/config*.c — the arena, diagnostics, URIs.
 * config_load.c turns YAML into the structs of config.h (checks each value alone);
 * config_check.c checks the whole and derives; config_value.c parses typed values. */
#ifndef SMFS_CONFIG_INT_H
#define SMFS_CONFIG_INT_H

#include "config.h"

/* Zeroed memory that lives as long as the cfg. NULL only when out of memory, which
 * also marks the cfg so the loader fails with -ENOMEM at the end. */
void *cfg_alloc(struct cfg *c, size_t n);
/* Copies; never NULL (an out-of-memory copy is "" and marks the cfg). */
const char *cfg_strdup(struct cfg *c, const char *s);
const char *cfg_strfmt(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cfg_oom(const struct cfg *c);

void cfg_diag(struct cfg *c, enum cfg_sev sev, struct cfg_pos pos, const char *path,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parse a URI ("none", "file:///abs/path", "s3://bucket/prefix", gs://, ms://).
 * On -EINVAL *why says what is wrong. */
int cfg_uri_parse(struct cfg *c, const char *s, struct cfg_uri *u, const char **why);

/* Whole-file checks and derived facts (config_check.c). */
void cfg_check(struct cfg *c);

/* "date", "int", q reserved words, "label_*": names a column must not take. */
bool cfg_reserved_column(const char *name);

#endif
