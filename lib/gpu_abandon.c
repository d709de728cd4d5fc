/* SPDX-License-Identifier: MIT */
/*
 * gpu_abandon.c - a rank that fails before the exchange of buffers (step 1
 * of ipcfs_gpu_comm_init) says so in its record, and its peers give up at
 * once instead of waiting out the timeout (for ever with -1).
 */
#include <errno.h>

#include "gpu_comm_int.h"

/* A current BUF record; one that says its rank failed ends the wait at
 * once (-ECANCELED), whoever else is still missing. */
int gpu_buf_accept(const struct gpu_record *rec, int rank, void *arg)
{
	struct gpu_buf_accept *ba = arg;
	int rc = gpu_accept_live(rec, rank, ba->m);

	if (rc > 0 && (rec->flags & GPU_F_FAILED)) {
		ba->failed = rank;
		return -ECANCELED;
	}
	return rc;
}

/*
 * A rank that failed before the exchange (step 1) publishes a record that
 * says so, and the peers give up at once; but a record removed before a
 * slow peer read it would leave that peer waiting. So the failed rank
 * keeps it until every peer has answered: a peer that sees it republishes
 * its own record marked abandoned and keeps that until the failed rank's
 * record is gone. (Two ranks failing at once may still wait out the
 * timeout: each keeps its record until it saw the other's answer.)
 */
static int answered(const struct gpu_record *rec, int rank, void *arg)
{
	int rc = gpu_accept_live(rec, rank, arg);
	return rc > 0 ? (rec->flags & (GPU_F_FAILED | GPU_F_ABANDONED)) != 0 : rc;
}

void gpu_wait_peers_saw_failure(struct ipcfs_gpu_comm *c)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];

	gpu_rdv_gather(&c->rdv, c->name, c->world, gpu_all_ranks(c->world) & ~(1ull << c->rank),
		       GPU_REC_BUF, c->gen, c->timeout_ms, answered, c->m, recs);
}

/* This rank saw the failure of the ranks in c->failed_ranks: answer, and
 * keep the answer until their records are gone. */
void gpu_abandon(struct ipcfs_gpu_comm *c, struct gpu_record *mine)
{
	mine->flags |= GPU_F_ABANDONED;
	if (gpu_rdv_publish(&c->rdv, c->name, c->rank, mine))
		return;
	gpu_rdv_wait_gone(&c->rdv, c->name, c->world, c->failed_ranks, GPU_REC_BUF, c->gen,
			  c->timeout_ms, gpu_accept_live, c->m);
}
