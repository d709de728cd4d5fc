/* SPDX-License-Identifier: MIT */
/*
 * allreduce_kernels.h - C interface of libipcfs_cuda.so: the custom
 * all-reduce kernels (one-shot, two-shot) over CUDA IPC buffers, their
 * launchers, and thin NCCL wrappers for the fallback (NCCL dlopened).
 *
 * Plain C. libipcfs reaches these through one table of operations
 * (ipcfs/cuda_abi.h), so that it never links CUDA; the GPU tests call
 * them directly. Every function returns 0 (or a count) on success and a
 * negative errno on failure; -ENODEV means no usable CUDA driver or device,
 * and ipcfs_k_last_error() then says why, in words.
 *
 * Model. A group of N ranks (2..8), one GPU each. Every rank r has
 *  - a registered buffer bufs[r] (device memory, >= the message size) that
 *    holds its input when the kernel starts: the launcher copies @in there
 *    first (cudaMemcpyAsync on the same stream) unless @in is NULL or is
 *    bufs[r] already;
 *  - a signal block sigs[r] (struct ipcfs_k_signal, device memory, zeroed
 *    once before the first call, e.g. with ipcfs_k_signal_reset());
 * and has opened every peer's buffer and signal block by CUDA IPC, so that
 * bufs[p] and sigs[p] are valid device pointers in every rank for every p.
 * All ranks must make the same sequence of calls (same algorithm, count,
 * dtype and blocks), each on one stream per rank; consecutive calls of one
 * rank must be ordered on that stream (or by events). Works under CUDA graph
 * capture: the per-call counters live in device memory, not in arguments.
 *
 * Failure. A peer that does not reach a barrier within timeout_ns makes the
 * waiting block set err->code = ETIMEDOUT (host-visible, mapped pinned
 * memory) and leave the kernel early: no hang. A peer found out of step
 * (a counter from a later call in the set being waited on, or a call
 * descriptor that differs from this rank's at the start barrier) gives
 * EPROTO. The failing block then sets the abort word of its own signal
 * block and of every peer's to that code; every kernel checks its own
 * abort word on entry, while spinning and after its last barrier, and
 * reports the code for its call (err->code), so that every call that
 * overlapped a failure, on every rank, reports an error: none returns a
 * result paired with the wrong call of a peer. The abort word stays set:
 * every rank must reset its signal block (and its error record) before
 * the next call, in practice destroy the communicator.
 */
#ifndef IPCFS_ALLREDUCE_KERNELS_H
#define IPCFS_ALLREDUCE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPCFS_K_MAX_RANKS 8
/* Most blocks per rank per call, and the default. Every rank computes the
 * same grid from (algorithm, world, count, blocks): block b of one rank only
 * ever synchronizes with block b of the others, so every block of every
 * rank on a device must be resident at once. The kernels are bounded to
 * IPCFS_K_MIN_BLOCKS_PER_SM blocks per SM (registers); the caller passes
 * blocks <= ipcfs_k_max_coresident_blocks() / (ranks on that device). */
#define IPCFS_K_MAX_BLOCKS 64
#define IPCFS_K_DEFAULT_BLOCKS 32
#define IPCFS_K_THREADS 512
#define IPCFS_K_MIN_BLOCKS_PER_SM 2
/* Default barrier timeout: long enough for ordinary skew between ranks (a
 * rank compiling, checkpointing, collecting garbage for tens of seconds);
 * a failure on one rank still ends every peer's wait at once (abort). */
#define IPCFS_K_DEFAULT_TIMEOUT_NS 300000000000ull

/* Same numbering as enum allreduce_dtype (include/ipcfs/plan.h). */
enum { IPCFS_K_F32 = 0, IPCFS_K_F16 = 1, IPCFS_K_BF16 = 2 };

/*
 * Per rank, in device memory, shared with the peers by CUDA IPC.
 * flags[s][b][p] is written only by rank p (block b), read only by the
 * owning rank's block b; calls[b] is private to the owning rank's block b.
 * Barrier k (0: start, 1: middle, 2: end) of the c-th call (c = 1, 2, ...)
 * of block b writes the value 4c + k into set s = c & 1.
 */
struct ipcfs_k_signal {
	uint64_t calls[IPCFS_K_MAX_BLOCKS];
	uint64_t flags[2][IPCFS_K_MAX_BLOCKS][IPCFS_K_MAX_RANKS];
	/* desc[s][b][p]: rank p's descriptor of its call in set s (written by
	 * p's block b before its start-barrier flag, read after it). */
	uint64_t desc[2][IPCFS_K_MAX_BLOCKS][IPCFS_K_MAX_RANKS];
	/* 0, or the positive errno of a failure of any rank: written by any
	 * rank (relaxed, sys scope), read by the owner's kernels. */
	uint64_t abort;
};

/* The descriptor of a call, equal on every rank that makes the same call:
 * algorithm, vectors, dtype, grid and world. */
static inline uint64_t ipcfs_k_desc(int two, uint64_t nvec, int dtype, unsigned grid, int world)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint64_t v[5] = { (uint64_t)two, nvec, (uint64_t)dtype, grid, (uint64_t)world };
	for (int i = 0; i < 5; i++)
		h = (h ^ v[i]) * 0x100000001b3ull;
	return h | 1;  /* never 0: a zeroed slot is no descriptor */
}

/* The grid of a call: the same on every rank for the same arguments. */
static inline unsigned ipcfs_k_grid(int two, uint64_t nvec, int world, unsigned blocks)
{
	const uint64_t per_rank = two ? (nvec + (uint64_t)world - 1) / (uint64_t)world : nvec;
	const uint64_t want = (per_rank + IPCFS_K_THREADS - 1) / IPCFS_K_THREADS;
	const uint64_t maxb = blocks ? blocks : IPCFS_K_DEFAULT_BLOCKS;
	return (unsigned)(want < maxb ? (want ? want : 1) : maxb);
}

/* Error record, in host-visible memory (cudaHostAlloc(..., Mapped)); the
 * kernels get its device alias. code 0 = no error, else a positive errno.
 * The other fields describe one failing block (when several fail at once
 * their stores may interleave: diagnostics only). */
struct ipcfs_k_error {
	int32_t code;
	int32_t rank;      /* who noticed */
	int32_t peer;      /* whom it waited for */
	int32_t barrier;   /* 0 start, 1 middle, 2 end */
	int32_t block;
	int32_t pad;
	uint64_t call;     /* the block's call counter */
};

struct ipcfs_k_allreduce_args {
	int world;                 /* 2..8 */
	int rank;                  /* 0..world-1 */
	int dtype;                 /* IPCFS_K_F32, _F16, _BF16 */
	size_t count;              /* elements; count * size % 16 == 0 */
	const void *in;            /* NULL or bufs[rank]: input already there */
	void *out;                 /* result (may be @in); 16-byte aligned */
	size_t buf_bytes;          /* size of each registered buffer */
	void *bufs[IPCFS_K_MAX_RANKS];
	struct ipcfs_k_signal *sigs[IPCFS_K_MAX_RANKS];
	struct ipcfs_k_error *err; /* device alias of the error record, or NULL */
	/* NULL, or device memory holding @world pointers that replace bufs[]
	 * when the kernel starts (the buffers of a call captured in a CUDA
	 * graph, known only after capture). Then @in must be NULL, bufs[rank]
	 * is this rank's input (for the overlap checks) and buf_bytes its
	 * size; a NULL pointer found there sets err->code = ENXIO. */
	void *const *dev_bufs;
	uint64_t timeout_ns;       /* 0: IPCFS_K_DEFAULT_TIMEOUT_NS */
	unsigned blocks;           /* 0: IPCFS_K_DEFAULT_BLOCKS; at most MAX */
	unsigned flags;            /* IPCFS_K_F_* */
};

/* flags: a failure also traps (a sticky CUDA error that every later CUDA
 * call of the process, graph launches included, returns). */
#define IPCFS_K_F_TRAP 1u

/*
 * Enqueue one all-reduce (sum) on @stream (a cudaStream_t; NULL is the
 * legacy default stream). Returns 0 once enqueued; errors found by the
 * kernel (timeout) arrive in the error record, see ipcfs_k_error_check().
 *   -EINVAL  bad arguments: world/rank/dtype, count * size not a multiple
 *            of 16 or larger than buf_bytes, a NULL or unaligned pointer,
 *            out overlapping bufs[rank] (one-shot only: two-shot allows
 *            out == bufs[rank] exactly, the result then stays in place)
 *   -ENODEV  no CUDA driver or device
 *   -ENOMEM, -EIO  other CUDA errors (ipcfs_k_last_error() has the text)
 * One-shot: every rank reads all N buffers, (N-1)*S bytes over the links.
 * Two-shot: reduce-scatter then all-gather, 2(N-1)*S/N bytes.
 */
int ipcfs_k_allreduce_oneshot(const struct ipcfs_k_allreduce_args *a, void *stream);
int ipcfs_k_allreduce_twoshot(const struct ipcfs_k_allreduce_args *a, void *stream);

/* Number of CUDA devices (> 0), or -ENODEV (no driver, no device), or
 * -ENOTSUP (a driver older than the runtime: the reason names both). */
int ipcfs_k_device_count(void);

/* Driver and runtime versions (1000 * major + 10 * minor), and NCCL's
 * (0 when NCCL cannot be loaded). */
int ipcfs_k_versions(int *driver, int *runtime, int *nccl);

/* How many blocks of the worst kernel instantiation device @dev holds at
 * once (SMs x active blocks per SM). */
int ipcfs_k_max_coresident_blocks(int dev, unsigned *blocks);

/* Load every kernel instantiation now (CUDA_MODULE_LOADING=LAZY would load
 * one at its first launch, which may wait for a kernel that spins for it). */
int ipcfs_k_preload(void);

/* Zero a signal block (cudaMemsetAsync on @stream). */
int ipcfs_k_signal_reset(struct ipcfs_k_signal *sig, void *stream);

/* Set the abort word of this rank's signal block to @code (> 0) from the
 * host while kernels may be spinning on it (a copy on a stream of its own
 * that waits for no other): they leave at once with that code. For a
 * watchdog that found a peer dead. Synchronous. */
int ipcfs_k_signal_abort(struct ipcfs_k_signal *sig, int code);

/* The last CUDA error seen by this thread in this library, in words
 * ("" if none). */
const char *ipcfs_k_last_error(void);

/* -code of a host view of the error record: 0, -ETIMEDOUT, -EPROTO. Read
 * it after synchronizing the stream (or poll it while the kernel runs). */
static inline int ipcfs_k_error_check(const volatile struct ipcfs_k_error *e)
{
	return e && e->code ? -e->code : 0;
}

/* ---- NCCL fallback (thin wrappers; the ncclComm_t stays opaque) ---------- */

/* The unique id to publish from rank 0 (NCCL_UNIQUE_ID_BYTES = 128). */
#define IPCFS_K_NCCL_ID_BYTES 128
int ipcfs_k_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
/* NCCL is loaded at run time (libnccl.so.2): without it these return
 * -ENOTSUP with one line that says so. */
/* Start creating this rank's communicator without blocking (collective:
 * every rank calls it); poll until 0 (ready) or an error; -EINPROGRESS
 * meanwhile. A communicator that failed, or that must be given up, is
 * aborted (ipcfs_k_nccl_abort: never collective), not destroyed. */
int ipcfs_k_nccl_init_start(void **comm, int world, int rank,
			    const unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
int ipcfs_k_nccl_init_poll(void *comm);
int ipcfs_k_nccl_abort(void *comm);
/* Sum all-reduce of @count elements of @dtype on @stream. */
int ipcfs_k_nccl_allreduce(void *comm, const void *in, void *out, size_t count,
			   int dtype, void *stream);
int ipcfs_k_nccl_destroy(void *comm);

#ifdef __cplusplus
}
#endif

#endif
