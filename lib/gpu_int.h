/* SPDX-License-Identifier: MIT */
/*
 * gpu_int.h - internals of the GPU communicator (lib/gpu.c) that the unit
 * tests reach without CUDA: the handle record, its hex encoding, the
 * rendezvous through gpu/NAME/RANK files, the algorithm settings.
 *
 * Record. One fixed little-endian layout of GPU_REC_BYTES bytes for every
 * kind, written as 2 * GPU_REC_BYTES lowercase hex digits (a newline after
 * them in the file). Offsets:
 *     0 magic "IPGR" (0x52475049)   4 version u16 (1)    6 kind u16
 *     8 rank u32   12 world u32   16 pid u32   20 flags u32
 *    24 gen u64    32 buf_bytes u64   40 buf_off u64   48 sig_off u64
 *    56 probe_off u64   64 uuid[16]   80 handle[64]   144 host[64]
 *   208 nccl_id[128]   336 algo u32   340 blocks u32   344 oneshot_max u64
 *   352 FNV-1a 64 of bytes 0..351
 * Kinds reuse fields they do not need: BUF oneshot_max = how many blocks
 * the rank's device holds at once (co-residency), READY and HELLO
 * probe_off = the NCCL threshold (gpu_settings.nccl_above), READY and
 * HELLO sig_off = 1 when IPCFS_GPU_TRAP is on; a READY sent as a message
 * across nodes (gpu_span.c) probe_off = 1 + the rank whose NCCL failed
 * first (0: none).
 * Decoding rejects (-EBADMSG) a wrong length, a non-hex digit, a wrong
 * magic, version, kind or checksum, a host name without its NUL, rank >=
 * world, world not 1..64, an unaligned or inconsistent offset.
 */
#ifndef IPCFS_GPU_INT_H
#define IPCFS_GPU_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcfs/plan.h"
#include "ipcfs.h"

#define GPU_REC_MAGIC 0x52475049u
#define GPU_REC_VERSION 1
#define GPU_REC_BYTES 360
#define GPU_REC_HEX (2 * GPU_REC_BYTES)
#define GPU_HOST_MAX 64
#define GPU_UUID_BYTES 16
#define GPU_HANDLE_BYTES 64
#define GPU_NCCL_ID_BYTES 128
/* Longest communicator name: room for the suffixes ".nccl", ".ok", ".uNN"
 * within the daemon's 64-character names. */
#define GPU_NAME_MAX 48

enum gpu_rec_kind {
	GPU_REC_BUF = 1,   /* gpu/NAME/RANK: buffer + signal block of a rank */
	GPU_REC_NCCL = 2,  /* gpu/NAME.nccl/0: the NCCL unique id */
	GPU_REC_READY = 3, /* gpu/NAME.ok/RANK: verdicts and settings */
	GPU_REC_USER = 4,  /* gpu/NAME.uK/RANK: user buffer K */
	/* gpu/NAME.g0|g1/RANK (by the parity of the batch): the buffers of
	 * calls captured in CUDA graphs, one batch per
	 * ipcfs_gpu_register_graph(): a table in a memfd of the
	 * writer (pid, descriptor in handle[0..3]), buf_bytes its size,
	 * sig_off the first call, probe_off the number of calls, oneshot_max
	 * the batch number. */
	GPU_REC_GRAPH = 5,
	/* A group whose ranks span nodes (gpu_span.c): a rank's set-up
	 * (device, settings, NCCL wanted; rank 0's the NCCL id) sent as a
	 * message of the group to every other rank, never a file. */
	GPU_REC_HELLO = 6,
};

/* flags */
#define GPU_F_IPC 1u        /* BUF: an IPC buffer is exported */
#define GPU_F_NCCL_WANT 2u  /* BUF: this rank wants NCCL (IPCFS_NCCL != 0) */
#define GPU_F_FAILED 4u     /* BUF: this rank failed before publishing: give up */
#define GPU_F_ABANDONED 8u  /* BUF: this rank saw a rank's GPU_F_FAILED, gives up */
#define GPU_F_ID_VALID 1u   /* NCCL: nccl_id holds a valid id */
#define GPU_F_PEER_OK 1u    /* READY: every peer's buffer passed the probe */
#define GPU_F_NCCL_OK 2u    /* READY: NCCL initialized here */
#define GPU_F_REG_OK 1u     /* USER, GRAPH: this rank's part worked */
#define GPU_F_REG_DONE 2u   /* USER, GRAPH: round 2, this rank has read all */
#define GPU_F_HELLO_ID 1u   /* HELLO: nccl_id holds a valid id (rank 0) */
/* HELLO: GPU_F_NCCL_WANT as in BUF */

struct gpu_record {
	uint32_t kind, rank, world, pid, flags, algo, blocks;
	uint64_t gen, buf_bytes, buf_off, sig_off, probe_off, oneshot_max;
	unsigned char uuid[GPU_UUID_BYTES];
	unsigned char handle[GPU_HANDLE_BYTES];
	char host[GPU_HOST_MAX];
	unsigned char nccl_id[GPU_NCCL_ID_BYTES];
};

/* sizeof(struct ipcfs_k_signal): a BUF record's probe words start at or
 * after sig_off + this (for the tests, which do not see the kernels'
 * headers). */
extern const size_t gpu_signal_bytes;

/* Encode @r as GPU_REC_HEX hex digits and a NUL into @hex; returns
 * GPU_REC_HEX, or -ENOSPC (@size too small), -EINVAL (host not
 * NUL-terminated). */
int gpu_record_encode(const struct gpu_record *r, char *hex, size_t size);
/* Decode @len characters of @text (one trailing newline allowed): 0 or
 * -EBADMSG. */
int gpu_record_decode(const char *text, size_t len, struct gpu_record *r);

/* 0 if @name is a valid communicator name ([A-Za-z0-9_.-], 1..GPU_NAME_MAX,
 * not starting with '.'), else -EINVAL. */
int gpu_name_check(const char *name);

/* Where the records of a group live: through its ctl (a mounted group) or
 * as files written by the library (a plain directory). */
struct gpu_rdv {
	char dir[PATH_MAX];
	bool mounted;
};

int gpu_rdv_init(struct gpu_rdv *v, const char *dir);
/* Publish @rec as gpu/@name/@rank (mounted: `register`; plain: temp file
 * and rename). */
int gpu_rdv_publish(const struct gpu_rdv *v, const char *name, int rank,
		    const struct gpu_record *rec);
/* Remove gpu/@name/@rank (and the empty directories of a plain group). */
int gpu_rdv_unpublish(const struct gpu_rdv *v, const char *name, int rank);
/* Read gpu/@name/@rank: 0, -ENOENT (none yet), -EBADMSG, or a read error. */
int gpu_rdv_read(const struct gpu_rdv *v, const char *name, int rank, struct gpu_record *rec);

/* Whether process @pid is gone or a zombie (its parent has not reaped it). */
bool gpu_pid_dead(uint32_t pid);

/* Whether a record of @rank is current: 1 yes, 0 not yet (stale: keep
 * waiting), < 0 an error that ends the wait. */
typedef int (*gpu_accept_fn)(const struct gpu_record *rec, int rank, void *arg);
/* The record is from the process that holds @rank live in @arg's group
 * (a struct ipcfs_member *). */
int gpu_accept_live(const struct gpu_record *rec, int rank, void *arg);

/*
 * Wait up to @timeout_ms (-1: for ever) until gpu/@name/R holds a current
 * record for every rank R in @mask (R < @world): of @kind, rank R, world
 * @world, generation @gen, accepted by @accept (NULL: any). out[R] gets
 * it. -ETIMEDOUT, -EBADMSG (a malformed record, or one of another world
 * or rank), or an error of @accept.
 */
int gpu_rdv_gather(const struct gpu_rdv *v, const char *name, int world, uint64_t mask,
		   uint32_t kind, uint64_t gen, int timeout_ms, gpu_accept_fn accept,
		   void *arg, struct gpu_record *out);

/*
 * Wait up to @timeout_ms until no rank in @mask has a current record (as
 * above) in gpu/@name any more: the destroy barrier. -ETIMEDOUT.
 */
int gpu_rdv_wait_gone(const struct gpu_rdv *v, const char *name, int world, uint64_t mask,
		      uint32_t kind, uint64_t gen, int timeout_ms, gpu_accept_fn accept,
		      void *arg);

/*
 * How many nodes (machines) hold the ranks of a group of @world ranks,
 * from the text of its `nodes` file (@len bytes: lines "NAME
 * tcp://ADDR:PORT RANKS" as the daemon shows them, RANKS like "0-1,4";
 * empty lines and '#' comments skipped): 1 for an empty file. -EBADMSG
 * when a line is malformed or the lines do not hold every rank exactly
 * once.
 */
int gpu_nodes_parse(const char *text, size_t len, int world, int *nodes);
/* The same from @v's `nodes` file: 1 for a plain directory (a group on one
 * machine) or a daemon without one; -EBADMSG, or the error of reading it. */
int gpu_nodes_read(const struct gpu_rdv *v, int world, int *nodes);

/*
 * The decision of a communicator whose ranks span @nodes nodes, from every
 * rank's HELLO record @recs[0..@world): 0 when every call can go to NCCL.
 * -EINVAL when the ranks' settings or buf_bytes differ; -EOPNOTSUPP when
 * NCCL cannot be used: a rank disabled it (IPCFS_NCCL=0), two ranks share
 * a GPU, or rank 0 could not create an NCCL id. The reason, naming the
 * rank and what to change, in @why. The same answer on every rank.
 */
int gpu_span_decide(const struct gpu_record *recs, int world, int nodes, char *why,
		    size_t whylen);

/* Settings of a communicator that every rank must share. */
struct gpu_settings {
	enum allreduce_algo algo;              /* requested: AUTO or forced */
	struct allreduce_plan_tuning tuning;
	unsigned blocks;                       /* 0: kernels' default */
	uint64_t timeout_ns;                   /* kernel barrier timeout, 0: default */
	bool nccl;                             /* try NCCL */
	/* Calls of more bytes go to NCCL when every rank has it (on NVSwitch
	 * systems NCCL is faster above a few MiB); 0: never. */
	uint64_t nccl_above;
	bool trap;                             /* a kernel failure also traps */
};

#define GPU_NCCL_ABOVE_DEFAULT (8ull << 20)

/*
 * Fill @s: algo from @dir/algo when it exists (auto|oneshot|twoshot|nccl),
 * then, in a plain directory (!@mounted), from $IPCFS_ALGO; thresholds from
 * $IPCFS_ONESHOT_MAX (bytes, suffix k/K/m/M allowed, all world sizes);
 * blocks from $IPCFS_GPU_BLOCKS (1..64); kernel timeout from
 * $IPCFS_GPU_TIMEOUT_MS; NCCL unless $IPCFS_NCCL=0; the size above which
 * NCCL is preferred from $IPCFS_NCCL_ABOVE (0: never); trap on a kernel
 * failure when $IPCFS_GPU_TRAP=1. -EINVAL (and ipcfs_gpu_error() says
 * which) for a bad value.
 */
int gpu_settings_load(const char *dir, bool mounted, struct gpu_settings *s);

/* Parse a size (ctl_parse_size: K, M, G, KiB, MiB, GiB), a trailing
 * newline allowed: 0 or -EINVAL. */
int gpu_parse_size(const char *s, uint64_t *out);

/* ---- helpers shared by the gpu_*.c files ---------------------------------- */

/* snprintf into @out: 0, or -ENAMETOOLONG when it does not fit. */
int gpu_path_of(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* write(2) all of @n bytes: 0 or -errno. */
int gpu_write_all(int fd, const char *p, size_t n);
uint64_t gpu_now_ms(void);
/* Sleep *@us microseconds, doubling it up to 10 ms. */
void gpu_nap(unsigned *us);

/* The reason ipcfs_gpu_error() reports in this thread (fmt "" clears it):
 * the one error sink of the GPU side (gpu_dl.c). */
void gpu_err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* gpu_err_set(@fmt, ...) and return @rc: the GPU side's one way to fail
 * with a reason (ipcfs_gpu_error). */
int gpu_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
