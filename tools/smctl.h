/* tools/smctl.h: the smctl command line. One file per subcommand (smctl_<name>.c),
 * each a thin front end over core/ (and later ipc/): parse arguments, call the module,
 * print. Output goes to stdout, one clear line per error to stderr prefixed "smctl: ".
 * Exit status: 0 success, 1 the work failed (bad file, invalid config), 2 bad usage. */
#ifndef SMFS_SMCTL_H
#define SMFS_SMCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/version.h"

int smctl_inspect(int argc, char **argv);
int smctl_gen_hdb(int argc, char **argv);
int smctl_config(int argc, char **argv);
int smctl_store(int argc, char **argv);
int smctl_import(int argc, char **argv);
int smctl_ingest(int argc, char **argv);

int smctl_load(int argc, char **argv);
int smctl_daemon(int argc, char **argv);   /* status, versions, vacuum, stop */
int smctl_stream(int argc, char **argv);
int smctl_journal(int argc, char **argv);
int smctl_eod(int argc, char **argv);

struct cfg;
/* The assembly smfs would use (-c PATH, $KXI_ASSEMBLY_FILE, ./assembly.yaml, the
 * embedded default); every diagnostic printed to stderr. NULL unless valid. */
struct cfg *smctl_load_cfg(const char *path);

#include <jansson.h>
/* A field of a daemon's JSON reply, for printf: 0 and "" when absent. Plain values,
 * so one printf can take any number of them. */
static inline long long I(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}
static inline const char *S(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* The "stream" object of a status reply, for a person. */
void smctl_print_stream(json_t *st);
void smctl_print_eod(json_t *e);

/* Print "smctl: <msg>" to stderr. */
void smctl_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include <stdint.h>
/* S as a whole number from LO to HI (core/num.h); false, with "smctl: WHAT: 'S' is not
 * a whole number from LO to HI" printed, otherwise. */
bool smctl_u64_arg(const char *s, uint64_t lo, uint64_t hi, const char *what, uint64_t *out);
bool smctl_i64_arg(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out);

/* The admin socket of a running smfs: GIVEN, $SMFS_ADMIN, or the assembly's default.
 * Nonzero (message printed) if there is none to be had. */
int smctl_admin_path(const char *cfgpath, const char *given, char *buf, size_t n);

/* One request to the daemon; any "diag" lines of the reply are printed. 0 with *reply
 * (caller decrefs) when it said ok; 1 with "smctl: CMD: why" printed otherwise; -1,
 * silently, when no daemon answers and ABSENT_OK (the caller works offline instead). */
#include <jansson.h>
int smctl_admin_call(const char *path, json_t *req, json_t **reply, bool absent_ok);
/* The same, showing the daemon's progress on stderr while it works on an ingest or a
 * verify (tools/smctl_progress.h; JSON lines when JSON). With JSON the reply's "diag"
 * lines are left to the caller, not printed. */
int smctl_admin_call_progress(const char *path, json_t *req, json_t **reply, bool absent_ok, bool json);

#endif
