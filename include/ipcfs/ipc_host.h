/* SPDX-License-Identifier: MIT */
/*
 * ipc_host.h - C-ABI host helpers of libipcfs_cuda.so for the GPU
 * communicator (lib/gpu.c): device memory, CUDA IPC handles, peer-access
 * checks, host-mapped memory and synchronization. lib/gpu.c dlopen()s the
 * library and calls these through dlsym, so that every CUDA runtime call
 * stays inside libipcfs_cuda.so and libipcfs never links CUDA.
 *
 * Conventions as in allreduce_kernels.h: 0 on success, a negative errno on
 * failure (-ENODEV: no driver or device; -ENOMEM; -EINVAL; -EIO: another
 * CUDA error), and ipcfs_k_last_error() says why.
 */
#ifndef IPCFS_IPC_HOST_H
#define IPCFS_IPC_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a cudaIpcMemHandle_t and of a device UUID. */
#define IPCFS_K_IPC_HANDLE_BYTES 64
#define IPCFS_K_UUID_BYTES 16

/* The calling thread's current device and its UUID. */
int ipcfs_k_current_device(int *dev, unsigned char uuid[IPCFS_K_UUID_BYTES]);

/* The local ordinal of the device with @uuid, or -ENOENT when this process
 * does not see it (CUDA_VISIBLE_DEVICES). */
int ipcfs_k_device_by_uuid(const unsigned char uuid[IPCFS_K_UUID_BYTES], int *dev);

/* cudaDeviceCanAccessPeer(dev, peer): *ok = 1 when dev == peer. */
int ipcfs_k_can_access_peer(int dev, int peer, int *ok);

/* Whether dev and peer have native atomics between them (NVLink; not
 * over PCIe): *ok = 1 when dev == peer. */
int ipcfs_k_p2p_native_atomics(int dev, int peer, int *ok);

/* cudaMalloc @bytes (zeroed, synchronously) on the current device. */
int ipcfs_k_buf_alloc(size_t bytes, void **ptr);
int ipcfs_k_buf_free(void *ptr);

/* Export @ptr (anywhere inside a cudaMalloc allocation) as an IPC handle of
 * its allocation and the offset of @ptr from the allocation's base. */
int ipcfs_k_ipc_export(void *ptr, unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES],
		       uint64_t *offset);
/* Open a peer's handle (cudaIpcOpenMemHandle, lazy peer access) into *base. */
int ipcfs_k_ipc_open(const unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES], void **base);
int ipcfs_k_ipc_close(void *base);

/*
 * Peer-access probe through an opened IPC mapping: a kernel on the current
 * device writes @value to the 8 bytes at @remote (a peer's memory, opened
 * by ipcfs_k_ipc_open), fences at system scope and reads it back. *ok = 1
 * when the value read back is the value written. Synchronous.
 */
int ipcfs_k_peer_probe(uint64_t *remote, uint64_t value, int *ok);

/* cudaHostAlloc(Mapped|Portable), zeroed: host pointer and device alias. */
int ipcfs_k_host_alloc_mapped(size_t bytes, void **host, void **dev);
int ipcfs_k_host_free(void *host);

/* cudaStreamSynchronize(@stream); cudaDeviceSynchronize(). */
int ipcfs_k_stream_sync(void *stream);
int ipcfs_k_device_sync(void);
/* *capturing = 1 when @stream is being captured into a CUDA graph. */
int ipcfs_k_stream_capturing(void *stream, int *capturing);

/* cudaMemcpy(dst, src, bytes, HostToDevice): synchronous. */
int ipcfs_k_memcpy_h2d(void *dst, const void *src, size_t bytes);

/* cudaMemsetAsync(ptr, 0, bytes, stream). */
int ipcfs_k_memset_async(void *ptr, size_t bytes, void *stream);

#ifdef __cplusplus
}
#endif

#endif
