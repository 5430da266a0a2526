/* control/stream.h: the subscription to a kdb+tick tickerplant (sm-spec §5; the bus the
 * assembly's elements.sm.source names). One thread of its own, because every wait on
 * the tickerplant is a blocking read and a replay of its log may take minutes: it
 * connects (with a login when one is given), subscribes to every table of the
 * assembly as r.q does, checks each schema the tickerplant answers against the
 * assembly, replays the tickerplant's -11! log from where the rows it holds end, then
 * takes updates as they come into the intraday store (core/spill) until .u.end seals
 * the day; a lost connection is retried with backoff and the gap replayed the same
 * way. It also publishes the stream signals (_prtnEnd, _reload) to the tickerplant.
 *
 * Why the tickerplant's log and not a log of our own: kdb+tick offers no other replay
 * (a subscriber that was away can only read the log), the log already holds every row
 * the tickerplant acknowledged, and a second copy would double the day's writes for
 * nothing a restart needs. What smfs adds is the intraday store with checkpoints, so a
 * restart replays from its last checkpoint, not from the start of the day.
 *
 * Owns:    the thread, the connection, the current day's spill, and the spill root
 *          directory (one subdirectory per tickerplant log).
 * Never:   blocks the control loop (status is a copy under a mutex held for a copy;
 *          requests are queued and answered through the loop's done queue); skips a
 *          row silently (an update the assembly cannot take is refused, counted and
 *          logged; a log shorter than the tickerplant says is a gap, counted and shown
 *          in status until the next day); evaluates what the tickerplant sends.
 * Threads: stream_start / stream_stop from the control thread's owner; the other
 *          calls from any thread.
 * Errors:  0 or -errno with *err. */
#ifndef SMFS_STREAM_H
#define SMFS_STREAM_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/k.h"

struct stream;

struct stream_opts {
    const struct cfg *cfg;
    const char *target;        /* "host:port", "unix:…" of the tickerplant */
    const char *creds;         /* "user:password" or NULL */
    const char *dir;           /* the spill root */
    const char *log_dir;       /* where the tickerplant's logs are when not at the path
                                  it reports (another host's path): NULL as reported */
    uint64_t    budget;        /* memory for rows not yet written out (0: default) */
    int         checkpoint_ms; /* 0: 2000 */
    int         wait_ms;       /* first reconnect delay, doubling to 30 s (0: 250) */
    /* A day's spill was sealed (.u.end, or a log found finished at a restart): its
     * directory and day. Stream thread; must not block. */
    void      (*sealed)(void *arg, const char *dir, int32_t date);
    /* End of interval: every EOI_FREQ_NS (0: never) from EOI_OFFSET_NS past midnight
     * UTC, the rows received since the last interval are cut (recorded in the spill)
     * and announced: interval K of the spill at DIR, rows [FROM, TO) of each table,
     * ending at END_NS. Announced again at a restart (the writer skips those it
     * wrote). Stream thread; must not block. */
    int64_t     eoi_freq_ns, eoi_offset_ns;
    void      (*interval)(void *arg, const char *dir, int64_t k, const uint64_t *from, const uint64_t *to,
                          int64_t end_ns);
    /* A request (smctl stream rows) was answered: REPLY for admin request REQ. Stream
     * thread; the callee hands it to the loop. */
    void      (*answer)(void *arg, uint64_t req, json_t *reply);
    void       *arg;
};

/* The tickerplant of the assembly's source bus: its first node (tp and custom use
 * only the first), or the first of $KXI_RT_NODES when it lists none. -ENOTSUP for
 * protocol rt, -ENOENT when there is none; *err says which. */
int stream_target(const struct cfg *cfg, char *out, size_t n, struct smfs_err *err)
        __attribute__((warn_unused_result));

int stream_start(const struct stream_opts *o, struct stream **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Checkpoint and stop. */
void stream_stop(struct stream *s);

/* The subscription as smctl status shows it. */
json_t *stream_status_json(struct stream *s);
/* Prometheus lines for GET /metrics (appended to B). */
int stream_metrics(struct stream *s, struct buf *b) __attribute__((warn_unused_result));

/* Queue rows (COLS, a list of columns, taken) of TABLE for the tickerplant: sent in
 * order as (`.u.upd;TABLE;COLS) once connected. Dropped, with a warning, when the
 * tickerplant has no such table. */
void stream_signal(struct stream *s, const char *table, struct k *cols);

/* Queue a request from the admin socket: "rows" with {table, from, limit}. The answer
 * comes through opts.answer. */
void stream_request(struct stream *s, uint64_t req, const char *cmd, json_t *body);

#endif
