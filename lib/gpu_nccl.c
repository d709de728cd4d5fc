/* SPDX-License-Identifier: MIT */
/*
 * gpu_nccl.c - step 5 of the communicator's set-up: the NCCL fallback.
 *
 * ncclCommInitRank is collective and blocks until every rank has joined:
 * a rank that failed before it (or inside it) would leave its peers there
 * for ever. So NCCL is created without blocking (ncclCommInitRankConfig,
 * blocking = 0) and polled until it is ready, the deadline (the
 * communicator's timeout) passes, or a peer publishes that its NCCL
 * failed: a failing rank goes straight on to step 6 and publishes its
 * READY record without GPU_F_NCCL_OK, which the others see while polling.
 * A communicator given up is aborted, never destroyed (destroy is
 * collective too).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpu_nccl_int.h"

static bool shares_device(const struct ipcfs_gpu_comm *c, const struct gpu_record *recs)
{
	for (int p = 0; p < c->world; p++)
		for (int q = 0; q < p; q++)
			if (!memcmp(recs[p].uuid, recs[q].uuid, GPU_UUID_BYTES) &&
			    !strcmp(recs[p].host, recs[q].host))
				return true;
	return false;
}

/* Rank 0 publishes the id (marked invalid when it could not make one);
 * every rank gathers it into *@id. */
static int exchange_id(struct ipcfs_gpu_comm *c, struct gpu_record *id)
{
	char sub[GPU_NAME_MAX + 16];
	struct gpu_record recs[IPCFS_MAX_RANKS];
	int rc;

	gpu_sub_name(sub, sizeof(sub), c->name, ".nccl");
	if (c->rank == 0) {
		gpu_fill_rec(c, id, GPU_REC_NCCL);
		if (k->nccl_unique_id(id->nccl_id) == 0)
			id->flags = GPU_F_ID_VALID;
		else
			snprintf(c->nccl_why, sizeof(c->nccl_why), "ncclGetUniqueId: %s",
				 k->last_error());
		if ((rc = gpu_rdv_publish(&c->rdv, sub, 0, id))) {
			gpu_err_set("publishing gpu/%s/0: %s", sub, strerror(-rc));
			return rc;
		}
		c->nccl_published = true;
	}
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, 1, GPU_REC_NCCL, c->gen, c->timeout_ms,
			    gpu_accept_live, c->m, recs);
	if (rc) {
		gpu_err_set("waiting for the NCCL id gpu/%s/0: %s", sub, strerror(-rc));
		return rc;
	}
	*id = recs[0];
	return 0;
}

/* The first peer whose READY record says its NCCL failed, or -1. */
static int peer_gave_up(struct ipcfs_gpu_comm *c)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	char sub[GPU_NAME_MAX + 16];

	gpu_sub_name(sub, sizeof(sub), c->name, ".ok");
	for (int p = 0; p < c->world; p++)
		if (p != c->rank &&
		    gpu_rdv_gather(&c->rdv, sub, c->world, 1ull << p, GPU_REC_READY, c->gen, 0,
				   gpu_accept_live, c->m, recs) == 0 &&
		    !(recs[p].flags & GPU_F_NCCL_OK))
			return p;
	return -1;
}

int gpu_nccl_poll_ready(struct ipcfs_gpu_comm *c, int (*gave_up)(struct ipcfs_gpu_comm *c, void *arg),
			void *arg, int *poll_rc)
{
	uint64_t start = gpu_now_ms();
	unsigned us = 200;
	int rc;

	while ((*poll_rc = k->nccl_init_poll(c->nccl)) == -EINPROGRESS) {
		if ((rc = gave_up(c, arg)) < 0)
			return rc;
		if (c->timeout_ms >= 0 && gpu_now_ms() - start >= (uint64_t)c->timeout_ms) {
			snprintf(c->nccl_why, sizeof(c->nccl_why),
				 "NCCL did not initialize within %d ms", c->timeout_ms);
			return -ETIMEDOUT;
		}
		gpu_nap(&us);
	}
	if (*poll_rc)
		snprintf(c->nccl_why, sizeof(c->nccl_why), "%s", k->last_error());
	return 0;
}

/* A peer's READY record says its NCCL failed: -ECANCELED. */
static int record_gave_up(struct ipcfs_gpu_comm *c, void *arg)
{
	int p = peer_gave_up(c);

	(void)arg;
	if (p < 0)
		return 0;
	snprintf(c->nccl_why, sizeof(c->nccl_why), "NCCL failed to initialize on rank %d", p);
	return -ECANCELED;
}

/* Poll c->nccl until ready (0), failed, past the deadline or given up by
 * a peer (< 0, c->nccl_why set). */
static int wait_ready(struct ipcfs_gpu_comm *c)
{
	int prc, rc = gpu_nccl_poll_ready(c, record_gave_up, NULL, &prc);

	return rc ? rc : prc;
}

int gpu_nccl_init(struct ipcfs_gpu_comm *c, const struct gpu_record *recs, int *ok)
{
	struct gpu_record id;
	int rc;

	*ok = 0;
	for (int p = 0; p < c->world; p++)
		if (!(recs[p].flags & GPU_F_NCCL_WANT)) {
			snprintf(c->nccl_why, sizeof(c->nccl_why),
				 "NCCL disabled (IPCFS_NCCL=0 on some rank)");
			return 0;
		}
	if (shares_device(c, recs)) {
		snprintf(c->nccl_why, sizeof(c->nccl_why),
			 "NCCL not initialized: several ranks share one GPU, which NCCL refuses");
		return 0;
	}
	if ((rc = exchange_id(c, &id)))
		return rc;
	if (!(id.flags & GPU_F_ID_VALID)) {
		if (!c->nccl_why[0])
			snprintf(c->nccl_why, sizeof(c->nccl_why), "rank 0 could not create an NCCL id");
		return 0;
	}
	if (k->nccl_init_start(&c->nccl, c->world, c->rank, id.nccl_id)) {
		snprintf(c->nccl_why, sizeof(c->nccl_why), "%s", k->last_error());
		c->nccl = NULL;
		return 0;
	}
	if (wait_ready(c)) {
		c->nccl_failed = true;
		gpu_nccl_close(c);
		return 0;
	}
	*ok = 1;
	return 0;
}

void gpu_nccl_close(struct ipcfs_gpu_comm *c)
{
	if (!c->nccl)
		return;
	if (c->nccl_failed || c->broken)
		k->nccl_abort(c->nccl);
	else
		k->nccl_destroy(c->nccl);
	c->nccl = NULL;
}
