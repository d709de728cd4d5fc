// SPDX-License-Identifier: MIT
//
// nccl.cu - the NCCL fallback of libipcfs_cuda.so. NCCL is loaded at run
// time (dlopen libnccl.so.2), so that the kernels work where it is absent:
// then every NCCL operation returns -ENOTSUP with one line that says so.
// Only nccl.h's types are used at build time.
//
// Initialization never blocks: ncclCommInitRankConfig with blocking = 0,
// then ncclCommGetAsyncError polled by the caller (lib/gpu_nccl.c) until
// it is ready, a deadline passes or a peer gives up; then ncclCommAbort,
// which (unlike ncclCommDestroy) does not wait for the peers.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <mutex>

#include <cuda_runtime.h>
#include <nccl.h>

#include "ipcfs/allreduce_kernels.h"
#include "ipc_host_int.h"

#define IPCFS_K_API extern "C" __attribute__((visibility("default")))

static_assert(NCCL_UNIQUE_ID_BYTES == IPCFS_K_NCCL_ID_BYTES, "NCCL id size");

namespace {

struct Nccl {
	void *lib;
	char why[200];
	ncclResult_t (*get_version)(int *);
	ncclResult_t (*get_unique_id)(ncclUniqueId *);
	ncclResult_t (*init_config)(ncclComm_t *, int, ncclUniqueId, int, ncclConfig_t *);
	ncclResult_t (*async_error)(ncclComm_t, ncclResult_t *);
	ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t,
				   ncclComm_t, cudaStream_t);
	ncclResult_t (*abort)(ncclComm_t);
	ncclResult_t (*destroy)(ncclComm_t);
	const char *(*error_string)(ncclResult_t);
	const char *(*last_error)(ncclComm_t);
} nccl;
std::once_flag nccl_once;

template <class T> bool sym(T &f, const char *name)
{
	f = reinterpret_cast<T>(dlsym(nccl.lib, name));
	return f != nullptr;
}

void nccl_open()
{
	nccl.lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!nccl.lib) {
		const char *e = dlerror();
		snprintf(nccl.why, sizeof nccl.why, "NCCL is not installed (libnccl.so.2: %s)",
			 e ? e : "not found");
		return;
	}
	if (!sym(nccl.get_version, "ncclGetVersion") ||
	    !sym(nccl.get_unique_id, "ncclGetUniqueId") ||
	    !sym(nccl.init_config, "ncclCommInitRankConfig") ||
	    !sym(nccl.async_error, "ncclCommGetAsyncError") ||
	    !sym(nccl.all_reduce, "ncclAllReduce") || !sym(nccl.abort, "ncclCommAbort") ||
	    !sym(nccl.destroy, "ncclCommDestroy") ||
	    !sym(nccl.error_string, "ncclGetErrorString") ||
	    !sym(nccl.last_error, "ncclGetLastError")) {
		snprintf(nccl.why, sizeof nccl.why, "libnccl.so.2 is older than 2.14 (it lacks "
			 "ncclCommInitRankConfig or ncclGetLastError)");
		dlclose(nccl.lib);
		nccl.lib = nullptr;
	}
}

// 0, or -ENOTSUP with the one line that says why there is no NCCL.
int ready()
{
	std::call_once(nccl_once, nccl_open);
	if (nccl.lib)
		return 0;
	ipcfs_k_set_error("NCCL unavailable", nccl.why);
	return -ENOTSUP;
}

int map_nccl(ncclResult_t r, ncclComm_t comm, const char *what)
{
	const char *last = nccl.last_error(comm);
	char why[200];

	snprintf(why, sizeof why, "%s%s%s", nccl.error_string(r), last && *last ? ": " : "",
		 last ? last : "");
	ipcfs_k_set_error(what, why);
	switch (r) {
	case ncclInvalidArgument:
	case ncclInvalidUsage:
		return -EINVAL;
	case ncclInProgress:
		return -EINPROGRESS;
	case ncclUnhandledCudaError: {
		int count = 0;
		if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
			(void)cudaGetLastError();
			return -ENODEV;
		}
		return -EIO;
	}
	case ncclRemoteError:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

int bad(const char *why)
{
	ipcfs_k_set_error("invalid argument", why);
	return -EINVAL;
}

}  // namespace

int ipcfs_k_nccl_version(void)
{
	int v = 0;
	if (ready() || nccl.get_version(&v) != ncclSuccess)
		return 0;
	return v;
}

IPCFS_K_API int ipcfs_k_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	ncclUniqueId u;
	int rc = ready();

	if (rc)
		return rc;
	if (!id)
		return bad("no id buffer");
	ncclResult_t r = nccl.get_unique_id(&u);
	if (r != ncclSuccess)
		return map_nccl(r, nullptr, "ncclGetUniqueId");
	memcpy(id, u.internal, IPCFS_K_NCCL_ID_BYTES);
	return 0;
}

IPCFS_K_API int ipcfs_k_nccl_init_start(void **comm, int world, int rank,
					const unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
	ncclUniqueId u;
	ncclComm_t c = nullptr;
	int rc = ready();

	if (rc)
		return rc;
	if (!comm || !id || world < 1 || rank < 0 || rank >= world)
		return bad("NCCL init arguments");
	memcpy(u.internal, id, IPCFS_K_NCCL_ID_BYTES);
	config.blocking = 0;
	ncclResult_t r = nccl.init_config(&c, world, u, rank, &config);
	if (r != ncclSuccess && r != ncclInProgress) {
		if (c)
			nccl.abort(c);
		return map_nccl(r, nullptr, "ncclCommInitRankConfig");
	}
	*comm = c;
	return 0;
}

IPCFS_K_API int ipcfs_k_nccl_init_poll(void *comm)
{
	ncclResult_t state = ncclSuccess;
	int rc = ready();

	if (rc)
		return rc;
	if (!comm)
		return bad("no NCCL communicator");
	ncclResult_t r = nccl.async_error(static_cast<ncclComm_t>(comm), &state);
	if (r != ncclSuccess)
		return map_nccl(r, static_cast<ncclComm_t>(comm), "ncclCommGetAsyncError");
	if (state == ncclInProgress)
		return -EINPROGRESS;
	return state == ncclSuccess ? 0
				    : map_nccl(state, static_cast<ncclComm_t>(comm),
					       "ncclCommInitRankConfig");
}

IPCFS_K_API int ipcfs_k_nccl_allreduce(void *comm, const void *in, void *out,
				       size_t count, int dtype, void *stream)
{
	ncclDataType_t t;
	int rc = ready();

	if (rc)
		return rc;
	switch (dtype) {
	case IPCFS_K_F32: t = ncclFloat32; break;
	case IPCFS_K_F16: t = ncclFloat16; break;
	case IPCFS_K_BF16: t = ncclBfloat16; break;
	default: return bad("unknown dtype");
	}
	if (!comm || (count && (!in || !out)))
		return bad("NCCL all-reduce arguments");
	ncclResult_t r = nccl.all_reduce(in, out, count, t, ncclSum,
					 static_cast<ncclComm_t>(comm),
					 static_cast<cudaStream_t>(stream));
	return r == ncclSuccess ? 0 : map_nccl(r, static_cast<ncclComm_t>(comm), "ncclAllReduce");
}

IPCFS_K_API int ipcfs_k_nccl_abort(void *comm)
{
	if (!comm || ready())
		return 0;
	ncclResult_t r = nccl.abort(static_cast<ncclComm_t>(comm));
	return r == ncclSuccess ? 0 : map_nccl(r, nullptr, "ncclCommAbort");
}

IPCFS_K_API int ipcfs_k_nccl_destroy(void *comm)
{
	if (!comm || ready())
		return 0;
	ncclResult_t r = nccl.destroy(static_cast<ncclComm_t>(comm));
	return r == ncclSuccess ? 0 : map_nccl(r, nullptr, "ncclCommDestroy");
}
