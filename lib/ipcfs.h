/* SPDX-License-Identifier: MIT */
/*
 * ipcfs.h - the public interface of libipcfs.
 *
 * A group is a set of up to IPCFS_MAX_RANKS processes (ranks) on one machine
 * that share one memory segment. Every rank owns one bounded ring in that
 * segment and is its only writer (single producer); every other rank reads
 * the messages addressed to it from every ring (multi consumer). Sending and
 * receiving are loads, stores and atomics on the segment: no system call on
 * the fast path. A waiter spins for the group's spin_us, then sleeps on a
 * futex; a sender wakes a rank only when that rank sleeps.
 *
 * Conventions (as in liburing): every function that can fail returns 0 or a
 * non-negative value on success and a negative errno on failure; none of
 * them reads or relies on the global errno. Timeouts are in milliseconds:
 * -1 waits for ever, 0 never waits (-EAGAIN when it would have to),
 * a positive value gives up with -ETIMEDOUT.
 *
 * Threads: a member may be used by one sending thread and one receiving
 * thread at the same time; two threads must not send (or receive) through
 * the same member concurrently. ipcfs_wait_ranks() counts as receiving.
 *
 * Each function has a man page: ipcfs_join(3), ipcfs_send(3), ...
 */
#ifndef IPCFS_H
#define IPCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what this header declares
 * is its exported interface. */
#pragma GCC visibility push(default)

#define IPCFS_VERSION_MAJOR 0
#define IPCFS_VERSION_MINOR 1
#define IPCFS_VERSION_PATCH 0
/* Version of the shared-memory layout; a segment of another ABI is refused.
 * 2: the arena's lock is a word of its own (no pthread mutex).
 * 3: the header's layout is one struct; each rank says its last CPU.
 * 4: a rank says whether a bridge relays it from another node. */
#define IPCFS_ABI 4

/* Largest group: destination sets are 64-bit masks. */
#define IPCFS_MAX_RANKS 64

/* Destination mask meaning "every other live rank" (broadcast). */
#define IPCFS_ALL (~(uint64_t)0)
/* Source meaning "any rank" for ipcfs_recv(). */
#define IPCFS_ANY (-1)

/* Source of messages published by the daemon (`bcast` written to a group's
 * ctl file): a pseudo-rank after every real one. */
#define IPCFS_SRC_CTL IPCFS_MAX_RANKS

/* Kinds of message (struct ipcfs_msg.kind). */
#define IPCFS_KIND_RAW 0   /* bytes */
#define IPCFS_KIND_TYPED 1 /* named typed arrays: ipcfs_build_begin(3), ipcfs_msg_field(3) */

/* Bit of one rank in a destination mask. */
#define IPCFS_RANK_BIT(r) ((uint64_t)1 << (r))

/*
 * Parameters of a group, fixed when its segment is created.
 * Fill with ipcfs_params_init(), then change what you need.
 */
struct ipcfs_params {
	uint32_t ranks;       /* ranks in the group, 1..64 (default 8) */
	uint32_t slots;       /* ring slots per sender, power of two 2..65536 (default 64) */
	uint32_t slot_bytes;  /* largest message, bytes, multiple of 64, 64..16 MiB (default 4096) */
	uint32_t spin_us;     /* spin window before sleeping, 0..1000000 us (default 50) */
	uint32_t timeout_ms;  /* a sender blocked longer counts as stalled (default 1000) */
	int32_t numa_node;    /* node the segment is bound to, -1 for none (default -1) */
	uint32_t mode;        /* permission bits of the segment file (default 0660) */
	uint32_t hugepage_kb; /* 0 (default), 2048 or 1048576: back the segment with
	                         huge pages of that size from a hugetlbfs mount */
	uint64_t arena_bytes; /* bytes of the large-payload arena (default 0) */
};

/* One joined rank of a group (opaque). */
struct ipcfs_member;

/* A received message: a read-only view into shared memory, valid until
 * ipcfs_release(). */
struct ipcfs_msg {
	const void *data;     /* payload, 32-byte aligned */
	size_t len;           /* payload bytes */
	int src;              /* sending rank */
	uint32_t kind;        /* IPCFS_KIND_RAW or IPCFS_KIND_TYPED */
	uint64_t seq;         /* per-sender sequence number, from 1 */
	uint64_t priv[2];     /* for the library */
};

/* Counters of one rank, read from shared memory. */
struct ipcfs_rank_stat {
	int rank;
	int state;            /* IPCFS_STATE_* */
	pid_t pid;            /* process bound to the rank (the last one after it
	                         left or died), 0 if it never joined */
	uint64_t sent;        /* messages committed */
	uint64_t sent_bytes;
	uint64_t recv;        /* messages received */
	uint64_t recv_bytes;
	uint64_t waits;       /* receives that found nothing and waited */
	uint64_t spins;       /* spin-loop rounds while waiting (send or receive) */
	uint64_t sleeps;      /* futex sleeps (send or receive) */
	uint64_t wakeups;     /* futex wake calls this rank made for sleeping peers */
	uint64_t stalls;      /* sends that waited for ring space (back pressure) */
	uint64_t timeouts;    /* sends and receives that ended with -ETIMEDOUT */
	uint64_t lag;         /* messages addressed to this rank not yet released */
	uint64_t stalled_ms;  /* how long its current send has waited, 0 if none */
	uint64_t allreduce_oneshot; /* GPU all-reduce calls, by algorithm */
	uint64_t allreduce_twoshot;
	uint64_t allreduce_nccl;
	uint64_t allreduce_bytes;   /* bytes reduced (count * element size) */
	uint64_t allreduce_errors;  /* calls that failed (timeouts included) */
};

enum {
	IPCFS_STATE_FREE = 0, /* never joined */
	IPCFS_STATE_LIVE = 1, /* joined, process alive */
	IPCFS_STATE_LEFT = 2, /* left with ipcfs_leave() */
	IPCFS_STATE_DEAD = 3, /* its process died while a member */
};

/* Fill @p with the defaults listed in struct ipcfs_params. */
void ipcfs_params_init(struct ipcfs_params *p);

/*
 * Check @p; 0 if valid, -EINVAL (a field out of range) or -ERANGE (the
 * segment would be larger than the address space allows).
 */
int ipcfs_params_check(const struct ipcfs_params *p);

/*
 * Create a group in the plain directory @dir (created if missing) without
 * the daemon: the segment goes to $IPCFS_SHM_DIR (default /dev/shm), or
 * with huge pages to a hugetlbfs mount of that page size ($IPCFS_HUGETLBFS
 * or the first in /proc/mounts), and @dir/shm names it, as a mounted group
 * directory does. @p NULL: defaults. Errors: -EINVAL (a parameter, or a
 * NUMA node this machine lacks), -ERANGE, -EEXIST (@dir already holds a
 * group), -ENODEV (huge pages asked for, no hugetlbfs of that size
 * mounted), -ENOMEM (not enough huge pages reserved), -ENOSPC, and those
 * of open(2), mbind(2).
 */
int ipcfs_group_create(const char *dir, const struct ipcfs_params *p);

/* Destroy a group made by ipcfs_group_create(): unlink its segment and the
 * files in @dir, remove @dir if empty. Members still mapped keep working on
 * the unlinked memory. -ENOENT if @dir holds no group. */
int ipcfs_group_destroy(const char *dir);

/*
 * Join the group in @dir as @rank, or as the lowest free rank when @rank is
 * -1. @dir is a group directory of a mounted ipcfsd (the join is announced
 * through @dir/ctl) or a plain directory made by ipcfs_group_create().
 * Returns the rank (>= 0) and sets *@out. Errors: -ENOENT (no group),
 * -EINVAL (@rank out of range), -EBUSY (rank held by a live process, or
 * no free rank), -EBADMSG (the segment is corrupt), -EPROTO (another ABI),
 * -EACCES, -ENOMEM.
 */
int ipcfs_join(const char *dir, int rank, struct ipcfs_member **out);

/* Leave the group and unmap it; @m is freed. Views not yet released are
 * released. Always returns 0 for a valid @m, -EINVAL for NULL. */
int ipcfs_leave(struct ipcfs_member *m);

/* The rank of @m. */
int ipcfs_rank(const struct ipcfs_member *m);

/* The number of ranks of @m's group. */
int ipcfs_size(const struct ipcfs_member *m);

/* Store the mask of live ranks in *@mask; returns 0. */
int ipcfs_live(const struct ipcfs_member *m, uint64_t *mask);

/*
 * Wait until every rank in @mask is live (IPCFS_ALL: every rank of the
 * group). Returns 0, -EAGAIN or -ETIMEDOUT, -EINVAL for ranks outside the
 * group.
 */
int ipcfs_wait_ranks(struct ipcfs_member *m, uint64_t mask, int timeout_ms);

/*
 * Reserve room for a message of up to @len bytes and store a pointer to it
 * (in shared memory) in *@buf: in @m's ring slot when @len <= slot_bytes
 * (32-byte aligned), else in a block of the group's arena (64-byte
 * aligned), which the readers then read in place. Waits while the slot is
 * still held by a reader, then while the arena has no room (back
 * pressure), each wait bounded by @timeout_ms. The message is built in
 * place and published by ipcfs_commit(); a reservation not committed is
 * reused by the next one (its block too, if large enough). Errors:
 * -EMSGSIZE (@len > slot_bytes and the group has no arena), -ENOMEM (@len
 * plus the 64-byte block header larger than the whole arena), -EAGAIN, -ETIMEDOUT, -EIO (the arena's
 * block list is corrupt).
 */
int ipcfs_reserve(struct ipcfs_member *m, size_t len, void **buf, int timeout_ms);

/*
 * Publish the reserved message, @len bytes, to the ranks in @dest
 * (IPCFS_ALL: every other live rank). Never waits. Errors: -EINVAL (no
 * reservation, @len beyond the reservation's room (slot_bytes, or the
 * arena block's capacity), @dest empty, holding the sender or ranks
 * outside the group), -ENOTCONN (a rank of @dest is not live, or IPCFS_ALL
 * found no live peer); on error nothing is published and the reservation
 * stays.
 */
int ipcfs_commit(struct ipcfs_member *m, uint64_t dest, size_t len);

/* Reserve, copy @len bytes from @data, commit to @dest: the errors of both. */
int ipcfs_send(struct ipcfs_member *m, uint64_t dest, const void *data, size_t len,
	       int timeout_ms);

/*
 * Receive the next message addressed to @m from rank @src (IPCFS_ANY: from
 * any rank, fairly) into *@msg: a view into shared memory, valid until
 * ipcfs_release(). Per sender, messages arrive in order and exactly once.
 * Errors: -EAGAIN, -ETIMEDOUT, -EPIPE (@src, or with IPCFS_ANY every rank
 * that ever joined, has died or left and nothing more is pending from it),
 * -EBADMSG (a corrupt slot header: that message is skipped), -EINVAL.
 */
int ipcfs_recv(struct ipcfs_member *m, int src, struct ipcfs_msg *msg, int timeout_ms);

/* Hand a received view back, so its sender may reuse the slot. -EINVAL if
 * @msg is not a view held by @m. */
int ipcfs_release(struct ipcfs_member *m, struct ipcfs_msg *msg);

/* From any thread: make the ipcfs_recv() of @m that waits now in another
 * thread (or, if none waits, the next one) return -EINTR, so that its
 * thread can do other work (release views, stop). 0, -EINVAL for NULL. */
int ipcfs_interrupt(struct ipcfs_member *m);

/* The ranks a view held by @m was addressed to (IPCFS_ALL resolved to the
 * ranks it reached), into *@dest. -EINVAL if @msg is not a held view. */
int ipcfs_msg_dest(const struct ipcfs_member *m, const struct ipcfs_msg *msg, uint64_t *dest);

/* ---- typed messages ------------------------------------------------------
 *
 * A typed message (kind IPCFS_KIND_TYPED) is a header and named fields, each
 * a typed array with a shape and 16-byte aligned data. The sender builds it
 * in place: ipcfs_build_add() returns where the array's data goes, in the
 * very memory the readers will read. A reader takes a field as a pointer,
 * dtype and shape without copying. Every header read from shared memory is
 * checked (-EBADMSG).
 */
enum ipcfs_dtype {
	IPCFS_U8 = 1, IPCFS_I8, IPCFS_I16, IPCFS_U16, IPCFS_I32, IPCFS_U32, IPCFS_I64, IPCFS_U64,
	IPCFS_F16, IPCFS_BF16, IPCFS_F32, IPCFS_F64, IPCFS_BOOL,
};
#define IPCFS_MAX_DIMS 8
#define IPCFS_NAME_MAX 255

/* Bytes of one element of @dtype, or -EINVAL. */
int ipcfs_dtype_size(int dtype);
/* "u8", "i32", "bf16", ... or "unknown". */
const char *ipcfs_dtype_name(int dtype);

/* Bytes one field takes in a typed message (header, name, shape and data,
 * padded), to size ipcfs_build_begin(); -EINVAL or -EOVERFLOW. */
long long ipcfs_field_bytes(const char *name, int dtype, unsigned ndim, const uint64_t *shape);
/* Bytes of a typed message's own header. */
#define IPCFS_TYPED_HDR 16

/* A message being built; fields are the library's. */
struct ipcfs_builder {
	struct ipcfs_member *m;
	unsigned char *base;
	size_t cap, used;
	unsigned nfields;
};

/*
 * Reserve @capacity bytes (IPCFS_TYPED_HDR plus the ipcfs_field_bytes() of
 * every field) as ipcfs_reserve() does, and start a typed message there.
 * Errors: those of ipcfs_reserve(), -EINVAL.
 */
int ipcfs_build_begin(struct ipcfs_member *m, struct ipcfs_builder *b, size_t capacity,
		      int timeout_ms);

/*
 * Append a field @name (1..255 bytes, unique is up to you) of @dtype and
 * shape @shape[0..@ndim-1] (@ndim <= IPCFS_MAX_DIMS; 0 for a scalar) and
 * store in *@data where its elements go (16-byte aligned; write them
 * there). Errors: -EINVAL, -EOVERFLOW (shape too large), -ENOSPC (beyond
 * the capacity reserved).
 */
int ipcfs_build_add(struct ipcfs_builder *b, const char *name, int dtype, unsigned ndim,
		    const uint64_t *shape, void **data);

/* Publish the message built in @b to @dest, as ipcfs_commit(). */
int ipcfs_build_commit(struct ipcfs_builder *b, uint64_t dest);

/* One field of a received typed message. */
struct ipcfs_field {
	char name[IPCFS_NAME_MAX + 1];
	int dtype;
	unsigned ndim;
	uint64_t shape[IPCFS_MAX_DIMS];
	uint64_t count;       /* elements: the product of the shape */
	const void *data;     /* in shared memory, 16-byte aligned */
	size_t bytes;         /* count * ipcfs_dtype_size(dtype) */
};

/* Number of fields of @msg. -EINVAL if it is not a typed message,
 * -EBADMSG if its header is corrupt. */
int ipcfs_msg_nfields(const struct ipcfs_msg *msg);

/* Field number @index of @msg. Errors: -EINVAL (not typed), -ENOENT
 * (@index out of range), -EBADMSG. */
int ipcfs_msg_field(const struct ipcfs_msg *msg, unsigned index, struct ipcfs_field *f);

/* The first field called @name. Errors: as ipcfs_msg_field(). */
int ipcfs_msg_find(const struct ipcfs_msg *msg, const char *name, struct ipcfs_field *f);

/* ---- GPU ------------------------------------------------------------------ */

/*
 * Page-lock @m's mapping of the group's arena with cudaHostRegister, so
 * that host-to-device copies from arena blocks are DMA. The CUDA runtime is
 * loaded at run time; without it, a driver or a device, or when
 * cudaHostRegister fails: -ENODEV, and ipcfs_gpu_error() says why. -EINVAL if the group has no arena. Undone by
 * ipcfs_leave(). Calling it again is a no-op.
 */
int ipcfs_arena_register_cuda(struct ipcfs_member *m);

/* Why the last GPU call of this thread failed (empty if it succeeded). */
const char *ipcfs_gpu_error(void);

/* Read the counters of @rank (0..size-1, or IPCFS_SRC_CTL for the daemon's
 * control sender) of @m's group into *@st. -EINVAL for another rank. */
int ipcfs_stat_rank(const struct ipcfs_member *m, int rank, struct ipcfs_rank_stat *st);

/* A short English name of a rank state ("free", "live", "left", "dead"). */
const char *ipcfs_state_name(int state);

/* Store the parameters @m's group was created with in *@p (as recorded in
 * its segment). 0, or -EINVAL for NULL. */
int ipcfs_group_params(const struct ipcfs_member *m, struct ipcfs_params *p);

/*
 * Let the blocking calls of @m (ipcfs_recv, ipcfs_reserve, ipcfs_send,
 * ipcfs_wait_ranks, ipcfs_build_begin) be interrupted: while one sleeps,
 * @fn(@arg) is called in the waiting thread after a signal cuts a sleep
 * short and at least every 50 ms of sleeping (never after a wake-up, so
 * it costs nothing when messages flow). When it returns nonzero the call
 * returns -EINTR and has taken nothing from the group: a message not yet
 * returned stays queued. For runtimes whose signal handlers run outside
 * the handler proper (Python). @fn NULL: not interruptible (the default).
 * 0, -EINVAL for NULL @m, -ECHILD for a member of the parent process.
 */
int ipcfs_set_interrupt(struct ipcfs_member *m, int (*fn)(void *arg), void *arg);

/* Mark the live ranks of @m's group whose process is gone as dead, so that
 * the ring slots and arena blocks they held come back now (the library's
 * own waits do it every 100 ms of one wait; a caller that waits in shorter
 * slices calls this between them). Returns the number marked and stores
 * their mask in *@gone (may be NULL); -EINVAL for NULL @m. */
int ipcfs_reap(struct ipcfs_member *m, uint64_t *gone);

/* ---- GPU all-reduce ---------------------------------------------------------
 *
 * A communicator of the group's ranks (world = ipcfs_size(), one CUDA
 * device per rank) for a sum all-reduce of device arrays. Custom one-shot
 * and two-shot kernels over CUDA IPC buffers for 2..8 ranks with peer
 * access; NCCL where they do not apply (when NCCL could be initialized).
 * libipcfs loads the CUDA side (libipcfs_cuda.so) at run time: without it,
 * a driver or a device the calls return -ENODEV and ipcfs_gpu_error() says
 * why. See ipcfs_gpu_comm_init(3), ipcfs_allreduce(3).
 */

/* Reduction operations of ipcfs_allreduce(). */
enum ipcfs_op {
	IPCFS_OP_SUM = 0,
};

/* One rank's GPU communicator (opaque). */
struct ipcfs_gpu_comm;

/*
 * Collective over every rank of @m's group: allocate this rank's registered
 * buffer of @buf_bytes (a multiple of 16) and signal block on the current
 * CUDA device, publish its IPC handle record as gpu/@name/RANK in the group
 * directory, wait up to @timeout_ms for every peer's record, open them,
 * check peer access, try NCCL. Sets *@out. Errors: -ENODEV (no CUDA side,
 * driver or device), -EINVAL (arguments; ranks that disagree on buf_bytes
 * or the algorithm settings), -ETIMEDOUT (a peer did not publish in time),
 * -EBADMSG (a malformed peer record), -ENOMEM, -EIO (other CUDA errors),
 * and those of writing the group's ctl or files.
 */
int ipcfs_gpu_comm_init(struct ipcfs_member *m, const char *name, size_t buf_bytes,
			int timeout_ms, struct ipcfs_gpu_comm **out);

/*
 * Enqueue the sum of @count elements of @dtype (IPCFS_F32, IPCFS_F16,
 * IPCFS_BF16) over the ranks, from device array @in into device array @out
 * (may be @in), on @stream (a cudaStream_t; NULL: the legacy default
 * stream). Every rank must make the same calls in the same order. Returns
 * once enqueued (CUDA graph capture works). Errors: -EINVAL, -EOPNOTSUPP
 * (NCCL would be needed and is unavailable), -ETIMEDOUT / -EPROTO (an
 * earlier call failed on the GPU: the communicator is broken), -ENODEV,
 * -EIO.
 */
int ipcfs_allreduce(struct ipcfs_gpu_comm *c, const void *in, void *out, size_t count,
		    int dtype, int op, void *stream);

/* Wait for the work of this process on the communicator's device and report
 * an error a kernel found: 0, -ETIMEDOUT (a peer did not arrive), -EPROTO
 * (ranks out of step), or a CUDA error. */
int ipcfs_gpu_comm_check(struct ipcfs_gpu_comm *c);

/* Collective: every rank registers a device buffer @ptr of the same @bytes;
 * a later ipcfs_allreduce() whose @in is that buffer on every rank reduces
 * from it in place (no copy into the communicator's buffer). */
int ipcfs_gpu_register(struct ipcfs_gpu_comm *c, void *ptr, size_t bytes);

/*
 * Collective, after capturing calls of ipcfs_allreduce() into CUDA graphs
 * and before launching those graphs: a captured call whose @in is not a
 * registered buffer reads every rank's @in where it is (one-shot with @out
 * outside @in, or two-shot in place; others copy as usual), through a
 * table in device memory that this call fills in. Every rank must have
 * captured the same calls. 0 (also when nothing was captured, or the
 * custom kernels are not used); -EINVAL (an @in not in cudaMalloc memory,
 * ranks that captured different calls, or a peer that failed), -ETIMEDOUT,
 * -EBADMSG, -ENOMEM, -EIO.
 */
int ipcfs_gpu_register_graph(struct ipcfs_gpu_comm *c);

/* Remove this rank's records, close the peers' handles, free the buffers
 * and the NCCL communicator. NULL is a no-op. */
int ipcfs_gpu_comm_destroy(struct ipcfs_gpu_comm *c);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* IPCFS_H */
