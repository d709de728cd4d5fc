/* SPDX-License-Identifier: MIT */
/*
 * emu_stream.c - the emulator's stream, kernels, graph capture and the
 * device's capacity.
 *
 * Stream. One per process, asynchronous like a CUDA stream: a launch
 * checks its arguments and returns once queued; a worker thread runs the
 * queue in order (copy-in, then the kernel; NCCL calls too).
 * stream_sync/device_sync wait until it is empty. So a rank can have
 * several calls queued while its first one still waits for a peer, as on
 * a GPU.
 *
 * Kernels: block by block, with the kernels' protocol (allreduce.cu): the
 * flag words (values 4c+k, alternating sets), per-block call counters, the
 * call descriptor at the start barrier, the abort word checked on entry,
 * while spinning and after the last barrier and set in every rank's
 * signal block by a failing block, the error record. Sums in rank order
 * with fp32 accumulation, so results equal the CPU reference bit for bit.
 *
 * Co-residency. Every block of a kernel occupies a slot of its device for
 * the whole kernel; a device holds IPCFS_EMU_SMS (default 132) x
 * IPCFS_K_MIN_BLOCKS_PER_SM at once. Ranks share a device's count through
 * the memfd IPCFS_EMU_DEVICE_FD (set by the test before forking; without
 * it each process counts alone). A kernel whose blocks do not fit waits
 * for slots, as the GPU's would: while its peers' resident blocks wait for
 * it at a barrier, that is the deadlock of an over-full GPU, and it ends
 * in the timeout.
 *
 * Host-to-device copies (memcpy_h2d) behave like a pageable cudaMemcpy:
 * the data reaches the device only at the next synchronization.
 *
 * IPCFS_EMU_STALL=K:MS stalls the first kernel before its barrier K.
 *
 * IPCFS_GPU_TRAP-style kernels (IPCFS_K_F_TRAP) that fail make the error
 * sticky: every later launch, replay and synchronization returns -EIO.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcfs/plan.h"
#include "emu_int.h"

/* ---- the stream ---------------------------------------------------------- */

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER, q_idle = PTHREAD_COND_INITIALIZER;
static struct emu_op *q_head, *q_tail;
static unsigned q_pending;   /* queued or running */
static bool q_started;
static int sticky;           /* a trapped kernel's error: the context is dead */

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q_lock);
	for (;;) {
		while (!q_head)
			pthread_cond_wait(&q_cond, &q_lock);
		struct emu_op *op = q_head;
		q_head = op->next;
		if (!q_head)
			q_tail = NULL;
		bool skip = sticky != 0;
		pthread_mutex_unlock(&q_lock);
		int rc = skip ? 0 : op->run(op);
		op->done(op);
		pthread_mutex_lock(&q_lock);
		if (rc && !sticky)
			sticky = rc;
		if (--q_pending == 0)
			pthread_cond_broadcast(&q_idle);
	}
	return NULL;
}

void emu_stream_push(struct emu_op *op)
{
	pthread_t t;

	op->next = NULL;
	pthread_mutex_lock(&q_lock);
	if (!q_started) {
		if (pthread_create(&t, NULL, worker, NULL)) {
			fprintf(stderr, "cuda_emu: cannot start the stream's thread\n");
			abort();
		}
		pthread_detach(t);
		q_started = true;
	}
	if (q_tail)
		q_tail->next = op;
	else
		q_head = op;
	q_tail = op;
	q_pending++;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/* Copies from the host not yet on the device (a pageable cudaMemcpy). */
struct h2d {
	struct h2d *next;
	void *dst;
	size_t bytes;
	unsigned char data[];
};
static struct h2d *h2d_pending;

static int sync_all(void)
{
	int rc;

	pthread_mutex_lock(&q_lock);
	while (q_pending)
		pthread_cond_wait(&q_idle, &q_lock);
	while (h2d_pending) {
		struct h2d *h = h2d_pending;
		h2d_pending = h->next;
		memcpy(h->dst, h->data, h->bytes);
		free(h);
	}
	rc = sticky;
	pthread_mutex_unlock(&q_lock);
	return rc ? emu_fail(rc, "an all-reduce kernel trapped (emulated): unspecified launch "
			     "failure") : 0;
}

int emu_stream_sync(void *stream)
{
	(void)stream;
	return sync_all();
}

int emu_device_sync(void)
{
	return sync_all();
}

int emu_memcpy_h2d(void *dst, const void *src, size_t bytes)
{
	struct h2d *h = malloc(sizeof(*h) + bytes);

	if (!h)
		return emu_fail(-ENOMEM, "cudaMemcpy: out of memory");
	h->dst = dst;
	h->bytes = bytes;
	memcpy(h->data, src, bytes);
	pthread_mutex_lock(&q_lock);
	h->next = h2d_pending;
	h2d_pending = h;
	pthread_mutex_unlock(&q_lock);
	return 0;
}

int emu_signal_reset(struct ipcfs_k_signal *sig, void *stream)
{
	(void)stream;
	memset(sig, 0, sizeof(*sig));
	return 0;
}

/* The host writes the abort word while kernels spin (relaxed, like the
 * kernels' own writes of it). */
int emu_signal_abort(struct ipcfs_k_signal *sig, int code)
{
	if (!sig || code <= 0)
		return emu_fail(-EINVAL, "abort arguments");
	__atomic_store_n(&sig->abort, (uint64_t)code, __ATOMIC_RELAXED);
	return 0;
}

/* ---- the device's capacity ------------------------------------------------- */

struct emu_device {
	int32_t resident;   /* atomic: blocks resident now */
};
static struct emu_device local_dev, *dev_shared;
static pthread_once_t dev_once = PTHREAD_ONCE_INIT;

static void dev_open(void)
{
	const char *e = getenv("IPCFS_EMU_DEVICE_FD"), *u = getenv("IPCFS_EMU_UUID");
	void *p;

	/* IPCFS_EMU_UUID=pid: every process its own device. */
	dev_shared = &local_dev;
	if (e && *e && !(u && !strcmp(u, "pid")) &&
	    (p = mmap(NULL, sizeof(struct emu_device), PROT_READ | PROT_WRITE, MAP_SHARED,
		      atoi(e), 0)) != MAP_FAILED)
		dev_shared = p;
}

static unsigned capacity(void)
{
	const char *e = getenv("IPCFS_EMU_SMS");
	unsigned sms = e && *e ? (unsigned)atoi(e) : 132;
	return sms * IPCFS_K_MIN_BLOCKS_PER_SM;
}

int emu_max_coresident_blocks(int dev, unsigned *blocks)
{
	(void)dev;
	*blocks = capacity();
	return 0;
}

int emu_preload(void)
{
	pthread_mutex_lock(&emu_lock);
	emu_stats.preloads++;
	pthread_mutex_unlock(&emu_lock);
	return 0;
}

/* ---- the kernels --------------------------------------------------------- */

struct kctx {
	const struct ipcfs_k_allreduce_args *a;
	void *bufs[IPCFS_K_MAX_RANKS];
	uint64_t desc, timeout;
	size_t nvec;
	unsigned grid;
	bool two;
};

/* report(): diagnostics first (relaxed: the host may read them while
 * another block writes), the code last with a release store (E1: a host
 * reader that acquires the code sees the fields). */
static void report(const struct kctx *x, int code, int peer, int k, unsigned b, uint64_t call)
{
	struct ipcfs_k_error *e = x->a->err;

	if (!e)
		return;
	__atomic_store_n(&e->rank, x->a->rank, __ATOMIC_RELAXED);
	__atomic_store_n(&e->peer, peer, __ATOMIC_RELAXED);
	__atomic_store_n(&e->barrier, k, __ATOMIC_RELAXED);
	__atomic_store_n(&e->block, (int32_t)b, __ATOMIC_RELAXED);
	__atomic_store_n(&e->call, call, __ATOMIC_RELAXED);
	__atomic_store_n(&e->code, code, __ATOMIC_RELEASE);
}

/* A failure: reported for this call, and the abort word of every rank set
 * (relaxed: it orders nothing, it only has to arrive). */
static void fail(const struct kctx *x, int code, int peer, int k, unsigned b, uint64_t call)
{
	report(x, code, peer, k, b, call);
	for (int r = 0; r < x->a->world; r++)
		__atomic_store_n(&x->a->sigs[r]->abort, (uint64_t)code, __ATOMIC_RELAXED);
}

static uint64_t my_abort(const struct kctx *x)
{
	return __atomic_load_n(&x->a->sigs[x->a->rank]->abort, __ATOMIC_RELAXED);
}

/* Wait for peer @t's arrival at @want: 0, or the code that ends the wait. */
static int spin(const struct kctx *x, const uint64_t *slot, uint64_t want, uint64_t *seen)
{
	uint64_t v, start = emu_now_ns();
	unsigned spins = 0;

	while ((v = __atomic_load_n(slot, __ATOMIC_ACQUIRE)) < want) {
		if ((++spins & 63u) == 0) {
			uint64_t ab = my_abort(x);
			if (ab)
				return (int)ab;
			sched_yield();
			if (emu_now_ns() - start > x->timeout)
				return ETIMEDOUT;
		}
	}
	*seen = v;
	return 0;
}

/* IPCFS_EMU_STALL=K:MS: the first kernel of this process sleeps MS ms
 * before its barrier K (block 0), as a rank descheduled mid-kernel. */
static void stall(int k, unsigned b)
{
	static bool done;
	const char *e = getenv("IPCFS_EMU_STALL");
	int at, ms;

	if (done || b || !e || sscanf(e, "%d:%d", &at, &ms) != 2 || at != k)
		return;
	done = true;  /* only the worker thread runs kernels */
	usleep((useconds_t)ms * 1000);
}

/* Barrier k of @call for block @b: the kernels' protocol (allreduce.cu).
 * Release store of the arrival into the peer's signal block (after the
 * descriptor at the start barrier), acquire load of the peer's arrival in
 * ours. Returns true when the block must leave. */
static bool barrier(const struct kctx *x, uint64_t call, int k, unsigned b)
{
	const struct ipcfs_k_allreduce_args *a = x->a;
	const uint64_t want = call * 4 + (uint64_t)k;
	const int set = (int)(call & 1);

	stall(k, b);
	for (int t = 0; t < a->world; t++) {
		if (t == a->rank)
			continue;
		if (k == 0)
			__atomic_store_n(&a->sigs[t]->desc[set][b][a->rank], x->desc, __ATOMIC_RELAXED);
		__atomic_store_n(&a->sigs[t]->flags[set][b][a->rank], want, __ATOMIC_RELEASE);
	}
	for (int t = 0; t < a->world; t++) {
		uint64_t v = 0;
		if (t == a->rank)
			continue;
		int code = spin(x, &a->sigs[a->rank]->flags[set][b][t], want, &v);
		if (!code && v > call * 4 + 3)
			code = EPROTO;
		if (!code && k == 0 &&
		    __atomic_load_n(&a->sigs[a->rank]->desc[set][b][t], __ATOMIC_RELAXED) != x->desc)
			code = EPROTO;
		if (code) {
			fail(x, code, t, k, b, call);
			return true;
		}
	}
	return false;
}

/* Vector @v summed over bufs[0..N-1] in rank order into dst[v]. */
static void reduce_vec(const struct kctx *x, size_t v, void *dst)
{
	const struct ipcfs_k_allreduce_args *a = x->a;
	const size_t es = allreduce_plan_dtype_size(a->dtype), per = ALLREDUCE_VEC_BYTES / es;
	unsigned char tmp[ALLREDUCE_VEC_BYTES];

	for (size_t j = 0; j < per; j++) {
		size_t i = v * per + j;
		float acc = allreduce_load_f32(x->bufs[0], a->dtype, i);
		for (int r = 1; r < a->world; r++)
			acc += allreduce_load_f32(x->bufs[r], a->dtype, i);
		allreduce_store_f32(tmp, a->dtype, j, acc);
	}
	memcpy((char *)dst + v * ALLREDUCE_VEC_BYTES, tmp, sizeof(tmp));
}

/* One block's work between its barriers. Block b handles the vectors
 * first + k * stride of each range, first = b*T + t, as the kernels do. */
static bool block_body(const struct kctx *x, unsigned b, uint64_t call)
{
	const struct ipcfs_k_allreduce_args *a = x->a;
	const size_t T = IPCFS_K_THREADS, stride = (size_t)x->grid * T;
	void *own = x->bufs[a->rank];

	if (!x->two) {
		for (size_t t = 0; t < T; t++)
			for (size_t v = b * T + t; v < x->nvec; v += stride)
				reduce_vec(x, v, a->out);
		return false;
	}
	struct allreduce_range mine = allreduce_plan_twoshot_range(x->nvec, a->world, a->rank);
	for (size_t t = 0; t < T; t++)
		for (size_t v = mine.begin + b * T + t; v < mine.end; v += stride) {
			reduce_vec(x, v, own);
			if (a->out != own)
				memcpy((char *)a->out + v * 16, (char *)own + v * 16, 16);
		}
	if (barrier(x, call, 1, b))
		return true;
	for (int s = 1; s < a->world; s++) {
		int q = (a->rank + s) % a->world;
		struct allreduce_range g = allreduce_plan_twoshot_range(x->nvec, a->world, q);
		for (size_t t = 0; t < T; t++)
			for (size_t v = g.begin + b * T + t; v < g.end; v += stride)
				memcpy((char *)a->out + v * 16, (char *)x->bufs[q] + v * 16, 16);
	}
	return false;
}

/* Take @grid slots of the device, waiting (as the blocks that do not fit
 * on a GPU would) until they are free, a peer fails or the timeout. */
static int resident_acquire(const struct kctx *x)
{
	const int32_t cap = (int32_t)capacity(), want = (int32_t)x->grid;
	uint64_t start = emu_now_ns();

	pthread_once(&dev_once, dev_open);
	for (;;) {
		int32_t cur = __atomic_load_n(&dev_shared->resident, __ATOMIC_SEQ_CST);
		if (cur + want <= cap &&
		    __atomic_compare_exchange_n(&dev_shared->resident, &cur, cur + want, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return 0;
		if (my_abort(x))
			return (int)my_abort(x);
		if (emu_now_ns() - start > x->timeout)
			return ETIMEDOUT;
		usleep(200);
	}
}

static void resident_release(const struct kctx *x)
{
	__atomic_sub_fetch(&dev_shared->resident, (int32_t)x->grid, __ATOMIC_SEQ_CST);
}

/* Run one kernel: every block in order. Returns the code it reported. */
static int run_kernel(struct kctx *x)
{
	const struct ipcfs_k_allreduce_args *a = x->a;
	int code;

	if (a->dev_bufs) {
		/* The buffers of a captured call: filled in device memory
		 * after capture (ipcfs_gpu_register_graph). */
		memcpy(x->bufs, a->dev_bufs, sizeof(void *) * (size_t)a->world);
		for (int r = 0; r < a->world; r++)
			if (!x->bufs[r]) {
				report(x, ENXIO, r, 0, 0, 0);
				return ENXIO;
			}
	}
	if ((code = resident_acquire(x))) {
		fail(x, code, -1, 0, 0, a->sigs[a->rank]->calls[0] + 1);
		return code;
	}
	for (unsigned b = 0; b < x->grid; b++) {
		const uint64_t call = a->sigs[a->rank]->calls[b] + 1;
		uint64_t ab = my_abort(x);
		if (ab) {  /* on entry: touch no flag */
			report(x, (int)ab, -1, 0, b, call);
			code = (int)ab;
			break;
		}
		if (barrier(x, call, 0, b) || block_body(x, b, call) || barrier(x, call, 2, b)) {
			code = (int)my_abort(x);
			break;
		}
		/* After the last barrier: a failure meanwhile voids the result. */
		if ((ab = __atomic_load_n(&a->sigs[a->rank]->abort, __ATOMIC_ACQUIRE))) {
			report(x, (int)ab, -1, 2, b, call);
			code = (int)ab;
			break;
		}
		a->sigs[a->rank]->calls[b] = call;
	}
	resident_release(x);
	return code;
}

/* ---- launches ------------------------------------------------------------- */

struct kernel_op {
	struct emu_op op;
	struct ipcfs_k_allreduce_args a;
	bool two;
};

static int kernel_run(struct emu_op *op)
{
	struct kernel_op *ko = (struct kernel_op *)op;
	const struct ipcfs_k_allreduce_args *a = &ko->a;
	const size_t bytes = a->count * allreduce_plan_dtype_size(a->dtype);
	struct kctx x = { .a = a, .two = ko->two };

	memcpy(x.bufs, a->bufs, sizeof(x.bufs));
	if (a->in && a->in != a->bufs[a->rank])
		memcpy(a->bufs[a->rank], a->in, bytes);  /* the copy-in, stream-ordered */
	x.nvec = bytes / ALLREDUCE_VEC_BYTES;
	x.grid = ipcfs_k_grid(ko->two, x.nvec, a->world, a->blocks);
	x.desc = ipcfs_k_desc(ko->two, x.nvec, a->dtype, x.grid, a->world);
	x.timeout = a->timeout_ns ? a->timeout_ns : IPCFS_K_DEFAULT_TIMEOUT_NS;
	pthread_mutex_lock(&emu_lock);
	if (x.grid > emu_stats.max_grid)
		emu_stats.max_grid = x.grid;
	pthread_mutex_unlock(&emu_lock);
	int code = run_kernel(&x);
	if (code) {
		pthread_mutex_lock(&emu_lock);
		emu_stats.failed++;
		pthread_mutex_unlock(&emu_lock);
	}
	/* A trapping kernel kills the context: a sticky error. */
	return code && (a->flags & IPCFS_K_F_TRAP) ? -EIO : 0;
}

static void kernel_done(struct emu_op *op)
{
	free(op);
}

static bool overlaps(const void *a, size_t na, const void *b, size_t nb)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

/* The launcher's argument checks (allreduce.cu check()). */
static int check(const struct ipcfs_k_allreduce_args *a, bool two, size_t *bytes)
{
	const size_t es = a ? allreduce_plan_dtype_size(a->dtype) : 0;

	if (!a || a->world < 2 || a->world > IPCFS_K_MAX_RANKS || a->rank < 0 ||
	    a->rank >= a->world || !es || a->count > SIZE_MAX / es)
		return emu_fail(-EINVAL, "invalid argument: world, rank, dtype or count");
	*bytes = a->count * es;
	if (*bytes % ALLREDUCE_VEC_BYTES)
		return emu_fail(-EINVAL, "invalid argument: size not a multiple of 16 bytes");
	if (*bytes > a->buf_bytes)
		return emu_fail(-EINVAL, "invalid argument: larger than the registered buffer");
	if (a->blocks > IPCFS_K_MAX_BLOCKS)
		return emu_fail(-EINVAL, "invalid argument: too many blocks");
	for (int r = 0; r < a->world; r++) {
		if ((!a->dev_bufs || r == a->rank) && (!a->bufs[r] || ((uintptr_t)a->bufs[r] & 15)))
			return emu_fail(-EINVAL, "invalid argument: missing or unaligned buffer");
		if (!a->sigs[r] || ((uintptr_t)a->sigs[r] & 7))
			return emu_fail(-EINVAL, "invalid argument: missing signal block");
	}
	if (a->dev_bufs && a->in)
		return emu_fail(-EINVAL, "invalid argument: dev_bufs needs in == NULL");
	if (!a->out || ((uintptr_t)a->out & 15))
		return emu_fail(-EINVAL, "invalid argument: missing or unaligned out");
	void *own = a->bufs[a->rank];
	if (overlaps(a->out, *bytes, own, a->buf_bytes) && !(two && a->out == own))
		return emu_fail(-EINVAL, "invalid argument: out overlaps the registered buffer");
	if (a->in && a->in != own && overlaps(a->in, *bytes, own, a->buf_bytes))
		return emu_fail(-EINVAL, "invalid argument: in overlaps the registered buffer");
	return 0;
}

static bool capturing;
static struct kernel_op *graph;
static size_t graph_n, graph_cap;

static int record(const struct ipcfs_k_allreduce_args *a, bool two)
{
	if (graph_n == graph_cap) {
		size_t cap = graph_cap ? 2 * graph_cap : 64;
		struct kernel_op *g = realloc(graph, cap * sizeof(*g));
		if (!g)
			return emu_fail(-ENOMEM, "graph capture: out of memory");
		graph = g;
		graph_cap = cap;
	}
	graph[graph_n].a = *a;
	graph[graph_n++].two = two;
	emu_stats.recorded = graph_n;
	return 0;
}

/* Queue the kernel (with its copy-in) on the stream, or record it. */
static int launch(const struct ipcfs_k_allreduce_args *a, bool two)
{
	struct kernel_op *ko;
	size_t bytes = 0;
	int rc = check(a, two, &bytes);

	if (rc || !bytes)
		return rc;
	pthread_mutex_lock(&q_lock);
	rc = sticky;
	pthread_mutex_unlock(&q_lock);
	if (rc)
		return emu_fail(rc, "launch after a trapped kernel (emulated): unspecified failure");
	pthread_mutex_lock(&emu_lock);
	if (capturing) {
		rc = record(a, two);
		pthread_mutex_unlock(&emu_lock);
		return rc;
	}
	emu_stats.launches++;
	if (a->in && a->in != a->bufs[a->rank])
		emu_stats.copy_in += bytes;
	if (a->dev_bufs)
		emu_stats.indirect++;
	pthread_mutex_unlock(&emu_lock);
	if (!(ko = calloc(1, sizeof(*ko))))
		return emu_fail(-ENOMEM, "launch: out of memory");
	ko->a = *a;
	ko->two = two;
	ko->op.run = kernel_run;
	ko->op.done = kernel_done;
	emu_stream_push(&ko->op);
	return 0;
}

int emu_allreduce_oneshot(const struct ipcfs_k_allreduce_args *a, void *stream)
{
	(void)stream;
	return launch(a, false);
}

int emu_allreduce_twoshot(const struct ipcfs_k_allreduce_args *a, void *stream)
{
	(void)stream;
	return launch(a, true);
}

EMU_API void ipcfs_emu_capture(int on)
{
	pthread_mutex_lock(&emu_lock);
	capturing = on;
	pthread_mutex_unlock(&emu_lock);
}

int emu_stream_capturing(void *stream, int *out)
{
	(void)stream;
	pthread_mutex_lock(&emu_lock);
	*out = capturing;
	pthread_mutex_unlock(&emu_lock);
	return 0;
}

/* Queue the captured launches once, in order (a graph launch). */
EMU_API int ipcfs_emu_replay(void)
{
	size_t n;

	pthread_mutex_lock(&emu_lock);
	n = graph_n;
	pthread_mutex_unlock(&emu_lock);
	for (size_t i = 0; i < n; i++) {
		int rc = launch(&graph[i].a, graph[i].two);
		if (rc)
			return rc;
	}
	return 0;
}

EMU_API void ipcfs_emu_graph_reset(void)
{
	pthread_mutex_lock(&emu_lock);
	free(graph);
	graph = NULL;
	graph_n = graph_cap = 0;
	emu_stats.recorded = 0;
	pthread_mutex_unlock(&emu_lock);
}
