/* SPDX-License-Identifier: MIT */
/*
 * arena.c - block allocator of the group's arena (see arena_int.h).
 *
 * Allocation and free are the slow path of large payloads (a MiB payload
 * costs far more to write than to allocate), so they take a process-shared
 * robust mutex. Releasing a block by a reader is one atomic AND on its
 * holder mask; only the last holder takes the lock.
 */
#include <errno.h>
#include <string.h>

#include "arena_int.h"
#include "wait_int.h"

#define ARENA_MAGIC 0x4b4c42414e524141ull /* "AARNABLK" */
#define LIVENESS_NS 100000000ull

static uint64_t round64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

static struct seg_arena *arena_of(const struct seg_map *m)
{
	return &m->hdr->arena;
}

/* Whether a block header at @off looks sane (bounds, magic, size). */
static bool block_ok(const struct seg_map *m, uint64_t off)
{
	if (off % 64 || off + ARENA_HDR > m->arena_bytes)
		return false;
	const struct arena_block *b = arena_block_at(m, off);
	return b->magic == ARENA_MAGIC && b->size >= ARENA_MIN_BLOCK && b->size % 64 == 0 &&
	       b->size <= m->arena_bytes - off;
}

/* Walk the whole list, fixing prev_size links; false if a header is bad
 * (then the arena is unusable: -EIO from then on). Under the lock. */
static bool repair(struct seg_map *m)
{
	uint64_t off = 0, prev = 0;

	while (off < m->arena_bytes) {
		if (!block_ok(m, off))
			return false;
		struct arena_block *b = arena_block_at(m, off);
		b->prev_size = prev;
		prev = b->size;
		off += b->size;
	}
	return off == m->arena_bytes;
}

/* Take the lock; 0 or -EIO. A previous holder that died mid-update left
 * the list in a state that a walk can check (headers are written before
 * the sizes that make them reachable). */
static int lock(struct seg_map *m)
{
	struct seg_arena *a = arena_of(m);
	int rc = pthread_mutex_lock(&a->lock);

	if (rc == EOWNERDEAD) {
		if (!repair(m))
			atomic_store_explicit(&a->broken, 1, memory_order_relaxed);
		pthread_mutex_consistent(&a->lock);
		rc = 0;
	}
	if (rc)
		return -EIO;
	if (atomic_load_explicit(&a->broken, memory_order_relaxed)) {
		pthread_mutex_unlock(&a->lock);
		return -EIO;
	}
	return 0;
}

static void unlock(struct seg_map *m)
{
	pthread_mutex_unlock(&arena_of(m)->lock);
}

int arena_format(struct seg_map *m)
{
	struct seg_arena *a = arena_of(m);
	pthread_mutexattr_t attr;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = pthread_mutexattr_init(&attr)) ||
	    (rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) ||
	    (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) ||
	    (rc = pthread_mutex_init(&a->lock, &attr)))
		return -rc;
	pthread_mutexattr_destroy(&attr);
	a->gen = 1;
	if (m->arena_bytes >= ARENA_MIN_BLOCK) {
		struct arena_block *b = arena_block_at(m, 0);
		memset(b, 0, sizeof(*b));
		b->magic = ARENA_MAGIC;
		b->size = m->arena_bytes;
	}
	return 0;
}

uint64_t arena_capacity(const struct seg_map *m, uint64_t off)
{
	return arena_block_at(m, off)->size - ARENA_HDR;
}

/* Mark @off free and merge it with free neighbours. Under the lock. */
static void free_locked(struct seg_map *m, uint64_t off)
{
	struct seg_arena *a = arena_of(m);
	struct arena_block *b = arena_block_at(m, off);

	atomic_store_explicit(&a->used_bytes,
			      atomic_load_explicit(&a->used_bytes, memory_order_relaxed) - b->size,
			      memory_order_relaxed);
	atomic_store_explicit(&a->blocks, atomic_load_explicit(&a->blocks, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	atomic_store_explicit(&a->frees, atomic_load_explicit(&a->frees, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&b->state, ARENA_FREE, memory_order_relaxed);
	atomic_store_explicit(&b->holders, 0, memory_order_relaxed);

	uint64_t next = off + b->size;
	if (next < m->arena_bytes) {
		struct arena_block *n = arena_block_at(m, next);
		if (atomic_load_explicit(&n->state, memory_order_relaxed) == ARENA_FREE) {
			uint64_t nn = next + n->size;
			if (nn < m->arena_bytes)
				arena_block_at(m, nn)->prev_size = b->size + n->size;
			b->size += n->size;
			n->magic = 0;
		}
	}
	if (off > 0) {
		uint64_t poff = off - b->prev_size;
		struct arena_block *p = arena_block_at(m, poff);
		if (atomic_load_explicit(&p->state, memory_order_relaxed) == ARENA_FREE) {
			uint64_t nn = off + b->size;
			if (nn < m->arena_bytes)
				arena_block_at(m, nn)->prev_size = p->size + b->size;
			p->size += b->size;
			b->magic = 0;
		}
	}
}

/* Tell sleeping allocators that space came back. */
static void wake_allocators(struct seg_map *m)
{
	struct seg_arena *a = arena_of(m);

	/* seq_cst RMW, then the load: pairs with the waiter's seq_cst
	 * increment of `waiting` and load of the bell (arena_alloc). */
	atomic_fetch_add_explicit(&a->freed_bell, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&a->waiting, memory_order_seq_cst))
		wait_futex_wake(&a->freed_bell);
}

/* First fit for @size bytes (header included). Under the lock. */
static int take_locked(struct seg_map *m, unsigned owner, uint64_t size, uint64_t len,
		       uint64_t *out)
{
	struct seg_arena *a = arena_of(m);

	for (uint64_t off = 0; off < m->arena_bytes;) {
		struct arena_block *b = arena_block_at(m, off);
		if (!block_ok(m, off)) {
			atomic_store_explicit(&a->broken, 1, memory_order_relaxed);
			return -EIO;
		}
		if (atomic_load_explicit(&b->state, memory_order_relaxed) != ARENA_FREE || b->size < size) {
			off += b->size;
			continue;
		}
		if (b->size - size >= ARENA_MIN_BLOCK) {
			/* Split. The new header is complete before the size that
			 * makes it reachable is written (see lock()). */
			struct arena_block *n = arena_block_at(m, off + size);
			memset(n, 0, sizeof(*n));
			n->magic = ARENA_MAGIC;
			n->size = b->size - size;
			n->prev_size = size;
			uint64_t nn = off + b->size;
			if (nn < m->arena_bytes)
				arena_block_at(m, nn)->prev_size = n->size;
			b->size = size;
		}
		b->owner = owner;
		b->len = len;
		b->gen = a->gen++;
		atomic_store_explicit(&b->holders, 0, memory_order_relaxed);
		atomic_store_explicit(&b->state, ARENA_RESERVED, memory_order_relaxed);
		atomic_store_explicit(&a->used_bytes,
				      atomic_load_explicit(&a->used_bytes, memory_order_relaxed) + b->size,
				      memory_order_relaxed);
		atomic_store_explicit(&a->blocks,
				      atomic_load_explicit(&a->blocks, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		atomic_store_explicit(&a->allocs,
				      atomic_load_explicit(&a->allocs, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		*out = off;
		return 0;
	}
	return -ENOSPC; /* not now */
}

static int try_alloc(struct seg_map *m, unsigned owner, uint64_t size, uint64_t len, uint64_t *off)
{
	int rc = lock(m);
	if (rc)
		return rc;
	rc = take_locked(m, owner, size, len, off);
	unlock(m);
	return rc;
}

/* While waiting for space: blocks held by ranks whose process is gone
 * come back once they are marked (seg_mark_gone sweeps them). */
static void check_ranks(struct seg_map *m)
{
	uint64_t live = atomic_load_explicit(&m->hdr->live, memory_order_acquire);
	for (; live; live &= live - 1) {
		unsigned r = (unsigned)__builtin_ctzll(live);
		if (seg_owner_gone(m, r))
			seg_mark_gone(m, r, IPCFS_STATE_DEAD);
	}
}

int arena_alloc(struct seg_map *m, unsigned owner, uint64_t len, int timeout_ms,
		uint32_t spin_us, uint64_t *off)
{
	struct seg_arena *a = arena_of(m);
	uint64_t size = round64(len + ARENA_HDR);
	int rc;

	if (size < ARENA_MIN_BLOCK)
		size = ARENA_MIN_BLOCK;
	if (len > m->arena_bytes || size > m->arena_bytes)
		return -ENOMEM; /* can never fit, even in an empty arena */
	rc = try_alloc(m, owner, size, len, off);
	if (rc != -ENOSPC)
		return rc;
	if (timeout_ms == 0)
		return -EAGAIN;

	uint64_t now = wait_now_ns(), last_check = now;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
	uint64_t spin_end = now + (uint64_t)spin_us * 1000u;
	atomic_store_explicit(&a->waits, atomic_load_explicit(&a->waits, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	for (;;) {
		/* Spin on the bell (cheap) and try again when it rings. */
		uint32_t bell = atomic_load_explicit(&a->freed_bell, memory_order_acquire);
		while (now < spin_end && now < deadline &&
		       atomic_load_explicit(&a->freed_bell, memory_order_acquire) == bell) {
			wait_cpu_relax();
			now = wait_now_ns();
		}
		if (now >= spin_end) {
			/* Sleep: count ourselves in, look once more, then wait
			 * for the bell to move (see wake_allocators). */
			atomic_fetch_add_explicit(&a->waiting, 1, memory_order_seq_cst);
			bell = atomic_load_explicit(&a->freed_bell, memory_order_seq_cst);
			rc = try_alloc(m, owner, size, len, off);
			if (rc == -ENOSPC) {
				now = wait_now_ns();
				uint64_t left = deadline > now ? deadline - now : 0;
				if (left)
					wait_futex(&a->freed_bell, bell,
						   (int64_t)(left < LIVENESS_NS ? left : LIVENESS_NS));
			}
			atomic_fetch_sub_explicit(&a->waiting, 1, memory_order_relaxed);
			if (rc != -ENOSPC)
				return rc;
		}
		rc = try_alloc(m, owner, size, len, off);
		if (rc != -ENOSPC)
			return rc;
		now = wait_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now - last_check >= LIVENESS_NS) {
			check_ranks(m);
			last_check = now;
		}
	}
}

void arena_publish(struct seg_map *m, uint64_t off, uint64_t len, uint64_t dest,
		   struct arena_ref *ref)
{
	struct arena_block *b = arena_block_at(m, off);

	b->len = len;
	atomic_store_explicit(&b->holders, dest, memory_order_relaxed);
	/* Release: with the ring publish that follows (itself a release), a
	 * reader that sees the message sees the block's header and payload. */
	atomic_store_explicit(&b->state, ARENA_PUBLISHED, memory_order_release);
	ref->off = off;
	ref->len = len;
	ref->gen = b->gen;
}

void arena_unreserve(struct seg_map *m, uint64_t off)
{
	if (lock(m))
		return;
	if (block_ok(m, off) &&
	    atomic_load_explicit(&arena_block_at(m, off)->state, memory_order_relaxed) == ARENA_RESERVED)
		free_locked(m, off);
	unlock(m);
	wake_allocators(m);
}

int arena_check_ref(const struct seg_map *m, const struct arena_ref *ref)
{
	if (!block_ok(m, ref->off))
		return -EBADMSG;
	struct arena_block *b = arena_block_at(m, ref->off);
	/* Acquire: pairs with arena_publish. */
	if (atomic_load_explicit(&b->state, memory_order_acquire) != ARENA_PUBLISHED ||
	    b->gen != ref->gen || ref->len > b->size - ARENA_HDR)
		return -EBADMSG;
	return 0;
}

void arena_release(struct seg_map *m, const struct arena_ref *ref, unsigned rank)
{
	struct arena_block *b = arena_block_at(m, ref->off);
	uint64_t bit = IPCFS_RANK_BIT(rank);
	/* acq_rel: our reads of the payload happen before whoever frees it
	 * (and reuses it) sees the mask empty. */
	uint64_t old = atomic_fetch_and_explicit(&b->holders, ~bit, memory_order_acq_rel);

	if (old != bit)
		return; /* not the last holder (or not a holder at all) */
	if (lock(m))
		return;
	if (atomic_load_explicit(&b->state, memory_order_relaxed) == ARENA_PUBLISHED && b->gen == ref->gen)
		free_locked(m, ref->off);
	unlock(m);
	wake_allocators(m);
}

void arena_reclaim(struct seg_map *m, const struct arena_ref *ref)
{
	bool freed = false;

	if (!block_ok(m, ref->off) || lock(m))
		return;
	struct arena_block *b = arena_block_at(m, ref->off);
	if (atomic_load_explicit(&b->state, memory_order_relaxed) == ARENA_PUBLISHED &&
	    b->gen == ref->gen &&
	    atomic_exchange_explicit(&b->holders, 0, memory_order_acq_rel) != 0) {
		/* Holders left are ranks that died or left: nobody else will
		 * clear their bits. (An empty mask means the last live holder
		 * is about to free it itself.) */
		free_locked(m, ref->off);
		atomic_store_explicit(&arena_of(m)->reclaimed,
				      atomic_load_explicit(&arena_of(m)->reclaimed, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		freed = true;
	}
	unlock(m);
	if (freed)
		wake_allocators(m);
}

void arena_sweep(struct seg_map *m, unsigned rank)
{
	struct seg_arena *a = arena_of(m);
	uint64_t bit = rank < IPCFS_MAX_RANKS ? IPCFS_RANK_BIT(rank) : 0;
	bool freed = false;

	if (m->arena_bytes < ARENA_MIN_BLOCK || lock(m))
		return;
	for (uint64_t off = 0; off < m->arena_bytes;) {
		if (!block_ok(m, off)) {
			atomic_store_explicit(&a->broken, 1, memory_order_relaxed);
			break;
		}
		struct arena_block *b = arena_block_at(m, off);
		uint32_t st = atomic_load_explicit(&b->state, memory_order_relaxed);
		bool drop = false;
		if (st == ARENA_PUBLISHED && bit)
			drop = atomic_fetch_and_explicit(&b->holders, ~bit, memory_order_acq_rel) == bit;
		else if (st == ARENA_RESERVED)
			drop = b->owner == rank;
		if (!drop) {
			off += b->size;
			continue;
		}
		/* Freeing may merge with the block before: continue after
		 * whatever block now contains this offset. */
		uint64_t prev = off - b->prev_size;
		bool merges_back = off > 0 &&
				   atomic_load_explicit(&arena_block_at(m, prev)->state,
							memory_order_relaxed) == ARENA_FREE;
		free_locked(m, off);
		atomic_store_explicit(&a->reclaimed,
				      atomic_load_explicit(&a->reclaimed, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		freed = true;
		off = merges_back ? prev : off;
		off += arena_block_at(m, off)->size;
	}
	unlock(m);
	if (freed)
		wake_allocators(m);
}

void arena_stat(const struct seg_map *m, struct arena_stat *st)
{
	const struct seg_arena *a = arena_of(m);

	st->bytes = m->arena_bytes;
	st->used_bytes = atomic_load_explicit(&a->used_bytes, memory_order_relaxed);
	st->blocks = atomic_load_explicit(&a->blocks, memory_order_relaxed);
	st->allocs = atomic_load_explicit(&a->allocs, memory_order_relaxed);
	st->frees = atomic_load_explicit(&a->frees, memory_order_relaxed);
	st->reclaimed = atomic_load_explicit(&a->reclaimed, memory_order_relaxed);
	st->waits = atomic_load_explicit(&a->waits, memory_order_relaxed);
	st->broken = atomic_load_explicit(&a->broken, memory_order_relaxed);
}
