/* tools/smctl_progress.c: see smctl_progress.h. */
#include "tools/smctl_progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/num.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void progress_human(double bytes, char *out, size_t n)
{
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (bytes >= 1000 && i < 4) bytes /= 1000, i++;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

void progress_init(struct progress *p, const char *what, bool json)
{
    *p = (struct progress){.what = what, .json = json, .tty = !json && isatty(STDERR_FILENO) == 1};
    p->t0_ns = p->last_ns = now_ns();   /* a job shorter than one interval prints nothing */
    uint64_t secs = 10;
    const char *env = getenv("SMCTL_PROGRESS_INTERVAL");
    struct smfs_err e;
    if (env && num_parse_u64(env, 0, 86400, "SMCTL_PROGRESS_INTERVAL", &secs, &e))
        fprintf(stderr, "smctl: %s (using 10)\n", e.msg), secs = 10;
    p->interval_ns = p->tty ? 100000000 : (int64_t)secs * 1000000000;
}

static void eta(double secs, char *out, size_t n)
{
    if (secs < 0) snprintf(out, n, "?");
    else if (secs < 100) snprintf(out, n, "%.0f s", secs);
    else if (secs < 6000) snprintf(out, n, "%.0f min", secs / 60);
    else snprintf(out, n, "%.1f h", secs / 3600);
}

void progress_show(struct progress *p, const char *phase, const char *current, uint64_t done,
                   uint64_t total, const char *items, uint64_t bytes_done, uint64_t bytes_total)
{
    int64_t t = now_ns();
    bool last = total && done >= total;
    if (t - p->last_ns < p->interval_ns && !(last && p->drawn)) return;
    p->last_ns = t;
    double el = (double)(t - p->t0_ns) / 1e9;
    double f = bytes_total ? (double)bytes_done / (double)bytes_total : total ? (double)done / (double)total : 0;
    if (f > 1) f = 1;
    double left = f > 0 ? el * (1 - f) / f : -1;
    double rate = el > 0 ? (double)bytes_done / 1e6 / el : 0;
    if (p->json) {
        json_t *j = json_pack("{s:{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f}}", "progress", "what", p->what,
                              "phase", phase ? phase : "", "current", current ? current : "",
                              "done", (json_int_t)done, "total", (json_int_t)total,
                              "bytes_done", (json_int_t)bytes_done, "bytes_total", (json_int_t)bytes_total,
                              "elapsed_s", el, "eta_s", left);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s) fprintf(stderr, "%s\n", s);
        free(s);
        json_decref(j);
        return;
    }
    char b1[32], b2[32], e[32], bytes[80] = "";
    eta(left, e, sizeof e);
    if (bytes_total) {
        progress_human((double)bytes_done, b1, sizeof b1);
        progress_human((double)bytes_total, b2, sizeof b2);
        snprintf(bytes, sizeof bytes, "  %s/%s  %.0f MB/s", b1, b2, rate);
    }
    if (p->tty) {
        char bar[31];
        int w = (int)(f * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r%-8s [%s] %3.0f%%  %llu/%llu %s%s  ETA %-7s %-12s", phase ? phase : p->what, bar,
                f * 100, (unsigned long long)done, (unsigned long long)total, items, bytes, e,
                current ? current : "");
        p->drawn = true;
    } else {
        fprintf(stderr, "%s: %s %3.0f%%: %llu/%llu %s%s, %.0f s elapsed, about %s left%s%s\n", p->what,
                phase ? phase : "", f * 100, (unsigned long long)done, (unsigned long long)total, items, bytes,
                el, e, current && *current ? ", at " : "", current ? current : "");
    }
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->drawn) fprintf(stderr, "\n");
    p->drawn = false;
}
