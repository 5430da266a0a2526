/* tests/helpers/holdopen.c: hold many files open at once, as a q process with a
 * month of partitions mapped does, and read every one through its open descriptor.
 *   holdopen DIRA DIRB   for every regular file under DIRA, open DIRB/<path> (all at
 *                        once, kept open), then read each fully through its
 *                        descriptor -- twice, the second pass in reverse order --
 *                        comparing with DIRA/<path>
 * Prints "N files held open and read twice" and exits 0, or names the first failure
 * (an open or read error, or different bytes) and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 100000

static const char *g_a, *g_b;
static size_t g_skip, g_n;
static int g_fd[MAX_FILES];
static char *g_rel[MAX_FILES];

static int take(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb, (void)f;
    if (type != FTW_F) return 0;
    if (g_n == MAX_FILES) {
        fprintf(stderr, "holdopen: more than %d files\n", MAX_FILES);
        return 1;
    }
    char pb[8192];
    snprintf(pb, sizeof pb, "%s%s", g_b, p + g_skip);
    int fd = open(pb, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "holdopen: open %s (file %zu): %s\n", pb, g_n + 1, strerror(errno));
        return 1;
    }
    g_fd[g_n] = fd;
    g_rel[g_n] = strdup(p + g_skip);
    g_n++;
    return 0;
}

/* Read all of file I through its held descriptor and compare with DIRA's copy. */
static int check(size_t i)
{
    char pa[8192];
    snprintf(pa, sizeof pa, "%s%s", g_a, g_rel[i]);
    FILE *fa = fopen(pa, "rb");
    if (!fa) {
        fprintf(stderr, "holdopen: %s: %s\n", pa, strerror(errno));
        return 1;
    }
    char ba[65536], bb[65536];
    off_t off = 0;
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, fa);
        ssize_t nb = pread(g_fd[i], bb, sizeof bb, off);
        if (nb < 0) {
            fprintf(stderr, "holdopen: read %s%s at %lld: %s\n", g_b, g_rel[i], (long long)off, strerror(errno));
            fclose(fa);
            return 1;
        }
        if ((size_t)nb != na || memcmp(ba, bb, na)) {
            fprintf(stderr, "holdopen: %s%s differs at or after byte %lld\n", g_b, g_rel[i], (long long)off);
            fclose(fa);
            return 1;
        }
        if (na == 0) break;
        off += (off_t)na;
    }
    fclose(fa);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: holdopen DIRA DIRB\n");
        return 2;
    }
    g_a = argv[1];
    g_b = argv[2];
    g_skip = strlen(g_a);
    if (nftw(g_a, take, 64, FTW_PHYS)) return 1;
    for (size_t i = 0; i < g_n; i++)
        if (check(i)) return 1;
    for (size_t i = g_n; i-- > 0;)
        if (check(i)) return 1;
    printf("%zu files held open and read twice\n", g_n);
    return 0;
}
