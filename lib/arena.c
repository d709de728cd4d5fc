/* SPDX-License-Identifier: MIT */
/*
 * arena.c - block allocator of the group's arena (see arena_int.h).
 *
 * Allocation and free are the slow path of large payloads (a MiB payload
 * costs far more to write than to allocate), so they take a lock: a word
 * of our own in the segment (lock() below). Releasing a block by a reader
 * is one atomic AND on its holder mask; only the last holder takes the
 * lock.
 *
 * Any member may write anything into the segment at any time, so nothing
 * here trusts a value it reads from it: a block header is copied once
 * (blk_read), checked, and only the copy is used; every walk moves forward
 * by a checked size of at least ARENA_MIN_BLOCK, so it ends.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc_int.h"
#include "arena_int.h"
#include "fault_int.h"
#include "wait_int.h"

#define ARENA_MAGIC 0x4b4c42414e524141ull /* "AARNABLK" */
/* Sleep between looks at whether the holder is still alive. */
#define LOCK_NAP_NS 2000000ull
/* Thread ids are below pid_max, at most 2^22 on Linux. */
#define LOCK_TID_MAX (1u << ARENA_LOCK_RANK_SHIFT)

/* Relaxed load of a plain field of shared memory, once: the compiler may
 * neither repeat it nor tear it. */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Bytes of the arena region (the segment's checked layout). */
static inline uint64_t arena_size(const struct seg_map *m)
{
	return seg_layout(m)->arena_bytes;
}

static uint64_t round64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

/* A block header as read once from shared memory. */
struct blk {
	uint64_t size, prev_size, gen;
	uint32_t state, owner;
};

/* Copy the header at @off and check it: inside the arena, magic, a size
 * that is a whole number of lines and ends inside the arena. */
static bool blk_read(const struct seg_map *m, uint64_t off, struct blk *out)
{
	if (off % 64 || off >= arena_size(m) || arena_size(m) - off < ARENA_MIN_BLOCK)
		return false;
	struct arena_block *b = arena_block_at(m, off);
	uint64_t magic = LD(b->magic);
	out->size = LD(b->size);
	out->prev_size = LD(b->prev_size);
	out->gen = LD(b->gen);
	out->owner = LD(b->owner);
	out->state = atomic_load_explicit(&b->state, memory_order_relaxed);
	return magic == ARENA_MAGIC && out->size >= ARENA_MIN_BLOCK && out->size % 64 == 0 &&
	       out->size <= arena_size(m) - off;
}

/* Subtract from a counter under the lock, never below zero: a holder that
 * died half way may have left it short (repair() recounts). */
static void count_down(_Atomic uint64_t *c, uint64_t n)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v > n ? v - n : 0, memory_order_relaxed);
}

/* ---- the lock ------------------------------------------------------------ */

/* This thread's id and start time, cached per thread: gettid is a system
 * call, and a lock and an unlock per allocation, free and reclaim would
 * cost several. A child made by fork(2) inherits the forking thread's
 * cache: the atfork handler moves the epoch, and the child reads again. */
static __thread pid_t cached_tid;
static __thread unsigned cached_epoch;
static __thread uint64_t cached_start;
static _Atomic unsigned tid_epoch = 1;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void tid_forked(void)
{
	atomic_fetch_add_explicit(&tid_epoch, 1, memory_order_relaxed);
}

static void tid_watch(void)
{
	pthread_atfork(NULL, NULL, tid_forked);
}

static pid_t self_tid(void)
{
	unsigned epoch = atomic_load_explicit(&tid_epoch, memory_order_relaxed);

	if (cached_epoch != epoch) {
		pthread_once(&tid_once, tid_watch);
		cached_tid = (pid_t)syscall(SYS_gettid);
		cached_start = 0;
		cached_epoch = epoch;
	}
	return cached_tid;
}

/* Start time of this thread, read from /proc once per thread id. */
static uint64_t self_start(void)
{
	if (!cached_start)
		cached_start = proc_thread_starttime();
	return cached_start;
}

/* The lock word that names us: our thread id and the rank this mapping
 * holds (thread ids are unique in one PID namespace only). */
static uint32_t self_word(const struct seg_map *m, pid_t tid)
{
	uint32_t id = m->holder_id <= IPCFS_MAX_RANKS + 1 ? m->holder_id : 0;
	return (uint32_t)tid | id << ARENA_LOCK_RANK_SHIFT;
}

/* Whether the holder named by lock word @w can no longer hold it. One
 * with a rank, in another PID namespace than ours: its rank's liveness
 * lock for the incarnation it took the lock as is gone. Else by thread id:
 * no such thread (or a value that is no thread id at all), our own, or
 * one reused since the holder took the lock. */
static bool holder_gone(const struct seg_map *m, const struct seg_arena *a, uint32_t w)
{
	uint32_t tid = w & (LOCK_TID_MAX - 1), id = (w & ~ARENA_LOCK_WAITERS) >> ARENA_LOCK_RANK_SHIFT;

	if (id > seg_layout(m)->ranks + 1)
		return true; /* no rank: garbage */
	if (id) {
		struct seg_rank *r = seg_rank(m, id - 1);
		/* Relaxed: a hint of where the holder lives; both answers are
		 * safe for a holder of our namespace (its thread id is real). */
		uint64_t ns = atomic_load_explicit(&r->pidns, memory_order_relaxed);
		if (!proc_pid_visible(ns)) {
			/* Relaxed: written by the holder right after its take
			 * (L3); before that, the rank's current incarnation. */
			uint64_t gen = atomic_load_explicit(&a->lock_gen, memory_order_relaxed);
			if (!gen)
				gen = atomic_load_explicit(&r->joins, memory_order_relaxed) + 1;
			return seg_live_lock_held(m, id - 1, gen - 1, 1) == 0;
		}
	}
	/* Our own thread, seen from our namespace, under any rank: lock()
	 * is not reentrant, so a thread that asks for the lock holds it
	 * through no mapping; the word is garbage. */
	if (tid == 0 || tid == (uint32_t)self_tid())
		return true;
	uint64_t have = proc_starttime((pid_t)tid);
	uint64_t want = atomic_load_explicit(&a->lock_start, memory_order_relaxed);
	return have == 0 || (want != 0 && want != have);
}

static bool repair(struct seg_map *m);

/* We took the lock from @old, 0 when it was free: record who holds it;
 * after a holder that is gone, check the list it may have left half
 * changed. 0 or -EIO (the arena is broken). */
static int locked(struct seg_map *m, uint32_t old)
{
	struct seg_arena *a = arena_state(m);
	uint64_t gen = 0;

	if (m->holder_id && m->holder_id <= seg_layout(m)->ranks + 1)
		gen = atomic_load_explicit(&seg_rank(m, m->holder_id - 1)->joins,
					   memory_order_relaxed) + 1;
	atomic_store_explicit(&a->lock_start, self_start(), memory_order_relaxed);
	/* L3: relaxed, read by holder_gone as a hint (0: not yet). */
	atomic_store_explicit(&a->lock_gen, gen, memory_order_relaxed);
	if ((old & ~ARENA_LOCK_WAITERS) && !repair(m))
		atomic_store_explicit(&a->broken, 1, memory_order_relaxed);
	return atomic_load_explicit(&a->broken, memory_order_relaxed) ? -EIO : 0;
}

static void unlock(struct seg_map *m);

/*
 * Take the lock: 0, -EIO (the arena is broken), or -ETIMEDOUT (a live
 * thread kept it past @wait_ns, the caller's patience: seg_map.lock_wait_ns). A
 * holder that is gone, or a word that names no live thread (garbage), is
 * taken over and the list checked (repair).
 * Spin briefly, then sleep on the word in naps, looking at the holder's
 * liveness after each.
 */
static int lock(struct seg_map *m, uint64_t wait_ns)
{
	struct seg_arena *a = arena_state(m);
	uint32_t me = self_word(m, self_tid());
	uint64_t deadline = 0;
	int rc;

	for (unsigned round = 0;; round++) {
		/* Acquire (L2): the holder's lock_start read by holder_gone is
		 * then at least as new as the unlock before this holder's take
		 * (0, or its own): a live holder is never judged by the start
		 * time of the one before it. Pairs with the release in
		 * unlock(), whose release sequence the next take continues. */
		uint32_t w = atomic_load_explicit(&a->lock, memory_order_acquire);
		uint32_t holder = w & ~ARENA_LOCK_WAITERS;
		/* A thread never waits for a lock it holds: our own id in the
		 * word is garbage. Liveness costs a read of /proc, so it is
		 * asked only once spinning is over. */
		bool take = w == 0 || holder == me || (round >= 64 && holder_gone(m, a, holder));
		/* Acquire (L1): pairs with the release in unlock(), so the
		 * previous holder's changes to the list are visible. */
		if (take && atomic_compare_exchange_strong_explicit(&a->lock, &w, me,
								    memory_order_acquire,
								    memory_order_relaxed)) {
			rc = locked(m, w);
			if (rc)
				unlock(m);
			return rc;
		}
		if (take)
			continue;
		if (round < 32) {
			wait_cpu_relax();
			continue;
		}
		if (round < 64) {
			sched_yield();
			continue;
		}
		uint64_t now = wait_now_ns();
		if (!deadline)
			deadline = now + wait_ns;
		if (now >= deadline)
			return -ETIMEDOUT;
		/* Say that we sleep, then sleep on the word as it is then: an
		 * unlock in between changes it and FUTEX_WAIT returns. */
		if (!(w & ARENA_LOCK_WAITERS) &&
		    !atomic_compare_exchange_strong_explicit(&a->lock, &w, w | ARENA_LOCK_WAITERS,
							     memory_order_relaxed,
							     memory_order_relaxed))
			continue;
		uint64_t left = deadline - now;
		wait_futex(&a->lock, w | ARENA_LOCK_WAITERS,
			   (int64_t)(left < LOCK_NAP_NS ? left : LOCK_NAP_NS));
	}
}

static void unlock(struct seg_map *m)
{
	struct seg_arena *a = arena_state(m);
	uint32_t me = self_word(m, self_tid());
	uint32_t w = atomic_load_explicit(&a->lock, memory_order_relaxed);

	/* Cleared before the word is released (L2, see lock()). */
	atomic_store_explicit(&a->lock_start, 0, memory_order_relaxed);
	atomic_store_explicit(&a->lock_gen, 0, memory_order_relaxed);
	do {
		/* Taken from us (someone judged us gone, or scribbled on it):
		 * it is not ours to release any more. */
		if ((w & ~ARENA_LOCK_WAITERS) != me)
			return;
		/* Release (L1): our changes to the list before the word. */
	} while (!atomic_compare_exchange_weak_explicit(&a->lock, &w, 0, memory_order_release,
							memory_order_relaxed));
	if (w & ARENA_LOCK_WAITERS)
		wait_futex_wake(&a->lock);
}

/* ---- the block list (under the lock) --------------------------------------- */

/* Walk the whole list after a holder died in it: fix the prev_size links
 * and recount the blocks in use. False if a header is bad (then the arena
 * is unusable: -EIO from then on). */
static bool repair(struct seg_map *m)
{
	struct seg_arena *a = arena_state(m);
	uint64_t off = 0, prev = 0, used = 0, blocks = 0;
	struct blk b;

	while (off < arena_size(m)) {
		if (!blk_read(m, off, &b))
			return false;
		ST(arena_block_at(m, off)->prev_size, prev);
		if (b.state != ARENA_FREE) {
			used += b.size;
			blocks++;
		}
		prev = b.size;
		off += b.size;
	}
	atomic_store_explicit(&a->used_bytes, used, memory_order_relaxed);
	atomic_store_explicit(&a->blocks, blocks, memory_order_relaxed);
	return true;
}

int arena_format(struct seg_map *m)
{
	struct seg_arena *a = arena_state(m);

	memset(a, 0, sizeof(*a));
	atomic_store_explicit(&a->gen, 1, memory_order_relaxed);
	if (arena_size(m) >= ARENA_MIN_BLOCK) {
		struct arena_block *b = arena_block_at(m, 0);
		memset(b, 0, sizeof(*b));
		b->magic = ARENA_MAGIC;
		b->size = arena_size(m);
	}
	return 0;
}

/*
 * Mark the block at @off (checked copy @b) free and merge it with free
 * neighbours whose headers check out and agree with it. Returns the end
 * of the merged block, where a walk goes on. Stores come in an order that
 * leaves a walkable list at every step (a size that makes a header
 * unreachable before its magic is cleared), for a holder that dies.
 */
static uint64_t free_locked(struct seg_map *m, uint64_t off, const struct blk *b)
{
	struct seg_arena *a = arena_state(m);
	struct arena_block *h = arena_block_at(m, off);
	uint64_t start = off, size = b->size, next = off + b->size;
	struct blk n, p;

	count_down(&a->used_bytes, b->size);
	count_down(&a->blocks, 1);
	seg_count(&a->frees, 1);
	atomic_store_explicit(&h->holders, 0, memory_order_relaxed);
	atomic_store_explicit(&h->state, ARENA_FREE, memory_order_relaxed);

	bool merge_next = next < arena_size(m) && blk_read(m, next, &n) && n.state == ARENA_FREE;
	if (merge_next)
		size += n.size; /* both checked: the sum ends inside the arena */
	bool merge_prev = off > 0 && b->prev_size <= off && blk_read(m, off - b->prev_size, &p) &&
			  p.size == b->prev_size && p.state == ARENA_FREE;
	if (merge_prev) {
		start = off - p.size;
		size += p.size;
	}
	ST(arena_block_at(m, start)->size, size);
	if (merge_next)
		ST(arena_block_at(m, next)->magic, 0);
	if (merge_prev)
		ST(h->magic, 0);
	if (start + size < arena_size(m))
		ST(arena_block_at(m, start + size)->prev_size, size);
	return start + size;
}

/* Tell sleeping allocators that space came back. */
static void wake_allocators(struct seg_map *m)
{
	struct seg_arena *a = arena_state(m);

	/* seq_cst RMW, then the load: pairs with the waiter's seq_cst
	 * increment of `waiting` and loads of the list (wait_until, a
	 * counting waiter). */
	atomic_fetch_add_explicit(&a->freed_bell, 1, memory_order_seq_cst);
	/* Model: tests/model/ring.pml, wake_allocators (W1 for the arena). */
	if (atomic_load_explicit(&a->waiting, memory_order_seq_cst))
		wait_futex_wake(&a->freed_bell);
}

/* Where a search found room: the free block at off (checked copy b), to
 * be used from q (off <= q, in the block). */
struct fit {
	uint64_t off, q;
	struct blk b;
};

/*
 * First fit for @size bytes (header included), but not on the caller's
 * last block [@avoid_off, @avoid_end) while another place fits: in
 * lockstep that block is the one its readers have just read (their caches
 * hold its lines, and every store of the next payload would first pull
 * one back). A free block overlapping it is carved right after it. So a
 * sender alternates between two blocks: never the one just read, and a
 * working set that stays in the caches (rotating through the whole arena
 * would not). The walk is from the start (the list is only walkable
 * forwards from a known header). -ENOSPC: not now; -EIO: broken list.
 */
static int find_locked(struct seg_map *m, uint64_t size, uint64_t avoid_off, uint64_t avoid_end,
		       struct fit *f)
{
	struct blk b;
	bool any = false;

	for (uint64_t off = 0; off < arena_size(m); off += b.size) {
		if (!blk_read(m, off, &b)) {
			atomic_store_explicit(&arena_state(m)->broken, 1, memory_order_relaxed);
			return -EIO;
		}
		if (b.state != ARENA_FREE || b.size < size)
			continue;
		uint64_t end = off + b.size, q = off;
		bool ok = true;
		if (q < avoid_end && q + size > avoid_off) {
			/* Overlaps the last block: right after it, if what is
			 * left before can be a block of its own and there is
			 * room behind. */
			q = avoid_end;
			ok = q > off && q < end && q - off >= ARENA_MIN_BLOCK && end - q >= size;
		}
		if (ok) {
			*f = (struct fit){ .off = off, .q = q, .b = b };
			return 0;
		}
		if (!any) {
			*f = (struct fit){ .off = off, .q = off, .b = b };
			any = true; /* the fallback: first fit after all */
		}
	}
	return any ? 0 : -ENOSPC;
}

/* Split the free block f->off at f->q: [off, q) stays free, [q, end) is
 * the free block to take. The new header is complete before the size that
 * makes it reachable is written (see repair()). */
static void carve_locked(struct seg_map *m, struct fit *f)
{
	uint64_t head = f->q - f->off, rest = f->b.size - head;
	struct arena_block *n = arena_block_at(m, f->q);

	memset(n, 0, sizeof(*n));
	n->magic = ARENA_MAGIC;
	n->size = rest;
	n->prev_size = head;
	if (f->off + f->b.size < arena_size(m))
		ST(arena_block_at(m, f->off + f->b.size)->prev_size, rest);
	ST(arena_block_at(m, f->off)->size, head);
	f->b = (struct blk){ .size = rest, .prev_size = head, .state = ARENA_FREE };
	f->off = f->q;
}

/* Take @size bytes (header included) of the free block @f. */
static void take_locked(struct seg_map *m, unsigned owner, uint64_t size, uint64_t len,
			struct fit *f, struct arena_res *res)
{
	struct seg_arena *a = arena_state(m);
	uint64_t off = f->off;
	struct blk b = f->b;
	struct arena_block *h = arena_block_at(m, off);

	if (b.size - size >= ARENA_MIN_BLOCK) {
		/* Split. The new header is complete before the size that
		 * makes it reachable is written (see repair()). */
		struct arena_block *n = arena_block_at(m, off + size);
		memset(n, 0, sizeof(*n));
		n->magic = ARENA_MAGIC;
		n->size = b.size - size;
		n->prev_size = size;
		if (off + b.size < arena_size(m))
			ST(arena_block_at(m, off + b.size)->prev_size, b.size - size);
		ST(h->size, size);
		b.size = size;
	}
	uint64_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
	atomic_store_explicit(&a->gen, gen + 1, memory_order_relaxed);
	ST(h->owner, owner);
	ST(h->len, len);
	ST(h->gen, gen);
	atomic_store_explicit(&h->holders, 0, memory_order_relaxed);
	atomic_store_explicit(&h->state, ARENA_RESERVED, memory_order_relaxed);
	FAULT_POINT("arena_take_reserved");
	seg_count(&a->used_bytes, b.size);
	seg_count(&a->blocks, 1);
	seg_count(&a->allocs, 1);
	res->off = off;
	res->cap = b.size - ARENA_HDR;
	res->gen = gen;
}

int arena_try_alloc(struct seg_map *m, unsigned owner, uint64_t len,
		    const struct arena_res *last, struct arena_res *res)
{
	uint64_t size = round64(len + ARENA_HDR);
	struct fit f = { 0 };
	int rc;

	if (size < ARENA_MIN_BLOCK)
		size = ARENA_MIN_BLOCK;
	if (len > arena_size(m) || size > arena_size(m))
		return -ENOMEM; /* can never fit, even in an empty arena */
	rc = lock(m, m->lock_wait_ns);
	if (rc)
		return rc;
	/* The caller's own memory, a hint: a bogus one only costs a worse fit. */
	uint64_t avoid_off = last ? last->off : 0, avoid_end = last ? arena_res_end(last) : 0;
	rc = find_locked(m, size, avoid_off, avoid_end, &f);
	if (rc == 0) {
		if (f.q != f.off)
			carve_locked(m, &f);
		take_locked(m, owner, size, len, &f, res);
	}
	unlock(m);
	return rc;
}

void arena_count_wait(struct seg_map *m)
{
	/* Read-modify-write: several ranks may start waiting at once. */
	atomic_fetch_add_explicit(&arena_state(m)->waits, 1, memory_order_relaxed);
}

void arena_publish(struct seg_map *m, const struct arena_res *res, uint64_t len, uint64_t dest,
		   struct arena_ref *ref)
{
	struct arena_block *b = arena_block_at(m, res->off);

	ST(b->len, len);
	atomic_store_explicit(&b->holders, dest, memory_order_relaxed);
	/* Release: with the ring publish that follows (itself a release), a
	 * reader that sees the message sees the block's header and payload. */
	/* Model: tests/model/ring.pml, arena_publish (A1). */
	atomic_store_explicit(&b->state, ARENA_PUBLISHED, memory_order_release);
	ref->off = res->off;
	ref->len = len;
	ref->gen = res->gen;
}

void arena_unreserve(struct seg_map *m, const struct arena_res *res)
{
	struct blk b;

	if (lock(m, m->lock_wait_ns))
		return;
	if (blk_read(m, res->off, &b) && b.state == ARENA_RESERVED && b.gen == res->gen)
		free_locked(m, res->off, &b);
	unlock(m);
	wake_allocators(m);
}

int arena_check_ref(const struct seg_map *m, const struct arena_ref *ref)
{
	struct blk b;

	if (ref->off % 64 || ref->off >= arena_size(m))
		return -EBADMSG;
	/* Acquire: pairs with arena_publish; the header read next is the
	 * one published with that state. */
	uint32_t state = atomic_load_explicit(&arena_block_at(m, ref->off)->state,
					      memory_order_acquire);
	if (state != ARENA_PUBLISHED || !blk_read(m, ref->off, &b) || b.gen != ref->gen ||
	    ref->len > b.size - ARENA_HDR)
		return -EBADMSG;
	return 0;
}

void arena_release(struct seg_map *m, const struct arena_ref *ref, unsigned rank)
{
	struct blk b;

	if (ref->off % 64 || ref->off >= arena_size(m) || arena_size(m) - ref->off < ARENA_HDR)
		return;
	struct arena_block *h = arena_block_at(m, ref->off);
	uint64_t bit = IPCFS_RANK_BIT(rank);
	/* acq_rel: our reads of the payload happen before whoever frees it
	 * (and reuses it) sees the mask empty. */
	/* Model: tests/model/ring.pml, arena_release (A1). */
	uint64_t old = atomic_fetch_and_explicit(&h->holders, ~bit, memory_order_acq_rel);

	FAULT_POINT("arena_release_cleared");
	if (old != bit)
		return; /* not the last holder (or not a holder at all) */
	if (lock(m, m->lock_wait_ns))
		return;
	if (blk_read(m, ref->off, &b) && b.state == ARENA_PUBLISHED && b.gen == ref->gen)
		free_locked(m, ref->off, &b);
	unlock(m);
	wake_allocators(m);
}

void arena_reclaim(struct seg_map *m, const struct arena_ref *ref)
{
	struct seg_arena *a = arena_state(m);
	bool freed = false;
	struct blk b;

	/* Most slots reused carry a block long freed: look first without
	 * the lock, then again under it. */
	if (!blk_read(m, ref->off, &b) || b.state != ARENA_PUBLISHED || b.gen != ref->gen ||
	    !atomic_load_explicit(&arena_block_at(m, ref->off)->holders, memory_order_relaxed))
		return;
	if (lock(m, m->lock_wait_ns))
		return;
	if (blk_read(m, ref->off, &b) && b.state == ARENA_PUBLISHED && b.gen == ref->gen &&
	    atomic_exchange_explicit(&arena_block_at(m, ref->off)->holders, 0,
				     memory_order_acq_rel) != 0) {
		/* Holders left are ranks that died or left: nobody else will
		 * clear their bits. (An empty mask means the last live holder
		 * is about to free it itself.) */
		free_locked(m, ref->off, &b);
		seg_count(&a->reclaimed, 1);
		freed = true;
	}
	unlock(m);
	if (freed)
		wake_allocators(m);
}

int arena_sweep(struct seg_map *m, unsigned rank, uint64_t wait_ns)
{
	struct seg_arena *a = arena_state(m);
	uint64_t bit = rank < IPCFS_MAX_RANKS ? IPCFS_RANK_BIT(rank) : 0;
	bool freed = false;
	struct blk b;

	if (arena_size(m) < ARENA_MIN_BLOCK)
		return 0;
	int rc = lock(m, wait_ns);
	if (rc)
		return rc == -ETIMEDOUT ? rc : 0; /* -EIO: broken, nothing to sweep */
	/* Each step moves forward by a checked size (>= ARENA_MIN_BLOCK), or
	 * past a merged block that ends beyond it: the walk ends. */
	for (uint64_t off = 0; off < arena_size(m);) {
		if (!blk_read(m, off, &b)) {
			atomic_store_explicit(&a->broken, 1, memory_order_relaxed);
			break;
		}
		struct arena_block *h = arena_block_at(m, off);
		bool drop = false;
		if (b.state == ARENA_PUBLISHED) {
			/* Its last holder may have died between clearing its
			 * bit and freeing the block: no holders left, free it.
			 * (A live last holder finds it freed and does nothing.)
			 * Acquire fence, after the state read in blk_read:
			 * pairs with arena_publish's release store of the state,
			 * so the holders stored before it are seen. */
			atomic_thread_fence(memory_order_acquire);
			uint64_t bits = atomic_load_explicit(&h->holders, memory_order_relaxed);
			if (bits & bit)
				bits = atomic_fetch_and_explicit(&h->holders, ~bit,
								 memory_order_acq_rel) & ~bit;
			drop = bits == 0;
		} else if (b.state == ARENA_RESERVED) {
			drop = b.owner == rank;
		}
		if (!drop) {
			off += b.size;
			continue;
		}
		off = free_locked(m, off, &b);
		seg_count(&a->reclaimed, 1);
		freed = true;
	}
	unlock(m);
	if (freed)
		wake_allocators(m);
	return 0;
}

void arena_stat(const struct seg_map *m, struct arena_stat *st)
{
	const struct seg_arena *a = arena_state(m);

	st->bytes = arena_size(m);
	st->used_bytes = atomic_load_explicit(&a->used_bytes, memory_order_relaxed);
	st->blocks = atomic_load_explicit(&a->blocks, memory_order_relaxed);
	st->allocs = atomic_load_explicit(&a->allocs, memory_order_relaxed);
	st->frees = atomic_load_explicit(&a->frees, memory_order_relaxed);
	st->reclaimed = atomic_load_explicit(&a->reclaimed, memory_order_relaxed);
	st->waits = atomic_load_explicit(&a->waits, memory_order_relaxed);
	st->broken = atomic_load_explicit(&a->broken, memory_order_relaxed);
	/* Relaxed: a report of who holds it this instant. */
	st->lock_tid = atomic_load_explicit(&a->lock, memory_order_relaxed) & (LOCK_TID_MAX - 1);
}
