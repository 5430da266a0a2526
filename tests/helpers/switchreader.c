/* tests/helpers/switchreader.c: a query process reading through version switches.
 *   switchreader MNT STOPFILE SEED
 * Until STOPFILE exists, again and again: read MNT/par.txt to learn the current
 * version's segment, pick a partition and a table of it at random, and "load" it as q
 * does: open every column file, map it (MAP_SHARED) and read() it whole. Then, after a
 * random pause of up to 30 ms (other versions commit meanwhile), read every file again
 * through its mapping and with pread and compare with what was loaded. A table whose
 * files cannot all be opened (its version was replaced and vacuumed before the load
 * finished) is counted as missed and skipped; once loaded, any error (ESTALE, EIO, a
 * short read) or any changed byte is a failure, named, exit 1.
 * Prints "loads L, missed M, bytes B" and exits 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_COLS 64

struct col {
    char     path[4096];
    int      fd;
    uint8_t *map, *copy;
    size_t   len;
};

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

/* A random entry of directory DIR that is not hidden (NAME gets it); 0, or -errno. */
static int pick(const char *dir, unsigned *seed, char *name, size_t n)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    char names[256][64];
    int k = 0;
    for (struct dirent *e; (e = readdir(d)) && k < 256;)
        if (e->d_name[0] != '.' && strlen(e->d_name) < 64) memcpy(names[k++], e->d_name, strlen(e->d_name) + 1);
    closedir(d);
    if (!k) return -ENOENT;
    snprintf(name, n, "%s", names[rnd(seed) % (unsigned)k]);
    return 0;
}

/* snprintf that must not truncate (a path longer than PATH_MAX is a failure here). */
#define PJ(buf, ...) \
    do { \
        if (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf) return fail("path too long", #buf, ENAMETOOLONG); \
    } while (0)

static int fail(const char *what, const char *path, int err)
{
    printf("switchreader: %s %s: %s\n", what, path, err ? strerror(err) : "bytes changed");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: switchreader MNT STOPFILE SEED\n");
        return 2;
    }
    const char *mnt = argv[1], *stop = argv[2];
    unsigned seed = (unsigned)atoi(argv[3]);
    static struct col cols[MAX_COLS];
    unsigned long loads = 0, missed = 0;
    unsigned long long bytes = 0;
    while (access(stop, F_OK) != 0) {
        char p[4096], seg[256] = "", part[64], table[64];
        PJ(p, "%s/par.txt", mnt);
        FILE *f = fopen(p, "r");
        if (!f) return fail("open", p, errno);
        if (!fgets(seg, sizeof seg, f)) seg[0] = 0;
        fclose(f);
        seg[strcspn(seg, "\n")] = 0;
        char dir[4096];
        PJ(dir, "%s/%s", mnt, seg);
        /* Names of a version that is gone by now are a miss, not a failure. */
        if (pick(dir, &seed, part, sizeof part)) { missed++; continue; }
        PJ(p, "%s/%s", dir, part);
        if (pick(p, &seed, table, sizeof table)) { missed++; continue; }
        char tdir[4096];
        PJ(tdir, "%s/%s/%s", dir, part, table);
        DIR *d = opendir(tdir);
        if (!d) { missed++; continue; }
        int n = 0;
        bool miss = false;
        for (struct dirent *e; (e = readdir(d)) && n < MAX_COLS;) {
            if (e->d_name[0] == '.' && strcmp(e->d_name, ".d")) continue;
            struct col *c = &cols[n];
            if (snprintf(c->path, sizeof c->path, "%s/%s", tdir, e->d_name) >= (int)sizeof c->path) {
                closedir(d);
                return fail("path too long", tdir, ENAMETOOLONG);
            }
            c->fd = open(c->path, O_RDONLY);
            if (c->fd < 0) { miss = true; break; }
            n++;
        }
        closedir(d);
        if (miss || n == 0) {
            for (int i = 0; i < n; i++) close(cols[i].fd);
            missed++;
            continue;
        }
        /* Loaded: from here on, the version must hold still for us. */
        for (int i = 0; i < n; i++) {
            struct col *c = &cols[i];
            struct stat st;
            if (fstat(c->fd, &st)) return fail("fstat", c->path, errno);
            c->len = (size_t)st.st_size;
            c->map = NULL;
            c->copy = malloc(c->len ? c->len : 1);
            if (!c->copy) return fail("malloc for", c->path, ENOMEM);
            if (c->len) {
                c->map = mmap(NULL, c->len, PROT_READ, MAP_SHARED, c->fd, 0);
                if (c->map == MAP_FAILED) return fail("mmap", c->path, errno);
            }
            size_t got = 0;
            while (got < c->len) {
                ssize_t r = read(c->fd, c->copy + got, c->len - got);
                if (r < 0) return fail("read", c->path, errno);
                if (r == 0) return fail("read (short)", c->path, EIO);
                got += (size_t)r;
            }
            if (c->len && memcmp(c->map, c->copy, c->len)) return fail("mmap against read of", c->path, 0);
        }
        struct timespec ts = {0, (long)(rnd(&seed) % 30) * 1000000L};
        nanosleep(&ts, NULL);
        for (int i = 0; i < n; i++) {
            struct col *c = &cols[i];
            if (c->len && memcmp(c->map, c->copy, c->len)) return fail("the mapping of", c->path, 0);
            uint8_t *again = malloc(c->len ? c->len : 1);
            if (!again) return fail("malloc for", c->path, ENOMEM);
            ssize_t r = c->len ? pread(c->fd, again, c->len, 0) : 0;
            if (r < 0) return fail("pread", c->path, errno);
            if ((size_t)r != c->len) return fail("pread (short)", c->path, EIO);
            if (memcmp(again, c->copy, c->len)) return fail("pread of", c->path, 0);
            free(again);
            bytes += c->len;
            if (c->map) munmap(c->map, c->len);
            free(c->copy);
            close(c->fd);
        }
        loads++;
    }
    printf("loads %lu, missed %lu, bytes %llu\n", loads, missed, bytes);
    return 0;
}
