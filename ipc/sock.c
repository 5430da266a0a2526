/* ipc/sock.c: see sock.h. */
#include "ipc/sock.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int sock_addr_unix(const char *path, const char *what, struct sockaddr_un *a, socklen_t *len,
                   struct smfs_err *err)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof a->sun_path)
        return err_set(err, -ENAMETOOLONG, "%s '%s': path longer than %zu bytes", what, path,
                       sizeof a->sun_path - 1);
    if (sock_abstract(path) && n < 2) return err_set(err, -EINVAL, "%s '%s': an abstract name needs a name", what, path);
    memcpy(a->sun_path, path, n + 1);
    /* Abstract: a NUL first, and the length (not a NUL) ends the name. */
    if (sock_abstract(path)) a->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !sock_abstract(path));
    return 0;
}

int sock_listen_unix(const char *path, const char *what, mode_t mode, gid_t gid, int *out,
                     struct smfs_err *err)
{
    struct sockaddr_un a;
    socklen_t alen;
    int rc = sock_addr_unix(path, what, &a, &alen, err);
    if (rc) return rc;
    if ((mode || gid != (gid_t)-1) && sock_abstract(path))
        return err_set(err, -EINVAL, "%s '%s': must be a file with mode %03o, not an abstract name anyone "
                       "may connect to", what, path, (unsigned)mode);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return err_sys(err, "socket", path);
    struct stat st;
    if (!sock_abstract(path) && lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return err_set(err, -EEXIST, "%s '%s': exists and is not a socket", what, path);
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&a, alen) == 0;
        if (probe >= 0) close(probe);
        if (live) {
            close(fd);
            return err_set(err, -EADDRINUSE, "%s '%s': another process is listening on it", what, path);
        }
        unlink(path);
    }
    /* The umask, not a chmod after bind, so no other user can connect in between.
     * (An abstract socket has no file and no mode: anyone in the network namespace
     * may connect, so the admin socket never is one.) */
    mode_t old = mode ? umask(~mode & 0777) : 0;
    int b = bind(fd, (struct sockaddr *)&a, alen);
    if (mode) umask(old);
    if (b < 0 && errno == EADDRINUSE && sock_abstract(path)) {
        close(fd);
        return err_set(err, -EADDRINUSE, "%s '%s': another process is listening on it", what, path);
    }
    if (b < 0 || listen(fd, 128) < 0) {
        rc = err_sys(err, "bind", path);
        close(fd);
        return rc;
    }
    /* The group after bind: until then the socket is its creator's group, which only
     * ever narrows who may connect in the gap. */
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
        rc = err_sys(err, "chown", path);
        err_wrap(err, "%s: cannot give it group %u", what, (unsigned)gid);
        close(fd);
        unlink(path);
        return rc;
    }
    *out = fd;
    return 0;
}

int sock_connect_unix(const char *path, const char *what, int *out, struct smfs_err *err)
{
    struct sockaddr_un a;
    socklen_t alen;
    int rc = sock_addr_unix(path, what, &a, &alen, err);
    if (rc) return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return err_sys(err, "socket", path);
    if (connect(fd, (struct sockaddr *)&a, alen) < 0) {
        rc = err_sys(err, "connect", path);
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}
