/* SPDX-License-Identifier: MIT */
/*
 * gpu_agree.c - step 6 of the communicator's set-up: every rank publishes
 * its verdicts (peer access, NCCL) and settings, and reads everyone's:
 * peer access and NCCL are used only when every rank succeeded, and every
 * rank must have the same settings (-EINVAL).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gpu_comm_int.h"


void gpu_settings_rec(const struct ipcfs_gpu_comm *c, struct gpu_record *r)
{
	r->algo = (uint32_t)c->set.algo;
	r->blocks = c->set.blocks;
	r->oneshot_max = c->set.tuning.oneshot_max[c->world <= ALLREDUCE_MAX_RANKS ? c->world : 0];
	r->probe_off = c->set.nccl_above;
	r->sig_off = c->set.trap;
}

bool gpu_settings_differ(const struct gpu_record *a, const struct gpu_record *b)
{
	return a->algo != b->algo || a->blocks != b->blocks || a->oneshot_max != b->oneshot_max ||
	       a->probe_off != b->probe_off || a->sig_off != b->sig_off;
}

/* Step 6 for one peer's READY record: settings must agree; verdicts. */
static int agree_one(struct ipcfs_gpu_comm *c, int p, const struct gpu_record *r,
		     const struct gpu_record *mine, int *peer_ok, int *nccl_ok, char *why,
		     size_t whylen)
{
	if (gpu_settings_differ(r, mine))
		return gpu_fail(-EINVAL, "rank %d has other settings (algo %s, blocks %u, oneshot_max "
			    "%llu, NCCL above %llu, trap %llu): IPCFS_ALGO, IPCFS_GPU_BLOCKS, "
			    "IPCFS_ONESHOT_MAX, IPCFS_NCCL_ABOVE, IPCFS_GPU_TRAP must agree", p,
			    allreduce_plan_algo_name(r->algo), r->blocks,
			    (unsigned long long)r->oneshot_max, (unsigned long long)r->probe_off,
			    (unsigned long long)r->sig_off);
	if (!(r->flags & GPU_F_PEER_OK)) {
		if (*peer_ok)
			snprintf(why, whylen, "rank %d found no peer access", p);
		*peer_ok = 0;
	}
	if (!(r->flags & GPU_F_NCCL_OK)) {
		if (*nccl_ok)
			snprintf(c->nccl_why, sizeof(c->nccl_why),
				 "NCCL failed to initialize on rank %d", p);
		*nccl_ok = 0;
	}
	return 0;
}

/* Step 6: verdicts and settings of every rank. */
int gpu_agree(struct ipcfs_gpu_comm *c, int *peer_ok, int *nccl_ok, char *why,
		      size_t whylen)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	char sub[GPU_NAME_MAX + 16];
	int rc;

	gpu_fill_rec(c, &mine, GPU_REC_READY);
	mine.flags = (*peer_ok ? GPU_F_PEER_OK : 0) | (*nccl_ok ? GPU_F_NCCL_OK : 0);
	gpu_settings_rec(c, &mine);
	gpu_sub_name(sub, sizeof(sub), c->name, ".ok");
	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, &mine)))
		return gpu_fail(rc, "publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
	c->ready_published = true;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, gpu_all_ranks(c->world), GPU_REC_READY,
			    c->gen, c->timeout_ms, gpu_accept_live, c->m, recs);
	if (rc)
		return gpu_fail(rc, "waiting for gpu/%s/* of every rank: %s", sub, strerror(-rc));
	for (int p = 0; p < c->world; p++)
		if ((rc = agree_one(c, p, &recs[p], &mine, peer_ok, nccl_ok, why, whylen)))
			return rc;
	return 0;
}
