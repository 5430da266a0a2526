/* core/fault.h: fault-injection points for crash and error tests.
 * Owns:    one process-wide arming (the only mutable global outside main: a test
 *          facility, like SQLite's SimulateIOError, and inert unless armed).
 * Never:   fires unless a test (or SMFS_FAULT in the environment) armed it; costs
 *          more than one relaxed atomic load when disarmed.
 * Threads: arm before starting the work under test; hits are counted atomically.
 * Sequence: fault_arm("commit.after_trees", 1, FAULT_FAIL) → code under test calls
 *          fault_hit("commit.after_trees") at that step and, on true, fails with -EIO
 *          ("injected fault at …"). FAULT_KILL raises SIGKILL at the hit instead, for
 *          fork-and-kill crash tests. FAULT_WAIT (SMFS_FAULT=name:nth:wait=FILE) holds
 *          the thread at the hit until FILE exists, then goes on as if nothing
 *          happened: a test sees an operation in progress. NAME "*" counts every point: arming ("*", n)
 *          for n = 1, 2, … walks a whole operation one step at a time.
 * Errors:  none; fault_arm_env reports a malformed SMFS_FAULT on stderr and ignores it. */
#ifndef SMFS_FAULT_H
#define SMFS_FAULT_H

#include <stdbool.h>

enum fault_action { FAULT_FAIL = 1, FAULT_KILL = 2, FAULT_WAIT = 3 };

/* Fire at the NTH hit (1-based) of point NAME ("*": of any point). NAME is copied. */
void fault_arm(const char *name, unsigned nth, enum fault_action action);
void fault_disarm(void);

/* SMFS_FAULT=name:nth[:kill|:wait=FILE] arms from the environment (helpers, smctl
 * and smfs call it). */
void fault_arm_env(void);

/* True when this hit is the armed one and the action is FAULT_FAIL (FAULT_KILL does
 * not return). */
bool fault_hit(const char *name);

/* How many points were passed since arming; lets a crash loop know it has walked
 * past the last point of an operation. */
unsigned fault_count(void);

#endif
