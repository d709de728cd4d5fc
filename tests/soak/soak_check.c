/* SPDX-License-Identifier: MIT */
/*
 * soak_check.c - the loss check of one group's epoch, from the logs its
 * incarnations left in the shared region (soak.h).
 *
 * A reader is checked if it stayed to the end of the epoch (INC_EXITED)
 * and its log did not overflow; a reader that died or left is excused.
 * For such a reader R and every sender S of another rank, the deliveries
 * R must have had are S's messages whose send returned 0 (SENT_OK), that
 * began after R's join returned (so R was live when they were committed)
 * and that were addressed to every live rank or to a set holding R's
 * rank. Each must appear in R's log exactly once; no delivery may be of a
 * message whose send failed. Order and duplicates were checked by R
 * itself as it received.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs.h"
#include "soak.h"

static int runs_as_sender(const struct soak_inc *s)
{
	int st = atomic_load_explicit(&s->state, memory_order_acquire);
	return st == INC_JOINED || st == INC_LEFT || st == INC_EXITED || st == INC_KILLED ||
	       st == INC_CRASHED;
}

/* Check reader @r against every sender of its group; @got is scratch of
 * SOAK_SENT_CAP bytes per incarnation. */
static unsigned check_reader(struct soak_shared *sh, unsigned ninc, unsigned r, unsigned char *got,
			     uint64_t *checked, uint64_t *required)
{
	const struct soak_inc *R = &sh->inc[r];
	uint32_t nrecv = atomic_load_explicit(&R->nrecv, memory_order_acquire);
	const struct soak_recv *log = soak_recv_log(r);
	unsigned bad = 0;

	for (unsigned s = 0; s < ninc; s++)
		if (sh->inc[s].group == R->group)
			memset(got + (size_t)s * SOAK_SENT_CAP, 0,
			       atomic_load_explicit(&sh->inc[s].nsent, memory_order_acquire));
	for (uint32_t k = 0; k < nrecv; k++) {
		const struct soak_inc *S = &sh->inc[log[k].inc];
		uint32_t ns = atomic_load_explicit(&S->nsent, memory_order_acquire);
		uint64_t seq = log[k].seq;

		(*checked)++;
		if (log[k].inc >= ninc || seq == 0 || seq > ns) {
			if (bad++ < 5)
				printf("soak: VIOLATION group %d: inc %u received inc %u seq %llu that was never sent\n",
				       R->group, r, log[k].inc, (unsigned long long)seq);
			continue;
		}
		if (atomic_load_explicit(&soak_sent_log(log[k].inc)[seq - 1].status,
					 memory_order_acquire) == SENT_FAILED && bad++ < 5)
			printf("soak: VIOLATION group %d: inc %u received inc %u seq %llu whose send failed\n",
			       R->group, r, log[k].inc, (unsigned long long)seq);
		got[(size_t)log[k].inc * SOAK_SENT_CAP + seq - 1]++;
	}
	for (unsigned s = 0; s < ninc; s++) {
		const struct soak_inc *S = &sh->inc[s];
		uint32_t ns = atomic_load_explicit(&S->nsent, memory_order_acquire);
		const struct soak_sent *sl = soak_sent_log(s);
		unsigned lost = 0, dup = 0;

		if (S->group != R->group || S->rank == R->rank || !runs_as_sender(S))
			continue;
		for (uint32_t k = 0; k < ns; k++) {
			unsigned char n = got[(size_t)s * SOAK_SENT_CAP + k];
			int st = atomic_load_explicit(&sl[k].status, memory_order_acquire);

			dup += n > 1;
			if (st != SENT_OK || sl[k].t_start <= R->t_join_done ||
			    (sl[k].dest != IPCFS_ALL && !(sl[k].dest & IPCFS_RANK_BIT(R->rank))))
				continue;
			(*required)++;
			if (n == 0 && lost++ < 3)
				printf("soak: VIOLATION group %d: inc %u (rank %d) never received inc %u (rank %d) seq %u (%u bytes to %#llx, sent %.3f s after the reader joined)\n",
				       R->group, r, R->rank, s, S->rank, k + 1, sl[k].len,
				       (unsigned long long)sl[k].dest,
				       (sl[k].t_start - R->t_join_done) / 1e9);
		}
		if (lost || dup)
			printf("soak: VIOLATION group %d: reader inc %u from sender inc %u: %u lost, %u duplicated\n",
			       R->group, r, s, lost, dup);
		bad += lost + dup;
	}
	return bad;
}

unsigned soak_check_group(struct soak_shared *sh, unsigned ninc, int g, uint64_t *checked,
			  uint64_t *required)
{
	unsigned char *got = malloc((size_t)ninc * SOAK_SENT_CAP + 1);
	unsigned bad = 0;

	if (!got) {
		printf("soak: out of memory for the check\n");
		return 1;
	}
	for (unsigned r = 0; r < ninc; r++) {
		const struct soak_inc *R = &sh->inc[r];
		if (R->group != g || atomic_load_explicit(&R->state, memory_order_acquire) != INC_EXITED ||
		    atomic_load_explicit(&R->log_full, memory_order_relaxed))
			continue;
		bad += check_reader(sh, ninc, r, got, checked, required);
	}
	free(got);
	return bad;
}
