/* SPDX-License-Identifier: MIT */
/*
 * channel_rx.c - reading the other ranks' rings: receive, release, and
 * waiting for ranks to be live. The protocol is in channel.c.
 */
#include <errno.h>
#include <string.h>

#include "arena_int.h"
#include "channel_int.h"
#include "membership_int.h"
#include "wait_int.h"

/* ---- receiving -------------------------------------------------------- */

static int ring_of(const struct chan *c, int src)
{
	if (src == IPCFS_SRC_CTL)
		return (int)seg_layout(&c->seg)->ranks;
	if (src < 0 || (unsigned)src >= seg_layout(&c->seg)->ranks || (unsigned)src == c->me)
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
	uint64_t i = pos & (seg_layout(&c->seg)->slots - 1);
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
		 * published frontier; amortized, each position once. The
		 * frontier is read back from shared memory, where anyone may
		 * have changed it: at most one lap, so that the scan ends. */
		const uint64_t *map = held_map(c, ring);
		uint64_t from = atomic_load_explicit(&me->released[ring], memory_order_relaxed);
		for (uint64_t k = 0; k < seg_layout(&c->seg)->slots; k++) {
			uint64_t i = (from + k) & (seg_layout(&c->seg)->slots - 1);
			if (map[i / 64] & ((uint64_t)1 << (i % 64))) {
				upto = from + k;
				break;
			}
		}
	}
	/* Release: our reads of the payloads below `upto` happen before the
	 * sender, acquiring this value, overwrites them. Then the same sleep
	 * handshake as a publish (wait_until, chan_commit). */
	/* Model: tests/model/ring.pml, release_ring (S2, W1 for tx_waiting). */
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

/* The message for us at position @p of ring @s (its dest @dest, read
 * under the seqlock): every header field copied once and checked. 1 and
 * @msg filled, or -EBADMSG (skipped, released past). */
static int deliver(struct chan *c, unsigned s, uint64_t p, uint64_t dest, struct ipcfs_msg *msg)
{
	struct seg_slot *sl = seg_slot(&c->seg, s, p);
	uint32_t len = atomic_load_explicit(&sl->len, memory_order_relaxed);
	uint32_t kind = atomic_load_explicit(&sl->kind, memory_order_relaxed);
	const void *data = seg_slot_data(sl);
	struct arena_ref ref;
	uint64_t i = p & (seg_layout(&c->seg)->slots - 1);
	/* A slot we still hold a view of cannot carry a new message (its
	 * sender waits for our release): a seq saying so is garbage, and
	 * holding the slot twice would lose count of what we hold. */
	bool bad = len > seg_layout(&c->seg)->slot_bytes || (kind & ~KIND_ARENA) > KIND_MAX ||
		   (dest & ~c->valid) || (held_map(c, s)[i / 64] & ((uint64_t)1 << (i % 64)));

	if (!bad && (kind & KIND_ARENA)) {
		/* Copied out before it is checked: what we check is what we
		 * use, whatever the memory says later. */
		memcpy(&ref, data, sizeof(ref));
		bad = len != sizeof(ref) || arena_check_ref(&c->seg, &ref);
		/* Only a checked offset makes a pointer (an unchecked one may
		 * point anywhere, or overflow the address). */
		data = bad ? NULL : arena_data(&c->seg, ref.off);
		len = 0;
	}
	if (bad) {
		/* Skipped: not held, so released past it. The block, if any,
		 * is reclaimed when the slot is reused. */
		release_ring(c, s);
		return -EBADMSG;
	}
	hold(c, s, p);
	msg->data = data;
	msg->len = (kind & KIND_ARENA) ? ref.len : len;
	msg->kind = kind & ~KIND_ARENA;
	msg->src = s == seg_layout(&c->seg)->ranks ? IPCFS_SRC_CTL : (int)s;
	msg->seq = p + 1;
	/* What release needs, from the copies checked here: it never reads
	 * the slot again (see chan_release). */
	msg->priv[0] = p | (uint64_t)s << PRIV_RING_SHIFT;
	msg->priv[1] = (kind & KIND_ARENA) ? ref.gen : 0;
	return 1;
}

/*
 * Look for the next message for us in ring @s. Returns 1 and fills @msg,
 * 0 if there is none yet, -EBADMSG for a corrupt slot (skipped).
 */
static int try_ring(struct chan *c, unsigned s, struct ipcfs_msg *msg)
{
	const uint64_t slots = seg_layout(&c->seg)->slots;
	uint64_t p = c->cur[s];
	int rc = 0;

	/* Each round moves p forward; bounded so that a sender racing ahead
	 * with messages for others cannot keep us here. */
	for (uint64_t round = 0; round < 2 * slots + 2; round++) {
		struct seg_slot *sl = seg_slot(&c->seg, s, p);
		/* Acquire (at least): pairs with the sender's publish; the
		 * header and payload of position p are visible once seq says
		 * p+1. seq_cst for the sleep handshake of wait_until(); on x86
		 * and arm64 this is still a plain load / ldar. */
		/* Model: tests/model/ring.pml, try_ring (S1 read side, W2). */
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
			c->cur[s] = p + 1;
			return deliver(c, s, p, dest, msg);
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
	struct chan *c;
	int ring;             /* or -1 for any */
	struct ipcfs_msg *msg;
	bool bad;             /* a corrupt slot was skipped */
	int got;              /* the ring the message came from */
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
	if (s == seg_layout(&c->seg)->ranks)
		return false;
	uint64_t w = atomic_load_explicit(&seg_rank(&c->seg, s)->owner, memory_order_acquire);
	int st = SEG_OWNER_STATE(w);
	return st == IPCFS_STATE_DEAD || st == IPCFS_STATE_LEFT;
}

static int poll_recv(void *arg, bool full)
{
	struct recv_arg *a = arg;
	struct chan *c = a->c;
	unsigned n = seg_layout(&c->seg)->ranks + 1;
	int rc;

	/* Relaxed load first (one process-local line); the exchange takes
	 * the interrupt once. Pairs with chan_interrupt's store. */
	if (atomic_load_explicit(&c->interrupted, memory_order_relaxed) &&
	    atomic_exchange_explicit(&c->interrupted, false, memory_order_acquire))
		return -EINTR;

	if (a->ring >= 0) {
		a->got = a->ring;
		rc = look(c, (unsigned)a->ring, a);
		if (rc || !full || !sender_gone(c, (unsigned)a->ring))
			return rc;
		/* Gone: one more look, for what it published before it died
		 * (the state was read after the first look). */
		rc = look(c, (unsigned)a->ring, a);
		return rc ? rc : -EPIPE;
	}
	/* Only ranks of the group: any member may have written bits beyond
	 * it, and the ranks found below index the rank table. */
	uint64_t joined = atomic_load_explicit(&c->seg.hdr->joined, memory_order_acquire) & c->valid;
	unsigned s = c->rr;
	for (unsigned i = 0; i < n; i++, s = s + 1 == n ? 0 : s + 1) {
		if (s == c->me || (s < seg_layout(&c->seg)->ranks && !(joined & IPCFS_RANK_BIT(s))))
			continue;
		rc = look(c, s, a);
		if (rc) {
			c->rr = s + 1 == n ? 0 : s + 1;
			a->got = (int)s;
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
			a->got = (int)r;
			return rc;
		}
	}
	return -EPIPE;
}

static void check_senders(void *arg)
{
	struct chan *c = ((struct recv_arg *)arg)->c;

	/* Every other live rank, not only the senders we wait for: a rank
	 * whose process is gone holds arena blocks (reserved, or held as a
	 * reader) that come back only once it is marked gone, and a group
	 * without a daemon has nobody else to notice. The control sender is
	 * the daemon's own business (it is in no mask). */
	membership_reap(&c->seg, atomic_load_explicit(&c->seg.hdr->live, memory_order_acquire) &
					 ~c->mybit);
}

/*
 * The plan of the earliest sender due among those awaited (pace_plan).
 * Every sender gets one, whether or not the ranks compete for CPUs (the
 * spin after the nap yields in every round then, chan_waiter): measured
 * with four ranks on two CPUs, pinned or not, and with both ranks on
 * one CPU, a reader that slept for a sender seen last on its own CPU
 * (what this did before) was slower than one that spun, for no less CPU.
 */
static bool plan_recv(void *arg, uint64_t now, uint64_t *nap_until, uint64_t *spin_until)
{
	struct recv_arg *a = arg;
	struct chan *c = a->c;
	bool any = false;
	uint64_t nap, spin;

	/* Not the control ring (index ranks): the daemon's commands keep no
	 * step. */
	for (unsigned s = 0; s < seg_layout(&c->seg)->ranks; s++) {
		if (s == c->me || (a->ring >= 0 && (unsigned)a->ring != s))
			continue;
		if (!pace_plan(&c->pace[s], now, &nap, &spin))
			continue;
		if (!any || nap < *nap_until) {
			*nap_until = nap;
			*spin_until = spin;
		}
		any = true;
	}
	return any;
}

/* The spin window of a wait for ring @ring (-1: any), in a receive that
 * asked for @spin_us: longer while the messages of a relayed rank flow
 * (struct flow). Only rings that saw a flow cost anything here. */
static uint32_t relay_spin_us(const struct chan *c, int ring, uint32_t spin_us)
{
	uint32_t best = spin_us;
	uint64_t now = 0;

	for (unsigned s = 0; s < seg_layout(&c->seg)->ranks; s++) {
		if (!c->flow[s].until || (ring >= 0 && (unsigned)ring != s))
			continue;
		if (!now)
			now = wait_now_ns();
		uint32_t us = flow_spin_us(&c->flow[s], now, spin_us);
		if (us > best)
			best = us;
	}
	return best;
}

/* A message from ring @s was received: if a bridge relays that rank,
 * note it in the ring's flow. */
static void note_relayed(struct chan *c, int s)
{
	if (s < 0 || (unsigned)s >= seg_layout(&c->seg)->ranks)
		return;
	/* Relaxed: a hint (seg_rank.relay). */
	if (atomic_load_explicit(&seg_rank(&c->seg, (unsigned)s)->relay, memory_order_relaxed))
		flow_note(&c->flow[s], wait_now_ns());
}

int chan_recv(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms)
{
	return chan_recv_spin(c, src, msg, timeout_ms, seg_layout(&c->seg)->spin_us);
}

int chan_recv_spin(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms, uint32_t spin_us)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);
	struct recv_arg a = { .c = c, .ring = -1, .msg = msg };
	int rc;

	if (!msg || c->me >= seg_layout(&c->seg)->ranks)
		return -EINVAL;
	if (src != IPCFS_ANY) {
		a.ring = ring_of(c, src);
		if (a.ring < 0)
			return -EINVAL;
	}
	/* The fast path looks for a message only; whether the sender is gone
	 * is asked by the first poll of wait_until(), which follows at once. */
	rc = poll_recv(&a, false);
	if (!rc) {
		struct waiter w = chan_waiter(c, me, false);
		uint64_t waited = 0;
		w.poll = poll_recv;
		w.check = check_senders;
		w.plan = plan_recv;
		w.waited_ns = &waited;
		w.nap_late = &c->nap_late;
		w.arg = &a;
		w.spin_us = relay_spin_us(c, a.ring, spin_us);
		/* A look with no time to wait (a poll loop's) is no wait. */
		if (timeout_ms)
			seg_count(&me->waits, 1);
		/* With no time to wait, one corrupt slot skipped is the
		 * answer (the next call goes on after it). */
		rc = a.bad && timeout_ms == 0 ? -EBADMSG : wait_until(&w, timeout_ms);
		if (rc > 0 && waited >= PACE_IDLE_NS)
			pace_arrival(&c->pace[a.got], wait_now_ns());
	}
	/* No message in time, but corrupt ones skipped meanwhile: say so. */
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && a.bad)
		rc = -EBADMSG;
	if (rc < 0)
		return rc;
	note_relayed(c, a.got);
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
	if (ring > seg_layout(&c->seg)->ranks || ring == c->me)
		return -EINVAL;
	uint64_t i = pos & (seg_layout(&c->seg)->slots - 1);
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
		if (data < arena || (uint64_t)(data - arena) >= seg_layout(&c->seg)->arena_bytes ||
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

struct ranks_arg {
	struct chan *c;
	uint64_t mask;
};

static int poll_ranks(void *arg, bool full)
{
	struct ranks_arg *a = arg;
	(void)full;
	uint64_t live = atomic_load_explicit(&a->c->seg.hdr->live, memory_order_seq_cst);
	return (live & a->mask) == a->mask;
}

int chan_wait_ranks(struct chan *c, uint64_t mask, int timeout_ms)
{
	if (mask == IPCFS_ALL)
		mask = c->valid;
	if (mask & ~c->valid)
		return -EINVAL;
	struct ranks_arg a = { c, mask };
	struct waiter w = chan_waiter(c, seg_rank(&c->seg, c->me), false);
	w.poll = poll_ranks;
	w.arg = &a;
	int rc = wait_until(&w, timeout_ms);
	return rc < 0 ? rc : 0;
}

/* ---- other threads -------------------------------------------------------- */

void chan_interrupt(struct chan *c)
{
	struct seg_rank *me = seg_rank(&c->seg, c->me);

	/* seq_cst store, then the bell: a receiver that sleeps on the bell
	 * either sees the bell moved (and polls again, seeing the flag) or
	 * is woken by the wake below. */
	atomic_store_explicit(&c->interrupted, true, memory_order_seq_cst);
	atomic_fetch_add_explicit(&me->rx_bell, 1, memory_order_seq_cst);
	wait_futex_wake(&me->rx_bell);
}

int chan_msg_dest(const struct chan *c, const struct ipcfs_msg *msg, uint64_t *dest)
{
	if (!msg || !msg->data || !dest)
		return -EINVAL;
	unsigned ring = (unsigned)(msg->priv[0] >> PRIV_RING_SHIFT);
	uint64_t pos = msg->priv[0] & (((uint64_t)1 << PRIV_RING_SHIFT) - 1);
	if (ring > seg_layout(&c->seg)->ranks || ring == c->me || pos >= c->cur[ring])
		return -EINVAL;
	/* A held view's slot is not reused before it is released (its
	 * sender waits for us), so dest is the word it was read with;
	 * masked to the group's ranks as deliver() checked it. */
	*dest = atomic_load_explicit(&seg_slot(&c->seg, ring, pos)->dest, memory_order_relaxed) &
		c->valid;
	return 0;
}
