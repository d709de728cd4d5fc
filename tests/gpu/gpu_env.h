// SPDX-License-Identifier: MIT
// gpu_env.h - what every GPU test does first: set the CUDA environment the
// kernels need, print the versions, and decide between "skip" (no GPU on
// this machine) and "fail" (a GPU is there but CUDA cannot use it: a
// driver too old for the runtime, a missing library).
#ifndef IPCFS_GPU_ENV_H
#define IPCFS_GPU_ENV_H

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include <cuda_runtime.h>

// Before the first CUDA call. EAGER: a spinning kernel must never wait for
// the lazy load of a peer's kernel. 32 connections: several rank streams
// in one process must not share a hardware queue (one rank's spinning
// kernel would block another's behind it).
static inline void gpu_env_setup()
{
	setenv("CUDA_MODULE_LOADING", "EAGER", 0);
	setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", 0);
}

// Whether this machine has an NVIDIA GPU, whatever CUDA says.
static inline bool gpu_env_present()
{
	if (access("/dev/nvidia0", F_OK) == 0)
		return true;
	return system("nvidia-smi -L 2>/dev/null | grep -q '^GPU '") == 0;
}

// Versions on one line; 0 when CUDA is usable, else the status to exit
// with: 77 (no GPU here: skip) or 1 (a GPU that CUDA cannot use: fail).
static inline int gpu_env_check(const char *test)
{
	int drv = 0, rt = 0, n = 0;
	(void)cudaDriverGetVersion(&drv);
	(void)cudaRuntimeGetVersion(&rt);
	cudaError_t e = cudaGetDeviceCount(&n);
	printf("%s: driver CUDA %d.%d, runtime %d.%d, %d device(s)\n", test, drv / 1000,
	       drv % 1000 / 10, rt / 1000, rt % 1000 / 10, e == cudaSuccess ? n : 0);
	fflush(stdout);  // the callers may _exit() (a forked probe)
	if (e == cudaSuccess && n > 0)
		return 0;
	if (gpu_env_present()) {
		printf("%s: FAIL: a GPU is present but CUDA cannot use it: %s%s\n", test,
		       cudaGetErrorString(e),
		       e == cudaErrorInsufficientDriver ? " (the driver is older than the runtime)"
							: "");
		fflush(stdout);
		return 1;
	}
	printf("%s: SKIP: no CUDA device\n", test);
	fflush(stdout);
	return 77;
}

#endif
