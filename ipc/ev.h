/* ipc/ev.h: a small event loop (Redis's ae, on epoll): file events and timers, one
 * thread. The control thread and the q IPC server run on it.
 * Owns:    the epoll fd and the eventfd used by ev_wake; not the fds it watches.
 * Never:   blocks in a callback of its own; calls a handler of an fd after ev_del
 *          (events already fetched for it are dropped, even if the fd number is
 *          reused by a new ev_add in the same turn).
 * Threads: all calls from the loop's thread, except ev_wake and ev_stop_async,
 *          which any thread may call.
 * Sequence: ev_new → ev_add / ev_timer_add … → ev_run (returns after ev_stop) → ev_free.
 * Errors:  0 or -errno with *err filled. */
#ifndef SMFS_EV_H
#define SMFS_EV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum { EV_READ = 1, EV_WRITE = 2 };

struct ev_loop;

/* Called with the events that fired (EV_READ|EV_WRITE; errors and hang-ups report as
 * EV_READ so the handler reads and sees them). */
typedef void ev_fd_fn(struct ev_loop *loop, int fd, unsigned events, void *arg);
/* Return the next delay in ms to run again, or -1 to be removed. */
typedef int64_t ev_timer_fn(struct ev_loop *loop, void *arg);
/* Called on the loop's thread after ev_wake. */
typedef void ev_wake_fn(struct ev_loop *loop, void *arg);

int ev_new(struct ev_loop **out, struct smfs_err *err) __attribute__((warn_unused_result));
void ev_free(struct ev_loop *loop);

int ev_add(struct ev_loop *loop, int fd, unsigned mask, ev_fd_fn *fn, void *arg,
           struct smfs_err *err) __attribute__((warn_unused_result));
/* Change what fd waits for (EV_READ, EV_WRITE or both). */
int ev_mod(struct ev_loop *loop, int fd, unsigned mask);
void ev_del(struct ev_loop *loop, int fd);

/* Run FN after MS milliseconds (then as it asks). Returns an id > 0, or -ENOMEM. */
int64_t ev_timer_add(struct ev_loop *loop, int64_t ms, ev_timer_fn *fn, void *arg);
void ev_timer_del(struct ev_loop *loop, int64_t id);

/* Any thread: run the wake handler on the loop's thread soon (coalesced). */
void ev_set_wake(struct ev_loop *loop, ev_wake_fn *fn, void *arg);
void ev_wake(struct ev_loop *loop);

int ev_run(struct ev_loop *loop, struct smfs_err *err);
void ev_stop(struct ev_loop *loop);         /* from the loop's thread */
void ev_stop_async(struct ev_loop *loop);   /* from any thread */

int64_t ev_now_ms(void);   /* CLOCK_MONOTONIC */
int64_t ev_now_ns(void);   /* the same clock, in ns */

#endif
