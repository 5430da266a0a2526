/* fs/log.h: the daemon's log: levels, to stderr (foreground) or syslog (daemon).
 * Owns:    the level and the destination (process-wide).
 * Never:   allocates; blocks longer than one write or syslog(3); exits.
 * Threads: any thread; a line is written with one call, so lines never interleave.
 * Sequence: log_init (before threads start) → log_msg … ; log_to_syslog after
 *          daemonizing. libfuse's own messages come through here too. */
#ifndef SMFS_LOG_H
#define SMFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR_ = 0, LOG_WARN_, LOG_INFO_, LOG_DEBUG_ };

void log_init(enum log_level level, const char *ident);
void log_to_syslog(bool on);
int  log_level_parse(const char *s, enum log_level *out);   /* "error|warn|info|debug" */
enum log_level log_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN_, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) do { if (log_level() >= LOG_DEBUG_) log_msg(LOG_DEBUG_, __VA_ARGS__); } while (0)

#endif
