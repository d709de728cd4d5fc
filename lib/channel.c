/* SPDX-License-Identifier: MIT */
/*
 * channel.c - publishing into one's own ring, reading the others, and
 * waiting (spin, then futex) for either.
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
#include "wait_int.h"

/* How often a sleeper wakes to check that the peers it waits for are alive,
 * when no daemon does it for us. */
#define LIVENESS_NS 100000000ull
/* Polls between two reads of the clock in the spin phase. */
#define SPIN_BATCH 32

/* Kinds defined so far (IPCFS_KIND_*), and the flag of a slot whose
 * payload is a struct arena_ref to the message's block. */
enum { KIND_MAX = IPCFS_KIND_TYPED };
#define KIND_ARENA (1u << 31)
/* A view's priv[0]: the position in its ring, the ring above this bit. */
#define PRIV_RING_SHIFT 56

int chan_init(struct chan *c, const struct seg_map *seg, unsigned me)
{
	memset(c, 0, sizeof(*c));
	c->map_words = (seg->slots + 63) / 64;
	c->heldmap = calloc((size_t)(seg->ranks + 1) * c->map_words, sizeof(uint64_t));
	if (!c->heldmap)
		return -ENOMEM;
	c->seg = *seg;
	c->me = me;
	c->mybit = me < seg->ranks ? IPCFS_RANK_BIT(me) : 0;
	c->valid = seg->ranks == 64 ? ~(uint64_t)0 : IPCFS_RANK_BIT(seg->ranks) - 1;
	c->ncpu = wait_cpus();
	c->asym = wait_asym_register();
	struct seg_rank *r = seg_rank(&c->seg, me);
	c->txpos = atomic_load_explicit(&r->head, memory_order_acquire);
	for (unsigned s = 0; s <= seg->ranks; s++)
		c->cur[s] = atomic_load_explicit(&r->released[s], memory_order_relaxed);
	return 0;
}

void chan_fini(struct chan *c)
{
	free(c->heldmap);
	c->heldmap = NULL;
	seg_unmap(&c->seg);
}

/* ---- waiting ---------------------------------------------------------- */

struct waiter {
	/* >0: done, 0: not yet, <0: error. Called many times; with @full
	 * false (inside a spin batch) it may skip checks that only turn a
	 * wait into an error, such as a peer that died. */
	int (*poll)(struct chan *c, void *arg, bool full);
	/* Called about every LIVENESS_NS while sleeping: marks peers whose
	 * process is gone, so that poll() stops waiting for them. */
	void (*check)(struct chan *c, void *arg);
	void *arg;
	_Atomic uint32_t *waiting, *bell;
	_Atomic uint64_t *spins, *sleeps, *timeouts;
};

static bool oversubscribed(const struct chan *c)
{
	uint64_t live = atomic_load_explicit(&c->seg.hdr->live, memory_order_relaxed);
	return (unsigned)__builtin_popcountll(live) > c->ncpu;
}

/*
 * Wait until w->poll() says done. The first poll is the fast path and makes
 * no system call. Then spin for spin_us; when the group has more live ranks
 * than we have CPUs, each spin round yields the CPU instead of pausing, so
 * that the process we wait for gets to run. Then sleep on the bell.
 */
static int wait_for(struct chan *c, const struct waiter *w, int timeout_ms)
{
	uint64_t now, deadline, spin_end, last_check, spins = 0, sleeps = 0;
	int rc = w->poll(c, w->arg, true);

	if (rc)
		return rc;
	if (timeout_ms == 0)
		return -EAGAIN;
	bool yield = oversubscribed(c);
	/* Spin in batches, reading the clock between them. The first batch
	 * comes before the first reading: most waits of a busy group end
	 * within it, and the clock costs as much as a poll. */
	/* A yield can take a whole time slice of another process: then the
	 * clock is read after every one, so that the spin window holds. */
	int batch = yield ? 1 : SPIN_BATCH;
	for (bool started = false;;) {
		for (int i = 0; i < batch; i++) {
			if (yield)
				sched_yield();
			else
				wait_cpu_relax();
			spins++;
			rc = w->poll(c, w->arg, i == batch - 1);
			if (rc)
				goto out;
		}
		now = wait_now_ns();
		if (!started) {
			started = true;
			deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
			spin_end = now + (uint64_t)c->seg.spin_us * 1000u;
			last_check = now;
		}
		if (now >= spin_end || now >= deadline)
			break;
	}
	for (;;) {
		/* Announce the sleep, then look once more. seq_cst on the flag
		 * store and (inside poll) on the loads that follow, paired with
		 * the publisher's store of the data then load of the flag (a
		 * seq_cst store, or a plain one made safe by our membarrier, see
		 * wait_asym_fence): one of the two sides sees the other, so a
		 * wake-up is never lost. The bell is read after the flag so that
		 * a bump between our look and the futex call makes FUTEX_WAIT
		 * return at once. */
		atomic_store_explicit(w->waiting, 1, memory_order_seq_cst);
		wait_asym_fence();
		uint32_t bell = atomic_load_explicit(w->bell, memory_order_seq_cst);
		rc = w->poll(c, w->arg, true);
		if (rc)
			break;
		now = wait_now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		uint64_t nap = deadline - now < LIVENESS_NS ? deadline - now : LIVENESS_NS;
		sleeps++;
		wait_futex(w->bell, bell, (int64_t)nap);
		now = wait_now_ns();
		if (w->check && now - last_check >= LIVENESS_NS) {
			w->check(c, w->arg);
			last_check = now;
		}
	}
	/* Relaxed: a stale 1 only costs a sender one needless wake call. */
	atomic_store_explicit(w->waiting, 0, memory_order_relaxed);
out:
	seg_count(w->spins, spins);
	if (sleeps)
		seg_count(w->sleeps, sleeps);
	if (rc == -ETIMEDOUT)
		seg_count(w->timeouts, 1);
	return rc;
}

/* ---- sending ---------------------------------------------------------- */

/* Ranks that still hold the message now in the slot of position @pos and
 * so keep the sender from reusing it. */
static uint64_t slot_holders(struct chan *c, uint64_t pos)
{
	if (pos < c->seg.slots)
		return 0; /* first lap: the slot never held a message */
	struct seg_slot *sl = seg_slot(&c->seg, c->me, pos);
	uint64_t old = pos - c->seg.slots;
	/* Relaxed: we wrote dest ourselves when we published `old` (but any
	 * member may have written over it since: only ranks of the group
	 * count). */
	uint64_t held = atomic_load_explicit(&sl->dest, memory_order_relaxed) & c->valid;
	/* seq_cst: ordered against a joining rank's seq_cst update of the
	 * live mask, after which its released entries are visible. */
	held &= atomic_load_explicit(&c->seg.hdr->live, memory_order_seq_cst);
	for (uint64_t m = held; m; m &= m - 1) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		if (c->seen[b] > old) {
			held &= ~IPCFS_RANK_BIT(b);
			continue;
		}
		/* Acquire: pairs with the reader's release of the slot, so its
		 * reads of the payload happen before we overwrite it; seq_cst
		 * for the sleep handshake with release_ring() (wait_for). */
		c->seen[b] = atomic_load_explicit(&seg_rank(&c->seg, b)->released[c->me],
						  memory_order_seq_cst);
		if (c->seen[b] > old)
			held &= ~IPCFS_RANK_BIT(b);
	}
	return held;
}

static int poll_space(struct chan *c, void *arg, bool full)
{
	(void)arg;
	(void)full;
	return slot_holders(c, c->txpos) ? 0 : 1;
}

static void check_holders(struct chan *c, void *arg)
{
	(void)arg;
	for (uint64_t m = slot_holders(c, c->txpos); m; m &= m - 1) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		if (seg_owner_gone(&c->seg, b))
			seg_mark_gone(&c->seg, b, IPCFS_STATE_DEAD);
	}
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

/* Wait for the ring slot at txpos and claim it. */
static int claim_slot(struct chan *c, int timeout_ms)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct seg_slot *sl = seg_slot(&c->seg, c->me, c->txpos);
	struct arena_ref old;
	int rc = c->space_ok ? 1 : poll_space(c, NULL, true);

	if (!rc) {
		/* Back pressure: the slowest reader still holds the slot. */
		struct waiter w = {
			.poll = poll_space, .check = check_holders,
			.waiting = &me->tx_waiting, .bell = &me->tx_bell,
			.spins = &me->tx_spins, .sleeps = &me->tx_sleeps,
			.timeouts = &me->tx_timeouts,
		};
		seg_count(&me->stalls, 1);
		atomic_store_explicit(&me->stall_since_ns, wait_now_ns(), memory_order_relaxed);
		rc = wait_for(c, &w, timeout_ms);
		atomic_store_explicit(&me->stall_since_ns, 0, memory_order_relaxed);
	}
	if (rc < 0)
		return rc;
	/* Every live reader has released the old message: if its block is
	 * still held, only ranks that are gone hold it. */
	if (c->txpos >= c->seg.slots && slot_ref(sl, &old))
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

int chan_reserve(struct chan *c, size_t len, void **buf, int timeout_ms)
{
	bool big = len > c->seg.slot_bytes;
	int rc;

	if (!buf)
		return -EINVAL;
	if (big && !c->seg.arena_bytes)
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
		rc = arena_alloc(&c->seg, c->me, len, timeout_ms, c->seg.spin_us, &c->res);
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
		/* seq_cst, after the publish: see wait_for(). */
		if (atomic_load_explicit(&r->rx_waiting, memory_order_seq_cst)) {
			atomic_fetch_add_explicit(&r->rx_bell, 1, memory_order_seq_cst);
			wait_futex_wake(&r->rx_bell);
			woke++;
		}
	}
	if (woke)
		seg_count(&me->wakeups, woke);
}

int chan_commit(struct chan *c, uint64_t dest, size_t len, uint32_t kind)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct seg_slot *sl = seg_slot(&c->seg, c->me, c->txpos);
	/* Relaxed: membership is re-checked by readers and senders alike; a
	 * rank that joins this instant simply misses this message. */
	uint64_t live = atomic_load_explicit(&c->seg.hdr->live, memory_order_relaxed);

	if (!c->reserved || kind > KIND_MAX)
		return -EINVAL;
	if (c->res_block ? len > c->res.cap : len > c->seg.slot_bytes)
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
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&sl->dest, dest, memory_order_relaxed);
	if (c->res_block) {
		struct arena_ref ref;
		arena_publish(&c->seg, &c->res, len, dest, &ref);
		memcpy(seg_slot_data(sl), &ref, sizeof(ref));
		atomic_store_explicit(&sl->len, (uint32_t)sizeof(ref), memory_order_relaxed);
		atomic_store_explicit(&sl->kind, kind | KIND_ARENA, memory_order_relaxed);
		c->res_block = false;
	} else {
		atomic_store_explicit(&sl->len, (uint32_t)len, memory_order_relaxed);
		atomic_store_explicit(&sl->kind, kind, memory_order_relaxed);
	}
	/* Publish. Release for the payload and header above; then the sleep
	 * handshake with readers (wait_for) needs a StoreLoad fence before we
	 * read their flags: a seq_cst store, or none when the sleepers'
	 * membarrier provides it (only the compiler must keep the order). */
	if (c->asym) {
		atomic_store_explicit(&sl->seq, c->txpos + 1, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store_explicit(&sl->seq, c->txpos + 1, memory_order_seq_cst);
	}
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

/* ---- receiving -------------------------------------------------------- */

static int ring_of(const struct chan *c, int src)
{
	if (src == IPCFS_SRC_CTL)
		return (int)c->seg.ranks;
	if (src < 0 || (unsigned)src >= c->seg.ranks || (unsigned)src == c->me)
		return -1;
	return src;
}

static uint64_t *held_map(struct chan *c, unsigned ring)
{
	return c->heldmap + (size_t)ring * c->map_words;
}

/* Note that we hold position @pos of @ring (a view handed out). */
static void hold(struct chan *c, unsigned ring, uint64_t pos)
{
	uint64_t i = pos & (c->seg.slots - 1);
	held_map(c, ring)[i / 64] |= (uint64_t)1 << (i % 64);
	c->held[ring]++;
}

/*
 * Publish how far we have released @ring: the lowest position we still
 * hold, or our read cursor if we hold none. Then wake the sender if it
 * sleeps waiting for a slot.
 */
static void release_ring(struct chan *c, unsigned ring)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct seg_rank *snd = seg_rank(&c->seg, ring);
	uint64_t upto = c->cur[ring];

	if (c->held[ring]) {
		/* Positions held lie in [released, cur): scan from the last
		 * published frontier; amortized, each position once. */
		const uint64_t *map = held_map(c, ring);
		upto = atomic_load_explicit(&me->released[ring], memory_order_relaxed);
		for (;; upto++) {
			uint64_t i = upto & (c->seg.slots - 1);
			if (map[i / 64] & ((uint64_t)1 << (i % 64)))
				break;
		}
	}
	/* Release: our reads of the payloads below `upto` happen before the
	 * sender, acquiring this value, overwrites them. Then the same sleep
	 * handshake as a publish (wait_for, chan_commit). */
	if (c->asym) {
		atomic_store_explicit(&me->released[ring], upto, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store_explicit(&me->released[ring], upto, memory_order_seq_cst);
	}
	if (atomic_load_explicit(&snd->tx_waiting, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&snd->tx_bell, 1, memory_order_seq_cst);
		wait_futex_wake(&snd->tx_bell);
		seg_count(&me->rx_wakeups, 1);
	}
}

/*
 * Look for the next message for us in ring @s. Returns 1 and fills @msg,
 * 0 if there is none yet, -EBADMSG for a corrupt slot (skipped).
 */
static int try_ring(struct chan *c, unsigned s, struct ipcfs_msg *msg)
{
	const uint64_t slots = c->seg.slots;
	uint64_t p = c->cur[s];
	int rc = 0;

	/* Each round moves p forward; bounded so that a sender racing ahead
	 * with messages for others cannot keep us here. */
	for (uint64_t round = 0; round < 2 * slots + 2; round++) {
		struct seg_slot *sl = seg_slot(&c->seg, s, p);
		/* Acquire (at least): pairs with the sender's publish; the
		 * header and payload of position p are visible once seq says
		 * p+1. seq_cst for the sleep handshake of wait_for(); on x86
		 * and arm64 this is still a plain load / ldar. */
		uint64_t seq = atomic_load_explicit(&sl->seq, memory_order_seq_cst);

		if (seq == p + 1) {
			uint64_t dest = atomic_load_explicit(&sl->dest, memory_order_relaxed);
			/* Seqlock read side: if the sender began to reuse the
			 * slot, its BUSY store shows in this second read. */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != seq)
				continue;
			if (!(dest & c->mybit)) {
				p++;
				continue;
			}
			uint32_t len = atomic_load_explicit(&sl->len, memory_order_relaxed);
			uint32_t kind = atomic_load_explicit(&sl->kind, memory_order_relaxed);
			const void *data = seg_slot_data(sl);
			struct arena_ref ref;
			c->cur[s] = p + 1;
			bool bad = len > c->seg.slot_bytes || (kind & ~KIND_ARENA) > KIND_MAX ||
				   (dest & ~c->valid);
			if (!bad && (kind & KIND_ARENA)) {
				/* Copied out before it is checked: what we check is
				 * what we use, whatever the memory says later. */
				memcpy(&ref, data, sizeof(ref));
				bad = len != sizeof(ref) || arena_check_ref(&c->seg, &ref);
				data = arena_data(&c->seg, ref.off);
				len = 0;
			}
			if (bad) {
				/* Skipped: not held, so released past it. The
				 * block, if any, is reclaimed when the slot is
				 * reused. */
				release_ring(c, s);
				return -EBADMSG;
			}
			hold(c, s, p);
			msg->data = data;
			msg->len = (kind & KIND_ARENA) ? ref.len : len;
			msg->kind = kind & ~KIND_ARENA;
			msg->src = s == c->seg.ranks ? IPCFS_SRC_CTL : (int)s;
			msg->seq = p + 1;
			/* What release needs, from the copies checked here: it
			 * never reads the slot again (see chan_release). */
			msg->priv[0] = p | (uint64_t)s << PRIV_RING_SHIFT;
			msg->priv[1] = (kind & KIND_ARENA) ? ref.gen : 0;
			return 1;
		}
		if (seq == 0)
			break; /* never written: nothing yet */
		uint64_t pos = (seq & ~SEG_SEQ_BUSY) - 1;
		if (pos <= p) {
			/* An older message, or ours being written: not yet.
			 * A slot for position p holds p or an earlier lap. */
			if ((p - pos) % slots) {
				p++;
				rc = -EBADMSG;
				break;
			}
			break;
		}
		if ((pos - p) % slots) {
			/* A position that cannot live in this slot. */
			p++;
			rc = -EBADMSG;
			break;
		}
		/* Overwritten by a later lap, so not ours (ours cannot be
		 * reused before we release it): skip to the oldest position
		 * that can still be in the ring. */
		uint64_t head = atomic_load_explicit(&seg_rank(&c->seg, s)->head, memory_order_acquire);
		p = head > slots && head - slots > p + 1 ? head - slots : p + 1;
	}
	c->cur[s] = p;
	return rc;
}

struct recv_arg {
	int ring;             /* or -1 for any */
	struct ipcfs_msg *msg;
	bool bad;             /* a corrupt slot was skipped */
};

/* Look into ring @s. A corrupt slot is skipped (try_ring moved past it)
 * and noted; the receive goes on looking and waiting, so that a ring full
 * of garbage costs no more CPU than an empty one and the timeout holds. */
static int look(struct chan *c, unsigned s, struct recv_arg *a)
{
	int rc = try_ring(c, s, a->msg);

	if (rc == -EBADMSG) {
		a->bad = true;
		return 0;
	}
	return rc;
}

/* Whether the sender of ring @s is gone for good (dead or left). The
 * control sender (the daemon) may always come back. */
static bool sender_gone(const struct chan *c, unsigned s)
{
	if (s == c->seg.ranks)
		return false;
	uint64_t w = atomic_load_explicit(&seg_rank(&c->seg, s)->owner, memory_order_acquire);
	int st = SEG_OWNER_STATE(w);
	return st == IPCFS_STATE_DEAD || st == IPCFS_STATE_LEFT;
}

static int poll_recv(struct chan *c, void *arg, bool full)
{
	struct recv_arg *a = arg;
	unsigned n = c->seg.ranks + 1;
	int rc;

	if (a->ring >= 0) {
		rc = look(c, (unsigned)a->ring, a);
		if (rc || !full || !sender_gone(c, (unsigned)a->ring))
			return rc;
		/* Gone: one more look, for what it published before it died
		 * (the state was read after the first look). */
		rc = look(c, (unsigned)a->ring, a);
		return rc ? rc : -EPIPE;
	}
	uint64_t joined = atomic_load_explicit(&c->seg.hdr->joined, memory_order_acquire);
	unsigned s = c->rr;
	for (unsigned i = 0; i < n; i++, s = s + 1 == n ? 0 : s + 1) {
		if (s == c->me || (s < c->seg.ranks && !(joined & IPCFS_RANK_BIT(s))))
			continue;
		rc = look(c, s, a);
		if (rc) {
			c->rr = s + 1 == n ? 0 : s + 1;
			return rc;
		}
	}
	if (!full)
		return 0;
	/* -EPIPE once every rank that ever joined is gone and drained. Their
	 * state is read after the look above, so look once more at those
	 * found gone, for what they published just before. */
	uint64_t others = joined & ~c->mybit;
	if (!others)
		return 0; /* nobody else ever joined: wait for them */
	for (uint64_t m = others; m; m &= m - 1)
		if (!sender_gone(c, (unsigned)__builtin_ctzll(m)))
			return 0;
	for (uint64_t m = others; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		rc = look(c, r, a);
		if (rc) {
			c->rr = r + 1 == n ? 0 : r + 1;
			return rc;
		}
	}
	return -EPIPE;
}

static void check_senders(struct chan *c, void *arg)
{
	struct recv_arg *a = arg;
	for (unsigned s = 0; s < c->seg.ranks; s++) {
		if (s == c->me || (a->ring >= 0 && (unsigned)a->ring != s))
			continue;
		uint64_t w = atomic_load_explicit(&seg_rank(&c->seg, s)->owner, memory_order_acquire);
		if (SEG_OWNER_STATE(w) == IPCFS_STATE_LIVE && seg_owner_gone(&c->seg, s))
			seg_mark_gone(&c->seg, s, IPCFS_STATE_DEAD);
	}
}

int chan_recv(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct recv_arg a = { .ring = -1, .msg = msg };
	int rc;

	if (!msg || c->me >= c->seg.ranks)
		return -EINVAL;
	if (src != IPCFS_ANY) {
		a.ring = ring_of(c, src);
		if (a.ring < 0)
			return -EINVAL;
	}
	/* The fast path looks for a message only; whether the sender is gone
	 * is asked by the first poll of wait_for(), which follows at once. */
	rc = poll_recv(c, &a, false);
	if (!rc) {
		struct waiter w = {
			.poll = poll_recv, .check = check_senders, .arg = &a,
			.waiting = &me->rx_waiting, .bell = &me->rx_bell,
			.spins = &me->rx_spins, .sleeps = &me->rx_sleeps,
			.timeouts = &me->rx_timeouts,
		};
		seg_count(&me->waits, 1);
		/* With no time to wait, one corrupt slot skipped is the
		 * answer (the next call goes on after it). */
		rc = a.bad && timeout_ms == 0 ? -EBADMSG : wait_for(c, &w, timeout_ms);
	}
	/* No message in time, but corrupt ones skipped meanwhile: say so. */
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && a.bad)
		rc = -EBADMSG;
	if (rc < 0)
		return rc;
	seg_count(&me->recv, 1);
	seg_count(&me->recv_bytes, msg->len);
	return 0;
}

int chan_release(struct chan *c, struct ipcfs_msg *msg)
{
	if (!msg || !msg->data)
		return -EINVAL;
	unsigned ring = (unsigned)(msg->priv[0] >> PRIV_RING_SHIFT);
	uint64_t pos = msg->priv[0] & (((uint64_t)1 << PRIV_RING_SHIFT) - 1);
	if (ring > c->seg.ranks || ring == c->me)
		return -EINVAL;
	uint64_t i = pos & (c->seg.slots - 1);
	uint64_t *word = &held_map(c, ring)[i / 64], bit = (uint64_t)1 << (i % 64);
	/* Only a view we hand out and have not taken back. */
	if (pos >= c->cur[ring] || !(*word & bit))
		return -EINVAL;
	/* The reference as try_ring() checked it, rebuilt from the view
	 * (the slot in shared memory is not read again: anyone may have
	 * written over it). priv[1] is the block's generation, 0 for a
	 * message in the slot. */
	const char *arena = arena_data(&c->seg, 0);
	const char *data = msg->data;
	if (msg->priv[1]) {
		if (data < arena || (uint64_t)(data - arena) >= c->seg.arena_bytes ||
		    (uint64_t)(data - arena) % 64)
			return -EINVAL;
		struct arena_ref ref = { .off = (uint64_t)(data - arena), .len = msg->len,
					 .gen = msg->priv[1] };
		arena_release(&c->seg, &ref, c->me);
	} else if (data != seg_slot_data(seg_slot(&c->seg, ring, pos))) {
		return -EINVAL;
	}
	*word &= ~bit;
	c->held[ring]--;
	release_ring(c, ring);
	msg->data = NULL;
	return 0;
}

/* ---- membership ------------------------------------------------------- */

static int poll_ranks(struct chan *c, void *arg, bool full)
{
	(void)full;
	uint64_t mask = *(uint64_t *)arg;
	uint64_t live = atomic_load_explicit(&c->seg.hdr->live, memory_order_seq_cst);
	return (live & mask) == mask;
}

int chan_wait_ranks(struct chan *c, uint64_t mask, int timeout_ms)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);

	if (mask == IPCFS_ALL)
		mask = c->valid;
	if (mask & ~c->valid)
		return -EINVAL;
	struct waiter w = {
		.poll = poll_ranks, .arg = &mask,
		.waiting = &me->rx_waiting, .bell = &me->rx_bell,
		.spins = &me->rx_spins, .sleeps = &me->rx_sleeps,
		.timeouts = &me->rx_timeouts,
	};
	int rc = wait_for(c, &w, timeout_ms);
	return rc < 0 ? rc : 0;
}
