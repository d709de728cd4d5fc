/* SPDX-License-Identifier: MIT */
/*
 * emu_int.h - shared by the files of libipcfs_cuda_emu.so, the CPU stand-in
 * for libipcfs_cuda.so (see cuda_emu.c for the model):
 *   cuda_emu.c    device memory, IPC handles, devices, the table of
 *                 operations (ipcfs_k_ops_v1)
 *   emu_stream.c  the stream (a worker thread), kernels, capture and replay,
 *                 co-residency
 *   emu_nccl.c    NCCL over shared memory
 */
#ifndef IPCFS_EMU_INT_H
#define IPCFS_EMU_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipcfs/cuda_abi.h"

#define EMU_API __attribute__((visibility("default")))
#define EMU_MAGIC 0x554d454346435049ull  /* "IPCFCEMU" */

int emu_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool emu_env_on(const char *name);
uint64_t emu_now_ns(void);

/* Statistics for the tests (ipcfs_emu_stats). */
struct ipcfs_emu_stats {
	uint64_t launches;     /* kernels run (one-shot + two-shot) */
	uint64_t copy_in;      /* bytes copied into a registered buffer */
	uint64_t indirect;     /* kernels that took their buffers from device memory */
	uint64_t nccl_calls;
	uint64_t recorded;     /* launches captured, waiting for a replay */
	uint64_t max_grid;     /* the largest grid launched */
	uint64_t failed;       /* kernels that reported an error */
	uint64_t preloads;     /* calls of preload */
	uint64_t ipc_exports;  /* calls of ipc_export (cudaIpcGetMemHandle) */
	uint64_t ipc_opens;    /* calls of ipc_open (cudaIpcOpenMemHandle) */
};
/* Guards stats and the allocation lists of cuda_emu.c. */
extern pthread_mutex_t emu_lock;
extern struct ipcfs_emu_stats emu_stats;

/* One unit of stream work, run by the worker in order. */
struct emu_op {
	struct emu_op *next;
	int (*run)(struct emu_op *op);   /* 0, or an error made sticky */
	void (*done)(struct emu_op *op); /* frees it */
};
/* Queue @op on the (one) stream of this process; the worker runs it. */
void emu_stream_push(struct emu_op *op);

/* Operations of emu_stream.c, emu_nccl.c (the ipcfs_k_* names). */
int emu_allreduce_oneshot(const struct ipcfs_k_allreduce_args *a, void *stream);
int emu_allreduce_twoshot(const struct ipcfs_k_allreduce_args *a, void *stream);
int emu_stream_sync(void *stream);
int emu_device_sync(void);
int emu_stream_capturing(void *stream, int *capturing);
int emu_memcpy_h2d(void *dst, const void *src, size_t bytes);
int emu_signal_reset(struct ipcfs_k_signal *sig, void *stream);
int emu_signal_abort(struct ipcfs_k_signal *sig, int code);
int emu_max_coresident_blocks(int dev, unsigned *blocks);
int emu_preload(void);
int emu_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
int emu_nccl_init_start(void **comm, int world, int rank,
			const unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
int emu_nccl_init_poll(void *comm);
int emu_nccl_allreduce(void *comm, const void *in, void *out, size_t count, int dtype,
		       void *stream);
int emu_nccl_abort(void *comm);
int emu_nccl_destroy(void *comm);

#endif
