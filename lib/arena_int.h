/* SPDX-License-Identifier: MIT */
/*
 * arena_int.h - the group's arena: large payloads written once by their
 * sender and read in place by every rank they are addressed to.
 *
 * The arena region of the segment is a list of blocks, each starting with a
 * 64-byte header, in address order (first fit from a roving start, split on
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
 */
#ifndef IPCFS_ARENA_INT_H
#define IPCFS_ARENA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "segment_int.h"

#define ARENA_HDR 64u
#define ARENA_MIN_BLOCK 128u

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

/* What a ring message of an arena block carries (its payload). */
struct arena_ref {
	uint64_t off;  /* block offset from the start of the arena */
	uint64_t len;  /* payload bytes */
	uint64_t gen;  /* the block's generation */
};

/* Set up the arena of a freshly created segment (seg_create). */
int arena_format(struct seg_map *m);

/*
 * Allocate a block for @len payload bytes for rank @owner, waiting as
 * asked while the arena is full. 0 and the block offset in *@off; -ENOMEM
 * if it could never fit, -EAGAIN/-ETIMEDOUT, -EIO if the arena is broken.
 * @asym: the caller may rely on sleepers' membarrier (see wait_int.h).
 */
int arena_alloc(struct seg_map *m, unsigned owner, uint64_t len, int timeout_ms,
		uint32_t spin_us, uint64_t *off);

/* Payload address of the block at @off. */
static inline void *arena_data(const struct seg_map *m, uint64_t off)
{
	return (char *)m->base + m->arena_off + off + ARENA_HDR;
}

static inline struct arena_block *arena_block_at(const struct seg_map *m, uint64_t off)
{
	return (struct arena_block *)((char *)m->base + m->arena_off + off);
}

/* Capacity (payload bytes) of the block at @off. */
uint64_t arena_capacity(const struct seg_map *m, uint64_t off);

/* Turn a RESERVED block into a PUBLISHED one held by @dest, its payload
 * @len bytes; fills @ref. */
void arena_publish(struct seg_map *m, uint64_t off, uint64_t len, uint64_t dest,
		   struct arena_ref *ref);

/* Give back a RESERVED block that was never published. */
void arena_unreserve(struct seg_map *m, uint64_t off);

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
 * reserved ones. */
void arena_sweep(struct seg_map *m, unsigned rank);

/* Occupancy for statistics. */
struct arena_stat {
	uint64_t bytes, used_bytes, blocks, allocs, frees, reclaimed, waits, broken;
};
void arena_stat(const struct seg_map *m, struct arena_stat *st);

#endif
