/* SPDX-License-Identifier: MIT */
/* cpu_fit.c - do a group's live ranks compete for CPUs? (cpu_fit_int.h) */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "cpu_fit_int.h"

struct matching {
	const cpu_set_t *sets;
	int owner[CPU_SETSIZE];     /* rank holding each CPU, -1: free */
	bool seen[CPU_SETSIZE];     /* CPUs visited by this augmentation */
};

/* Kuhn's augmenting path: find a CPU for rank @r, moving ranks already
 * placed to other CPUs of theirs when needed. Depth is bounded by the
 * number of ranks (each level places a different rank). */
static bool place(struct matching *mt, unsigned r)
{
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &mt->sets[r]) || mt->seen[c])
			continue;
		mt->seen[c] = true;
		if (mt->owner[c] < 0 || place(mt, (unsigned)mt->owner[c])) {
			mt->owner[c] = (int)r;
			return true;
		}
	}
	return false;
}

bool cpu_sets_compete(const cpu_set_t *sets, unsigned n)
{
	cpu_set_t all;

	/* Fewer CPUs between them than ranks: no need to search. */
	CPU_ZERO(&all);
	for (unsigned r = 0; r < n; r++)
		CPU_OR(&all, &all, &sets[r]);
	if ((unsigned)CPU_COUNT(&all) < n)
		return true;

	static _Thread_local struct matching mt;
	mt.sets = sets;
	memset(mt.owner, -1, sizeof(mt.owner));
	for (unsigned r = 0; r < n; r++) {
		memset(mt.seen, 0, sizeof(mt.seen));
		if (!place(&mt, r))
			return true;
	}
	return false;
}

/* The CPUs process @pid may run on; every online CPU when that cannot be
 * read (pid from another PID namespace, gone, or not a pid at all: the
 * word comes from shared memory and is only used here as a hint). */
static void mask_of(pid_t pid, cpu_set_t *set)
{
	if (pid > 0 && sched_getaffinity(pid, sizeof(*set), set) == 0 && CPU_COUNT(set) > 0)
		return;
	CPU_ZERO(set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	for (long c = 0; c < n && c < CPU_SETSIZE; c++)
		CPU_SET((int)c, set);
}

bool cpu_fit_compete(struct cpu_fit *f, const struct seg_map *m)
{
	/* Relaxed: the live mask is a hint here; a rank joining or leaving
	 * right now changes the mask again and is seen at the next wait. */
	uint64_t live = atomic_load_explicit(&m->hdr->live, memory_order_relaxed);

	if (f->valid && f->live == live && f->uses < CPU_FIT_REFRESH) {
		f->uses++;
		return f->compete;
	}
	static _Thread_local cpu_set_t sets[IPCFS_MAX_RANKS];
	unsigned n = 0;
	for (unsigned r = 0; r < seg_layout(m)->ranks && r < IPCFS_MAX_RANKS; r++) {
		if (!(live & IPCFS_RANK_BIT(r)))
			continue;
		/* Relaxed: only the pid is used, as a hint (see mask_of). */
		uint64_t owner = atomic_load_explicit(&seg_rank(m, r)->owner, memory_order_relaxed);
		mask_of(SEG_OWNER_PID(owner), &sets[n++]);
	}
	f->live = live;
	f->uses = 0;
	f->valid = true;
	f->compete = cpu_sets_compete(sets, n);
	return f->compete;
}
