/* SPDX-License-Identifier: MIT */
/*
 * channel.c - publishing into one's own ring (the receiving side is
 * channel_rx.c). Waiting is wait_until() (wait.c).
 *
 * Protocol of a slot at position P of ring s (slot index P % slots):
 *
 *   sender (only rank s)                    reader r
 *   wait until slot_free(P)                 seq = load_acquire(slot.seq)
 *   write payload                           if seq == P+1:
 *   seq = BUSY|(P+1)  (relaxed)                dest = load(slot.dest)
 *   fence(release)                             fence(acquire)
 *   write dest, len, kind                      recheck seq == P+1 (seqlock)
 *   store_release(seq, P+1)
 *   if a reader sleeps: bump bell, wake        if dest has r: read payload
 *                                           release: store_release(
 *                                             r.released[s], lowest held)
 *
 * slot_free(P): every live reader of the message at P - slots has
 * released[s] > P - slots. So a reader that sees its bit in dest reads a
 * payload that cannot change under it until it releases; the seqlock
 * recheck only guards the dest word of messages that were not for this
 * reader and whose slot may be reused meanwhile.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "arena_int.h"
#include "channel_int.h"
#include "fault_int.h"
#include "membership_int.h"
#include "util.h"
#include "wait_int.h"


bool chan_cpus_compete(struct chan *c)
{
	return cpu_fit_compete(&c->fit[0], &c->seg);
}

/* The arena reference a slot of ours carries, if its message was in the
 * arena. */
static bool slot_ref(struct seg_slot *sl, struct arena_ref *ref)
{
	if (!(atomic_load_explicit(&sl->kind, memory_order_relaxed) & KIND_ARENA) ||
	    atomic_load_explicit(&sl->len, memory_order_relaxed) != sizeof(*ref))
		return false;
	memcpy(ref, seg_slot_data(sl), sizeof(*ref));
	return true;
}

int chan_init(struct chan *c, const struct seg_map *seg, unsigned me)
{
	memset(c, 0, sizeof(*c));
	c->map_words = (seg_layout(seg)->slots + 63) / 64;
	c->heldmap = calloc((size_t)(seg_layout(seg)->ranks + 1) * c->map_words, sizeof(uint64_t));
	if (!c->heldmap)
		return -ENOMEM;
	c->seg = *seg;
	c->me = me;
	c->mybit = me < seg_layout(seg)->ranks ? IPCFS_RANK_BIT(me) : 0;
	c->valid = seg_group_mask(seg);
	c->asym = wait_asym_register();
	struct seg_rank *r = seg_rank(&c->seg, me);
	c->txpos = atomic_load_explicit(&r->head, memory_order_acquire);
	/* A previous owner of the ring that died between publishing a slot
	 * and storing head left head behind a published message: start after
	 * it (after every such slot, at most a lap), or the first message of
	 * this incarnation would overwrite it before anyone read it. A clean
	 * head finds the slot at head holding an older lap, or nothing. */
	for (unsigned i = 0; i < seg_layout(seg)->slots; i++) {
		/* Acquire: pairs with the publish of that slot (chan_commit). */
		uint64_t seq = atomic_load_explicit(&seg_slot(&c->seg, me, c->txpos)->seq,
						    memory_order_acquire);
		if (seq != c->txpos + 1)
			break;
		c->txpos++;
	}
	/* Release: as chan_commit's store of head. */
	atomic_store_explicit(&r->head, c->txpos, memory_order_release);
	/* One that died inside chan_commit after publishing an arena block
	 * and before publishing the slot: nobody will ever read that message,
	 * so its block comes back (it is checked under the arena's lock). */
	struct seg_slot *sl = seg_slot(&c->seg, me, c->txpos);
	struct arena_ref ref;
	if (atomic_load_explicit(&sl->seq, memory_order_acquire) == (SEG_SEQ_BUSY | (c->txpos + 1)) &&
	    slot_ref(sl, &ref))
		arena_reclaim(&c->seg, &ref);
	for (unsigned s = 0; s <= seg_layout(seg)->ranks; s++)
		c->cur[s] = atomic_load_explicit(&r->released[s], memory_order_relaxed);
	return 0;
}

void chan_fini(struct chan *c)
{
	free(c->heldmap);
	c->heldmap = NULL;
	seg_unmap(&c->seg);
}

/* ---- sending ---------------------------------------------------------- */

/* Ranks that still hold the message now in the slot of position @pos and
 * so keep the sender from reusing it. */
static uint64_t slot_holders(struct chan *c, uint64_t pos)
{
	if (pos < seg_layout(&c->seg)->slots)
		return 0; /* first lap: the slot never held a message */
	struct seg_slot *sl = seg_slot(&c->seg, c->me, pos);
	uint64_t old = pos - seg_layout(&c->seg)->slots;
	/* Relaxed: we wrote dest ourselves when we published `old` (but any
	 * member may have written over it since: only ranks of the group
	 * count). */
	uint64_t held = atomic_load_explicit(&sl->dest, memory_order_relaxed) & c->valid;
	/* seq_cst: ordered against a joining rank's seq_cst update of the
	 * live mask, after which its released entries are visible. */
	/* Model: tests/model/ring.pml, slot_holders (S2, M1). */
	held &= atomic_load_explicit(&c->seg.hdr->live, memory_order_seq_cst);
	for (uint64_t m = held; m; m &= m - 1) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		if (c->seen[b] > old) {
			held &= ~IPCFS_RANK_BIT(b);
			continue;
		}
		/* Acquire: pairs with the reader's release of the slot, so its
		 * reads of the payload happen before we overwrite it; seq_cst
		 * for the sleep handshake with release_ring() (wait_until). */
		c->seen[b] = atomic_load_explicit(&seg_rank(&c->seg, b)->released[c->me],
						  memory_order_seq_cst);
		if (c->seen[b] > old)
			held &= ~IPCFS_RANK_BIT(b);
	}
	return held;
}

static int poll_space(void *arg, bool full)
{
	struct chan *c = arg;
	(void)full;
	return slot_holders(c, c->txpos) ? 0 : 1;
}

static void check_holders(void *arg)
{
	struct chan *c = arg;
	membership_reap(&c->seg, slot_holders(c, c->txpos));
}

/* Wait for the ring slot at txpos and claim it. */
static int claim_slot(struct chan *c, int timeout_ms)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct seg_slot *sl = seg_slot(&c->seg, c->me, c->txpos);
	struct arena_ref old;
	int rc = c->space_ok ? 1 : poll_space(c, true);

	if (!rc) {
		/* Back pressure: the slowest reader still holds the slot. */
		struct waiter w = chan_waiter(c, me, true);
		w.poll = poll_space;
		w.check = check_holders;
		w.arg = c;
		seg_count(&me->stalls, 1);
		atomic_store_explicit(&me->stall_since_ns, wait_now_ns(), memory_order_relaxed);
		rc = wait_until(&w, timeout_ms);
		atomic_store_explicit(&me->stall_since_ns, 0, memory_order_relaxed);
	}
	if (rc < 0)
		return rc;
	/* Every live reader has released the old message: if its block is
	 * still held, only ranks that are gone hold it. */
	if (c->txpos >= seg_layout(&c->seg)->slots && slot_ref(sl, &old))
		arena_reclaim(&c->seg, &old);
	c->reserved = true;
	c->space_ok = false;
	return 0;
}

/* Drop the arena block of the reservation, if any. */
static void drop_block(struct chan *c)
{
	if (c->res_block) {
		arena_unreserve(&c->seg, &c->res);
		c->res_block = false;
	}
}

struct alloc_arg {
	struct chan *c;
	size_t len;
	uint32_t bell; /* the arena's bell at the last try */
};

/*
 * The block the next allocation should not reuse, or NULL. In lockstep a
 * sender's last block is the one its readers have just read. While it fits
 * in a core's private cache the readers still hold its lines there, and
 * every store into it would first pull a line back from their cores: take
 * another block (the arena alternates between two). A larger block has
 * mostly left their private caches for the shared one, where rewriting it
 * is a hit, while a second block would double the footprint and push both
 * out to memory (W3's 5.4 MB: 1.0 ms alternating, 0.7 ms reusing).
 */
static const struct arena_res *avoid_hint(const struct chan *c)
{
	return c->arena_last.cap && c->arena_last.cap <= util_private_cache_bytes()
		       ? &c->arena_last : NULL;
}

/* Try the allocator; inside a spin batch only when the bell moved (a
 * block was freed), so that spinning costs no lock. */
static int poll_alloc(void *arg, bool full)
{
	struct alloc_arg *a = arg;
	struct seg_arena *st = arena_state(&a->c->seg);
	/* Acquire: pairs with the free's seq_cst bump (wake_allocators). */
	uint32_t bell = atomic_load_explicit(&st->freed_bell, memory_order_acquire);

	if (!full && bell == a->bell)
		return 0;
	a->bell = bell;
	int rc = arena_try_alloc(&a->c->seg, a->c->me, a->len, avoid_hint(a->c), &a->c->res);
	if (rc == 0)
		a->c->arena_last = a->c->res;
	return rc == -ENOSPC ? 0 : rc ? rc : 1;
}

/* Blocks held by ranks whose process is gone come back once they are
 * marked gone (their blocks are swept then). */
static void check_alloc(void *arg)
{
	struct alloc_arg *a = arg;
	membership_reap(&a->c->seg, atomic_load_explicit(&a->c->seg.hdr->live,
							 memory_order_acquire));
}

/* A block of the arena for @len bytes, waiting for space as asked. */
static int alloc_block(struct chan *c, size_t len, int timeout_ms)
{
	struct seg_arena *st = arena_state(&c->seg);
	struct alloc_arg a = { c, len, atomic_load_explicit(&st->freed_bell, memory_order_acquire) };
	int rc = arena_try_alloc(&c->seg, c->me, len, avoid_hint(c), &c->res);

	if (rc == 0)
		c->arena_last = c->res;
	if (rc != -ENOSPC)
		return rc;
	if (timeout_ms == 0)
		return -EAGAIN;
	struct waiter w = chan_waiter(c, seg_rank(&c->seg, c->me), true);
	/* Many ranks may wait for space at once: a counting waiter, and the
	 * ring's spin counters are not the arena's. */
	w.poll = poll_alloc;
	w.check = check_alloc;
	w.arg = &a;
	w.waiting = &st->waiting;
	w.bell = &st->freed_bell;
	w.counting = true;
	w.spins = w.sleeps = w.timeouts = NULL;
	arena_count_wait(&c->seg);
	rc = wait_until(&w, timeout_ms);
	return rc < 0 ? rc : 0;
}

int chan_reserve(struct chan *c, size_t len, void **buf, int timeout_ms)
{
	bool big = len > seg_layout(&c->seg)->slot_bytes;
	int rc;

	if (!buf)
		return -EINVAL;
	if (big && !seg_layout(&c->seg)->arena_bytes)
		return -EMSGSIZE;
	if (!c->reserved && (rc = claim_slot(c, timeout_ms)))
		return rc;
	if (!big) {
		drop_block(c);
		*buf = seg_slot_data(seg_slot(&c->seg, c->me, c->txpos));
		return 0;
	}
	/* A large payload: the slot will carry a reference to a block of
	 * the arena, which the readers read in place. */
	if (c->res_block && c->res.cap < len)
		drop_block(c);
	if (!c->res_block) {
		rc = alloc_block(c, len, timeout_ms);
		if (rc)
			return rc;
		c->res_block = true;
	}
	*buf = arena_data(&c->seg, c->res.off);
	return 0;
}

void chan_unreserve(struct chan *c)
{
	drop_block(c);
}

/* Wake the ranks of @dest that sleep waiting for a message. */
static void wake_readers(struct chan *c, uint64_t dest)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	uint64_t woke = 0;

	for (uint64_t m = dest; m; m &= m - 1) {
		struct seg_rank *r = seg_rank(&c->seg, (unsigned)__builtin_ctzll(m));
		/* seq_cst, after the publish: see wait_until(). */
		if (atomic_load_explicit(&r->rx_waiting, memory_order_seq_cst)) {
			atomic_fetch_add_explicit(&r->rx_bell, 1, memory_order_seq_cst);
			wait_futex_wake(&r->rx_bell);
			woke++;
		}
	}
	if (woke)
		seg_count(&me->wakeups, woke);
}

/*
 * A rank marked gone between our read of `live` and arena_publish was
 * swept before its bit was in the block's holders, so no sweep would ever
 * clear it: the block would stay taken for good (found by the Spin model,
 * tests/model/ring.pml, mutant NO_PUBLISH_RECHECK). Look at `live` again
 * and release the block for the ranks gone meanwhile.
 */
static void drop_gone_holders(struct chan *c, const struct arena_ref *ref, uint64_t dest)
{
	/* SC fence, then the load: pairs with the seq_cst clear of the live
	 * bit in seg_mark_gone_pid, which comes before its sweep. Either we
	 * see the bit cleared here, or the sweep sees our holders store
	 * (arena_publish, before the fence) and clears it itself; both
	 * clearing is harmless (arena_release of a bit not set is nothing).
	 * Model: tests/model/ring.pml, publish_recheck. */
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t gone = dest & ~atomic_load_explicit(&c->seg.hdr->live, memory_order_relaxed);

	for (; gone; gone &= gone - 1)
		arena_release(&c->seg, ref, (unsigned)__builtin_ctzll(gone));
}

int chan_commit(struct chan *c, uint64_t dest, size_t len, uint32_t kind)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct seg_slot *sl = seg_slot(&c->seg, c->me, c->txpos);
	/* Relaxed: membership is re-checked by readers and senders alike; a
	 * rank that joins this instant simply misses this message. A rank
	 * marked gone after this load is handled after arena_publish. */
	uint64_t live = atomic_load_explicit(&c->seg.hdr->live, memory_order_relaxed);
	FAULT_POINT("chan_commit_live_read");

	if (!c->reserved || kind > KIND_MAX)
		return -EINVAL;
	if (c->res_block ? len > c->res.cap : len > seg_layout(&c->seg)->slot_bytes)
		return -EINVAL;
	if (dest == IPCFS_ALL) {
		dest = live & c->valid & ~c->mybit;
		if (!dest)
			return -ENOTCONN;
	} else if (!dest || (dest & ~c->valid) || (dest & c->mybit)) {
		return -EINVAL;
	} else if (dest & ~live) {
		return -ENOTCONN;
	}
	/* Mark the slot as being rewritten before its header changes: a
	 * reader a lap behind, looking at the old message (not for it, or
	 * the slot would not be free), must not pair the old seq with the new
	 * dest. The release fence orders this store before the header stores
	 * (seqlock writer). Only here, not at reserve: the payload is nothing
	 * to such a reader, and one burst of stores at commit keeps a reader
	 * polling this very line from pulling it back and forth meanwhile. */
	atomic_store_explicit(&sl->seq, SEG_SEQ_BUSY | (c->txpos + 1), memory_order_relaxed);
	/* Model: tests/model/ring.pml, chan_commit (S1, seqlock writer). */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&sl->dest, dest, memory_order_relaxed);
	if (c->res_block) {
		/* The reference is in the slot before the block is published:
		 * a sender that dies between the two leaves its slot at txpos
		 * BUSY and naming the block, which its next incarnation gives
		 * back (chan_init). Readers read none of it before the seq. */
		struct arena_ref ref = { .off = c->res.off, .len = len, .gen = c->res.gen };
		memcpy(seg_slot_data(sl), &ref, sizeof(ref));
		atomic_store_explicit(&sl->len, (uint32_t)sizeof(ref), memory_order_relaxed);
		atomic_store_explicit(&sl->kind, kind | KIND_ARENA, memory_order_relaxed);
		arena_publish(&c->seg, &c->res, len, dest, &ref);
		FAULT_POINT("chan_commit_block_published");
		drop_gone_holders(c, &ref, dest);
		c->res_block = false;
	} else {
		atomic_store_explicit(&sl->len, (uint32_t)len, memory_order_relaxed);
		atomic_store_explicit(&sl->kind, kind, memory_order_relaxed);
	}
	/* Publish. Release for the payload and header above; then the sleep
	 * handshake with readers (wait_until) needs a StoreLoad fence before we
	 * read their flags: a seq_cst store, or none when the sleepers'
	 * membarrier provides it (only the compiler must keep the order). */
	/* Model: tests/model/ring.pml, "publish" then wake_readers (W1): it
	 * assumes this store and the flag loads below are in SC order. */
	if (c->asym) {
		atomic_store_explicit(&sl->seq, c->txpos + 1, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store_explicit(&sl->seq, c->txpos + 1, memory_order_seq_cst);
	}
	FAULT_POINT("chan_commit_published");
	c->txpos++;
	c->reserved = false;
	/* Release: a joining rank that reads head sees every slot below it. */
	atomic_store_explicit(&me->head, c->txpos, memory_order_release);
	seg_count(&me->sent, 1);
	seg_count(&me->sent_bytes, len);
	wake_readers(c, dest);
	/* Look at the next slot now, while the readers work on this message,
	 * rather than on the next send's critical path, and prefetch it for
	 * writing (readers' reads left it shared). A slot seen free stays
	 * free: only we add holders. */
	struct seg_slot *next = seg_slot(&c->seg, c->me, c->txpos);
	__builtin_prefetch(next, 1);
	c->space_ok = slot_holders(c, c->txpos) == 0;
	return 0;
}
