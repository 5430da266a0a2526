/* fs/passthrough.c: see passthrough.h. Offsets are those of struct fuse_init_out and
 * struct fuse_open_out in the kernel's include/uapi/linux/fuse.h (protocol 7.40+). */
#define FUSE_USE_VERSION 314
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct pt_backing_map {
    int32_t  fd;
    uint32_t flags;
    uint64_t padding;
};
#define PT_IOC_BACKING_OPEN  _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

#define INIT_OUT_FLAGS      12          /* u32 flags */
#define INIT_OUT_FLAGS2     32          /* u32 flags2 (flags >> 32) */
#define INIT_OUT_STACK      36          /* u32 max_stack_depth */
#define FUSE_INIT_EXT_BIT   (1u << 30)
#define FUSE_PASSTHROUGH_HI (1u << 5)   /* 1ull << 37 */
#define OPEN_OUT_SIZE       16
#define OPEN_OUT_FLAGS      8
#define OPEN_OUT_BACKING    12
#define FOPEN_KEEP_CACHE_B  (1u << 1)
#define FOPEN_PASSTHROUGH_B (1u << 7)

/* The INIT request: fuse_in_header (40 bytes), then fuse_init_in's flags and flags2. */
#define IN_HEADER_SIZE      40
#define IN_OPCODE           4
#define FUSE_INIT_OPCODE    26
#define INIT_IN_FLAGS       (IN_HEADER_SIZE + 12)
#define INIT_IN_FLAGS2      (IN_HEADER_SIZE + 16)

static __thread int t_patch_init, t_backing_id, t_kernel_offers;

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *ud)
{
    (void)ud;
    if (t_patch_init && count >= 2 && iov[1].iov_len >= INIT_OUT_STACK + 4) {
        uint8_t *o = iov[1].iov_base;
        uint32_t f, f2, depth = 1;
        memcpy(&f, o + INIT_OUT_FLAGS, 4);
        memcpy(&f2, o + INIT_OUT_FLAGS2, 4);
        f |= FUSE_INIT_EXT_BIT;
        f2 |= FUSE_PASSTHROUGH_HI;
        memcpy(o + INIT_OUT_FLAGS, &f, 4);
        memcpy(o + INIT_OUT_FLAGS2, &f2, 4);
        memcpy(o + INIT_OUT_STACK, &depth, 4);
        t_patch_init = 0;
    }
    if (t_backing_id && count >= 2 && iov[1].iov_len == OPEN_OUT_SIZE) {
        uint8_t *o = iov[1].iov_base;
        uint32_t f;
        memcpy(&f, o + OPEN_OUT_FLAGS, 4);
        /* The kernel refuses KEEP_CACHE beside PASSTHROUGH: the page cache is the
         * backing file's, which is the point. */
        f = (f & ~FOPEN_KEEP_CACHE_B) | FOPEN_PASSTHROUGH_B;
        memcpy(o + OPEN_OUT_FLAGS, &f, 4);
        memcpy(o + OPEN_OUT_BACKING, &t_backing_id, 4);
        t_backing_id = 0;
    }
    return writev(fd, iov, count);
}

static long poll_ns;             /* pt_set_poll */
static atomic_bool polling;      /* one thread polls at a time */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Before sleeping in read(), look for the next request for up to poll_ns. A burst
 * of requests (every close's RELEASE follows its OPEN by microseconds; a query opens
 * file after file) is then taken without waking a sleeping thread: on a virtual
 * machine each cross-CPU wakeup costs tens of microseconds (bench/read, README), more
 * than the request itself. One thread polls; the others sleep in read() as before. */
static void poll_briefly(int fd)
{
    if (!poll_ns || atomic_exchange(&polling, true)) return;
    int64_t until = mono_ns() + poll_ns;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (poll(&pf, 1, 0) == 0 && mono_ns() < until) pf.revents = 0;
    atomic_store(&polling, false);
}

/* libfuse reads INIT with read() (splice starts only after it), and processes it on
 * the thread that read it: the init callback asks pt_kernel_offers on that thread. */
static ssize_t pt_read(int fd, void *buf, size_t len, void *ud)
{
    (void)ud;
    poll_briefly(fd);
    ssize_t n = read(fd, buf, len);
    if (n >= INIT_IN_FLAGS2 + 4) {
        const uint8_t *p = buf;
        uint32_t op, f, f2;
        memcpy(&op, p + IN_OPCODE, 4);
        if (op == FUSE_INIT_OPCODE) {
            memcpy(&f, p + INIT_IN_FLAGS, 4);
            memcpy(&f2, p + INIT_IN_FLAGS2, 4);
            t_kernel_offers = (f & FUSE_INIT_EXT_BIT) && (f2 & FUSE_PASSTHROUGH_HI);
        }
    }
    return n;
}

/* Without these, libfuse 3.14 turns splice off for a custom-io session, and the
 * cached path (par.txt, or every file when passthrough is refused) loses it. */
static ssize_t pt_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                         unsigned int flags, void *ud)
{
    (void)ud;
    return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io pt_io = {
    .writev = pt_writev,
    .read = pt_read,
    .splice_receive = pt_splice,
    .splice_send = pt_splice,
};

void pt_set_poll(unsigned us)
{
    poll_ns = (long)us * 1000;
}

int pt_install(struct fuse_session *se)
{
    int fd = fuse_session_fd(se);
    return fuse_session_custom_io(se, &pt_io, fd) ? -EIO : 0;
}

bool pt_kernel_offers(void)
{
    return t_kernel_offers;
}

void pt_mark_init(void)
{
    t_patch_init = 1;
}

void pt_mark_open(int backing_id)
{
    t_backing_id = backing_id;
}

int pt_backing_open(int devfd, int fd)
{
    struct pt_backing_map m = {.fd = fd};
    int id = ioctl(devfd, PT_IOC_BACKING_OPEN, &m);
    return id > 0 ? id : id == 0 ? -EIO : -errno;
}

void pt_backing_close(int devfd, int id)
{
    uint32_t u = (uint32_t)id;
    (void)ioctl(devfd, PT_IOC_BACKING_CLOSE, &u);
}
