// SPDX-License-Identifier: MIT
//
// ops.cu - the one symbol libipcfs looks up in libipcfs_cuda.so: its table
// of operations (ipcfs/cuda_abi.h). Designated initializers: a field left
// out is a build error (-Wmissing-field-initializers under -Werror).

#include "ipcfs/cuda_abi.h"

extern "C" __attribute__((visibility("default"))) const ipcfs_k_ops ipcfs_k_ops_v1 = {
	.abi = IPCFS_K_ABI,
	.size = sizeof(ipcfs_k_ops),
	.last_error = ipcfs_k_last_error,
	.device_count = ipcfs_k_device_count,
	.versions = ipcfs_k_versions,
	.max_coresident_blocks = ipcfs_k_max_coresident_blocks,
	.preload = ipcfs_k_preload,
	.allreduce_oneshot = ipcfs_k_allreduce_oneshot,
	.allreduce_twoshot = ipcfs_k_allreduce_twoshot,
	.signal_reset = ipcfs_k_signal_reset,
	.signal_abort = ipcfs_k_signal_abort,
	.nccl_unique_id = ipcfs_k_nccl_unique_id,
	.nccl_init_start = ipcfs_k_nccl_init_start,
	.nccl_init_poll = ipcfs_k_nccl_init_poll,
	.nccl_allreduce = ipcfs_k_nccl_allreduce,
	.nccl_abort = ipcfs_k_nccl_abort,
	.nccl_destroy = ipcfs_k_nccl_destroy,
	.current_device = ipcfs_k_current_device,
	.device_by_uuid = ipcfs_k_device_by_uuid,
	.can_access_peer = ipcfs_k_can_access_peer,
	.p2p_native_atomics = ipcfs_k_p2p_native_atomics,
	.buf_alloc = ipcfs_k_buf_alloc,
	.buf_free = ipcfs_k_buf_free,
	.ipc_export = ipcfs_k_ipc_export,
	.ipc_open = ipcfs_k_ipc_open,
	.ipc_close = ipcfs_k_ipc_close,
	.peer_probe = ipcfs_k_peer_probe,
	.host_alloc_mapped = ipcfs_k_host_alloc_mapped,
	.host_free = ipcfs_k_host_free,
	.stream_sync = ipcfs_k_stream_sync,
	.device_sync = ipcfs_k_device_sync,
	.stream_capturing = ipcfs_k_stream_capturing,
	.memcpy_h2d = ipcfs_k_memcpy_h2d,
};
