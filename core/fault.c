/* core/fault.c: see fault.h. */
#include "fault.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_bool armed;
static atomic_uint hits;
static unsigned    nth;
static enum fault_action action;
static char        point[64];

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
    char kill[8] = "";
    if (sscanf(v, "%63[^:]:%u:%7s", name, &n, kill) < 2 || n == 0 ||
        (kill[0] && strcmp(kill, "kill") != 0)) {
        fprintf(stderr, "SMFS_FAULT='%s' ignored: expected NAME:NTH[:kill]\n", v);
        return;
    }
    fault_arm(name, n, kill[0] ? FAULT_KILL : FAULT_FAIL);
}

bool fault_hit(const char *name)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return false;
    if (strcmp(point, "*") != 0 && strcmp(point, name) != 0) return false;
    unsigned h = atomic_fetch_add(&hits, 1) + 1;
    if (h != nth) return false;
    if (action == FAULT_KILL) raise(SIGKILL);
    return true;
}

unsigned fault_count(void)
{
    return atomic_load(&hits);
}
