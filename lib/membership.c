/* SPDX-License-Identifier: MIT */
/*
 * membership.c - ranks claimed, made live, marked gone (left or dead) and
 * reaped; sleepers woken after each change. See membership_int.h.
 */
#include <errno.h>
#include <time.h>

#include "proc_int.h"
#include "arena_int.h"
#include "fault_int.h"
#include "membership_int.h"
#include "wait_int.h"

void seg_rank_lock_adopt(const struct seg_map *m, unsigned idx)
{
	/* Relaxed: the caller read the owner word with acquire first. */
	seg_live_lock_take(m, idx, atomic_load_explicit(&seg_rank(m, idx)->joins, memory_order_relaxed));
}

/* A rank's owner is judged by its pid from its own PID namespace, by its
 * liveness lock (segment_int.h) from any other: the pid is exact (a child
 * forked without exec shares the lock, not the pid), the lock is the only
 * thing that means the same everywhere. */
bool seg_owner_gone(const struct seg_map *m, unsigned idx)
{
	struct seg_rank *r = seg_rank(m, idx);
	uint64_t w = atomic_load_explicit(&r->owner, memory_order_acquire);
	/* Relaxed: stored by the claimer before its compare-and-swap, which
	 * the acquire above saw (C1). */
	uint64_t ns = atomic_load_explicit(&r->pidns, memory_order_relaxed);

	if (proc_pid_visible(ns)) {
		uint64_t want = atomic_load_explicit(&r->starttime, memory_order_relaxed);
		uint64_t have = proc_starttime(SEG_OWNER_PID(w));
		return have == 0 || (want != 0 && have != want);
	}
	/* Another namespace: its pid means nothing here. Its incarnation's
	 * byte, or the next one while a new claim has not stored joins yet
	 * (C2). Cannot tell (no descriptor): not gone. */
	uint64_t gen = atomic_load_explicit(&r->joins, memory_order_relaxed);
	return seg_live_lock_held(m, idx, gen, (gen & 0xffffffffu) == 0xffffffffu ? 1 : 2) == 0;
}

void seg_wake_all(struct seg_map *m)
{
	for (unsigned i = 0; i <= seg_layout(m)->ranks; i++) {
		struct seg_rank *r = seg_rank(m, i);
		/* Bump the bells so that a sleeper that is just about to wait
		 * sees a changed value and returns at once. */
		atomic_fetch_add_explicit(&r->rx_bell, 1, memory_order_seq_cst);
		atomic_fetch_add_explicit(&r->tx_bell, 1, memory_order_seq_cst);
		wait_futex_wake(&r->rx_bell);
		wait_futex_wake(&r->tx_bell);
	}
}

bool seg_mark_gone(struct seg_map *m, unsigned idx, int how)
{
	return seg_mark_gone_pid(m, idx, 0, how);
}

/* The rest of the departure of rank @idx's incarnation @gen, after its
 * owner word says gone: out of the live mask, its liveness lock dropped
 * (if ours), its arena blocks swept, recorded complete, sleepers woken.
 * Idempotent: a reaper may finish what a marker that died began. 0, or
 * -ETIMEDOUT when the sweep met the arena's lock kept past @wait_ns: the
 * departure then stays unfinished, for whoever looks next
 * (membership_finish, seg_claim), and its blocks are not lost. */
static int depart(struct seg_map *m, unsigned idx, uint64_t gen, uint64_t wait_ns)
{
	struct seg_rank *r = seg_rank(m, idx);

	if (idx < seg_layout(m)->ranks) {
		/* seq_cst: senders read the live mask with seq_cst when they
		 * decide whom a slot waits for. */
		atomic_fetch_and_explicit(&m->hdr->live, ~IPCFS_RANK_BIT(idx), memory_order_seq_cst);
	}
	FAULT_POINT("mark_gone_unmasked");
	/* The liveness lock of the incarnation marked gone, if this
	 * descriptor holds it (our own leave, or a rank the daemon claimed
	 * for a shell); for anyone else's a no-op. */
	seg_live_lock_drop(m, idx, gen);
	atomic_store_explicit(&r->changed_ns, wait_now_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&m->hdr->epoch, 1, memory_order_release);
	/* Its arena blocks come back: bits in published blocks cleared,
	 * blocks it was building freed. */
	int rc = arena_sweep(m, idx, wait_ns);
	/* D1: release, after the sweep: whoever reads it equal to joins
	 * (acquire) sees the departure complete. */
	if (!rc)
		atomic_store_explicit(&r->swept, gen, memory_order_release);
	seg_wake_all(m);
	return rc;
}

/* seg_mark_gone_pid, saying what became of the departure: 0 complete,
 * -ETIMEDOUT left unfinished (depart), 1 not marked (not the owner we
 * mean, or not live). */
static int mark_gone(struct seg_map *m, unsigned idx, pid_t pid, int how)
{
	struct seg_rank *r = seg_rank(m, idx);
	uint64_t w = atomic_load_explicit(&r->owner, memory_order_acquire);

	do {
		/* Only the owner we mean: a new member may have claimed the
		 * rank since the caller looked (the pid is in the same word,
		 * so the compare-and-swap checks both at once). */
		if (SEG_OWNER_STATE(w) != IPCFS_STATE_LIVE || (pid && SEG_OWNER_PID(w) != pid))
			return 1;
		/* acq_rel: whoever sees the new state also sees what the
		 * rank did before; a competing marker loses the race. */
	} while (!atomic_compare_exchange_weak_explicit(&r->owner, &w,
							SEG_OWNER(how, SEG_OWNER_PID(w)),
							memory_order_acq_rel,
							memory_order_acquire));
	FAULT_POINT("mark_gone_state_set");
	/* Relaxed: joins changes only at a claim, which needs the owner word
	 * non-live and is ordered after our CAS on it. */
	return depart(m, idx, atomic_load_explicit(&r->joins, memory_order_relaxed),
		      m->lock_wait_ns);
}

bool seg_mark_gone_pid(struct seg_map *m, unsigned idx, pid_t pid, int how)
{
	return mark_gone(m, idx, pid, how) <= 0;
}

/* Whether rank @r's last departure is incomplete (gen: its incarnation):
 * its owner word says gone, its swept count is behind. */
static bool departure_unfinished(const struct seg_map *m, unsigned r, uint64_t *gen)
{
	struct seg_rank *rk = seg_rank(m, r);
	/* Acquire: pairs with the release store of joins in seg_claim. */
	*gen = atomic_load_explicit(&rk->joins, memory_order_acquire);
	/* Acquire: pairs with D1. */
	if (*gen == 0 || atomic_load_explicit(&rk->swept, memory_order_acquire) == *gen)
		return false;
	/* Acquire: pairs with the acq_rel CAS of seg_mark_gone_pid. */
	return SEG_OWNER_STATE(atomic_load_explicit(&rk->owner, memory_order_acquire)) !=
	       IPCFS_STATE_LIVE;
}

void membership_finish(struct seg_map *m)
{
	for (unsigned r = 0; r <= seg_layout(m)->ranks; r++) {
		uint64_t gen;
		if (!departure_unfinished(m, r, &gen))
			continue;
		/* The byte a claimer takes first: none claims the rank while
		 * we finish (one that does finishes it itself). */
		int rc = seg_live_lock_take(m, r, gen + 1);
		if (rc == -EAGAIN)
			continue;
		uint64_t again;
		bool kept = false;
		/* A sweep left unfinished met a kept lock: try it, but do not
		 * wait the whole patience again at every look. */
		uint64_t brief = m->lock_wait_ns < SEG_LOCK_WAIT_SERVICE_NS ? m->lock_wait_ns
									   : SEG_LOCK_WAIT_SERVICE_NS;
		if (departure_unfinished(m, r, &again) && again == gen)
			kept = depart(m, r, gen, brief) == -ETIMEDOUT;
		if (rc == 0)
			seg_live_lock_drop(m, r, gen + 1);
		/* The arena's lock is kept: the other sweeps would wait in
		 * vain too. Left for the next call. */
		if (kept)
			return;
	}
}

int membership_unfinished(const struct seg_map *m)
{
	uint64_t gen;

	for (unsigned r = 0; r <= seg_layout(m)->ranks; r++)
		if (departure_unfinished(m, r, &gen))
			return (int)r;
	return -1;
}

/* Longest wait of seg_claim for another holder of a rank's next byte. */
#define CLAIM_WAIT_MS 2000

/* Whether seg_claim should try rank @r again after finding its next byte
 * held: not while its owner is live and present, nor past CLAIM_WAIT_MS
 * (*waited_ms so far); sleeps a millisecond first. */
static bool claim_wait(const struct seg_map *m, unsigned r, unsigned *waited_ms)
{
	static const struct timespec ms = { .tv_nsec = 1000000 };
	/* Acquire: pairs with the acq_rel CAS of seg_claim. */
	uint64_t w = atomic_load_explicit(&seg_rank(m, r)->owner, memory_order_acquire);

	if (SEG_OWNER_STATE(w) == IPCFS_STATE_LIVE && !seg_owner_gone(m, r))
		return false;
	if (*waited_ms >= CLAIM_WAIT_MS)
		return false;
	nanosleep(&ms, NULL);
	++*waited_ms;
	return true;
}

/* Take rank @r for this process: its next incarnation's liveness lock,
 * then a CAS of its owner word from any non-live state, or from a live
 * one whose process is gone. */
int seg_claim(struct seg_map *seg, unsigned r, pid_t pid)
{
	struct seg_rank *rk = seg_rank(seg, r);
	unsigned waited_ms = 0;

	for (;;) {
		/* Acquire: pairs with the release store of joins below (C2). */
		uint64_t gen = atomic_load_explicit(&rk->joins, memory_order_acquire) + 1;
		int rc = seg_live_lock_take(seg, r, gen);

		if (rc == -EAGAIN) {
			/* A live owner: busy. Otherwise another claimer or a
			 * finisher of the last departure (membership_finish,
			 * microseconds) holds the byte: a rank whose owner
			 * just died must not look busy to its restarted
			 * worker, so wait for the holder, within a bound (a
			 * claimer that wins makes the rank live: busy). */
			if (!claim_wait(seg, r, &waited_ms))
				return -EBUSY;
			continue;
		}
		if (atomic_load_explicit(&rk->joins, memory_order_acquire) + 1 != gen) {
			seg_live_lock_drop(seg, r, gen); /* claimed meanwhile: look again */
			continue;
		}
		uint64_t w = atomic_load_explicit(&rk->owner, memory_order_acquire), prev;
		if (SEG_OWNER_STATE(w) == IPCFS_STATE_LIVE) {
			if (!seg_owner_gone(seg, r)) {
				seg_live_lock_drop(seg, r, gen);
				return -EBUSY;
			}
			rc = mark_gone(seg, r, 0, IPCFS_STATE_DEAD);
			w = atomic_load_explicit(&rk->owner, memory_order_acquire);
		} else if (departure_unfinished(seg, r, &prev) && prev == gen - 1) {
			/* Its last owner's departure stopped half way: finish
			 * it before the rank is ours (its blocks are not). */
			rc = depart(seg, r, prev, seg->lock_wait_ns);
		}
		if (rc < 0) {
			/* Its blocks cannot be swept now (the arena's lock is
			 * kept): taking the rank would lose them for good, as
			 * its departure could no longer be told unfinished. */
			seg_live_lock_drop(seg, r, gen);
			return rc;
		}
		/* C1: relaxed, published by the CAS (release) below: whoever
		 * sees us live judges us in our namespace. Only we write it
		 * now: every other claimer of this incarnation failed on its
		 * byte. */
		atomic_store_explicit(&rk->pidns, proc_pidns(), memory_order_relaxed);
		/* acq_rel: we see what the previous owner did; a competing
		 * claimer fails and sees us. */
		if (SEG_OWNER_STATE(w) != IPCFS_STATE_LIVE &&
		    atomic_compare_exchange_strong_explicit(&rk->owner, &w,
							    SEG_OWNER(IPCFS_STATE_LIVE, pid),
							    memory_order_acq_rel, memory_order_acquire)) {
			/* C2: release, after the CAS: a judge that sees the old
			 * count tests its byte and ours (seg_owner_gone). */
			atomic_store_explicit(&rk->joins, gen, memory_order_release);
			return 0;
		}
		seg_live_lock_drop(seg, r, gen);
	}
}

/* Complete a claim: record where our reading starts in every ring, then
 * appear in the live mask. */
void seg_go_live(struct seg_map *seg, unsigned r, pid_t pid)
{
	struct seg_rank *rk = seg_rank(seg, r);

	atomic_store_explicit(&rk->starttime, proc_starttime(pid), memory_order_relaxed);
	/* Relaxed, a hint (seg_rank.relay): a bridge says so again. */
	atomic_store_explicit(&rk->relay, 0, memory_order_relaxed);
	for (unsigned s = 0; s <= seg_layout(seg)->ranks; s++) {
		uint64_t head = atomic_load_explicit(&seg_rank(seg, s)->head, memory_order_acquire);
		atomic_store_explicit(&rk->released[s], head, memory_order_relaxed);
	}
	atomic_store_explicit(&rk->changed_ns, wait_now_ns(), memory_order_relaxed);
	if (r < seg_layout(seg)->ranks) { /* the control sender is in no mask */
		atomic_fetch_or_explicit(&seg->hdr->joined, IPCFS_RANK_BIT(r),
					 memory_order_seq_cst);
		/* seq_cst, after the released stores: a sender that sees our
		 * bit in the live mask also sees them (slot_holders). */
		atomic_fetch_or_explicit(&seg->hdr->live, IPCFS_RANK_BIT(r), memory_order_seq_cst);
	}
	atomic_fetch_add_explicit(&seg->hdr->epoch, 1, memory_order_release);
	seg_wake_all(seg);
}

uint64_t membership_reap(struct seg_map *m, uint64_t mask)
{
	uint64_t valid = seg_group_mask(m), marked = 0;

	/* The mask may come from shared memory: only ranks of the group. */
	for (mask &= valid; mask; mask &= mask - 1) {
		unsigned r = (unsigned)__builtin_ctzll(mask);
		uint64_t w = atomic_load_explicit(&seg_rank(m, r)->owner, memory_order_acquire);
		if (SEG_OWNER_STATE(w) == IPCFS_STATE_LIVE && seg_owner_gone(m, r) &&
		    seg_mark_gone_pid(m, r, SEG_OWNER_PID(w), IPCFS_STATE_DEAD))
			marked |= IPCFS_RANK_BIT(r);
	}
	membership_finish(m);
	return marked;
}

/* ---- reading membership ---------------------------------------------- */

void seg_owner_read(const struct seg_map *m, unsigned idx, struct seg_owner *o)
{
	struct seg_rank *r = seg_rank(m, idx);
	/* Acquire: pairs with the acq_rel CAS of seg_claim and
	 * seg_mark_gone_pid; what the rank did before is visible. */
	uint64_t w = atomic_load_explicit(&r->owner, memory_order_acquire);

	o->state = SEG_OWNER_STATE(w);
	o->pid = SEG_OWNER_PID(w);
	/* Relaxed: written by the claimer before its live CAS (above). */
	o->starttime = atomic_load_explicit(&r->starttime, memory_order_relaxed);
}

uint64_t seg_joined_mask(const struct seg_map *m)
{
	/* Acquire: pairs with the seq_cst fetch_or of seg_go_live. */
	return atomic_load_explicit(&m->hdr->joined, memory_order_acquire) & seg_group_mask(m);
}

uint64_t seg_live_mask(const struct seg_map *m)
{
	/* Acquire: pairs with the seq_cst updates of seg_go_live and
	 * seg_mark_gone_pid. */
	return atomic_load_explicit(&m->hdr->live, memory_order_acquire) & seg_group_mask(m);
}

uint64_t seg_stall_since(const struct seg_map *m, unsigned idx)
{
	/* Relaxed: a report; nothing else is read in its light. */
	return atomic_load_explicit(&seg_rank(m, idx)->stall_since_ns, memory_order_relaxed);
}

uint64_t seg_joins(const struct seg_map *m, unsigned idx)
{
	/* Relaxed: a statistic. */
	return atomic_load_explicit(&seg_rank(m, idx)->joins, memory_order_relaxed);
}

/* Undo the retirement of ranks below @n: words back, locks dropped. */
static void unretire(struct seg_map *m, unsigned n, pid_t pid, const uint64_t *saved)
{
	uint64_t mine = SEG_OWNER(IPCFS_STATE_LIVE, pid);

	for (unsigned r = 0; r < n; r++) {
		uint64_t expect = mine;
		/* Release: pairs with the acquire of the next claimer; only
		 * ours: nobody else can have replaced our live claim. */
		atomic_compare_exchange_strong_explicit(&seg_rank(m, r)->owner, &expect, saved[r],
							memory_order_release, memory_order_relaxed);
		/* Relaxed: joins does not change while we hold the rank. */
		seg_live_lock_drop(m, r, atomic_load_explicit(&seg_rank(m, r)->joins, memory_order_relaxed) + 1);
	}
}

bool seg_retire_ranks(struct seg_map *m, pid_t pid, uint64_t *saved)
{
	uint64_t mine = SEG_OWNER(IPCFS_STATE_LIVE, pid);
	unsigned r;

	for (r = 0; r < seg_layout(m)->ranks; r++) {
		struct seg_rank *rk = seg_rank(m, r);
		/* Acquire: pairs with the release store of joins in seg_claim. */
		uint64_t gen = atomic_load_explicit(&rk->joins, memory_order_acquire) + 1;
		/* The byte a joiner would take next, as a claim of ours: a
		 * joiner of another namespace then finds it held too. */
		if (seg_live_lock_take(m, r, gen) == -EAGAIN)
			break;
		/* Acquire: pairs with the acq_rel CAS of seg_claim (R1). */
		saved[r] = atomic_load_explicit(&rk->owner, memory_order_acquire);
		if (SEG_OWNER_STATE(saved[r]) == IPCFS_STATE_LIVE) {
			seg_live_lock_drop(m, r, gen);
			break;
		}
		/* C1 (seg_claim): ours is the pid in the word now. */
		atomic_store_explicit(&rk->pidns, proc_pidns(), memory_order_relaxed);
		/* R1: acq_rel, the partner of seg_claim's CAS on the same
		 * word: of a joiner's claim and ours exactly one wins. */
		if (!atomic_compare_exchange_strong_explicit(&rk->owner, &saved[r], mine,
							     memory_order_acq_rel, memory_order_acquire)) {
			seg_live_lock_drop(m, r, gen);
			break;
		}
	}
	if (r == seg_layout(m)->ranks)
		return true;
	unretire(m, r, pid, saved);
	return false;
}

void seg_unretire_ranks(struct seg_map *m, pid_t pid, const uint64_t *saved)
{
	unretire(m, seg_layout(m)->ranks, pid, saved);
}
