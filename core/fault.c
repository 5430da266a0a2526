/* core/fault.c: see fault.h. */
#include "fault.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool armed;
static atomic_uint hits;
static unsigned    nth;
static enum fault_action action;
static char        point[64];
static char        wait_path[520];   /* FAULT_WAIT: hold until this file exists */

void fault_arm(const char *name, unsigned n, enum fault_action a)
{
    snprintf(point, sizeof point, "%s", name);
    nth = n;
    action = a;
    atomic_store(&hits, 0);
    atomic_store(&armed, true);
}

void fault_disarm(void)
{
    atomic_store(&armed, false);
}

void fault_arm_env(void)
{
    const char *v = getenv("SMFS_FAULT");
    if (!v || !*v) return;
    char name[64];
    unsigned n = 0;
    char act[520] = "";
    if (sscanf(v, "%63[^:]:%u:%519s", name, &n, act) < 2 || n == 0 ||
        (act[0] && strcmp(act, "kill") != 0 && strncmp(act, "wait=", 5) != 0)) {
        fprintf(stderr, "SMFS_FAULT='%s' ignored: expected NAME:NTH[:kill|:wait=FILE]\n", v);
        return;
    }
    if (!strncmp(act, "wait=", 5)) snprintf(wait_path, sizeof wait_path, "%s", act + 5);
    fault_arm(name, n, !act[0] ? FAULT_FAIL : act[0] == 'k' ? FAULT_KILL : FAULT_WAIT);
}

bool fault_hit(const char *name)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return false;
    if (strcmp(point, "*") != 0 && strcmp(point, name) != 0) return false;
    unsigned h = atomic_fetch_add(&hits, 1) + 1;
    if (h != nth) return false;
    if (action == FAULT_KILL) raise(SIGKILL);
    if (action == FAULT_WAIT) {
        /* A test holds this thread here, mid-operation, until it creates the file
         * (at most a minute): what it checks meanwhile sees the work in progress. */
        struct timespec ts = {0, 10000000};
        for (int i = 0; i < 6000 && access(wait_path, F_OK) != 0; i++) nanosleep(&ts, NULL);
        return false;
    }
    return true;
}

unsigned fault_count(void)
{
    return atomic_load(&hits);
}
