/* SPDX-License-Identifier: MIT */
/*
 * emu_nccl.c - the emulator's NCCL: a shared memfd named by the unique id;
 * chunked copy-in, barrier, reduce in rank order, barrier, run on the
 * stream like every other kernel.
 *
 * Initialization behaves like ncclCommInitRankConfig with blocking = 0:
 * init_start attaches and returns, init_poll says -EINPROGRESS until every
 * rank has attached, and never gives up (real NCCL waits for ever for a
 * rank that failed before joining). IPCFS_EMU_NCCL_FAIL=1 makes init_start
 * fail on this rank.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcfs/plan.h"
#include "emu_int.h"

#define NCCL_CHUNK (256u * 1024u)

struct emu_nccl_shm {
	uint64_t magic;
	int32_t attached;                        /* atomic: ranks that mapped it */
	int32_t pad;
	uint64_t phase[IPCFS_K_MAX_RANKS];       /* atomic: barriers passed, per rank */
	unsigned char area[IPCFS_K_MAX_RANKS][NCCL_CHUNK];
};

struct emu_nccl {
	struct emu_nccl_shm *s;
	int world, rank, creator_fd;
	uint64_t phase;
};

struct emu_nccl_id {
	uint64_t magic;
	int32_t pid, fd;
};

int emu_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	struct emu_nccl_id u = { EMU_MAGIC, getpid(), -1 };

	/* The creator keeps the memfd open for the peers to find through
	 * /proc until every rank has attached. */
	u.fd = memfd_create("ipcfs-emu-nccl", MFD_CLOEXEC);
	if (u.fd < 0 || ftruncate(u.fd, sizeof(struct emu_nccl_shm)))
		return emu_fail(-EIO, "ncclGetUniqueId: memfd: %s", strerror(errno));
	memset(id, 0, IPCFS_K_NCCL_ID_BYTES);
	memcpy(id, &u, sizeof(u));
	return 0;
}

int emu_nccl_init_start(void **comm, int world, int rank,
			const unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	struct emu_nccl_id u;
	struct emu_nccl *n;
	char path[64];
	int fd;

	memcpy(&u, id, sizeof(u));
	if (!comm || u.magic != EMU_MAGIC || world < 1 || world > IPCFS_K_MAX_RANKS ||
	    rank < 0 || rank >= world)
		return emu_fail(-EINVAL, "ncclCommInitRankConfig: invalid argument");
	if (emu_env_on("IPCFS_EMU_NCCL_FAIL"))
		return emu_fail(-EIO, "ncclCommInitRankConfig: unhandled system error (emulated)");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", u.pid, u.fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	n = calloc(1, sizeof(*n));
	if (fd < 0 || !n) {
		if (fd >= 0)
			close(fd);
		free(n);
		return emu_fail(-EIO, "ncclCommInitRankConfig: cannot open %s", path);
	}
	n->s = mmap(NULL, sizeof(*n->s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (n->s == MAP_FAILED) {
		free(n);
		return emu_fail(-EIO, "ncclCommInitRankConfig: mmap failed");
	}
	n->world = world;
	n->rank = rank;
	n->creator_fd = u.pid == getpid() ? u.fd : -1;
	__atomic_add_fetch(&n->s->attached, 1, __ATOMIC_SEQ_CST);
	*comm = n;
	return 0;
}

int emu_nccl_init_poll(void *comm)
{
	struct emu_nccl *n = comm;

	if (!n)
		return emu_fail(-EINVAL, "ncclCommGetAsyncError: no communicator");
	if (__atomic_load_n(&n->s->attached, __ATOMIC_SEQ_CST) < n->world)
		return -EINPROGRESS;
	/* Everyone has it mapped: the creator may close its descriptor. */
	if (n->creator_fd >= 0) {
		close(n->creator_fd);
		n->creator_fd = -1;
	}
	return 0;
}

/* Every rank raises its phase, then waits for all: seq_cst, a plain
 * generation barrier (the data in area[] is ordered by it). */
static int nccl_barrier(struct emu_nccl *n)
{
	uint64_t start = emu_now_ns();

	n->phase++;
	__atomic_store_n(&n->s->phase[n->rank], n->phase, __ATOMIC_SEQ_CST);
	for (int r = 0; r < n->world; r++)
		while (__atomic_load_n(&n->s->phase[r], __ATOMIC_SEQ_CST) < n->phase) {
			sched_yield();
			if (emu_now_ns() - start > 30000000000ull)
				return emu_fail(-EIO, "ncclAllReduce: rank %d did not arrive (emulated "
						"NCCL gives up after 30 s)", r);
		}
	return 0;
}

struct nccl_op {
	struct emu_op op;
	struct emu_nccl *n;
	const void *in;
	void *out;
	size_t count;
	int dtype;
};

static int nccl_run(struct emu_op *op)
{
	struct nccl_op *o = (struct nccl_op *)op;
	struct emu_nccl *n = o->n;
	const size_t es = allreduce_plan_dtype_size(o->dtype);
	int rc;

	for (size_t done = 0; done < o->count;) {
		size_t k = o->count - done < NCCL_CHUNK / es ? o->count - done : NCCL_CHUNK / es;

		memcpy(n->s->area[n->rank], (const char *)o->in + done * es, k * es);
		if ((rc = nccl_barrier(n)))
			return rc;
		for (size_t i = 0; i < k; i++) {
			float acc = allreduce_load_f32(n->s->area[0], o->dtype, i);
			for (int r = 1; r < n->world; r++)
				acc += allreduce_load_f32(n->s->area[r], o->dtype, i);
			allreduce_store_f32((char *)o->out + done * es, o->dtype, i, acc);
		}
		if ((rc = nccl_barrier(n)))
			return rc;
		done += k;
	}
	return 0;
}

static void nccl_done(struct emu_op *op)
{
	free(op);
}

int emu_nccl_allreduce(void *comm, const void *in, void *out, size_t count, int dtype,
		       void *stream)
{
	struct emu_nccl *n = comm;
	const size_t es = allreduce_plan_dtype_size(dtype);
	struct nccl_op *o;

	(void)stream;
	if (!n || !es || (count && (!in || !out)))
		return emu_fail(-EINVAL, "ncclAllReduce: invalid argument");
	pthread_mutex_lock(&emu_lock);
	emu_stats.nccl_calls++;
	pthread_mutex_unlock(&emu_lock);
	if (!count)
		return 0;
	if (!(o = calloc(1, sizeof(*o))))
		return emu_fail(-ENOMEM, "ncclAllReduce: out of memory");
	*o = (struct nccl_op){ { NULL, nccl_run, nccl_done }, n, in, out, count, dtype };
	emu_stream_push(&o->op);
	return 0;
}

static int nccl_free(struct emu_nccl *n)
{
	if (!n)
		return 0;
	if (n->creator_fd >= 0)
		close(n->creator_fd);
	munmap(n->s, sizeof(*n->s));
	free(n);
	return 0;
}

int emu_nccl_abort(void *comm)
{
	return nccl_free(comm);
}

int emu_nccl_destroy(void *comm)
{
	return nccl_free(comm);
}
