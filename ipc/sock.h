/* ipc/sock.h: listening and connecting on Unix sockets, shared by the q IPC server and
 * client and the admin socket. A PATH starting with '@' names a socket in Linux's
 * abstract namespace (no file; gone with its listener): what kdb+ on Linux uses for
 * `hopen `:unix://5010` (@/tmp/kx.5010).
 * Owns:    nothing after return (the caller owns the fd and removes the path).
 * Never:   removes a path that is not a socket, or one a live process answers on.
 * Errors:  0 or -errno with *err filled, naming WHAT ("q IPC socket", "admin socket"). */
#ifndef SMFS_SOCK_H
#define SMFS_SOCK_H

#include <sys/types.h>

#include "core/err.h"

#include <sys/socket.h>
#include <sys/un.h>

/* The address of PATH ('@': abstract) and its length. */
int sock_addr_unix(const char *path, const char *what, struct sockaddr_un *a, socklen_t *len,
                   struct smfs_err *err) __attribute__((warn_unused_result));
/* Whether PATH is in the abstract namespace (nothing to unlink). */
static inline int sock_abstract(const char *path)
{
    return path[0] == '@';
}

/* A non-blocking listening socket at PATH. A socket file left by a dead server is
 * replaced; one that answers is -EADDRINUSE. MODE (0: the umask's) applies to the
 * socket file from the moment it exists; GID ((gid_t)-1: the creator's) is its group,
 * set right after bind (connecting needs write permission, so a group with write
 * lets that group's users in). With a MODE or a GID an abstract PATH is -EINVAL (it
 * has no permissions to restrict). */
int sock_listen_unix(const char *path, const char *what, mode_t mode, gid_t gid, int *fd,
                     struct smfs_err *err) __attribute__((warn_unused_result));

/* A blocking connected socket to PATH. */
int sock_connect_unix(const char *path, const char *what, int *fd, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
