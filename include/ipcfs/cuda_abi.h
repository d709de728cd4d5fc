/* SPDX-License-Identifier: MIT */
/*
 * ipcfs/cuda_abi.h - the one interface between libipcfs (lib/gpu*.c) and
 * libipcfs_cuda.so: a versioned table of operations, the NCCL net-plugin
 * pattern. libipcfs_cuda.so (kernels/ops.cu) and its CPU stand-in
 * (tests/emu/cuda_emu.c) each export one `const struct ipcfs_k_ops
 * ipcfs_k_ops_v1`; lib/gpu_dl.c looks up that one symbol and refuses a
 * table whose abi or size differs from what it was built with. Adding an
 * operation: append a field, bump IPCFS_K_ABI; both providers then fail to
 * compile until they fill it in (they use designated initializers and
 * -Wmissing-field-initializers).
 *
 * Every operation returns 0 (or a count) on success and a negative errno
 * on failure; last_error() then says why, in words. Semantics of each
 * operation: allreduce_kernels.h and ipc_host.h, where the functions of
 * the same name (ipcfs_k_NAME) are declared.
 */
#ifndef IPCFS_CUDA_ABI_H
#define IPCFS_CUDA_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "ipcfs/allreduce_kernels.h"
#include "ipcfs/ipc_host.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPCFS_K_ABI 4
#define IPCFS_K_OPS_SYMBOL "ipcfs_k_ops_v1"

struct ipcfs_k_ops {
	uint32_t abi;   /* IPCFS_K_ABI */
	uint32_t size;  /* sizeof(struct ipcfs_k_ops) */

	const char *(*last_error)(void);
	int (*device_count)(void);
	int (*versions)(int *driver, int *runtime, int *nccl);
	int (*max_coresident_blocks)(int dev, unsigned *blocks);
	int (*preload)(void);

	int (*allreduce_oneshot)(const struct ipcfs_k_allreduce_args *a, void *stream);
	int (*allreduce_twoshot)(const struct ipcfs_k_allreduce_args *a, void *stream);
	int (*signal_reset)(struct ipcfs_k_signal *sig, void *stream);
	int (*signal_abort)(struct ipcfs_k_signal *sig, int code);

	int (*nccl_unique_id)(unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
	int (*nccl_init_start)(void **comm, int world, int rank,
			       const unsigned char id[IPCFS_K_NCCL_ID_BYTES]);
	int (*nccl_init_poll)(void *comm);
	int (*nccl_allreduce)(void *comm, const void *in, void *out, size_t count, int dtype,
			      void *stream);
	int (*nccl_abort)(void *comm);
	int (*nccl_destroy)(void *comm);

	int (*current_device)(int *dev, unsigned char uuid[IPCFS_K_UUID_BYTES]);
	int (*device_by_uuid)(const unsigned char uuid[IPCFS_K_UUID_BYTES], int *dev);
	int (*can_access_peer)(int dev, int peer, int *ok);
	int (*p2p_native_atomics)(int dev, int peer, int *ok);
	int (*buf_alloc)(size_t bytes, void **ptr);
	int (*buf_free)(void *ptr);
	int (*ipc_export)(void *ptr, unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES],
			  uint64_t *offset);
	int (*ipc_open)(const unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES], void **base);
	int (*ipc_close)(void *base);
	int (*peer_probe)(uint64_t *remote, uint64_t value, int *ok);
	int (*host_alloc_mapped)(size_t bytes, void **host, void **dev);
	int (*host_free)(void *host);
	int (*stream_sync)(void *stream);
	int (*device_sync)(void);
	int (*stream_capturing)(void *stream, int *capturing);
	int (*memcpy_h2d)(void *dst, const void *src, size_t bytes);
};

#ifdef __cplusplus
}
#endif

#endif
