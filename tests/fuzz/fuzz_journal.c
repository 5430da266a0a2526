/* fuzz_journal: arbitrary bytes as a tickerplant's -11! log (a torn, foreign or hostile
 * file where the stream reads its journal): every message handed out decoded whole, a
 * refusal carries a message, and the scan agrees with the reader on what is whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/k.h"
#include "ipc/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_journal", 0)) < 0) return 0;
    if (ftruncate(fd, 0) < 0 || pwrite(fd, p, n, 0) != (ssize_t)n) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct smfs_err e = {0};
    struct journal *j;
    if (journal_open(path, &j, &e)) {
        if (!e.msg[0]) __builtin_trap();
        return 0;
    }
    uint64_t whole = 0;
    for (;;) {
        struct k *m = NULL;
        uint64_t idx, off;
        int rc = journal_next(j, &m, &idx, &off, &e);
        if (rc != 0) {
            if (m || (rc < 0 && !e.msg[0])) __builtin_trap();
            break;
        }
        if (!m || idx != whole || off > n) __builtin_trap();
        k_free(m);
        whole++;
    }
    if (journal_offset(j) > n) __builtin_trap();
    journal_close(j);
    return 0;
}
