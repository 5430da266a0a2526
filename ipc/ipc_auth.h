/* ipc/ipc_auth.h: the user:password file of q IPC logins, as kdb+'s -u file: one
 * `user:password` per line, the password plain or as a hex digest of it — SHA-256
 * (64 hex digits) or MD5 (32, what kdb+ itself accepts). Blank lines and lines
 * starting with '#' are ignored.
 * Owns:    the parsed entries.
 * Never:   keeps a password it was given; compares secrets in variable time.
 * Threads: immutable once loaded; share read-only.
 * Errors:  ipc_auth_load returns 0 or -errno with *err naming file and line. */
#ifndef SMFS_IPC_AUTH_H
#define SMFS_IPC_AUTH_H

#include <stdbool.h>

#include "core/err.h"

struct ipc_auth;

int ipc_auth_load(const char *path, struct ipc_auth **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void ipc_auth_free(struct ipc_auth *a);

/* CREDS is what the client sent before its capability byte: "user:password" (or a
 * bare "user", an empty password). True if the file lets this user in. */
bool ipc_auth_check(const struct ipc_auth *a, const char *creds);

#endif
