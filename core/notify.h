/* core/notify.h: telling the service manager how smfs is doing -- systemd's notify
 * protocol (sd_notify(3), libsystemd: a datagram to $NOTIFY_SOCKET), so a unit with
 * Type=notify is "started" only once the database is served, and units ordered after
 * it (a q HDB process) never find an empty mount point. Here in core/, as the log is,
 * because every layer has something to say: main when it serves and stops, the control
 * loop at SIGHUP and for the watchdog, the writer after each new version.
 * Owns:    nothing (each call is one datagram; libsystemd opens and closes its socket).
 * Never:   blocks (the socket is a datagram socket the manager reads); fails the
 *          caller (without $NOTIFY_SOCKET every call is a no-op).
 * Threads: any thread. */
#ifndef SMFS_NOTIFY_H
#define SMFS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* READY=1 with a STATUS= line: the database is served. */
void notify_ready(const char *status);
/* STATUS=: one line for `systemctl status` (the version served, registrants). */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1: unmounting and exiting. */
void notify_stopping(void);
/* RELOADING=1 (BEGIN) around a SIGHUP's work, then READY=1 again. */
void notify_reloading(bool begin);
/* The watchdog's interval in microseconds ($WATCHDOG_USEC for this process), 0 when
 * none; notify_watchdog sends WATCHDOG=1 (at least twice per interval). */
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);

#endif
