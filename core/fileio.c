/* core/fileio.c: see fileio.h. */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int file_map(const char *path, struct file_map *m, struct smfs_err *err)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_sys(err, "open", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = err_sys(err, "fstat", path);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, -EISDIR, "'%s' is not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int rc = err_sys(err, "mmap", path);
            close(fd);
            return rc;
        }
        m->p = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void file_unmap(struct file_map *m)
{
    if (m->p) munmap((void *)m->p, m->len);
    m->p = NULL;
    m->len = 0;
}

int file_pread_full(int fd, void *p, size_t len, uint64_t off, const char *path,
                    struct smfs_err *err)
{
    uint8_t *q = p;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, q + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_sys(err, "pread", path);
        }
        if (r == 0)
            return err_set(err, -EIO, "file '%s' ended at byte %llu, wanted %zu bytes at %llu",
                           path, (unsigned long long)(off + done), len,
                           (unsigned long long)off);
        done += (size_t)r;
    }
    return 0;
}

int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len,
                  struct smfs_err *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_sys(err, "open", path);
    int rc = 0;
    uint8_t *p = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_sys(err, "fstat", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(err, -EISDIR, "'%s' is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = err_set(err, -EFBIG, "file '%s' is %lld bytes, limit is %zu", path,
                     (long long)st.st_size, max);
        goto out;
    }
    p = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!p) {
        rc = err_set(err, -ENOMEM, "reading '%s': out of memory for %lld bytes", path,
                     (long long)st.st_size);
        goto out;
    }
    rc = file_pread_full(fd, p, (size_t)st.st_size, 0, path, err);
    if (rc < 0) goto out;
    *out = p;
    *len = (size_t)st.st_size;
    p = NULL;
out:
    free(p);
    close(fd);
    return rc;
}

int file_sync_dir(const char *dir, struct smfs_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_sys(err, "open", dir);
    int rc = 0;
    if (fsync(fd) < 0) rc = err_sys(err, "fsync", dir);
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n, const char *path, struct smfs_err *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return err_sys(err, "write", path);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int file_write(const char *path, const void *p, size_t n, bool sync, struct smfs_err *err)
{
    char tmp[PATH_MAX], dirbuf[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return err_set(err, -ENAMETOOLONG, "path '%s' is too long", path);
    /* A unique temp name: two writers of the same path never share a half-written file. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return err_sys(err, "mkostemp", tmp);
    if (fchmod(fd, 0644) < 0) {
        int rc = err_sys(err, "fchmod", tmp);
        close(fd);
        unlink(tmp);
        return rc;
    }
    int rc = write_all(fd, p, n, tmp, err);
    /* The bytes must be durable before the rename publishes the name: otherwise a
     * crash could leave the final name pointing at an empty or short file. */
    if (rc == 0 && sync && fdatasync(fd) < 0) rc = err_sys(err, "fdatasync", tmp);
    if (close(fd) < 0 && rc == 0) rc = err_sys(err, "close", tmp);
    if (rc == 0 && rename(tmp, path) < 0) rc = err_sys(err, "rename", path);
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    if (sync) {
        /* The rename lives in the directory: without this fsync a power loss can
         * bring back the old name (or none) even though the data is on disk. */
        snprintf(dirbuf, sizeof dirbuf, "%s", path);
        rc = file_sync_dir(dirname(dirbuf), err);
    }
    return rc;
}

int file_mkdirs(const char *path, mode_t mode, struct smfs_err *err)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p) return err_set(err, -ENAMETOOLONG, "bad directory path '%s'", path);
    memcpy(p, path, n + 1);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) return err_sys(err, "mkdir", p);
            *s = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0) return err_sys(err, "stat", path);
    if (!S_ISDIR(st.st_mode)) return err_set(err, -ENOTDIR, "'%s' exists and is not a directory", path);
    return 0;
}

int file_join(char *out, size_t n, const char *a, const char *b)
{
    int l = *a ? snprintf(out, n, "%s/%s", a, b) : snprintf(out, n, "%s", b);
    if (l < 0 || (size_t)l >= n) {
        if (n) out[0] = 0;
        return -ENAMETOOLONG;
    }
    return 0;
}

bool file_path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int file_remove_tree(const char *dir, struct smfs_err *err)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(err, "opendir", dir);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[PATH_MAX];
        struct stat sb;
        rc = file_join(p, sizeof p, dir, de->d_name);
        if (rc) {
            rc = err_set(err, rc, "path too long under '%s'", dir);
            break;
        }
        if (lstat(p, &sb) < 0) {
            if (errno != ENOENT) rc = err_sys(err, "lstat", p);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) rc = file_remove_tree(p, err);
        else if (unlink(p) < 0 && errno != ENOENT) rc = err_sys(err, "unlink", p);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) < 0 && errno != ENOENT) rc = err_sys(err, "rmdir", dir);
    return rc;
}
