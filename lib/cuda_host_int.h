/* SPDX-License-Identifier: MIT */
/* cuda_host_int.h - cudaHostRegister through a dlopen()ed CUDA runtime. */
#ifndef IPCFS_CUDA_HOST_INT_H
#define IPCFS_CUDA_HOST_INT_H

#include <stddef.h>

#include "ipcfs.h"

/* Page-lock [addr, addr+len) for DMA; 0 or -ENODEV (reason kept for
 * ipcfs_gpu_error()). */
int cuda_host_register(void *addr, size_t len);
void cuda_host_unregister(void *addr);

/* Set (fmt "" clears) the reason ipcfs_gpu_error() reports in this thread:
 * the GPU communicator (lib/gpu.c) keeps its reasons there too. */
void cuda_host_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
