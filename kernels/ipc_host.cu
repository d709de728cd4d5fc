// SPDX-License-Identifier: MIT
//
// ipc_host.cu - host helpers of libipcfs_cuda.so for the GPU communicator
// (lib/gpu.c): device memory, CUDA IPC, peer-access probe, mapped host
// memory. Interface: ipc_host.h. Every CUDA runtime call of libipcfs goes
// through this library.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

#include <cuda.h>
#include <cuda_runtime.h>

#include "ipcfs/allreduce_kernels.h"
#include "ipcfs/ipc_host.h"
#include "ipc_host_int.h"

#define IPCFS_K_API extern "C" __attribute__((visibility("default")))

static_assert(sizeof(cudaIpcMemHandle_t) == IPCFS_K_IPC_HANDLE_BYTES, "IPC handle size");
static_assert(sizeof(cudaUUID_t) == IPCFS_K_UUID_BYTES, "UUID size");

namespace {

int bad(const char *why)
{
	ipcfs_k_set_error("invalid argument", why);
	return -EINVAL;
}

// Write @value to a peer's memory, make it visible at system scope, read it
// back (a volatile load, not served from a register).
__global__ void probe_kernel(uint64_t *remote, uint64_t value, uint64_t *seen)
{
	volatile uint64_t *r = remote;
	*r = value;
	__threadfence_system();
	*seen = *r;
}

// cuMemGetAddressRange through the runtime's driver entry point (no link
// against libcuda: the runtime loads it).
typedef CUresult (*get_range_fn)(CUdeviceptr *base, size_t *size, CUdeviceptr ptr);

}  // namespace

IPCFS_K_API int ipcfs_k_current_device(int *dev, unsigned char uuid[IPCFS_K_UUID_BYTES])
{
	cudaDeviceProp p;
	int d = 0;
	cudaError_t e;

	if (!dev || !uuid)
		return bad("no output");
	e = cudaGetDevice(&d);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaGetDevice");
	e = cudaGetDeviceProperties(&p, d);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaGetDeviceProperties");
	*dev = d;
	memcpy(uuid, &p.uuid, IPCFS_K_UUID_BYTES);
	return 0;
}

IPCFS_K_API int ipcfs_k_device_by_uuid(const unsigned char uuid[IPCFS_K_UUID_BYTES], int *dev)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaGetDeviceCount");
	for (int d = 0; d < n; d++) {
		cudaDeviceProp p;
		e = cudaGetDeviceProperties(&p, d);
		if (e != cudaSuccess)
			return ipcfs_k_map_cuda(e, "cudaGetDeviceProperties");
		if (!memcmp(&p.uuid, uuid, IPCFS_K_UUID_BYTES)) {
			*dev = d;
			return 0;
		}
	}
	ipcfs_k_set_error("device lookup", "no visible device has that UUID");
	return -ENOENT;
}

IPCFS_K_API int ipcfs_k_p2p_native_atomics(int dev, int peer, int *ok)
{
	int v = 0;

	if (!ok)
		return bad("no output");
	if (dev == peer) {
		*ok = 1;
		return 0;
	}
	cudaError_t e = cudaDeviceGetP2PAttribute(&v, cudaDevP2PAttrNativeAtomicSupported, dev,
						  peer);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaDeviceGetP2PAttribute");
	*ok = v != 0;
	return 0;
}

IPCFS_K_API int ipcfs_k_can_access_peer(int dev, int peer, int *ok)
{
	int can = 0;

	if (!ok)
		return bad("no output");
	if (dev == peer) {
		*ok = 1;
		return 0;
	}
	cudaError_t e = cudaDeviceCanAccessPeer(&can, dev, peer);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaDeviceCanAccessPeer");
	*ok = can != 0;
	return 0;
}

IPCFS_K_API int ipcfs_k_buf_alloc(size_t bytes, void **ptr)
{
	void *p = nullptr;
	cudaError_t e;

	if (!ptr || !bytes)
		return bad("buffer allocation arguments");
	e = cudaMalloc(&p, bytes);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaMalloc");
	e = cudaMemset(p, 0, bytes);
	if (e == cudaSuccess)
		e = cudaDeviceSynchronize();
	if (e != cudaSuccess) {
		int rc = ipcfs_k_map_cuda(e, "cudaMemset");
		cudaFree(p);
		return rc;
	}
	*ptr = p;
	return 0;
}

IPCFS_K_API int ipcfs_k_buf_free(void *ptr)
{
	cudaError_t e = cudaFree(ptr);
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaFree");
}

IPCFS_K_API int ipcfs_k_ipc_export(void *ptr, unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES],
				   uint64_t *offset)
{
	cudaIpcMemHandle_t h;
	cudaDriverEntryPointQueryResult q;
	void *fn = nullptr;
	CUdeviceptr base = 0;
	size_t size = 0;
	cudaError_t e;

	if (!ptr || !handle || !offset)
		return bad("export arguments");
	e = cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000,
					     cudaEnableDefault, &q);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cuMemGetAddressRange entry point");
	if (!fn || q != cudaDriverEntryPointSuccess) {
		ipcfs_k_set_error("cuMemGetAddressRange", "not found in the driver");
		return -EIO;
	}
	if (((get_range_fn)fn)(&base, &size, (CUdeviceptr)(uintptr_t)ptr) != CUDA_SUCCESS) {
		ipcfs_k_set_error("cuMemGetAddressRange", "not device memory from cudaMalloc");
		return -EINVAL;
	}
	e = cudaIpcGetMemHandle(&h, (void *)(uintptr_t)base);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaIpcGetMemHandle");
	memcpy(handle, &h, IPCFS_K_IPC_HANDLE_BYTES);
	*offset = (uint64_t)((uintptr_t)ptr - (uintptr_t)base);
	return 0;
}

IPCFS_K_API int ipcfs_k_ipc_open(const unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES], void **base)
{
	cudaIpcMemHandle_t h;
	void *p = nullptr;

	if (!handle || !base)
		return bad("open arguments");
	memcpy(&h, handle, IPCFS_K_IPC_HANDLE_BYTES);
	cudaError_t e = cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaIpcOpenMemHandle");
	*base = p;
	return 0;
}

IPCFS_K_API int ipcfs_k_ipc_close(void *base)
{
	cudaError_t e = cudaIpcCloseMemHandle(base);
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaIpcCloseMemHandle");
}

IPCFS_K_API int ipcfs_k_peer_probe(uint64_t *remote, uint64_t value, int *ok)
{
	uint64_t *seen = nullptr, host = 0;
	cudaError_t e;
	int rc = 0;

	if (!remote || !ok || ((uintptr_t)remote & 7u))
		return bad("probe arguments");
	*ok = 0;
	e = cudaMalloc(&seen, sizeof *seen);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaMalloc (probe)");
	probe_kernel<<<1, 1>>>(remote, value, seen);
	e = cudaGetLastError();
	if (e == cudaSuccess)
		e = cudaMemcpy(&host, seen, sizeof host, cudaMemcpyDeviceToHost);
	if (e != cudaSuccess)
		rc = ipcfs_k_map_cuda(e, "peer probe");
	else
		*ok = host == value;
	cudaFree(seen);
	return rc;
}

IPCFS_K_API int ipcfs_k_host_alloc_mapped(size_t bytes, void **host, void **dev)
{
	void *h = nullptr, *d = nullptr;
	cudaError_t e;

	if (!bytes || !host || !dev)
		return bad("host allocation arguments");
	e = cudaHostAlloc(&h, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaHostAlloc");
	memset(h, 0, bytes);
	e = cudaHostGetDevicePointer(&d, h, 0);
	if (e != cudaSuccess) {
		int rc = ipcfs_k_map_cuda(e, "cudaHostGetDevicePointer");
		cudaFreeHost(h);
		return rc;
	}
	*host = h;
	*dev = d;
	return 0;
}

IPCFS_K_API int ipcfs_k_host_free(void *host)
{
	cudaError_t e = cudaFreeHost(host);
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaFreeHost");
}

IPCFS_K_API int ipcfs_k_stream_sync(void *stream)
{
	cudaError_t e = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaStreamSynchronize");
}

IPCFS_K_API int ipcfs_k_signal_abort(ipcfs_k_signal *sig, int code)
{
	// One non-blocking stream and one pinned word, made once: the copy
	// must not queue behind the spinning kernels it is to stop.
	static std::once_flag once;
	static cudaStream_t s;
	static uint64_t *word;
	static cudaError_t made = cudaSuccess;
	static std::mutex lock;

	if (!sig || code <= 0)
		return bad("abort arguments");
	std::call_once(once, [] {
		made = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
		if (made == cudaSuccess)
			made = cudaHostAlloc(reinterpret_cast<void **>(&word), sizeof *word,
					     cudaHostAllocPortable);
	});
	if (made != cudaSuccess)
		return ipcfs_k_map_cuda(made, "the abort stream");
	std::lock_guard<std::mutex> g(lock);
	*word = (uint64_t)code;
	cudaError_t e = cudaMemcpyAsync(&sig->abort, word, sizeof *word, cudaMemcpyHostToDevice, s);
	if (e == cudaSuccess)
		e = cudaStreamSynchronize(s);
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "writing the abort word");
}

IPCFS_K_API int ipcfs_k_device_sync(void)
{
	cudaError_t e = cudaDeviceSynchronize();
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaDeviceSynchronize");
}

IPCFS_K_API int ipcfs_k_stream_capturing(void *stream, int *capturing)
{
	cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;

	if (!capturing)
		return bad("no output");
	cudaError_t e = cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &st);
	if (e != cudaSuccess)
		return ipcfs_k_map_cuda(e, "cudaStreamIsCapturing");
	*capturing = st != cudaStreamCaptureStatusNone;
	return 0;
}

IPCFS_K_API int ipcfs_k_memset_async(void *ptr, size_t bytes, void *stream)
{
	if (!ptr)
		return bad("no pointer");
	cudaError_t e = cudaMemsetAsync(ptr, 0, bytes, static_cast<cudaStream_t>(stream));
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaMemsetAsync");
}

IPCFS_K_API int ipcfs_k_memcpy_h2d(void *dst, const void *src, size_t bytes)
{
	if (!dst || (bytes && !src))
		return bad("no pointer");
	cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
	return e == cudaSuccess ? 0 : ipcfs_k_map_cuda(e, "cudaMemcpy to the device");
}
