/* SPDX-License-Identifier: MIT */
/*
 * gpu_dl.c - the one loader of the GPU side and its one error sink.
 *
 * libipcfs never links CUDA: a machine without it must run everything
 * else. Two libraries are opened with dlopen() when first needed:
 *  - libipcfs_cuda.so, through its one table of operations
 *    (include/ipcfs/cuda_abi.h), for the GPU communicator;
 *  - the CUDA runtime (libcudart), for cudaHostRegister of the arena
 *    (cuda_host_int.h).
 * Any failure (no library, no driver, no device) is -ENODEV (-ENOTSUP for
 * a driver too old for the runtime) with the reason kept, per thread, for
 * ipcfs_gpu_error().
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_host_int.h"
#include "gpu_comm_int.h"

/* ---- the error sink ------------------------------------------------------ */

static __thread char gpu_why[256];

void gpu_err_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(gpu_why, sizeof(gpu_why), fmt, ap);
	va_end(ap);
}

const char *ipcfs_gpu_error(void)
{
	return gpu_why;
}

/* ---- libipcfs_cuda.so ------------------------------------------------------ */

const struct ipcfs_k_ops *k;
static void *k_lib;
static pthread_mutex_t k_lock = PTHREAD_MUTEX_INITIALIZER;

static int k_try(const char *path, char *why, size_t whylen)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct ipcfs_k_ops *ops;

	if (!lib) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot load %s: %s", path, e ? e : "unknown error");
		return -ENODEV;
	}
	ops = dlsym(lib, IPCFS_K_OPS_SYMBOL);
	if (!ops || ops->abi != IPCFS_K_ABI || ops->size != sizeof(*ops)) {
		if (!ops)
			snprintf(why, whylen, "%s has no %s (a build older than this libipcfs)",
				 path, IPCFS_K_OPS_SYMBOL);
		else
			snprintf(why, whylen, "%s has ABI %u (%u bytes), this libipcfs needs %u "
				 "(%zu bytes): rebuild them together", path, ops->abi, ops->size,
				 IPCFS_K_ABI, sizeof(*ops));
		dlclose(lib);
		return -ENODEV;
	}
	/* Every operation is there (a C provider's designated initializer
	 * may leave one out without a warning). */
	for (size_t i = offsetof(struct ipcfs_k_ops, last_error); i < sizeof(*ops);
	     i += sizeof(void (*)(void))) {
		void (*op)(void);
		memcpy(&op, (const char *)ops + i, sizeof(op));
		if (!op) {
			snprintf(why, whylen, "%s: operation %zu of its table is missing", path,
				 (i - offsetof(struct ipcfs_k_ops, last_error)) / sizeof(op));
			dlclose(lib);
			return -ENODEV;
		}
	}
	k_lib = lib;
	k = ops;
	return 0;
}

/* Next to the object holding libipcfs (libipcfs.so, or the program when
 * linked statically), else the dynamic linker's search path. */
static int k_try_default(char *why, size_t whylen)
{
	char path[PATH_MAX];
	Dl_info info;

	if (dladdr((void *)gpu_load, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
		const char *slash = strrchr(info.dli_fname, '/');
		if (!gpu_path_of(path, sizeof(path), "%.*s/libipcfs_cuda.so",
				 (int)(slash - info.dli_fname), info.dli_fname) &&
		    access(path, F_OK) == 0 && k_try(path, why, whylen) == 0)
			return 0;
	}
	return k_try("libipcfs_cuda.so", why, whylen);
}

int gpu_load(void)
{
	char why[512] = "";
	const char *env = getenv("IPCFS_CUDA_LIB");
	int rc = 0, n;

	/* A failure is not remembered: a later call tries again. */
	pthread_mutex_lock(&k_lock);
	if (!k_lib)
		rc = env && *env ? k_try(env, why, sizeof(why)) : k_try_default(why, sizeof(why));
	pthread_mutex_unlock(&k_lock);
	if (rc) {
		gpu_err_set("no CUDA support: %s", why);
		return rc;
	}
	n = k->device_count();
	if (n < 0) {
		gpu_err_set("%s", k->last_error());
		return n == -ENOTSUP ? -ENOTSUP : -ENODEV;
	}
	return 0;
}

int gpu_kfail(int rc, const char *what)
{
	gpu_err_set("%s: %s", what, k->last_error());
	return rc;
}

/* ---- the CUDA runtime, for cudaHostRegister ------------------------------------ */

/* The runtime's entry points we use, declared here so that no CUDA header
 * is needed to build. cudaError_t is an int enum; 0 is success. */
static struct {
	void *lib;
	int (*get_device_count)(int *count);
	int (*host_register)(void *ptr, size_t size, unsigned flags);
	int (*host_unregister)(void *ptr);
	const char *(*error_string)(int err);
} rt;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static char rt_why[256];

#define CUDA_HOST_REGISTER_PORTABLE 1u

static void rt_open(void)
{
	static const char *const names[] = { "libcudart.so.13", "libcudart.so.12", "libcudart.so" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !rt.lib; i++)
		rt.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!rt.lib) {
		snprintf(rt_why, sizeof(rt_why), "no CUDA runtime (libcudart) could be loaded");
		return;
	}
	*(void **)&rt.get_device_count = dlsym(rt.lib, "cudaGetDeviceCount");
	*(void **)&rt.host_register = dlsym(rt.lib, "cudaHostRegister");
	*(void **)&rt.host_unregister = dlsym(rt.lib, "cudaHostUnregister");
	*(void **)&rt.error_string = dlsym(rt.lib, "cudaGetErrorString");
	if (!rt.get_device_count || !rt.host_register || !rt.host_unregister || !rt.error_string) {
		snprintf(rt_why, sizeof(rt_why), "the CUDA runtime lacks cudaHostRegister");
		rt.lib = NULL;
	}
}

/* The runtime and at least one device, or -ENODEV. */
static int rt_ready(void)
{
	int n = 0, err;

	pthread_once(&rt_once, rt_open);
	if (!rt.lib) {
		gpu_err_set("%s", rt_why);
		return -ENODEV;
	}
	err = rt.get_device_count(&n);
	if (err || n < 1) {
		gpu_err_set("no usable CUDA device%s%s", err ? ": " : "",
			    err ? rt.error_string(err) : "");
		return -ENODEV;
	}
	return 0;
}

int cuda_host_register(void *addr, size_t len)
{
	int rc, err;

	gpu_why[0] = '\0'; /* the reason of this call's failure, if any */
	rc = rt_ready();
	if (rc)
		return rc;
	err = rt.host_register(addr, len, CUDA_HOST_REGISTER_PORTABLE);
	if (err) {
		gpu_err_set("cudaHostRegister of %zu bytes: %s", len, rt.error_string(err));
		return -ENODEV;
	}
	return 0;
}

void cuda_host_unregister(void *addr)
{
	if (rt.lib)
		rt.host_unregister(addr);
}

int gpu_fail(int rc, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	gpu_err_set("%s", why);
	return rc;
}
