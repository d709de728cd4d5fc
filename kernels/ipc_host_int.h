// SPDX-License-Identifier: MIT
// ipc_host_int.h - helpers shared by the .cu files of libipcfs_cuda.so
// (hidden visibility: not part of its C ABI).
#ifndef IPCFS_IPC_HOST_INT_H
#define IPCFS_IPC_HOST_INT_H

#include <cuda_runtime.h>

// Keep "what: cudaGetErrorString(e)" for ipcfs_k_last_error(), clear a
// non-sticky error and map @e to a negative errno (allreduce.cu).
int ipcfs_k_map_cuda(cudaError_t e, const char *what);
void ipcfs_k_set_error(const char *what, const char *why);
// NCCL's version (NCCL_VERSION_CODE form), 0 when it cannot be loaded
// (nccl.cu).
int ipcfs_k_nccl_version(void);

#endif
