/* SPDX-License-Identifier: MIT */
/*
 * allreduce_kernels.h - C interface of libipcfs_cuda.so: the custom
 * all-reduce kernels (one-shot, two-shot) over CUDA IPC buffers, their
 * launchers, and thin NCCL wrappers for the fallback.
 *
 * Plain C (usable from lib/ through dlopen/dlsym, so that libipcfs itself
 * never links CUDA). Every function returns 0 (or a count) on success and a
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
 * (a counter from a later call in the set being waited on) gives EPROTO.
 * After either, the group's signal blocks are inconsistent: every rank must
 * reset its signal block (and its error record) before the next call.
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
 * ever synchronizes with block b of the others. The blocks of one call
 * should fit on the GPU at once (<= one per SM: 32 on A100/H100 is well
 * inside); several ranks sharing one GPU (tests) need ranks * blocks <= SMs. */
#define IPCFS_K_MAX_BLOCKS 64
#define IPCFS_K_DEFAULT_BLOCKS 32
#define IPCFS_K_THREADS 512
/* Default barrier timeout. */
#define IPCFS_K_DEFAULT_TIMEOUT_NS 10000000000ull

/* Same numbering as enum allreduce_dtype (lib/allreduce_plan_int.h). */
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
};

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
};

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

/* Number of CUDA devices (> 0), or -ENODEV (no driver, no device). */
int ipcfs_k_device_count(void);

/* Zero a signal block (cudaMemsetAsync on @stream). */
int ipcfs_k_signal_reset(struct ipcfs_k_signal *sig, void *stream);

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
/* Create this rank's communicator (collective: every rank calls it). */
int ipcfs_k_nccl_init(void **comm, int world, int rank,
		      const unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
/* Sum all-reduce of @count elements of @dtype on @stream. */
int ipcfs_k_nccl_allreduce(void *comm, const void *in, void *out, size_t count,
			   int dtype, void *stream);
int ipcfs_k_nccl_destroy(void *comm);

#ifdef __cplusplus
}
#endif

#endif
