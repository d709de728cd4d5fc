/* SPDX-License-Identifier: MIT */
/* cuda_host_int.h - cudaHostRegister through a dlopen()ed CUDA runtime. */
#ifndef IPCFS_CUDA_HOST_INT_H
#define IPCFS_CUDA_HOST_INT_H

#include <stddef.h>

#include "ipcfs.h"

/* Page-lock [addr, addr+len) for DMA; 0 or -ENODEV (reason kept for
 * ipcfs_gpu_error()). Implemented in gpu_dl.c, the one CUDA loader. */
int cuda_host_register(void *addr, size_t len);
void cuda_host_unregister(void *addr);

#endif
