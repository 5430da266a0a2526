/* core/log.c: see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level g_level = LOG_INFO_;
/* Writers always use this number; log_reopen swaps the file under it with dup2, so
 * a line being written while the file is reopened lands in one file or the other,
 * never in a descriptor that was closed or reused. */
static int g_fd = STDERR_FILENO;
static char g_path[4096];
static bool g_syslog;
static bool g_journal;    /* stderr is systemd's journal stream: "<N>" priority prefixes */
static bool g_tee;        /* also copy each line to stderr (a daemon's start-up) */
static const char *g_ident = "smfs";
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    if (level > g_level) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char line[1200];
    int l;
    ssize_t w;
    if (g_tee && (g_syslog || g_fd != STDERR_FILENO)) {
        /* The parent of a starting daemon relays these to the terminal or mount(8). */
        l = snprintf(line, sizeof line, "%s: %s: %s\n", g_ident, names[level], msg);
        if (l > (int)sizeof line - 1) l = (int)sizeof line - 1;
        w = write(STDERR_FILENO, line, (size_t)l);
        (void)w;
    }
    if (g_syslog && g_fd == STDERR_FILENO) {
        syslog(prio[level], "%s", msg);
        return;
    }
    if (g_journal && g_fd == STDERR_FILENO) {
        /* sd-daemon(3)'s convention: the journal takes the priority from "<N>" and
         * stamps the time itself, so journalctl -p err finds our errors. */
        l = snprintf(line, sizeof line, "<%d>%s: %s\n", prio[level], names[level], msg);
        if (l > (int)sizeof line - 1) l = (int)sizeof line - 1;
        w = write(g_fd, line, (size_t)l);
        (void)w;
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    l = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s[%d] %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, g_ident, (int)getpid(), names[level], msg);
    if (l > (int)sizeof line - 1) l = (int)sizeof line - 1;
    w = write(g_fd, line, (size_t)l);
    (void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

/* systemd sets JOURNAL_STREAM=DEV:INO when stdout or stderr is connected to the
 * journal; it applies to us only if our stderr is that very stream. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0) return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(enum log_level level, const char *ident)
{
    g_level = level;
    if (ident) g_ident = ident;
    g_journal = stderr_is_journal();
}

void log_tee_stderr(bool on)
{
    g_tee = on;
}

void log_to_syslog(bool on)
{
    if (on && !g_syslog) openlog(g_ident, LOG_PID, LOG_DAEMON);
    g_syslog = on;
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

int log_to_file(const char *path)
{
    if (strlen(path) >= sizeof g_path) return -ENAMETOOLONG;
    int fd = open_log(path);
    if (fd < 0) return fd;
    snprintf(g_path, sizeof g_path, "%s", path);
    g_fd = fd;
    return 0;
}

int log_reopen(void)
{
    if (!g_path[0]) return 0;
    int fd = open_log(g_path);
    if (fd < 0) return fd;
    int rc = dup2(fd, g_fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

enum log_level log_level(void)
{
    return g_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (enum log_level)i;
            return 0;
        }
    return -1;
}
