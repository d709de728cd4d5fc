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
 *
 * Where the shared memory is: by default a memfd of the process that made
 * the id, opened by the others through /proc/PID/fd (one machine). With
 * IPCFS_EMU_NCCL_DIR set (simulated nodes: a directory every node sees,
 * standing for NCCL's network bootstrap), a file made there by the id's
 * creator, named only in the id: a rank finds it only when the id reached
 * it, whatever carried it. The creator removes the file once every rank has
 * attached (or when it gives up).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
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

#define NCCL_FILE_MAX 64

struct emu_nccl {
	struct emu_nccl_shm *s;
	int world, rank, creator_fd;
	uint64_t phase;
	char unlink_path[PATH_MAX];  /* the creator's file in IPCFS_EMU_NCCL_DIR, or "" */
};

struct emu_nccl_id {
	uint64_t magic;
	int32_t pid, fd;
	char file[NCCL_FILE_MAX];   /* "" (memfd) or a file of IPCFS_EMU_NCCL_DIR */
};
_Static_assert(sizeof(struct emu_nccl_id) <= IPCFS_K_NCCL_ID_BYTES, "id size");

/* The id this process made last in IPCFS_EMU_NCCL_DIR (its creator keeps
 * the file's descriptor until init): guarded by emu_lock. */
static struct {
	int fd;
	char file[NCCL_FILE_MAX];
} made = { -1, "" };

static int dir_path(const char *file, char *path, size_t size);

/* An id made here that no rank of this process initialized (the ranks
 * agreed not to use NCCL): its file goes with the process, as real NCCL's
 * bootstrap socket would. */
__attribute__((destructor)) static void made_cleanup(void)
{
	char path[PATH_MAX];

	if (made.fd >= 0 && !dir_path(made.file, path, sizeof(path)))
		unlink(path);
}

/* The path of @file in IPCFS_EMU_NCCL_DIR: 0, or -EINVAL (unset, bad name). */
static int dir_path(const char *file, char *path, size_t size)
{
	const char *dir = getenv("IPCFS_EMU_NCCL_DIR");
	int n;

	if (!dir || !*dir || !memchr(file, '\0', NCCL_FILE_MAX) || strchr(file, '/'))
		return -EINVAL;
	n = snprintf(path, size, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

/* A unique id naming a new file of IPCFS_EMU_NCCL_DIR. */
static int dir_unique_id(struct emu_nccl_id *u)
{
	static unsigned serial;
	char path[PATH_MAX];
	int fd;

	snprintf(u->file, sizeof(u->file), "ipcfs-emu-nccl.%d.%u", (int)getpid(), ++serial);
	if (dir_path(u->file, path, sizeof(path)))
		return emu_fail(-EINVAL, "ncclGetUniqueId: IPCFS_EMU_NCCL_DIR is not a directory path");
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(struct emu_nccl_shm))) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return emu_fail(-EIO, "ncclGetUniqueId: %s: %s", path, strerror(e));
	}
	pthread_mutex_lock(&emu_lock);
	if (made.fd >= 0)
		close(made.fd);  /* an earlier id nobody initialized: its file stays */
	made.fd = fd;
	memcpy(made.file, u->file, sizeof(made.file));
	pthread_mutex_unlock(&emu_lock);
	return 0;
}

/* Open the shared memory the id @u names: a descriptor, or -1 with the
 * path tried in @path. *@creator: this process made it (dir case: the
 * path to remove once every rank attached). */
static int open_shared(const struct emu_nccl_id *u, char *path, size_t size, bool *creator)
{
	*creator = false;
	if (!u->file[0]) {
		snprintf(path, size, "/proc/%d/fd/%d", u->pid, u->fd);
		return open(path, O_RDWR | O_CLOEXEC);
	}
	if (dir_path(u->file, path, size)) {
		snprintf(path, size, "%.*s in IPCFS_EMU_NCCL_DIR (unset here?)", NCCL_FILE_MAX,
			 u->file);
		return -1;
	}
	pthread_mutex_lock(&emu_lock);
	if (made.fd >= 0 && !strcmp(made.file, u->file)) {
		*creator = true;
		close(made.fd);
		made.fd = -1;
	}
	pthread_mutex_unlock(&emu_lock);
	return open(path, O_RDWR | O_CLOEXEC);
}

int emu_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	struct emu_nccl_id u = { EMU_MAGIC, getpid(), -1, "" };
	const char *dir = getenv("IPCFS_EMU_NCCL_DIR");

	if (dir && *dir) {
		int rc = dir_unique_id(&u);
		if (rc)
			return rc;
		memset(id, 0, IPCFS_K_NCCL_ID_BYTES);
		memcpy(id, &u, sizeof(u));
		return 0;
	}
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
	char path[PATH_MAX];
	bool creator;
	int fd;

	memcpy(&u, id, sizeof(u));
	if (!comm || u.magic != EMU_MAGIC || world < 1 || world > IPCFS_K_MAX_RANKS ||
	    rank < 0 || rank >= world)
		return emu_fail(-EINVAL, "ncclCommInitRankConfig: invalid argument");
	if (emu_env_on("IPCFS_EMU_NCCL_FAIL"))
		return emu_fail(-EIO, "ncclCommInitRankConfig: unhandled system error (emulated)");
	fd = open_shared(&u, path, sizeof(path), &creator);
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
	n->creator_fd = !u.file[0] && u.pid == getpid() ? u.fd : -1;
	if (creator)
		snprintf(n->unlink_path, sizeof(n->unlink_path), "%s", path);
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
	if (n->unlink_path[0]) {
		unlink(n->unlink_path);
		n->unlink_path[0] = '\0';
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
	if (n->unlink_path[0])
		unlink(n->unlink_path);
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
