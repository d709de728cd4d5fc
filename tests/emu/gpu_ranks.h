/* SPDX-License-Identifier: MIT */
/* gpu_ranks.h - shared by gpu_ranks.c (the program, the ordinary
 * scenarios) and gpu_faults.c (failures: late peers, divergent calls,
 * co-residency, NCCL and environment failures). */
#ifndef IPCFS_GPU_RANKS_H
#define IPCFS_GPU_RANKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcfs/cuda_abi.h"

struct ipcfs_member;
struct ipcfs_gpu_comm;

struct emu_stats {   /* struct ipcfs_emu_stats of emu_int.h */
	uint64_t launches, copy_in, indirect, nccl_calls, recorded, max_grid, failed, preloads;
	uint64_t ipc_exports, ipc_opens;
};

/* The emulator's extras for the tests, and its table of operations. */
struct emu_api {
	int (*alloc)(size_t, void **);
	void (*stats)(struct emu_stats *);
	void (*capture)(int);
	int (*replay)(void);
	void (*graph_reset)(void);
	const struct ipcfs_k_ops *ops;
};
extern struct emu_api emu;

extern int world, rank, iters;
extern size_t buf_bytes;
extern const char *scenario;
/* -s: the ranks span nodes (every call NCCL, no CUDA IPC at all). */
extern bool span;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
bool env_on(const char *name);
void *dev_alloc(size_t bytes);
int kdtype(int dtype);
/* Rank @r's input of round @seed, and the check of a result against the
 * CPU reference of every rank's input of @seed. */
void fill(void *p, int dtype, size_t count, int r, unsigned seed);
void verify(const void *out, int dtype, size_t count, unsigned seed, const char *what);

/* gpu_faults.c: environment a scenario needs before init (called first);
 * the init timeout it wants; run it (1) or not one of these (0). */
void faults_setup(void);
int faults_init_timeout(void);
/* Init itself is what some scenarios test: 1 when @rc was expected (the
 * scenario is over), 0 to go on. */
int faults_after_init(int rc, struct ipcfs_gpu_comm *c);
int faults_run(struct ipcfs_member *m, struct ipcfs_gpu_comm *c);

#endif
