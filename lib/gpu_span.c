/* SPDX-License-Identifier: MIT */
/*
 * gpu_span.c - the set-up of a communicator whose ranks span nodes
 * (gpu_nodes.c counts them): NCCL for every call, bootstrapped through the
 * group's messages.
 *
 * Not through the gpu/ records: a `register` reaches this machine's
 * ipcfsd only, each node's daemon keeps its own gpu/ directory, and the
 * bridges carry messages, not records. Nor CUDA IPC: a handle means nothing
 * on another machine, so no buffer is allocated, exported or probed and no
 * handle is sent. The steps, every record sent as its hex text (as the
 * files hold it) to every other rank in one message, which the bridges
 * carry once per remote node:
 *   1. wait until every rank is live (a remote rank: its node's bridge has
 *      joined its proxy here), send this rank's HELLO: device, settings,
 *      NCCL wanted; rank 0's also carries the NCCL id;
 *   2. receive each peer's HELLO and decide (gpu_span_decide): the same
 *      records on every rank, so the same answer on every rank;
 *   3. start NCCL without blocking and poll it; a peer's READY that says
 *      its NCCL failed ends the wait at once;
 *   4. send this rank's READY (GPU_F_NCCL_OK or not), receive each peer's:
 *      NCCL everywhere, or init fails on every rank.
 * Per sender, messages arrive in order and exactly once: each rank takes
 * exactly the two messages each peer sent it, and leaves nothing of the
 * communicator's in the rings. A message of the application pending from
 * a peer would be taken instead: init fails with -EPROTO and says so
 * (ipcfs_gpu_comm_init(3): call it when no message between the ranks is
 * pending, as any collective).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gpu_nccl_int.h"

/* Milliseconds of @timeout_ms left since @start; -1 (no limit) stays. */
static int left_ms(int timeout_ms, uint64_t start)
{
	uint64_t used = gpu_now_ms() - start;

	if (timeout_ms < 0)
		return -1;
	return used >= (uint64_t)timeout_ms ? 0 : (int)((uint64_t)timeout_ms - used);
}

static uint64_t peers_of(const struct ipcfs_gpu_comm *c)
{
	return gpu_all_ranks(c->world) & ~(1ull << c->rank);
}

/* Send @rec to every other rank. */
static int span_send(struct ipcfs_gpu_comm *c, const struct gpu_record *rec, int ms)
{
	char hex[GPU_REC_HEX + 1];
	int rc = gpu_record_encode(rec, hex, sizeof(hex));

	if (rc < 0)
		return gpu_fail(rc, "encoding this rank's set-up record");
	rc = ipcfs_send(c->m, peers_of(c), hex, GPU_REC_HEX, ms);
	if (rc == -EMSGSIZE)
		return gpu_fail(rc, "sending this rank's set-up (%d bytes) to the other ranks: the "
				"group's slot_bytes is smaller and it has no arena", GPU_REC_HEX);
	if (rc < 0)
		return gpu_fail(rc, "sending this rank's set-up to the other ranks: %s",
				strerror(-rc));
	return 0;
}

/* The next message from rank @p into *@out: 1 when it is this
 * communicator's record of @kind, 0 when none came within @ms, < 0 an
 * error (reason set). */
static int span_recv(struct ipcfs_gpu_comm *c, int p, uint32_t kind, int ms,
		     struct gpu_record *out)
{
	char text[GPU_REC_HEX + 1];
	struct ipcfs_msg msg;
	size_t len;
	int rc = ipcfs_recv(c->m, p, &msg, ms);

	if (rc == -EAGAIN || rc == -ETIMEDOUT)
		return 0;
	if (rc == -EPIPE)
		return gpu_fail(rc, "rank %d left or died, or its node went silent, during "
				"ipcfs_gpu_comm_init(\"%s\")", p, c->name);
	if (rc)
		return gpu_fail(rc, "receiving rank %d's set-up: %s", p, strerror(-rc));
	/* Copied once out of shared memory; only the copy is decoded. */
	len = msg.len < sizeof(text) ? msg.len : sizeof(text);
	memcpy(text, msg.data, len);
	ipcfs_release(c->m, &msg);
	if (gpu_record_decode(text, len, out))
		return gpu_fail(-EPROTO, "a message from rank %d that is not a GPU set-up record "
				"arrived during ipcfs_gpu_comm_init(\"%s\"): across nodes, init "
				"exchanges its set-up as messages of the group; call it when no "
				"message between the ranks is pending", p, c->name);
	if (out->kind != kind || out->rank != (uint32_t)p || out->world != (uint32_t)c->world ||
	    out->gen != c->gen)
		return gpu_fail(-EPROTO, "rank %d sent the set-up of another step or communicator "
				"(record kind %u, generation %llu; here %u, %llu): every rank must "
				"init the same communicators in the same order", p, out->kind,
				(unsigned long long)out->gen, kind, (unsigned long long)c->gen);
	return 1;
}

/* Step 1, this rank's HELLO into @mine: 0, or the local failure (reason
 * set; the record then says GPU_F_FAILED, so that the peers stop at once). */
static int span_hello(struct ipcfs_gpu_comm *c, struct gpu_record *mine)
{
	unsigned char uuid[GPU_UUID_BYTES];
	int rc;

	gpu_fill_rec(c, mine, GPU_REC_HELLO);
	gpu_settings_rec(c, mine);
	mine->buf_bytes = c->buf_bytes;
	if ((rc = k->current_device(&c->dev, uuid))) {
		mine->flags = GPU_F_FAILED;
		return gpu_kfail(rc, "the current CUDA device");
	}
	gpu_set_uuid_host(mine, uuid);
	mine->flags = c->set.nccl ? GPU_F_NCCL_WANT : 0;
	if (c->rank == 0 && c->set.nccl) {
		if (k->nccl_unique_id(mine->nccl_id) == 0)
			mine->flags |= GPU_F_HELLO_ID;
		else
			snprintf(c->nccl_why, sizeof(c->nccl_why), "ncclGetUniqueId: %s",
				 k->last_error());
	}
	return 0;
}

/* Receive a record of @kind from every peer not in *@got into @recs. */
static int span_gather(struct ipcfs_gpu_comm *c, uint32_t kind, uint64_t start, uint64_t *got,
		       struct gpu_record *recs)
{
	for (int p = 0; p < c->world; p++) {
		if (p == c->rank || (*got & (1ull << p)))
			continue;
		int n = span_recv(c, p, kind, left_ms(c->timeout_ms, start), &recs[p]);
		if (n < 0)
			return n;
		if (n == 0)
			return gpu_fail(-ETIMEDOUT, "waited %d ms for rank %d's set-up message of "
					"ipcfs_gpu_comm_init(\"%s\")", c->timeout_ms, p, c->name);
		*got |= 1ull << p;
	}
	return 0;
}

/* The rank whose NCCL failed first, as @p's READY @r tells it. */
static int origin_of(const struct ipcfs_gpu_comm *c, int p, const struct gpu_record *r)
{
	return r->probe_off && r->probe_off <= (uint64_t)c->world ? (int)r->probe_off - 1 : p;
}

/* Step 3: start NCCL and poll it until ready (0), failed, past the
 * deadline, or given up by a peer whose READY arrived meanwhile (*@got,
 * @recs). < 0: the reason in c->nccl_why, *@origin the rank whose NCCL
 * failed first; or an error of receiving. */
/* What span_nccl's poll asks between polls. */
struct span_wait {
	uint64_t *got;
	struct gpu_record *recs;
	int *origin;
};

/* The READY records that arrived: one of a rank whose NCCL failed, or
 * that gave up, ends the wait (-ECANCELED). */
static int span_gave_up(struct ipcfs_gpu_comm *c, void *arg)
{
	struct span_wait *w = arg;
	int n;

	for (int p = 0; p < c->world; p++) {
		if (p == c->rank || (*w->got & (1ull << p)))
			continue;
		if ((n = span_recv(c, p, GPU_REC_READY, 0, &w->recs[p])) < 0)
			return n;
		if (!n)
			continue;
		*w->got |= 1ull << p;
		if (!(w->recs[p].flags & GPU_F_NCCL_OK)) {
			*w->origin = origin_of(c, p, &w->recs[p]);
			snprintf(c->nccl_why, sizeof(c->nccl_why),
				 w->recs[p].flags & GPU_F_FAILED
					 ? "rank %d gave up its set-up (its ipcfs_gpu_error() says why)"
					 : "NCCL failed to initialize on rank %d", *w->origin);
			return -ECANCELED;
		}
	}
	return 0;
}

static int span_nccl(struct ipcfs_gpu_comm *c, const unsigned char *id, uint64_t *got,
		     struct gpu_record *recs, int *origin)
{
	struct span_wait w = { .got = got, .recs = recs, .origin = origin };
	int rc, prc;

	if (k->nccl_init_start(&c->nccl, c->world, c->rank, id)) {
		snprintf(c->nccl_why, sizeof(c->nccl_why), "%s", k->last_error());
		c->nccl = NULL;
		return -EIO;
	}
	rc = gpu_nccl_poll_ready(c, span_gave_up, &w, &prc);
	return rc ? rc : prc ? -EIO : 0;
}

/* Steps 3-4 once every rank decided for NCCL. */
static int span_start_nccl(struct ipcfs_gpu_comm *c, const struct gpu_record *hello0)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	uint64_t got = 0;
	int rc, vrc, bad = -1, origin = c->rank;
	bool gave_up = false;

	vrc = span_nccl(c, hello0->nccl_id, &got, recs, &origin);
	/* Our verdict goes out whatever happened, so that no peer waits for
	 * it, naming the rank where the failure began. */
	gpu_fill_rec(c, &mine, GPU_REC_READY);
	mine.flags = vrc ? 0 : GPU_F_NCCL_OK;
	mine.probe_off = vrc ? (uint64_t)origin + 1 : 0;
	rc = span_send(c, &mine, c->timeout_ms);
	if (!rc)
		rc = span_gather(c, GPU_REC_READY, gpu_now_ms(), &got, recs);
	for (int p = 0; p < c->world && bad < 0; p++)
		if (p != c->rank && (got & (1ull << p)) && !(recs[p].flags & GPU_F_NCCL_OK)) {
			bad = origin_of(c, p, &recs[p]);
			gave_up = recs[p].flags & GPU_F_FAILED;
		}
	if (vrc || rc || bad >= 0) {
		c->nccl_failed = c->nccl != NULL;  /* aborted, never destroyed */
		gpu_nccl_close(c);
	}
	if (vrc)
		return gpu_fail(vrc, "the ranks span %d nodes, where only NCCL can all-reduce, and "
				"NCCL did not initialize: %s", c->nodes, c->nccl_why);
	if (rc)
		return rc;
	if (bad >= 0)
		return gpu_fail(-ECANCELED, gave_up ? "the ranks span %d nodes, where only NCCL "
				"can all-reduce, and rank %d gave up its set-up (its "
				"ipcfs_gpu_error() says why)" : "the ranks span %d nodes, where only "
				"NCCL can all-reduce, and NCCL failed to initialize on rank %d (its "
				"ipcfs_gpu_error() says why)", c->nodes, bad);
	return 0;
}

int gpu_span_init(struct ipcfs_gpu_comm *c)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	uint64_t start = gpu_now_ms(), got = 0;
	char why[400];
	int rc, lrc;

	lrc = span_hello(c, &recs[c->rank]);
	rc = ipcfs_wait_ranks(c->m, IPCFS_ALL, c->timeout_ms);
	if (rc)
		return lrc ? lrc : gpu_fail(rc, "waited %d ms for every rank of the group to join "
					    "(the ranks of other nodes join here through this "
					    "node's bridge)", c->timeout_ms);
	if ((rc = span_send(c, &recs[c->rank], left_ms(c->timeout_ms, start))))
		return lrc ? lrc : rc;
	/* Even a rank that failed takes its peers' HELLOs: nothing of the
	 * communicator's stays in the rings. */
	rc = span_gather(c, GPU_REC_HELLO, start, &got, recs);
	if (rc && !lrc) {
		/* The peers have our HELLO and will wait for our verdict: say
		 * at once that we gave up (best effort). */
		struct gpu_record gone;
		char hex[GPU_REC_HEX + 1];
		gpu_fill_rec(c, &gone, GPU_REC_READY);
		gone.flags = GPU_F_FAILED;
		gone.probe_off = (uint64_t)c->rank + 1;
		if (gpu_record_encode(&gone, hex, sizeof(hex)) > 0)
			ipcfs_send(c->m, peers_of(c), hex, GPU_REC_HEX, 0);
	}
	if (lrc || rc)
		return lrc ? lrc : rc;
	if ((rc = gpu_span_decide(recs, c->world, c->nodes, why, sizeof(why)))) {
		if (c->rank == 0 && rc == -EOPNOTSUPP && c->nccl_why[0])
			return gpu_fail(rc, "%s; here: %s", why, c->nccl_why);
		return gpu_fail(rc, "%s", why);
	}
	return span_start_nccl(c, &recs[0]);
}

int gpu_span_decide(const struct gpu_record *recs, int world, int nodes, char *why,
		    size_t whylen)
{
	const char *only = "where only NCCL can all-reduce";

	for (int p = 0; p < world; p++)
		if (recs[p].flags & GPU_F_FAILED) {
			snprintf(why, whylen, "rank %d failed to set up its communicator (its "
				 "ipcfs_gpu_error() says why)", p);
			return -ECANCELED;
		}
	for (int p = 1; p < world; p++) {
		if (gpu_settings_differ(&recs[p], &recs[0])) {
			snprintf(why, whylen, "rank %d has other settings than rank 0 (algo %s, "
				 "blocks %u, oneshot_max %llu, NCCL above %llu, trap %llu): "
				 "IPCFS_ALGO, IPCFS_GPU_BLOCKS, IPCFS_ONESHOT_MAX, "
				 "IPCFS_NCCL_ABOVE, IPCFS_GPU_TRAP must agree", p,
				 allreduce_plan_algo_name(recs[p].algo), recs[p].blocks,
				 (unsigned long long)recs[p].oneshot_max,
				 (unsigned long long)recs[p].probe_off,
				 (unsigned long long)recs[p].sig_off);
			return -EINVAL;
		}
		if (recs[p].buf_bytes != recs[0].buf_bytes) {
			snprintf(why, whylen, "rank %d has buf_bytes %llu, rank 0 %llu", p,
				 (unsigned long long)recs[p].buf_bytes,
				 (unsigned long long)recs[0].buf_bytes);
			return -EINVAL;
		}
	}
	for (int p = 0; p < world; p++)
		if (!(recs[p].flags & GPU_F_NCCL_WANT)) {
			snprintf(why, whylen, "the ranks span %d nodes, %s, and rank %d disabled NCCL "
				 "(IPCFS_NCCL=0): allow NCCL on every rank", nodes, only, p);
			return -EOPNOTSUPP;
		}
	for (int p = 0; p < world; p++)
		for (int q = 0; q < p; q++)
			if (!memcmp(recs[p].uuid, recs[q].uuid, GPU_UUID_BYTES) &&
			    !strcmp(recs[p].host, recs[q].host)) {
				snprintf(why, whylen, "the ranks span %d nodes, %s, and ranks %d and "
					 "%d share one GPU, which NCCL refuses: give each rank its "
					 "own GPU", nodes, only, q, p);
				return -EOPNOTSUPP;
			}
	if (!(recs[0].flags & GPU_F_HELLO_ID)) {
		snprintf(why, whylen, "the ranks span %d nodes, %s, and NCCL is unavailable on "
			 "rank 0 (it could not create an NCCL id)", nodes, only);
		return -EOPNOTSUPP;
	}
	return 0;
}
