/* SPDX-License-Identifier: MIT */
/*
 * gpu_allreduce.c - one all-reduce call: the choice of algorithm and of
 * where the kernel reads its input, the launch (custom kernels or NCCL),
 * the counters in the group's stat, and the kernels' error record.
 *
 * Every rank must take the same path for the same call, or the kernels'
 * barriers pair different calls: each decision below depends only on the
 * call's arguments every rank shares (count, dtype, the relation of in and
 * out, which buffer is registered) and on what init agreed. The kernels
 * check it too: a descriptor of the call (algorithm, size, dtype, grid,
 * world) is compared at the start barrier, -EPROTO on every rank.
 */
#include <errno.h>
#include <string.h>

#include "gpu_comm_int.h"
#include "member_int.h"
#include "segment_int.h"

static int dtype_of(int dtype)
{
	switch (dtype) {
	case IPCFS_F32: return ALLREDUCE_F32;
	case IPCFS_F16: return ALLREDUCE_F16;
	case IPCFS_BF16: return ALLREDUCE_BF16;
	default: return -1;
	}
}

static struct seg_rank *my_counters(const struct ipcfs_gpu_comm *c)
{
	return seg_rank(member_seg(c->m), (unsigned)c->rank);
}

static const char *code_name(int code)
{
	switch (code) {
	case -ETIMEDOUT: return "timeout";
	case -EPROTO: return "ranks out of step (different calls on different ranks)";
	case -ECANCELED: return "a peer failed";
	case -ECONNRESET: return "a peer's process died";
	default: return "failure";
	}
}

int gpu_poll_err(struct ipcfs_gpu_comm *c)
{
	if (c->broken || !c->err_host)
		return c->broken;
	struct ipcfs_k_error *e = c->err_host;
	/* Acquire, paired with the kernel's release store of the code (E1,
	 * report() in allreduce.cu): the fields written before it are seen. */
	int code = -__atomic_load_n(&e->code, __ATOMIC_ACQUIRE);
	if (!code)
		return 0;
	/* A copy: the kernels of other calls may still write the record
	 * (relaxed: each field whole, diagnostics only). */
	struct ipcfs_k_error r = {
		-code, __atomic_load_n(&e->rank, __ATOMIC_RELAXED),
		__atomic_load_n(&e->peer, __ATOMIC_RELAXED),
		__atomic_load_n(&e->barrier, __ATOMIC_RELAXED),
		__atomic_load_n(&e->block, __ATOMIC_RELAXED), 0,
		__atomic_load_n(&e->call, __ATOMIC_RELAXED)
	};
	c->broken = code;
	seg_count(&my_counters(c)->ar_errors, 1);
	if (code == -ENXIO)
		gpu_err_set("all-reduce kernel: a CUDA graph was launched before "
			    "ipcfs_gpu_register_graph() filled in the buffers of its calls (rank "
			    "%d, call %llu); the communicator must be destroyed", r.rank,
			    (unsigned long long)r.call);
	else
		gpu_err_set("all-reduce kernel: %s (rank %d waited for rank %d at barrier %d of "
			    "call %llu, block %d); every call since has failed on every rank; the "
			    "communicator must be destroyed", code_name(code), r.rank, r.peer,
			    r.barrier, (unsigned long long)r.call, r.block);
	return code;
}

static struct gpu_user *user_of(struct ipcfs_gpu_comm *c, const void *in, size_t bytes)
{
	for (int u = 0; u < c->nuser; u++)
		if (c->user[u].local == in && bytes <= c->user[u].bytes)
			return &c->user[u];
	return NULL;
}

static bool overlap(const void *a, size_t na, const void *b, size_t nb)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

/*
 * Whether @algo may read the input where it is, in a buffer @base of
 * @base_bytes that the peers have opened, writing @out. One-shot: peers
 * read the buffer until the end barrier, so out must lie outside it.
 * Two-shot: the reduce-scatter writes this rank's range into the buffer
 * itself, so only an in-place call (out == base) leaves the caller's input
 * as it expects; an out-of-place one copies the input first.
 */
static bool zero_copy_ok(enum allreduce_algo algo, const void *base, size_t base_bytes,
			 const void *out, size_t bytes)
{
	if (algo == ALLREDUCE_ALGO_ONESHOT)
		return !overlap(out, bytes, base, base_bytes);
	return algo == ALLREDUCE_ALGO_TWOSHOT && out == base;
}

/* How one call runs. */
struct route {
	enum allreduce_algo algo;
	enum allreduce_reason why;
	struct gpu_user *u;   /* a registered buffer holds the input */
	bool graph;           /* captured: the input is read where it is */
};

/* The route of a call; -EINVAL (reason set) for a captured call that no
 * path can take on this rank alone. */
static int choose(struct ipcfs_gpu_comm *c, const void *in, const void *out, size_t count,
		  int d, size_t bytes, void *stream, struct route *r)
{
	struct allreduce_plan_env env = { .world = c->world, .nodes = c->nodes,
					  .peer_access = c->peer_access,
					  .buf_bytes = c->peer_access ? c->buf_bytes : 0 };
	int rc, capturing = 0;

	memset(r, 0, sizeof(*r));
	if (c->peer_access && (r->u = user_of(c, in, bytes))) {
		env.buf_bytes = r->u->bytes;
	} else if (c->graph_tables && bytes) {
		/* Captured into a graph: the input may be read where it is,
		 * whatever its size, once registered after capture. */
		if ((rc = k->stream_capturing(stream, &capturing)))
			return gpu_kfail(rc, "ipcfs_allreduce: stream capture status");
		r->graph = capturing;
		if (capturing)
			env.buf_bytes = SIZE_MAX;
	}
	r->algo = allreduce_plan_choose(&c->set.tuning, &env, c->set.algo, count, d, &r->why);
	if (r->algo != ALLREDUCE_ALGO_NCCL && c->nccl && c->set.algo == ALLREDUCE_ALGO_AUTO &&
	    c->set.nccl_above && bytes > c->set.nccl_above) {
		r->algo = ALLREDUCE_ALGO_NCCL;
		r->why = ALLREDUCE_WHY_LARGE;
	}
	if (r->u && !zero_copy_ok(r->algo, r->u->local, r->u->bytes, out, bytes))
		r->u = NULL;
	if (r->graph && (!zero_copy_ok(r->algo, in, bytes, out, bytes) ||
			 c->graph_used == GPU_GRAPH_CALLS))
		r->graph = false;
	/* An unaligned input is local: it takes the copy path, never another
	 * algorithm; where that does not fit, fail loudly here. */
	if (r->graph && ((uintptr_t)in & 15)) {
		r->graph = false;
		if (bytes > c->buf_bytes) {
			gpu_err_set("ipcfs_allreduce: a captured call's input must be 16-byte "
				    "aligned when it is larger than the communicator's buffer");
			return -EINVAL;
		}
	}
	if (!r->u && !r->graph && r->algo != ALLREDUCE_ALGO_NCCL && bytes > c->buf_bytes) {
		r->algo = ALLREDUCE_ALGO_NCCL;
		r->why = ALLREDUCE_WHY_TOO_BIG;
	}
	return 0;
}

static int run_nccl(struct ipcfs_gpu_comm *c, const void *in, void *out, size_t count, int d,
		    size_t bytes, void *stream, enum allreduce_reason why)
{
	int rc;

	if (!c->nccl) {
		seg_count(&my_counters(c)->ar_errors, 1);
		gpu_err_set("all-reduce needs NCCL (%s) and NCCL is unavailable: %s",
			    allreduce_plan_reason_name(why), c->nccl_why);
		return -EOPNOTSUPP;
	}
	if ((rc = k->nccl_allreduce(c->nccl, in, out, count, d, stream))) {
		seg_count(&my_counters(c)->ar_errors, 1);
		return gpu_kfail(rc, "NCCL all-reduce");
	}
	seg_count(&my_counters(c)->ar_nccl, 1);
	seg_count(&my_counters(c)->ar_bytes, bytes);
	return 0;
}

static void fill_args(const struct ipcfs_gpu_comm *c, const struct route *r, const void *in,
		      void *out, size_t count, int d, size_t bytes, struct ipcfs_k_allreduce_args *a)
{
	memset(a, 0, sizeof(*a));
	a->world = c->world;
	a->rank = c->rank;
	a->dtype = d;
	a->count = count;
	a->out = out;
	a->err = c->err_dev;
	a->timeout_ns = c->set.timeout_ns;
	a->blocks = c->blocks;
	a->flags = c->set.trap ? IPCFS_K_F_TRAP : 0;
	if (r->u) {
		a->in = NULL;  /* already in place */
		a->buf_bytes = r->u->bytes;
		for (int p = 0; p < c->world; p++)
			a->bufs[p] = r->u->bufs[p];
	} else if (r->graph) {
		/* The peers' inputs are filled into this table after capture. */
		a->in = NULL;
		a->buf_bytes = bytes;
		a->bufs[c->rank] = (void *)in;
		a->dev_bufs = c->graph_tables + c->graph_used * IPCFS_K_MAX_RANKS;
	} else {
		a->in = in;
		a->buf_bytes = c->buf_bytes;
		for (int p = 0; p < c->world; p++)
			a->bufs[p] = c->bufs[p];
	}
	for (int p = 0; p < c->world; p++)
		a->sigs[p] = c->sigs[p];
}

static int check_args(struct ipcfs_gpu_comm *c, const void *in, const void *out, size_t count,
		      int d, int op)
{
	if (!c || (count && (!in || !out)) || op != IPCFS_OP_SUM || d < 0) {
		gpu_err_set("ipcfs_allreduce: %s",
			    !c ? "no communicator" : op != IPCFS_OP_SUM ? "only IPCFS_OP_SUM" :
			    d < 0 ? "dtype must be IPCFS_F32, IPCFS_F16 or IPCFS_BF16" :
			    "NULL in or out");
		return -EINVAL;
	}
	if (count > SIZE_MAX / allreduce_plan_dtype_size(d)) {
		gpu_err_set("ipcfs_allreduce: count overflows");
		return -EINVAL;
	}
	return 0;
}

API int ipcfs_allreduce(struct ipcfs_gpu_comm *c, const void *in, void *out, size_t count,
			int dtype, int op, void *stream)
{
	struct ipcfs_k_allreduce_args a;
	struct route r;
	int d = dtype_of(dtype), rc;
	size_t bytes;

	if ((rc = check_args(c, in, out, count, d, op)) || (rc = gpu_poll_err(c)))
		return rc;
	bytes = count * allreduce_plan_dtype_size(d);
	if ((rc = choose(c, in, out, count, d, bytes, stream, &r)))
		return rc;
	if (r.algo == ALLREDUCE_ALGO_NCCL)
		return run_nccl(c, in, out, count, d, bytes, stream, r.why);
	fill_args(c, &r, in, out, count, d, bytes, &a);
	rc = r.algo == ALLREDUCE_ALGO_ONESHOT ? k->allreduce_oneshot(&a, stream)
					      : k->allreduce_twoshot(&a, stream);
	if (rc) {
		seg_count(&my_counters(c)->ar_errors, 1);
		return gpu_kfail(rc, r.algo == ALLREDUCE_ALGO_ONESHOT ? "one-shot all-reduce"
								  : "two-shot all-reduce");
	}
	if (r.graph)
		c->graph_in[c->graph_used++] = in;
	seg_count(r.algo == ALLREDUCE_ALGO_ONESHOT ? &my_counters(c)->ar_oneshot
						   : &my_counters(c)->ar_twoshot, 1);
	seg_count(&my_counters(c)->ar_bytes, bytes);
	return 0;
}

API int ipcfs_gpu_comm_check(struct ipcfs_gpu_comm *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	rc = gpu_poll_err(c);
	if (rc)
		return rc;
	rc = gpu_sync_watched(c);
	if (rc)
		return gpu_kfail(rc, "waiting for the device");
	return gpu_poll_err(c);
}
