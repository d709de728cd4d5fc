/* SPDX-License-Identifier: MIT */
/*
 * cpu_fit_int.h - do a group's live ranks compete for CPUs?
 *
 * A waiter spins with `pause` only when the rank it waits for can run at
 * the same time on another CPU; otherwise each spin round must yield, or
 * the waiter burns the time slice the other rank needs. Whether they can
 * is a property of where the group's ranks may run, not of one process's
 * affinity mask: two ranks pinned to CPUs 0 and 1 never compete, two
 * pinned to CPU 0 always do, three unpinned ranks on two CPUs do.
 *
 * The verdict: the live ranks compete when they cannot each be given a
 * CPU of their own inside their affinity masks (no perfect bipartite
 * matching of ranks to CPUs). Masks are read with sched_getaffinity(2) on
 * the pids in the ranks' owner words; a pid that cannot be read (another
 * PID namespace, gone) counts as allowed on every CPU, which only errs
 * towards spinning for the spin window. Internal to libipcfs.
 */
#ifndef IPCFS_CPU_FIT_INT_H
#define IPCFS_CPU_FIT_INT_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "segment_int.h"

/* Whether @n ranks, rank i allowed on the CPUs of @sets[i], cannot each
 * run on a CPU of its own. Pure; @n <= IPCFS_MAX_RANKS + 1. */
bool cpu_sets_compete(const cpu_set_t *sets, unsigned n);

/* A cached verdict for one process's view of a group. Not shared: it
 * lives in the process's own struct chan. */
struct cpu_fit {
	uint64_t live;  /* the live mask the verdict was computed for */
	uint32_t uses;  /* verdicts served since it was computed */
	bool valid;
	bool compete;
	/* The CPUs each live rank (by index) may run on, as read then. */
	cpu_set_t sets[IPCFS_MAX_RANKS];
};

/* How many cached verdicts are served before the masks are read again,
 * so that a taskset(1) after joining is noticed. */
#define CPU_FIT_REFRESH 4096u

/* The verdict for the ranks live in @m now: recomputed when the live mask
 * changed or after CPU_FIT_REFRESH uses, else the cached one. Costs one
 * sched_getaffinity per live rank when recomputed, nothing otherwise. */
bool cpu_fit_compete(struct cpu_fit *f, const struct seg_map *m);

/* Whether ranks @a and @b (live when the verdict was last computed) can
 * never run on the same CPU: their affinity masks are disjoint. A paced
 * receiver spins for the next message only then; otherwise the waking
 * sender may be placed on the CPU it spins on. */
bool cpu_fit_apart(const struct cpu_fit *f, unsigned a, unsigned b);

/*
 * Whether receiver @me may spin for sender @s's next message (a paced
 * plan), by the verdict cached by the last cpu_fit_compete(): when they
 * are apart; when the live ranks do not compete (each has a CPU of its
 * own, so the scheduler wakes the sender on an idle CPU, not on ours);
 * and, when they compete, only when the sender last waited on a CPU
 * (@s_cpu, seg_rank.cpu) other than ours (@my_cpu), both known: it wakes
 * where it slept, and a competing waiter's spin yields in every round.
 */
bool cpu_fit_may_spin(const struct cpu_fit *f, unsigned me, unsigned s, uint32_t s_cpu,
		      uint32_t my_cpu);

#endif
