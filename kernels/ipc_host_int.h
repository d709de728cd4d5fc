// SPDX-License-Identifier: MIT
// ipc_host_int.h - error helpers shared by the .cu files of libipcfs_cuda.so
// (defined in allreduce.cu; hidden visibility).
#ifndef IPCFS_IPC_HOST_INT_H
#define IPCFS_IPC_HOST_INT_H

#include <cuda_runtime.h>

// Keep "what: cudaGetErrorString(e)" for ipcfs_k_last_error(), clear a
// non-sticky error and map @e to a negative errno.
int ipcfs_k_map_cuda(cudaError_t e, const char *what);
void ipcfs_k_set_error(const char *what, const char *why);

#endif
