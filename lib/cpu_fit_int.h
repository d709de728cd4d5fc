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
};

/* How many cached verdicts are served before the masks are read again,
 * so that a taskset(1) after joining is noticed. */
#define CPU_FIT_REFRESH 4096u

/* The verdict for the ranks live in @m now: recomputed when the live mask
 * changed or after CPU_FIT_REFRESH uses, else the cached one. Costs one
 * sched_getaffinity per live rank when recomputed, nothing otherwise. */
bool cpu_fit_compete(struct cpu_fit *f, const struct seg_map *m);

#endif
