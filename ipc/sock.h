/* ipc/sock.h: listening and connecting on Unix sockets, shared by the q IPC server and
 * the admin socket.
 * Owns:    nothing after return (the caller owns the fd and removes the path).
 * Never:   removes a path that is not a socket, or one a live process answers on.
 * Errors:  0 or -errno with *err filled, naming WHAT ("q IPC socket", "admin socket"). */
#ifndef SMFS_SOCK_H
#define SMFS_SOCK_H

#include <sys/types.h>

#include "core/err.h"

/* A non-blocking listening socket at PATH. A socket file left by a dead server is
 * replaced; one that answers is -EADDRINUSE. MODE (0: the umask's) applies to the
 * socket file from the moment it exists. */
int sock_listen_unix(const char *path, const char *what, mode_t mode, int *fd,
                     struct smfs_err *err) __attribute__((warn_unused_result));

/* A blocking connected socket to PATH. */
int sock_connect_unix(const char *path, const char *what, int *fd, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
