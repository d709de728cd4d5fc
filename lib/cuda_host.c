/* SPDX-License-Identifier: MIT */
/*
 * cuda_host.c - page-locking the arena for DMA with cudaHostRegister.
 *
 * libipcfs never links CUDA: a machine without it must run everything
 * else. The CUDA runtime is opened with dlopen() when a member asks, and
 * any failure (no library, no driver, no device) is -ENODEV with the
 * reason kept for ipcfs_gpu_error().
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "cuda_host_int.h"

/* The runtime's entry points we use, declared here so that no CUDA header
 * is needed to build. cudaError_t is an int enum; 0 is success. */
typedef int (*get_device_count_fn)(int *count);
typedef int (*host_register_fn)(void *ptr, size_t size, unsigned flags);
typedef int (*host_unregister_fn)(void *ptr);
typedef const char *(*error_string_fn)(int err);

#define CUDA_HOST_REGISTER_PORTABLE 1u

static struct {
	void *lib;
	get_device_count_fn get_device_count;
	host_register_fn host_register;
	host_unregister_fn host_unregister;
	error_string_fn error_string;
} rt;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static char rt_why[256];

/* The reason of the last failure, per thread. */
static __thread char gpu_why[256];

static void set_why(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void set_why(const char *fmt, va_list ap)
{
	vsnprintf(gpu_why, sizeof(gpu_why), fmt, ap);
}

/* Keep the reason and fail with -ENODEV. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_why(fmt, ap);
	va_end(ap);
	return -ENODEV;
}

static void rt_open(void)
{
	static const char *const names[] = { "libcudart.so.13", "libcudart.so.12", "libcudart.so" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !rt.lib; i++)
		rt.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!rt.lib) {
		snprintf(rt_why, sizeof(rt_why), "no CUDA runtime (libcudart) could be loaded");
		return;
	}
	rt.get_device_count = (get_device_count_fn)dlsym(rt.lib, "cudaGetDeviceCount");
	rt.host_register = (host_register_fn)dlsym(rt.lib, "cudaHostRegister");
	rt.host_unregister = (host_unregister_fn)dlsym(rt.lib, "cudaHostUnregister");
	rt.error_string = (error_string_fn)dlsym(rt.lib, "cudaGetErrorString");
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
	if (!rt.lib)
		return fail("%s", rt_why);
	err = rt.get_device_count(&n);
	if (err)
		return fail("no usable CUDA device: %s", rt.error_string(err));
	if (n < 1)
		return fail("no CUDA device");
	return 0;
}

int cuda_host_register(void *addr, size_t len)
{
	gpu_why[0] = '\0'; /* the reason of this call's failure, if any */
	int rc = rt_ready(), err;

	if (rc)
		return rc;
	err = rt.host_register(addr, len, CUDA_HOST_REGISTER_PORTABLE);
	if (err)
		return fail("cudaHostRegister of %zu bytes: %s", len, rt.error_string(err));
	return 0;
}

void cuda_host_unregister(void *addr)
{
	if (rt.lib)
		rt.host_unregister(addr);
}

void cuda_host_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_why(fmt, ap);
	va_end(ap);
}

const char *ipcfs_gpu_error(void)
{
	return gpu_why;
}
