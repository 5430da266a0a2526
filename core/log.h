/* core/log.h: the daemon's log: levels, to stderr (foreground), a file (--log-file) or
 * syslog (a daemon without a file). Here in core/ so that every layer (core, ipc,
 * control, fs) can reach it; it knows no library of theirs (fs/ routes libfuse's
 * messages through log_vmsg).
 * Owns:    the level and the destination (process-wide), the log file's descriptor.
 * Never:   allocates; blocks longer than one write or syslog(3); exits.
 * Threads: any thread; a line is written with one call, so lines never interleave.
 * Sequence: log_init (before threads start) → log_msg … ; log_to_syslog after
 *          daemonizing. On stderr under systemd (JOURNAL_STREAM names our stderr),
 *          lines carry sd-daemon's "<N>" priority prefix instead of a timestamp.
 * Global:  the level, destination and file descriptor are process-wide, set by main
 *          before threads start (log_reopen swaps the file under the same number). */
#ifndef SMFS_LOG_H
#define SMFS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_ERR_ = 0, LOG_WARN_, LOG_INFO_, LOG_DEBUG_ };

void log_init(enum log_level level, const char *ident);
void log_to_syslog(bool on);
/* While on, every line also goes to stderr as "smfs: level: message", whatever the
 * destination: a daemon's start-up, whose stderr is a pipe to the waiting parent. */
void log_tee_stderr(bool on);
/* Append to PATH from now on (0 or -errno). */
int  log_to_file(const char *path);
/* Open the log file again under its name (after logrotate moved it): 0, or -errno
 * and the old file stays in use. No-op without a log file. */
int  log_reopen(void);
int  log_level_parse(const char *s, enum log_level *out);   /* "error|warn|info|debug" */
enum log_level log_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...)   log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN_, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) do { if (log_level() >= LOG_DEBUG_) log_msg(LOG_DEBUG_, __VA_ARGS__); } while (0)

#endif
