/* SPDX-License-Identifier: MIT */
/*
 * gpu_peers.c - step 4 of the communicator's set-up: the peers' buffers
 * (CUDA IPC) and whether the custom kernels can use them, and the grid
 * limit that lets every rank's blocks be resident at once.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gpu_comm_int.h"

/* The grid limit from the records: every rank's block b must be resident
 * at once, so the ranks sharing a device share its capacity; the same
 * answer on every rank. 0: the kernels cannot be used. */
unsigned gpu_coresident_blocks(const struct ipcfs_gpu_comm *c, const struct gpu_record *recs)
{
	uint64_t limit = c->set.blocks ? c->set.blocks : IPCFS_K_DEFAULT_BLOCKS;

	for (int p = 0; p < c->world; p++) {
		uint64_t share = 0;
		for (int q = 0; q < c->world; q++)
			share += !memcmp(recs[p].uuid, recs[q].uuid, GPU_UUID_BYTES) &&
				 !strcmp(recs[p].host, recs[q].host);
		if (recs[p].oneshot_max / share < limit)
			limit = recs[p].oneshot_max / share;
	}
	return (unsigned)limit;
}

/* Step 4 for peer @p. 0 and *ok, or *ok = 0 with the reason in @why. */
static void open_peer(struct ipcfs_gpu_comm *c, int p, const struct gpu_record *rec, int *ok,
		      char *why, size_t whylen)
{
	int pdev, can = 0, rc;
	void *base;

	if (rec->pid == (uint32_t)getpid()) {
		snprintf(why, whylen, "rank %d is in this process (CUDA IPC needs another)", p);
		*ok = 0;
		return;
	}
	rc = k->device_by_uuid(rec->uuid, &pdev);
	if (rc == 0 && pdev != c->dev) {
		rc = k->can_access_peer(c->dev, pdev, &can);
		if (rc == 0 && !can) {
			snprintf(why, whylen, "device %d cannot access device %d of rank %d", c->dev,
				 pdev, p);
			*ok = 0;
			return;
		}
		/* Over PCIe the custom kernels lose to NCCL beyond 2 ranks
		 * (vLLM's finding too): they need every pair linked by NVLink,
		 * told by native atomics. Each rank checks its row; step 6
		 * combines the verdicts into the full matrix. */
		if (rc == 0 && c->world > 2 && !k->p2p_native_atomics(c->dev, pdev, &can) && !can) {
			snprintf(why, whylen, "device %d and device %d of rank %d are not linked by "
				 "NVLink (no native atomics): NCCL is faster for %d ranks", c->dev,
				 pdev, p, c->world);
			*ok = 0;
			return;
		}
	}
	/* A device not visible here may still be reachable: the probe decides. */
	if ((rc = k->ipc_open(rec->handle, &base))) {
		snprintf(why, whylen, "opening rank %d's buffer: %s", p, k->last_error());
		*ok = 0;
		return;
	}
	c->opened[p] = base;
	c->bufs[p] = (char *)base + rec->buf_off;
	c->sigs[p] = (struct ipcfs_k_signal *)((char *)base + rec->sig_off);
	uint64_t *probe = (uint64_t *)((char *)base + rec->probe_off) + c->rank;
	rc = k->peer_probe(probe, c->gen << 8 | (uint64_t)c->rank | 0x1000000000000ull, &can);
	if (rc || !can) {
		snprintf(why, whylen, "write and read back through rank %d's buffer: %s", p,
			 rc ? k->last_error() : "wrong value read back");
		*ok = 0;
	}
}

/* Step 4: the peers' buffers, on one host only. Failures are a verdict
 * (*ok = 0, reason in @why), not an error. */
void gpu_open_peers(struct ipcfs_gpu_comm *c, const struct gpu_record *recs, int *ok,
			    char *why, size_t whylen)
{
	bool ipc_all = true;

	*ok = 0;
	for (int p = 0; p < c->world; p++)
		ipc_all &= (recs[p].flags & GPU_F_IPC) != 0;
	if (!c->alloc || !ipc_all) {
		snprintf(why, whylen, c->world < ALLREDUCE_MIN_RANKS || c->world > ALLREDUCE_MAX_RANKS ?
			 "the custom kernels need 2..8 ranks" : "no registered buffer");
		return;
	}
	if (c->nodes != 1) {
		snprintf(why, whylen, "the ranks span more than one host");
		return;
	}
	if (!c->blocks) {
		snprintf(why, whylen, "the ranks sharing a device cannot all be resident on it");
		return;
	}
	*ok = 1;
	for (int p = 0; *ok && p < c->world; p++)
		if (p != c->rank)
			open_peer(c, p, &recs[p], ok, why, whylen);
	c->bufs[c->rank] = (char *)c->alloc + c->buf_off;
	c->sigs[c->rank] = (struct ipcfs_k_signal *)((char *)c->alloc + c->sig_off);
	c->ipc = *ok;
}
