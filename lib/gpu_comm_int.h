/* SPDX-License-Identifier: MIT */
/*
 * gpu_comm_int.h - the GPU communicator (struct ipcfs_gpu_comm) shared by
 * the files that implement it:
 *   gpu_dl.c        the loader of libipcfs_cuda.so (k) and the error sink
 *   gpu_comm.c      init in named steps, destroy (owner of the struct)
 *   gpu_abandon.c   steps 2-3 when a rank failed in step 1
 *   gpu_peers.c     step 4: the peers' buffers, the grid limit
 *   gpu_nccl.c      step 5: NCCL
 *   gpu_agree.c     step 6: verdicts and settings of every rank
 *   gpu_span.c      the set-up instead of steps 1-6 when the ranks span
 *                   nodes (gpu_nodes.c): NCCL only, through messages
 *   gpu_allreduce.c the choice of algorithm per call, launch, counters
 *   gpu_register.c  user buffers, the two-round registration protocol
 *   gpu_graph.c     buffers of calls captured in CUDA graphs
 *   gpu_watch.c     waiting for the device, aborting on a dead peer
 * A communicator is used by one thread at a time (ipcfs_gpu_comm_init(3)):
 * no field has a lock.
 */
#ifndef IPCFS_GPU_COMM_INT_H
#define IPCFS_GPU_COMM_INT_H

#include <string.h>
#include <unistd.h>

#include "ipcfs/cuda_abi.h"
#include "gpu_int.h"

#define API __attribute__((visibility("default")))

/* libipcfs_cuda.so's operations, once gpu_load() succeeded. */
extern const struct ipcfs_k_ops *k;
/* Load libipcfs_cuda.so ($IPCFS_CUDA_LIB, else next to libipcfs, else the
 * linker's path) and check for a device: 0, -ENODEV or -ENOTSUP (reason
 * set). */
int gpu_load(void);
/* A failed operation of libipcfs_cuda.so: keep "@what: its reason". */
int gpu_kfail(int rc, const char *what);

#define GPU_MAX_USER 16
/* Calls that can be captured into CUDA graphs with their own buffers: one
 * table of IPCFS_K_MAX_RANKS pointers each in device memory (2 MiB), made
 * at init because cudaMalloc is not allowed while a stream is captured.
 * Fixed, so that every rank runs out at the same call (later captured
 * calls copy into the communicator's buffer instead). */
#define GPU_GRAPH_CALLS 32768

/* A peer's allocation opened for graph buffers (each once: opening a
 * handle again would only add a reference). */
struct gpu_import {
	int rank;
	unsigned char handle[GPU_HANDLE_BYTES];
	void *base;
};

struct gpu_user {
	void *local;                             /* this rank's pointer */
	size_t bytes;
	void *bufs[IPCFS_K_MAX_RANKS];           /* every rank's, as seen here */
	void *opened[IPCFS_K_MAX_RANKS];         /* bases to close */
};

struct ipcfs_gpu_comm {
	struct ipcfs_member *m;
	struct gpu_rdv rdv;
	char name[GPU_NAME_MAX + 1];
	int world, rank, dev, timeout_ms;
	uint64_t gen;
	size_t buf_bytes;
	struct gpu_settings set;

	bool published;            /* gpu/NAME/RANK written: peers may open our buffer */
	bool nccl_published;       /* rank 0: gpu/NAME.nccl/0 written */
	bool ready_published;      /* gpu/NAME.ok/RANK written */
	bool failed_published;     /* gpu/NAME/RANK says this rank failed */
	uint64_t failed_ranks;     /* ranks whose BUF record says they failed */
	bool ipc;                  /* IPC buffers exchanged and opened */
	bool peer_access;          /* every rank's probes passed */
	int nodes;
	unsigned blocks;           /* grid limit of every call, equal on every rank */
	void *alloc;               /* [signal | probe | buffer] of this rank */
	uint64_t buf_off, sig_off, probe_off;
	void *bufs[IPCFS_K_MAX_RANKS];
	struct ipcfs_k_signal *sigs[IPCFS_K_MAX_RANKS];
	void *opened[IPCFS_K_MAX_RANKS];
	uint32_t pids[IPCFS_K_MAX_RANKS]; /* the peers' processes (BUF records) */
	struct ipcfs_k_error *err_host, *err_dev;

	void *nccl;
	bool nccl_failed;          /* some rank's NCCL failed: abort, never destroy */
	char nccl_why[200];

	int broken;                /* a kernel-detected error, sticky */
	int nuser;
	int user_names;            /* gpu/NAME.uK written for K < user_names */
	uint64_t user_attempts;    /* calls of ipcfs_gpu_register */
	struct gpu_user user[GPU_MAX_USER];

	/* Calls captured in CUDA graphs (see ipcfs_gpu_register_graph). */
	void **graph_tables;       /* device: GPU_GRAPH_CALLS x MAX_RANKS pointers */
	const void **graph_in;     /* host: this rank's input of each table */
	size_t graph_used;         /* tables handed to captured calls */
	size_t graph_done;         /* tables filled in */
	uint64_t graph_batch;      /* registrations so far */
	struct gpu_import *imports;
	size_t nimports, imports_cap;
};

/* A record of @kind of this rank (what every record starts with); inline
 * here, below every file that publishes records. */
static inline void gpu_fill_rec(const struct ipcfs_gpu_comm *c, struct gpu_record *r,
				uint32_t kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->rank = (uint32_t)c->rank;
	r->world = (uint32_t)c->world;
	r->pid = (uint32_t)getpid();
	r->gen = c->gen;
}

/* This process's device @uuid and host name into @r (BUF, HELLO). */
static inline void gpu_set_uuid_host(struct gpu_record *r, const unsigned char *uuid)
{
	memcpy(r->uuid, uuid, GPU_UUID_BYTES);
	if (gethostname(r->host, sizeof(r->host) - 1))
		strcpy(r->host, "unknown");
	r->host[sizeof(r->host) - 1] = '\0';
	memset(r->host + strlen(r->host), 0, sizeof(r->host) - strlen(r->host));
}

/* "@name@suffix" into @out: the name of a sub-record (.ok, .nccl, ...). */
static inline int gpu_sub_name(char *out, size_t size, const char *name, const char *suffix)
{
	return gpu_path_of(out, size, "%s%s", name, suffix);
}
static inline uint64_t gpu_all_ranks(int world)
{
	return world < 64 ? (1ull << world) - 1 : ~0ull;
}

/* gpu_abandon.c: accept a current BUF record, -ECANCELED (and ->failed)
 * for one that says its rank failed; the failed rank waits until every
 * peer answered; a peer that saw a failure answers and waits until the
 * failed ranks' records (c->failed_ranks) are gone. */
struct gpu_buf_accept {
	struct ipcfs_member *m;
	int failed;   /* the rank whose record says it failed */
};
int gpu_buf_accept(const struct gpu_record *rec, int rank, void *arg);
void gpu_wait_peers_saw_failure(struct ipcfs_gpu_comm *c);
void gpu_abandon(struct ipcfs_gpu_comm *c, struct gpu_record *mine);

/* gpu_peers.c: the grid limit from the BUF records (0: the kernels cannot
 * be used), and step 4 (a verdict in *ok, the reason in @why). */
unsigned gpu_coresident_blocks(const struct ipcfs_gpu_comm *c, const struct gpu_record *recs);
void gpu_open_peers(struct ipcfs_gpu_comm *c, const struct gpu_record *recs, int *ok, char *why,
		    size_t whylen);

/* gpu_agree.c: the settings every rank must share, into a READY or HELLO
 * record (algo, blocks, oneshot_max, probe_off = NCCL above, sig_off =
 * trap), and whether two such records differ. */
void gpu_settings_rec(const struct ipcfs_gpu_comm *c, struct gpu_record *r);
bool gpu_settings_differ(const struct gpu_record *a, const struct gpu_record *b);


/* gpu_span.c: the whole set-up of a communicator whose ranks span nodes
 * (c->nodes > 1): NCCL for every call, bootstrapped through messages of
 * the group. 0, or an error with its reason; nothing of IPC is made. */
int gpu_span_init(struct ipcfs_gpu_comm *c);

/* gpu_agree.c: step 6; *peer_ok and *nccl_ok become the group's verdicts
 * (the reason in @why, c->nccl_why). */
int gpu_agree(struct ipcfs_gpu_comm *c, int *peer_ok, int *nccl_ok, char *why, size_t whylen);

/* gpu_watch.c: k->device_sync(), while a watchdog aborts the kernels of
 * this rank when a peer's process dies. */
int gpu_sync_watched(struct ipcfs_gpu_comm *c);

/* gpu_allreduce.c: the sticky kernel error of @c (0 if none), noticed
 * now if new. */
int gpu_poll_err(struct ipcfs_gpu_comm *c);

/* gpu_register.c: the registration rounds (see there). */
struct gpu_round {
	struct ipcfs_member *m;
	uint64_t attempt;
	uint32_t need;   /* flags the record must have */
};
int gpu_round_accept(const struct gpu_record *rec, int rank, void *arg);
int gpu_round_two(struct ipcfs_gpu_comm *c, const char *sub, struct gpu_record *mine,
		  bool self_ok, struct gpu_round *ra, int *bad);
void gpu_user_close(struct ipcfs_gpu_comm *c);

/* gpu_graph.c */
void gpu_graph_close(struct ipcfs_gpu_comm *c);

#endif
