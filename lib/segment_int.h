/* SPDX-License-Identifier: MIT */
/*
 * segment_int.h - the layout of a group's shared-memory segment, and the
 * functions that create, map, validate and inspect it. Shared by libipcfs
 * and the daemon; not installed.
 *
 * Layout (every region starts on a page):
 *
 *   struct seg_hdr                       one page
 *   struct seg_rank  x (ranks + 1)       per-rank state; index `ranks` is the
 *                                        control sender (the daemon's ring)
 *   rings            x (ranks + 1)       `slots` slots of `slot_stride` bytes
 *   arena                                arena_bytes (large payloads)
 *
 * A slot is a 32-byte header (struct seg_slot) followed by the payload, so
 * that a message of up to 32 bytes travels in the header's cache line.
 * Every rank is the only writer of its ring; the readers of a message are
 * named by the slot's dest mask. A reader releases what it received by
 * advancing, in its own cache line, released[ring]: the position below
 * which it holds nothing of that ring. No reader writes into a ring, so
 * a release costs no transfer of a line the sender owns. The sender may
 * reuse a slot when every live reader the old message was for has released
 * past it (chan: slot_holders).
 *
 * Single-writer fields of a rank (counters, head) are updated with relaxed
 * load + relaxed store, not read-modify-write: only their owner writes them,
 * and readers (stat) only need a value that is not torn.
 */
#ifndef IPCFS_SEGMENT_INT_H
#define IPCFS_SEGMENT_INT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcfs.h"

#define SEG_MAGIC 0x4745535346435049ull /* "IPCFSSEG" read as little-endian */
#define SEG_PAGE 4096u
#define SEG_LINE 64u

/* Index of the control sender's ring and state: after the last rank. */
#define SEG_CTL_RING(ranks) (ranks)

/* Bit 63 of a slot's seq marks a slot being written for position seq-1. */
#define SEG_SEQ_BUSY ((uint64_t)1 << 63)

/* Rank owner word: state in the low 32 bits, pid in the high 32 bits, so
 * that a claim sets both with one compare-and-swap. */
#define SEG_OWNER(state, pid) ((uint64_t)(uint32_t)(state) | ((uint64_t)(uint32_t)(pid) << 32))
#define SEG_OWNER_STATE(w) ((int)(uint32_t)(w))
#define SEG_OWNER_PID(w) ((pid_t)(uint32_t)((w) >> 32))

/* Room in the header page for the arena's allocator state (struct
 * seg_arena, owned and declared by lib/arena_int.h): the segment only
 * places it, so that this layer needs nothing from the one above. */
#define SEG_ARENA_STATE 256u

/*
 * The segment's shape and the parameters it was made with: written once
 * by seg_create (layout_of computes it from the parameters), before the
 * magic is published, and never changed after. A mapper copies it once
 * out of shared memory (validate), checks the copy against the layout
 * recomputed from its parameters and from then on uses only that copy,
 * through seg_layout(): a later corruption of the header cannot move a
 * pointer. No implicit padding (memcmp compares it whole).
 */
struct seg_layout {
	uint32_t ranks;
	uint32_t slots;
	uint32_t slot_bytes;
	uint32_t slot_stride;
	uint32_t spin_us;
	uint32_t timeout_ms;
	int32_t numa_node;
	uint32_t mode;
	uint32_t hugepage_kb;
	uint32_t pad;
	uint64_t total_bytes;
	uint64_t rank_off;
	uint64_t rank_stride;
	uint64_t ring_off;
	uint64_t ring_bytes; /* bytes of one ring */
	uint64_t arena_off;
	uint64_t arena_bytes;
	uint64_t created_ns; /* CLOCK_REALTIME at creation; not derived */
};

struct seg_hdr {
	/* Written once by seg_create, before any member maps the file. */
	uint64_t magic;
	uint32_t abi;
	uint32_t hdr_bytes;
	struct seg_layout layout;

	/* Membership, changed at join, leave and death. */
	alignas(SEG_LINE) _Atomic uint64_t live;   /* ranks now live */
	_Atomic uint64_t joined;                   /* ranks that ever joined */
	_Atomic uint64_t epoch;                    /* bumped on every change */

	/* The allocator of the arena region: struct seg_arena (lib/arena.c). */
	alignas(SEG_LINE) unsigned char arena[SEG_ARENA_STATE];
};

struct seg_rank {
	/* Ownership: SEG_OWNER(state, pid); starttime of that pid (clock
	 * ticks since boot, /proc/PID/stat field 22) against pid reuse. */
	alignas(SEG_LINE) _Atomic uint64_t owner;
	_Atomic uint64_t starttime;
	/* Claims of this rank so far; the current owner's incarnation, which
	 * names its liveness lock (membership.c). */
	_Atomic uint64_t joins;
	_Atomic uint64_t changed_ns;
	/* PID namespace of the owner's pid (proc_pidns of the claimer), 0:
	 * unknown. Only a process of the same namespace may judge it by pid. */
	_Atomic uint64_t pidns;
	/* The incarnation (joins) whose departure is complete: out of the
	 * live mask, its arena blocks swept. Behind joins while the owner
	 * word says gone: whoever marked it died half way (membership.c). */
	_Atomic uint64_t swept;
	/* Nonzero while the rank's process is a bridge relaying a rank of
	 * another node (member_mark_relay): its messages come over the
	 * network, so its readers spin while they flow (struct flow,
	 * pace_int.h). Written by that process after it joined, cleared
	 * when a process takes the rank (seg_go_live); relaxed both ways, a
	 * hint: a stale one costs a spin or a sleep, never a message. */
	_Atomic uint32_t relay;

	/* The rank sleeps on rx_bell while waiting for a message; senders
	 * bump and wake it only when rx_waiting is set. */
	alignas(SEG_LINE) _Atomic uint32_t rx_waiting;
	_Atomic uint32_t rx_bell;

	/* The rank sleeps on tx_bell while waiting for ring space; readers
	 * releasing one of its slots wake it only when tx_waiting is set. */
	alignas(SEG_LINE) _Atomic uint32_t tx_waiting;
	_Atomic uint32_t tx_bell;

	/* Sender side, written by the rank only. head: messages published. */
	alignas(SEG_LINE) _Atomic uint64_t head;
	_Atomic uint64_t sent;
	_Atomic uint64_t sent_bytes;
	_Atomic uint64_t stalls;
	_Atomic uint64_t wakeups;
	_Atomic uint64_t tx_timeouts;
	_Atomic uint64_t stall_since_ns; /* CLOCK_MONOTONIC, 0 when not stalled */
	_Atomic uint64_t tx_spins;
	_Atomic uint64_t tx_sleeps;

	/* Receiver side, written by the rank only. */
	alignas(SEG_LINE) _Atomic uint64_t recv;
	_Atomic uint64_t recv_bytes;
	_Atomic uint64_t waits;
	_Atomic uint64_t rx_spins;
	_Atomic uint64_t rx_sleeps;
	_Atomic uint64_t rx_timeouts;
	_Atomic uint64_t rx_wakeups; /* senders woken by this rank's releases */

	/* GPU all-reduce calls of this rank, by algorithm, written by the
	 * rank only (lib/gpu.c). */
	alignas(SEG_LINE) _Atomic uint64_t ar_oneshot;
	_Atomic uint64_t ar_twoshot;
	_Atomic uint64_t ar_nccl;
	_Atomic uint64_t ar_bytes;
	_Atomic uint64_t ar_errors;

	/* released[s]: this rank holds no message of ring s at a position
	 * below it (it has received and released all of them, or they came
	 * before it joined). Only grows while the rank is live; set to the
	 * ring's head when it joins. Read by the sender of ring s. */
	alignas(SEG_LINE) _Atomic uint64_t released[IPCFS_MAX_RANKS + 1];
};

#define SEG_SLOT_HDR 32u

struct seg_slot {
	_Atomic uint64_t seq;     /* position + 1 when published; | BUSY while written */
	_Atomic uint64_t dest;    /* ranks addressed */
	_Atomic uint32_t len;     /* payload bytes */
	_Atomic uint32_t kind;    /* 0: raw bytes */
	uint64_t reserved;
};

_Static_assert(sizeof(struct seg_slot) == SEG_SLOT_HDR, "slot header size");
_Static_assert(sizeof(struct seg_hdr) <= SEG_PAGE, "header fits a page");
_Static_assert(sizeof(struct seg_layout) == 10 * 4 + 8 * 8, "seg_layout has no padding");

/* The layout of each ABI: whoever changes seg_hdr, seg_layout, seg_rank,
 * seg_slot or the arena's room must bump IPCFS_ABI and add a row, so that
 * a segment of another layout is refused as another ABI (-EPROTO), not as
 * corrupt. Sizes alone miss a field added into padding (seg_rank.cpu,
 * pidns and swept in ABI 3), so a row also names where fields lie.
 * The arena's own structures have their row in arena_int.h. History: ABI
 * 1, a 384-byte header with a pthread mutex in the arena's state; ABI 2,
 * the sizes of ABI 3 without seg_rank.cpu, pidns and swept (and without
 * the arena's lock_gen and the holder's rank in its lock word); ABI 3,
 * ABI 4 without seg_rank.relay. ABI 4 had seg_rank.cpu at offset 72 (the
 * CPU a rank last waited on): a hint nobody reads or writes any more; its
 * bytes are padding, which a library of before reads as a stale hint
 * only, so the ABI stays. */
#define SEG_LAYOUT_OF_ABI(abi, hdr, layout, hdr_live, rank, rank_swept, rank_relay, rank_rx_bell, \
			  rank_released, slot, arena)                                        \
	(IPCFS_ABI != (abi) ||                                                              \
	 (sizeof(struct seg_hdr) == (hdr) && sizeof(struct seg_layout) == (layout) &&        \
	  offsetof(struct seg_hdr, live) == (hdr_live) && sizeof(struct seg_rank) == (rank) && \
	  offsetof(struct seg_rank, swept) == (rank_swept) &&                                \
	  offsetof(struct seg_rank, relay) == (rank_relay) &&                                \
	  offsetof(struct seg_rank, rx_bell) == (rank_rx_bell) &&                            \
	  offsetof(struct seg_rank, released) == (rank_released) &&                          \
	  sizeof(struct seg_slot) == (slot) && SEG_ARENA_STATE == (arena)))
_Static_assert(IPCFS_ABI == 4, "a new ABI needs its row below");
_Static_assert(SEG_LAYOUT_OF_ABI(4, 448, 104, 128, 1024, 40, 48, 68, 448, 32, 256),
	       "the segment layout changed: bump IPCFS_ABI (lib/ipcfs.h) and add a row");

/* A mapping of a segment, validated. */
struct seg_map {
	void *base;
	size_t size;
	struct seg_hdr *hdr;
	/* The header's layout, copied once and checked (validate): read it
	 * through seg_layout(), never through hdr. */
	struct seg_layout checked;
	/* Our own descriptor of the file (has_fd), whose open file
	 * description holds the liveness locks of the ranks this mapping
	 * claimed and tests everyone else's (membership.c). */
	bool has_fd;
	int fd;
	/* The rank this process holds through this mapping + 1 (0: none):
	 * who it is when it takes the arena's lock (arena.c). */
	unsigned holder_id;
	/* How long an arena call through this mapping waits for the arena's
	 * lock while the thread the lock word names is alive, before it
	 * gives up with -ETIMEDOUT (arena.c). Ours, not shared: each process
	 * chooses its patience (seg_map_fd: SEG_LOCK_WAIT_NS, or
	 * SEG_LOCK_WAIT_SERVICE_NS with SEG_MAP_SERVICE). */
	uint64_t lock_wait_ns;
};

/*
 * A member's patience with the arena's lock: a holder works for
 * microseconds, so one that is alive and keeps it 2 s is stopped, broken,
 * or a word scribbled to name a live thread that holds nothing (it cannot
 * be told from a holder). The call then fails; the member's next one waits
 * again.
 */
#define SEG_LOCK_WAIT_NS 2000000000ull
/*
 * The daemon's: it serves every group from a few threads, and nothing a
 * member writes into shared memory may hold it (DESIGN.md). What it gives
 * up on (a departed rank's sweep) stays recorded as unfinished and is
 * done at its next scan (membership_finish).
 */
#define SEG_LOCK_WAIT_SERVICE_NS 1000000ull

/* The checked layout of a mapped segment. */
static inline const struct seg_layout *seg_layout(const struct seg_map *m)
{
	return &m->checked;
}

/*
 * Liveness locks: a rank's owner holds an open-file-description lock on
 * the byte of its incarnation @gen (the rank's joins after its claim),
 * past the end of the file, through its mapping's descriptor; the kernel
 * drops it when the process dies, in whatever PID namespace (segment.c).
 * take: 0, -EAGAIN (another open file description holds it), or another
 * -errno (no descriptor, a file system without such locks). held: 1 if
 * another open file description holds one of bytes @gen..@gen+@n-1, 0 if
 * not, -errno if it cannot be told.
 */
int seg_live_lock_take(const struct seg_map *m, unsigned idx, uint64_t gen);
void seg_live_lock_drop(const struct seg_map *m, unsigned idx, uint64_t gen);
int seg_live_lock_held(const struct seg_map *m, unsigned idx, uint64_t gen, unsigned n);

/* Total bytes of a segment for @p; 0 if it would overflow. */
uint64_t seg_layout_size(const struct ipcfs_params *p);

/*
 * Create the segment file at @path (O_EXCL) with @p's layout, size it, bind
 * it to @p->numa_node (when >= 0), pre-fault it and write the header.
 * @uid/@gid: owner to give the file, or -1 to keep the caller's.
 */
int seg_create(const char *path, const struct ipcfs_params *p, uid_t uid, gid_t gid);
/* The same with @path relative to directory @dirfd (openat), never
 * following a link: the daemon's files lie in a directory it verified. */
int seg_create_at(int dirfd, const char *path, const struct ipcfs_params *p, uid_t uid,
		  gid_t gid);

/* A hugetlbfs mount for pages of @kb KiB ($IPCFS_HUGETLBFS first, else
 * /proc/mounts) into @out; -ENODEV if there is none. */
int seg_hugetlbfs_dir(uint32_t kb, char *out, size_t size);

/* How to map a segment: writable, and page tables filled now (members:
 * no page fault on the first messages; the daemon does without). */
#define SEG_MAP_WRITE 1u
#define SEG_MAP_POPULATE 2u
/* A mapping of the daemon: SEG_LOCK_WAIT_SERVICE_NS (struct seg_map). */
#define SEG_MAP_SERVICE 4u

/* Map and validate the segment at @path; @flags: SEG_MAP_*. */
int seg_map_path(const char *path, unsigned flags, struct seg_map *out);
/* Map and validate from an open fd (the fd is not kept). */
int seg_map_fd(int fd, unsigned flags, struct seg_map *out);
void seg_unmap(struct seg_map *m);

/* Params recorded in the header of a mapped segment. */
void seg_params(const struct seg_map *m, struct ipcfs_params *p);

static inline struct seg_rank *seg_rank(const struct seg_map *m, unsigned idx)
{
	const struct seg_layout *l = seg_layout(m);

	return (struct seg_rank *)((char *)m->base + l->rank_off + (uint64_t)idx * l->rank_stride);
}

/* The bits of the group's ranks in a rank mask. */
static inline uint64_t seg_group_mask(const struct seg_map *m)
{
	unsigned n = seg_layout(m)->ranks;

	return n == 64 ? ~(uint64_t)0 : IPCFS_RANK_BIT(n) - 1;
}

static inline struct seg_slot *seg_slot(const struct seg_map *m, unsigned ring, uint64_t pos)
{
	const struct seg_layout *l = seg_layout(m);

	return (struct seg_slot *)((char *)m->base + l->ring_off + (uint64_t)ring * l->ring_bytes +
				   (pos & (l->slots - 1)) * (uint64_t)l->slot_stride);
}

static inline void *seg_slot_data(struct seg_slot *s)
{
	return (char *)s + SEG_SLOT_HDR;
}

/* Add @n to a single-writer counter. */
static inline void seg_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Counters of rank index @idx (0..ranks; ranks is the control sender). */
int seg_rank_stat(const struct seg_map *m, unsigned idx, struct ipcfs_rank_stat *st);


#endif /* IPCFS_SEGMENT_INT_H */
