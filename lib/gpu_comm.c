/* SPDX-License-Identifier: MIT */
/*
 * gpu_comm.c - set-up and destruction of the GPU communicator.
 *
 * libipcfs never links CUDA: every CUDA call is made by libipcfs_cuda.so
 * through its table of operations (gpu_dl.c). Without it, a driver or a
 * device every entry point returns -ENODEV and ipcfs_gpu_error() says why.
 *
 * Set-up (ipcfs_gpu_comm_init, collective over the group's ranks), one
 * function per step; each returns 0 or -errno with the reason set, and
 * init unwinds once (init_fail):
 *   1. comm_alloc_local: [signal block | probe words | buffer] in one
 *      cudaMalloc on the current device, a host-mapped error record;
 *   2-3. comm_exchange_buffers: publish gpu/NAME/RANK (kind BUF: IPC
 *      handle, offsets, size, device UUID and capacity, pid, host name,
 *      generation; or marked failed when step 1 failed, so that the peers
 *      give up at once), gather every rank's (pid must be the rank's live
 *      owner, generation ours), check them, derive the grid limit;
 *   4. gpu_open_peers (gpu_peers.c): on one host, open every peer's handle and check
 *      peer access (cudaDeviceCanAccessPeer between different devices,
 *      and a kernel that writes a peer's probe word and reads it back);
 *   5. gpu_nccl_init (gpu_nccl.c): NCCL, non-blocking with a deadline,
 *      given up at once when a peer publishes that its NCCL failed;
 *   6. gpu_agree (gpu_agree.c): publish gpu/NAME.ok/RANK (kind READY: verdicts and
 *      settings) and gather all: peer access and NCCL are used only when
 *      every rank succeeded, and every rank must have the same settings.
 * Step 6 is also the barrier after which peers may write our signal block.
 *
 * Destroy: synchronize, close the peers' handles, remove gpu/NAME/RANK,
 * wait until every peer removed its own (so nobody maps our buffer any
 * more), free, remove the other records.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_comm_int.h"
#include "gpu_nccl_int.h"
#include "member_int.h"

/* Generation of a name in this process: every rank inits the same names in
 * the same order, so generations match, and records of an earlier
 * communicator of that name are told apart. */
static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gen_ent {
	struct gen_ent *next;
	uint64_t gen;
	char key[];   /* "DIR/NAME" */
} *gens;

static uint64_t next_gen(const char *dir, const char *name)
{
	struct gen_ent *e;
	uint64_t g = 0;
	size_t len = strlen(dir) + strlen(name) + 2;

	pthread_mutex_lock(&gen_lock);
	for (e = gens; e; e = e->next)
		if (strlen(e->key) + 1 == len && !strncmp(e->key, dir, strlen(dir)) &&
		    e->key[strlen(dir)] == '/' && !strcmp(e->key + strlen(dir) + 1, name))
			break;
	if (!e && (e = calloc(1, sizeof(*e) + len))) {
		snprintf(e->key, len, "%s/%s", dir, name);
		e->next = gens;
		gens = e;
	}
	if (e)
		g = ++e->gen;
	pthread_mutex_unlock(&gen_lock);
	return g ? g : 1;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static void close_peers(struct ipcfs_gpu_comm *c)
{
	gpu_graph_close(c);
	gpu_user_close(c);
	for (int r = 0; r < IPCFS_K_MAX_RANKS; r++) {
		if (c->opened[r])
			k->ipc_close(c->opened[r]);
		c->opened[r] = NULL;
	}
}

/* The records of the later rounds: removed only when every peer has
 * reached its destroy (and so has finished reading them). */
static void unpublish_rounds(struct ipcfs_gpu_comm *c)
{
	char sub[GPU_NAME_MAX + 16];

	for (int u = 0; u < c->user_names; u++) {
		snprintf(sub, sizeof(sub), "%s.u%d", c->name, u);
		gpu_rdv_unpublish(&c->rdv, sub, c->rank);
	}
	for (uint64_t b = 1; b <= c->graph_batch && b <= 2; b++) {
		snprintf(sub, sizeof(sub), "%s.g%d", c->name, (int)(b & 1));
		gpu_rdv_unpublish(&c->rdv, sub, c->rank);
	}
	if (c->ready_published) {
		gpu_sub_name(sub, sizeof(sub), c->name, ".ok");
		gpu_rdv_unpublish(&c->rdv, sub, c->rank);
	}
}

/* Free what init allocated and remove the records it published. */
static void teardown(struct ipcfs_gpu_comm *c, bool barrier)
{
	char sub[GPU_NAME_MAX + 16];

	gpu_sync_watched(c);
	gpu_poll_err(c);  /* a kernel failure not yet seen: NCCL is aborted then */
	close_peers(c);
	gpu_nccl_close(c);
	if (c->failed_published)
		gpu_wait_peers_saw_failure(c);
	if (c->published)
		gpu_rdv_unpublish(&c->rdv, c->name, c->rank);
	if (c->nccl_published) {
		gpu_sub_name(sub, sizeof(sub), c->name, ".nccl");
		gpu_rdv_unpublish(&c->rdv, sub, 0);
	}
	/* Nobody may still map our buffer when it is freed. A peer that is
	 * still live after the timeout may map it still: leak it then. */
	if (barrier && c->alloc &&
	    gpu_rdv_wait_gone(&c->rdv, c->name, c->world, ~(1ull << c->rank | c->failed_ranks),
			      GPU_REC_BUF, c->gen, c->timeout_ms, gpu_accept_live,
			      c->m) == -ETIMEDOUT)
		c->alloc = NULL;
	if (c->alloc)
		k->buf_free(c->alloc);
	if (c->graph_tables)
		k->buf_free(c->graph_tables);
	free(c->graph_in);
	free(c->imports);
	if (c->err_host)
		k->host_free(c->err_host);
	unpublish_rounds(c);
}

static int init_fail(struct ipcfs_gpu_comm *c, int rc)
{
	char why[256];

	/* Once published, a peer may have opened our buffer: wait until every
	 * peer has given up too (and closed it) before freeing it. */
	snprintf(why, sizeof(why), "%s", ipcfs_gpu_error());
	teardown(c, c->published);
	free(c);
	gpu_err_set("%s", why);
	return rc;
}


/* Step 1: this rank's buffer, signal block and error record, described in
 * @mine (its BUF record). */
static int comm_alloc_local(struct ipcfs_gpu_comm *c, struct gpu_record *mine)
{
	unsigned char uuid[GPU_UUID_BYTES];
	unsigned cap = 0;
	uint64_t off = 0;
	int rc;

	gpu_fill_rec(c, mine, GPU_REC_BUF);
	if ((rc = k->current_device(&c->dev, uuid)))
		return gpu_kfail(rc, "the current CUDA device");
	gpu_set_uuid_host(mine, uuid);
	mine->buf_bytes = c->buf_bytes;
	mine->flags = c->set.nccl ? GPU_F_NCCL_WANT : 0;
	if ((rc = k->host_alloc_mapped(sizeof(struct ipcfs_k_error), (void **)&c->err_host,
				       (void **)&c->err_dev)))
		return gpu_kfail(rc, "error record");
	if (c->world < ALLREDUCE_MIN_RANKS || c->world > ALLREDUCE_MAX_RANKS || !c->buf_bytes)
		return 0;
	if ((rc = k->max_coresident_blocks(c->dev, &cap)))
		return gpu_kfail(rc, "the device's capacity");
	mine->oneshot_max = cap;
	c->sig_off = 0;
	c->probe_off = round_up(sizeof(struct ipcfs_k_signal), 256);
	c->buf_off = round_up(c->probe_off + 8 * IPCFS_K_MAX_RANKS, 256);
	if ((rc = k->buf_alloc(c->buf_off + c->buf_bytes, &c->alloc)))
		return gpu_fail(rc, "allocating %zu bytes on device %d: %s",
			    (size_t)(c->buf_off + c->buf_bytes), c->dev, k->last_error());
	if ((rc = k->ipc_export(c->alloc, mine->handle, &off)))
		return gpu_kfail(rc, "exporting the buffer");
	mine->flags |= GPU_F_IPC;
	mine->buf_off = c->buf_off + off;
	mine->sig_off = c->sig_off + off;
	mine->probe_off = c->probe_off + off;
	return 0;
}

/* Steps 2-3: publish @mine (marked failed when @local_rc), gather every
 * rank's record into @recs and check them. */
static int comm_exchange_buffers(struct ipcfs_gpu_comm *c, struct gpu_record *mine,
				 int local_rc, struct gpu_record *recs)
{
	int rc;

	if (local_rc)
		mine->flags = GPU_F_FAILED;
	if ((rc = gpu_rdv_publish(&c->rdv, c->name, c->rank, mine)))
		return local_rc ? local_rc : gpu_fail(rc, "publishing gpu/%s/%d: %s", c->name, c->rank,
						  strerror(-rc));
	c->published = true;
	c->failed_published = local_rc != 0;
	if (local_rc)
		return local_rc;  /* the reason is set; the peers give up at once */
	struct gpu_buf_accept ba = { c->m, -1 };
	rc = gpu_rdv_gather(&c->rdv, c->name, c->world, gpu_all_ranks(c->world), GPU_REC_BUF,
			    c->gen, c->timeout_ms, gpu_buf_accept, &ba, recs);
	if (rc == -ECANCELED) {
		c->failed_ranks |= 1ull << ba.failed;  /* it opened nothing of ours */
		gpu_abandon(c, mine);
		return gpu_fail(rc, "rank %d failed to set up its communicator (its "
			    "ipcfs_gpu_error() says why)", ba.failed);
	}
	if (rc == -ETIMEDOUT)
		return gpu_fail(rc, "waited %d ms for the records gpu/%s/* of every rank",
			    c->timeout_ms, c->name);
	if (rc)
		return gpu_fail(rc, "reading gpu/%s/*: %s", c->name, strerror(-rc));
	for (int p = 0; p < c->world; p++) {
		if (recs[p].buf_bytes != c->buf_bytes)
			return gpu_fail(-EINVAL, "rank %d has buf_bytes %llu, this rank %zu", p,
				    (unsigned long long)recs[p].buf_bytes, c->buf_bytes);
		if (strcmp(recs[p].host, mine->host))
			c->nodes = 2;
		if (p < IPCFS_K_MAX_RANKS)
			c->pids[p] = recs[p].pid;
	}
	c->blocks = gpu_coresident_blocks(c, recs);
	return 0;
}

/* What the kernels need, before agreement: a failure here is this rank's
 * verdict (no custom kernels anywhere), never a rank that fails init after
 * its peers agreed to use them. */
static void comm_prepare_kernels(struct ipcfs_gpu_comm *c, int *peer_ok, char *why,
				 size_t whylen)
{
	int rc;

	if (!*peer_ok)
		return;
	/* Lazy loading would load a kernel at its first launch, which may
	 * wait for a peer's kernel that spins for it: load them all now. */
	if ((rc = k->preload())) {
		snprintf(why, whylen, "loading the all-reduce kernels: %s", k->last_error());
		*peer_ok = 0;
		return;
	}
	rc = k->buf_alloc(GPU_GRAPH_CALLS * IPCFS_K_MAX_RANKS * sizeof(void *),
			  (void **)&c->graph_tables);
	c->graph_in = calloc(GPU_GRAPH_CALLS, sizeof(*c->graph_in));
	if (rc || !c->graph_in) {
		snprintf(why, whylen, "tables of graph buffers: %s",
			 rc ? k->last_error() : strerror(ENOMEM));
		*peer_ok = 0;
	}
}

/* After agreement: drop what will not be used. */
static void comm_finish(struct ipcfs_gpu_comm *c, int peer_ok, int nccl_ok)
{
	c->peer_access = peer_ok;
	if (!nccl_ok) {
		c->nccl_failed = c->nccl != NULL;
		gpu_nccl_close(c);
	}
	if (!peer_ok) {
		close_peers(c);  /* the kernels will not be used */
		if (c->graph_tables)
			k->buf_free(c->graph_tables);
		c->graph_tables = NULL;
		free(c->graph_in);
		c->graph_in = NULL;
	}
}

static int comm_new(struct ipcfs_member *m, const char *name, size_t buf_bytes, int timeout_ms,
		    struct ipcfs_gpu_comm **out)
{
	struct ipcfs_gpu_comm *c = calloc(1, sizeof(*c));
	const char *dir = member_dir(m);
	int rc;

	if (!c)
		return -ENOMEM;
	c->m = m;
	strcpy(c->name, name);
	c->world = ipcfs_size(m);
	c->rank = ipcfs_rank(m);
	c->buf_bytes = buf_bytes;
	c->timeout_ms = timeout_ms;
	c->nodes = 1;
	rc = gpu_rdv_init(&c->rdv, dir);
	if (!rc)
		rc = gpu_settings_load(dir, c->rdv.mounted, &c->set);
	if (!rc && (rc = gpu_nodes_read(&c->rdv, c->world, &c->nodes)))
		rc = gpu_fail(rc, "reading the group's nodes file: %s",
			      rc == -EBADMSG ? "malformed" : strerror(-rc));
	if (rc) {
		free(c);
		return rc;  /* the reason is set */
	}
	c->gen = next_gen(dir, name);
	*out = c;
	return 0;
}

API int ipcfs_gpu_comm_init(struct ipcfs_member *m, const char *name, size_t buf_bytes,
			    int timeout_ms, struct ipcfs_gpu_comm **out)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	char why[256] = "";
	struct ipcfs_gpu_comm *c;
	int rc, peer_ok = 0, nccl_ok = 0;

	gpu_err_set("%s", "");
	if (!m || !out || gpu_name_check(name) || buf_bytes % ALLREDUCE_VEC_BYTES ||
	    timeout_ms < -1)
		return gpu_fail(-EINVAL, "ipcfs_gpu_comm_init: invalid argument (name: [A-Za-z0-9_.-], "
			    "1..%d; buf_bytes a multiple of 16)", GPU_NAME_MAX);
	*out = NULL;
	if ((rc = gpu_load()) || (rc = comm_new(m, name, buf_bytes, timeout_ms, &c)))
		return rc;
	/* Across nodes CUDA IPC handles mean nothing: NCCL only, and no IPC
	 * step at all (no buffer exported, no peer probed). */
	if (c->nodes > 1) {
		if ((rc = gpu_span_init(c)))
			return init_fail(c, rc);
		*out = c;
		gpu_err_set("the ranks span %d nodes: every call goes to NCCL", c->nodes);
		return 0;
	}
	rc = comm_alloc_local(c, &mine);
	if ((rc = comm_exchange_buffers(c, &mine, rc, recs)))
		return init_fail(c, rc);
	gpu_open_peers(c, recs, &peer_ok, why, sizeof(why));
	comm_prepare_kernels(c, &peer_ok, why, sizeof(why));
	if ((rc = gpu_nccl_init(c, recs, &nccl_ok)) ||
	    (rc = gpu_agree(c, &peer_ok, &nccl_ok, why, sizeof(why))))
		return init_fail(c, rc);
	comm_finish(c, peer_ok, nccl_ok);
	*out = c;
	gpu_err_set("%s", why);  /* informative: why no custom kernels */
	return 0;
}

API int ipcfs_gpu_comm_destroy(struct ipcfs_gpu_comm *c)
{
	if (!c)
		return 0;
	teardown(c, true);
	free(c);
	return 0;
}
