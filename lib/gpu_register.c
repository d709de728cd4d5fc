/* SPDX-License-Identifier: MIT */
/*
 * gpu_register.c - user buffers registered with the GPU communicator, and
 * the two-round protocol that every registration (user buffers here, graph
 * batches in gpu_graph.c) goes through.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpu_comm_int.h"

/*
 * Registrations (user buffers, graph batches) take two rounds on one record
 * per rank: round 1 publishes what the peers need, round 2 republishes it
 * marked done, with the rank's verdict; a rank uses the result only when
 * every rank's round-2 record says it worked, so no rank goes on with a
 * registration that a peer dropped. The attempt number, in oneshot_max
 * (unused by these kinds), tells a record of this attempt from one left by
 * an earlier, failed one.
 */
int gpu_round_accept(const struct gpu_record *rec, int rank, void *arg)
{
	const struct gpu_round *ra = arg;

	if (rec->oneshot_max != ra->attempt || (rec->flags & ra->need) != ra->need)
		return 0;
	return gpu_accept_live(rec, rank, ra->m);
}

/* Round 2: republish @mine done, and OK when this rank's own part worked
 * (@self_ok; a peer's failure in round 1 every rank has seen already), then
 * gather every rank's. 0 with *@bad as given when it names a rank (>= 0),
 * else the first rank whose part failed, or -1; or an error of the exchange
 * (reason set). */
int gpu_round_two(struct ipcfs_gpu_comm *c, const char *sub, struct gpu_record *mine,
		  bool self_ok, struct gpu_round *ra, int *bad)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	int rc;

	mine->flags = (self_ok ? GPU_F_REG_OK : 0) | GPU_F_REG_DONE;
	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, mine))) {
		gpu_err_set("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		return rc;
	}
	ra->need = GPU_F_REG_DONE;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, gpu_all_ranks(c->world), mine->kind, c->gen,
			    c->timeout_ms, gpu_round_accept, ra, recs);
	if (rc) {
		gpu_err_set("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		return rc;
	}
	for (int p = 0; *bad < 0 && p < c->world; p++)
		if (!(recs[p].flags & GPU_F_REG_OK))
			*bad = p;
	return 0;
}

/* Round 1 of user buffer @u: this rank's record (@err: its own export
 * failed), then every rank's, opened. 0 with *@bad set to a failed rank,
 * or *@err set; < 0 for a failed exchange (reason set). */
static int user_round_one(struct ipcfs_gpu_comm *c, struct gpu_user *u, void *ptr, size_t bytes,
			  const char *sub, struct gpu_record *mine, struct gpu_round *ra,
			  int *err, int *bad)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	int rc;

	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, mine))) {
		gpu_err_set("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		return rc;
	}
	c->user_names = c->nuser + 1;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, gpu_all_ranks(c->world), GPU_REC_USER, c->gen,
			    c->timeout_ms, gpu_round_accept, ra, recs);
	if (rc) {
		gpu_err_set("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		return rc;
	}
	for (int p = 0; !*err && p < c->world; p++) {
		if (!(recs[p].flags & GPU_F_REG_OK)) {
			*bad = p;
			break;
		}
		if (recs[p].buf_bytes != bytes) {
			gpu_err_set("rank %d registered %llu bytes, this rank %zu", p,
				    (unsigned long long)recs[p].buf_bytes, bytes);
			*err = -EINVAL;
		} else if (p == c->rank) {
			u->bufs[p] = ptr;
		} else if ((*err = k->ipc_open(recs[p].handle, &u->opened[p])) == 0) {
			u->bufs[p] = (char *)u->opened[p] + recs[p].buf_off;
		} else {
			gpu_kfail(*err, "opening a peer's registered buffer");
		}
	}
	return 0;
}

static int register_check(struct ipcfs_gpu_comm *c, const void *ptr, size_t bytes)
{
	if (!c || !ptr || !bytes || bytes % ALLREDUCE_VEC_BYTES || ((uintptr_t)ptr & 15)) {
		gpu_err_set("ipcfs_gpu_register: a 16-byte aligned buffer of a multiple of 16 "
			    "bytes");
		return -EINVAL;
	}
	if (!c->peer_access) {
		gpu_err_set("ipcfs_gpu_register: the custom kernels are not used (no peer "
			    "access): nothing to register");
		return -EOPNOTSUPP;
	}
	if (c->nuser == GPU_MAX_USER) {
		gpu_err_set("ipcfs_gpu_register: at most %d buffers", GPU_MAX_USER);
		return -ENOSPC;
	}
	return 0;
}

API int ipcfs_gpu_register(struct ipcfs_gpu_comm *c, void *ptr, size_t bytes)
{
	struct gpu_record mine;
	struct gpu_round ra;
	char sub[GPU_NAME_MAX + 16];
	struct gpu_user *u;
	uint64_t off = 0;
	int rc, err = 0, bad = -1;

	if ((rc = register_check(c, ptr, bytes)))
		return rc;
	u = &c->user[c->nuser];
	memset(u, 0, sizeof(*u));
	ra = (struct gpu_round){ c->m, ++c->user_attempts, 0 };
	gpu_fill_rec(c, &mine, GPU_REC_USER);
	mine.oneshot_max = ra.attempt;
	mine.buf_bytes = bytes;
	/* A local failure still takes part (with a record that says so), so
	 * that the peers fail at once instead of waiting out the timeout. */
	err = k->ipc_export(ptr, mine.handle, &off);
	if (err) {
		gpu_kfail(err, "ipcfs_gpu_register: exporting the buffer");
	} else if (off % ALLREDUCE_VEC_BYTES) {
		gpu_err_set("ipcfs_gpu_register: offset in its allocation not aligned");
		err = -EINVAL;
	}
	mine.buf_off = err ? 0 : off;
	mine.flags = err ? 0 : GPU_F_REG_OK;
	snprintf(sub, sizeof(sub), "%s.u%d", c->name, c->nuser);
	if ((rc = user_round_one(c, u, ptr, bytes, sub, &mine, &ra, &err, &bad)))
		return rc;
	rc = gpu_round_two(c, sub, &mine, !err, &ra, &bad);
	if (!rc && err)
		bad = c->rank;
	if (!rc && bad >= 0) {
		if (bad != c->rank)
			gpu_err_set("ipcfs_gpu_register: rank %d failed to register its buffer (its "
				    "ipcfs_gpu_error() says why)", bad);
		rc = err ? err : -EINVAL;
	}
	if (rc) {
		/* The record stays (marked failed) until destroy: a slower
		 * peer may still be reading it. */
		for (int p = 0; p < c->world; p++)
			if (u->opened[p])
				k->ipc_close(u->opened[p]);
		return rc;
	}
	u->local = ptr;
	u->bytes = bytes;
	c->nuser++;
	return 0;
}

void gpu_user_close(struct ipcfs_gpu_comm *c)
{
	for (int u = 0; u < c->nuser; u++)
		for (int r = 0; r < IPCFS_K_MAX_RANKS; r++) {
			if (c->user[u].opened[r])
				k->ipc_close(c->user[u].opened[r]);
			c->user[u].opened[r] = NULL;
		}
}
