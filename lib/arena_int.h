/* SPDX-License-Identifier: MIT */
/*
 * arena_int.h - the group's arena: large payloads written once by their
 * sender and read in place by every rank they are addressed to.
 *
 * The arena region of the segment is a list of blocks, each starting with a
 * 64-byte header, in address order (first fit from the start, split on
 * allocation, coalesced on free). A block is
 *
 *   FREE       on the list for allocation
 *   RESERVED   taken by a sender (owner) that builds a message in it
 *   PUBLISHED  referenced by a ring message; `holders` is the mask of ranks
 *              that have not released it, and the rank that clears the last
 *              bit frees it.
 *
 * The ring message that carries a block holds a struct arena_ref; its
 * generation must match the block's, so a stale reference (the block freed
 * and allocated again) is never mistaken for the block.
 *
 * Every member can write the whole segment, a hostile or broken one
 * included, and the daemon (root, shared by every group) runs these
 * functions too. So every value read from a block header or from the
 * arena's state is loaded once, checked, and only the checked copy is
 * used; walks are bounded by the arena's size; the lock is our own word
 * (no pthread state the C library would assert on) and every wait for it
 * is bounded. The worst garbage can do is an error (-EIO, -EBADMSG,
 * -ETIMEDOUT) in the group it belongs to.
 */
#ifndef IPCFS_ARENA_INT_H
#define IPCFS_ARENA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "segment_int.h"

#define ARENA_HDR 64u
#define ARENA_MIN_BLOCK 128u

/* Allocator state of the arena, in the header page (seg_hdr.arena).
 * The block list and the fields marked "lock" change only under `lock`
 * (arena.c: lock()); they are read without it by statistics. */
struct seg_arena {
	/* 0: free; else the holder: its thread id | (the rank it holds the
	 * segment as + 1, 0: none) << ARENA_LOCK_RANK_SHIFT, and
	 * | ARENA_LOCK_WAITERS while another thread sleeps on it (futex). */
	_Atomic uint32_t lock;
	uint32_t pad;
	/* Start time of the holder thread (proc_starttime), 0 while not
	 * yet written: tells a dead holder from a reused thread id. */
	_Atomic uint64_t lock_start;
	_Atomic uint64_t gen;        /* lock: generation of the next block */
	_Atomic uint64_t used_bytes; /* lock: bytes of blocks not free, headers included */
	_Atomic uint64_t blocks;     /* lock: blocks not free */
	_Atomic uint64_t allocs, frees, reclaimed, broken; /* lock */
	/* The holder's rank's incarnation + 1 (0 while not yet written): a
	 * holder of another PID namespace is judged by that incarnation's
	 * liveness lock (segment_int.h), not by its thread id. */
	_Atomic uint64_t lock_gen;
	/* A sender waiting for space sleeps on freed_bell; whoever frees
	 * wakes it only when `waiting` is set (same handshake as the rings).
	 * Changed by atomic read-modify-write, without the lock. */
	alignas(SEG_LINE) _Atomic uint32_t waiting;
	_Atomic uint32_t freed_bell;
	_Atomic uint64_t waits; /* waits for space, by every waiter */
};

#define ARENA_LOCK_WAITERS (1u << 31)
#define ARENA_LOCK_RANK_SHIFT 22 /* thread ids are below 2^22 on Linux */

_Static_assert(sizeof(struct seg_arena) <= SEG_ARENA_STATE, "arena state fits its room");

enum { ARENA_FREE = 0, ARENA_RESERVED = 1, ARENA_PUBLISHED = 2 };

struct arena_block {
	uint64_t magic;            /* ARENA_MAGIC */
	uint64_t size;             /* bytes, header included, multiple of 64 */
	uint64_t prev_size;        /* size of the block before, 0 for the first */
	_Atomic uint32_t state;    /* ARENA_* */
	uint32_t owner;            /* rank (index) that allocated it */
	_Atomic uint64_t holders;  /* ranks that have not released it */
	uint64_t gen;              /* allocation generation */
	uint64_t len;              /* payload bytes the sender asked for */
	uint64_t reserved;
};

_Static_assert(sizeof(struct arena_block) == ARENA_HDR, "block header size");

/* The arena's part of the segment layout of each ABI (segment_int.h,
 * SEG_LAYOUT_OF_ABI, has the rest, below this layer): whoever changes
 * seg_arena or arena_block bumps IPCFS_ABI and adds a row. */
#define ARENA_LAYOUT_OF_ABI(abi, state, state_waits, block, block_holders)               \
	(IPCFS_ABI != (abi) ||                                                            \
	 (sizeof(struct seg_arena) == (state) &&                                           \
	  offsetof(struct seg_arena, waits) == (state_waits) &&                            \
	  sizeof(struct arena_block) == (block) &&                                         \
	  offsetof(struct arena_block, holders) == (block_holders)))
_Static_assert(IPCFS_ABI == 4, "a new ABI needs its row below too");
_Static_assert(ARENA_LAYOUT_OF_ABI(4, 192, 136, 64, 32),
	       "the arena's layout changed: bump IPCFS_ABI (lib/ipcfs.h) and add a row");

/* What a ring message of an arena block carries (its payload). */
struct arena_ref {
	uint64_t off;  /* block offset from the start of the arena */
	uint64_t len;  /* payload bytes */
	uint64_t gen;  /* the block's generation */
};

/* Set up the arena of a freshly created segment (seg_create). */
int arena_format(struct seg_map *m);

/* A block taken by a sender, as the allocator saw it under its lock: the
 * caller keeps this copy and never reads the block's header again. */
struct arena_res {
	uint64_t off; /* from the start of the arena */
	uint64_t cap; /* payload bytes it can hold */
	uint64_t gen; /* its generation */
};

/*
 * Take a block for @len payload bytes for rank @owner, without waiting:
 * 0 and the block in *@res; -ENOSPC (not now: wait on the arena's
 * freed_bell with a counting waiter, see wait_until), -ENOMEM (it could
 * never fit), -EIO (the arena is broken), -ETIMEDOUT (the lock was kept).
 * @last: the caller's previous block (its own memory, a hint; NULL: none):
 * not used again while another place fits, so that a sender does not
 * rewrite the block its readers have just read, and alternates between
 * two blocks that stay in the caches.
 */
int arena_try_alloc(struct seg_map *m, unsigned owner, uint64_t len,
		    const struct arena_res *last, struct arena_res *res);

/* Where the block of @res ends (its header included). */
static inline uint64_t arena_res_end(const struct arena_res *res)
{
	return res->off + ARENA_HDR + res->cap;
}

/* Count one wait for space in the arena's statistics. */
void arena_count_wait(struct seg_map *m);

/* Payload address of the block at @off. */
static inline void *arena_data(const struct seg_map *m, uint64_t off)
{
	return (char *)m->base + seg_layout(m)->arena_off + off + ARENA_HDR;
}

static inline struct arena_block *arena_block_at(const struct seg_map *m, uint64_t off)
{
	return (struct arena_block *)((char *)m->base + seg_layout(m)->arena_off + off);
}

static inline struct seg_arena *arena_state(const struct seg_map *m)
{
	return (struct seg_arena *)(void *)m->hdr->arena;
}

/* Turn the RESERVED block @res into a PUBLISHED one held by @dest, its
 * payload @len bytes (<= res->cap); fills @ref. */
void arena_publish(struct seg_map *m, const struct arena_res *res, uint64_t len, uint64_t dest,
		   struct arena_ref *ref);

/* Give back a RESERVED block that was never published. */
void arena_unreserve(struct seg_map *m, const struct arena_res *res);

/*
 * Check a reference read from shared memory: the block exists, is
 * published with that generation, and holds @ref->len bytes. 0 or
 * -EBADMSG.
 */
int arena_check_ref(const struct seg_map *m, const struct arena_ref *ref);

/* Rank @rank releases the block of @ref; the last holder frees it. */
void arena_release(struct seg_map *m, const struct arena_ref *ref, unsigned rank);

/* The sender reuses the ring slot that carried @ref: whoever still holds
 * the block then is gone (every live reader released the slot), so free
 * it if it is still that block. */
void arena_reclaim(struct seg_map *m, const struct arena_ref *ref);

/* Rank @rank is gone: clear its bit in every published block and free its
 * reserved ones. 0 when done (or when there is nothing to sweep: no arena,
 * or a broken one), -ETIMEDOUT when the lock was kept past @wait_ns
 * (usually @m->lock_wait_ns; nothing was changed: sweep again later). */
int arena_sweep(struct seg_map *m, unsigned rank, uint64_t wait_ns);

/* Occupancy for statistics. */
struct arena_stat {
	uint64_t bytes, used_bytes, blocks, allocs, frees, reclaimed, waits, broken;
	uint32_t lock_tid; /* the thread id the lock word names now, 0: free */
};
void arena_stat(const struct seg_map *m, struct arena_stat *st);

#endif
