/* tools/smctl_progress.h: how a long smctl command shows where it is, on stderr:
 *   a terminal:  one line redrawn at most ten times a second, with a bar, the rate and
 *                an estimate of the time left;
 *   otherwise:   one plain line every $SMCTL_PROGRESS_INTERVAL seconds (default 10;
 *                0: at every update), so a log or a pipe sees the job move;
 *   --json:      the same periodic lines as JSON objects {"progress": {...}}.
 * Owns:    nothing but the caller's struct.
 * Never:   writes to stdout (results go there), or more often than said above.
 * Threads: one caller. */
#ifndef SMFS_SMCTL_PROGRESS_H
#define SMFS_SMCTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct progress {
    const char *what;          /* "import", "verify"… */
    bool        tty, json;
    int64_t     t0_ns, last_ns, interval_ns;
    bool        drawn;         /* a terminal line is up and needs its newline */
};

void progress_init(struct progress *p, const char *what, bool json);
/* DONE of TOTAL ITEMS (e.g. "partitions"), BYTES_DONE of BYTES_TOTAL (0: unknown),
 * in PHASE, working on CURRENT (may be NULL). The estimate uses bytes when known. */
void progress_show(struct progress *p, const char *phase, const char *current, uint64_t done,
                   uint64_t total, const char *items, uint64_t bytes_done, uint64_t bytes_total);
void progress_end(struct progress *p);

/* "1.2 GB", "512 KB": decimal units, as the summaries print them. */
void progress_human(double bytes, char *out, size_t n);

#endif
