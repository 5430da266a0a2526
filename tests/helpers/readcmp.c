/* tests/helpers/readcmp.c: compare files read through a mount with the originals,
 * by every way kdb+ reads: read(), pread() at scattered offsets, and mmap with
 * MAP_SHARED and with MAP_PRIVATE.
 *   readcmp A B               one file
 *   readcmp --tree DIRA DIRB  every regular file under DIRA against DIRB/<same path>
 *   readcmp --hold A B        open and map B, check it, print "ready", wait for a line
 *                             on stdin (a new version is committed meanwhile), then
 *                             check the same fd and mapping again: they must still
 *                             read A's bytes
 * Exit 0 when identical; 1 with the first difference named. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long nfiles;
static const char *g_a, *g_b;

static int slurp(const char *p, unsigned char **out, size_t *len)
{
    int fd = open(p, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        fprintf(stderr, "readcmp: %s: %s\n", p, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *out = malloc(*len + 1);
    size_t got = 0;
    while (*out && got < *len) {
        ssize_t n = read(fd, *out + got, *len - got);   /* read(), in whatever pieces */
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (!*out || got != *len) {
        fprintf(stderr, "readcmp: %s: short read (%zu of %zu)\n", p, got, *len);
        return -1;
    }
    return 0;
}

static int same(const char *what, const char *b, const unsigned char *x, const unsigned char *y, size_t n)
{
    if (!memcmp(x, y, n)) return 0;
    size_t i = 0;
    while (x[i] == y[i]) i++;
    fprintf(stderr, "readcmp: %s of %s differs at byte %zu\n", what, b, i);
    return -1;
}

static int check_fd(int fd, const char *b, const unsigned char *a, size_t len)
{
    int rc = 0;
    /* pread at offsets that cross page and request boundaries */
    unsigned char buf[70000];
    for (size_t off = 0; off < len && !rc; off += len / 7 + 4093) {
        size_t n = len - off < sizeof buf ? len - off : sizeof buf;
        if (pread(fd, buf, n, (off_t)off) != (ssize_t)n) {
            fprintf(stderr, "readcmp: pread %s at %zu: %s\n", b, off, strerror(errno));
            return -1;
        }
        rc = same("pread", b, a + off, buf, n);
    }
    int flags[2] = {MAP_SHARED, MAP_PRIVATE};
    for (int i = 0; i < 2 && !rc && len; i++) {
        void *m = mmap(NULL, len, PROT_READ, flags[i], fd, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "readcmp: mmap(%s) %s: %s\n", i ? "MAP_PRIVATE" : "MAP_SHARED", b, strerror(errno));
            return -1;
        }
        rc = same(i ? "mmap MAP_PRIVATE" : "mmap MAP_SHARED", b, a, m, len);
        munmap(m, len);
    }
    return rc;
}

static int cmp_file(const char *a, const char *b)
{
    unsigned char *x = NULL, *y = NULL;
    size_t lx, ly;
    int rc = slurp(a, &x, &lx) || slurp(b, &y, &ly) ? -1 : 0;
    if (!rc && lx != ly) {
        fprintf(stderr, "readcmp: %s has %zu bytes, %s has %zu\n", a, lx, b, ly);
        rc = -1;
    }
    if (!rc) rc = same("read", b, x, y, lx);
    int fd = rc ? -1 : open(b, O_RDONLY);
    if (!rc && fd < 0) rc = -1;
    if (!rc) rc = check_fd(fd, b, x, lx);
    if (fd >= 0) close(fd);
    free(x);
    free(y);
    nfiles += rc == 0;
    return rc;
}

static int visit(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)f;
    if (flag != FTW_F) return 0;
    char b[8192];
    snprintf(b, sizeof b, "%s%s", g_b, p + strlen(g_a));
    return cmp_file(p, b) ? 1 : 0;
}

static int hold(const char *a, const char *b)
{
    unsigned char *x;
    size_t len;
    if (slurp(a, &x, &len)) return 1;
    int fd = open(b, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "readcmp: %s: %s\n", b, strerror(errno));
        return 1;
    }
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED || same("mmap", b, x, m, len) || check_fd(fd, b, x, len)) return 1;
    printf("ready\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 1;
    /* Drop our page cache view of the mapping so the check faults pages in again. */
    madvise(m, len, MADV_DONTNEED);
    int rc = same("mmap after the new version", b, x, m, len) || check_fd(fd, b, x, len);
    munmap(m, len);
    close(fd);
    free(x);
    if (!rc) printf("held version still reads its bytes\n");
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--hold")) return hold(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "--tree")) {
        g_a = argv[2];
        g_b = argv[3];
        if (nftw(g_a, visit, 16, FTW_PHYS)) return 1;
        printf("%llu files identical\n", nfiles);
        return 0;
    }
    if (argc == 3) return cmp_file(argv[1], argv[2]) ? 1 : 0;
    fprintf(stderr, "usage: readcmp [--tree|--hold] A B\n");
    return 2;
}
