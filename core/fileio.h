/* core/fileio.h: whole-file reads, read-only maps and durable whole-file writes.
 * Owns:    the fds and maps it opens, until the matching release.
 * Never:   leaves a partly written file under the final name (writes go to a temp name
 *          in the same directory, then rename); follows a size it has not checked.
 * Threads: reentrant.
 * Errors:  0 or -errno, with "call(path): reason" in *err. */
#ifndef SMFS_FILEIO_H
#define SMFS_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* A read-only view of a whole file. Empty files have p == NULL and len == 0. */
struct file_map {
    const uint8_t *p;
    size_t         len;
};

/* Map PATH read-only (MAP_PRIVATE). Caller releases with file_unmap. */
int file_map(const char *path, struct file_map *m, struct smfs_err *err)
        __attribute__((warn_unused_result));
void file_unmap(struct file_map *m);

/* Read up to MAX bytes of PATH into a malloc'd block (caller frees *out).
 * A file larger than MAX is an error that names both sizes. */
int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len,
                  struct smfs_err *err) __attribute__((warn_unused_result));

/* Read LEN bytes at OFF exactly; a short file is -EIO "file ended at …". */
int file_pread_full(int fd, void *p, size_t len, uint64_t off, const char *path,
                    struct smfs_err *err) __attribute__((warn_unused_result));

/* Write N bytes as PATH: temp file in the same directory → write → (fdatasync) →
 * rename → (fsync the directory). With SYNC false the rename still makes the file
 * appear whole or not at all to readers, but a power loss may lose it. */
int file_write(const char *path, const void *p, size_t n, bool sync, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* OUT = "A/B" (B alone when A is empty). -ENAMETOOLONG, with OUT emptied, when it
 * does not fit in N bytes: callers treat that as an error, never as a shorter path. */
int file_join(char *out, size_t n, const char *a, const char *b) __attribute__((warn_unused_result));

/* PATH equals DIR or lies inside it, by their text (resolve both first for the truth). */
bool file_path_within(const char *path, const char *dir);

/* mkdir -p with MODE; existing directories are fine. */
int file_mkdirs(const char *path, mode_t mode, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* rm -r DIR (symbolic links are removed, never followed); a missing DIR is fine. */
int file_remove_tree(const char *dir, struct smfs_err *err) __attribute__((warn_unused_result));

/* fsync the directory DIR: what makes a rename or a new name in it survive power loss. */
int file_sync_dir(const char *dir, struct smfs_err *err) __attribute__((warn_unused_result));

#endif
