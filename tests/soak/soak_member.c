/* SPDX-License-Identifier: MIT */
/*
 * soak_member.c - one incarnation of the soak: a forked process that joins
 * one rank of one group through the mount, then sends (one thread) and
 * receives (another thread) until the conductor ends its epoch, asks it to
 * leave early, or kills it.
 *
 * Sender: messages of every size (ring slots, arena blocks up to 4 MiB),
 * to every other live rank (IPCFS_ALL), to an explicit set, or to one
 * rank; each carries its incarnation and a sequence number, is logged
 * PENDING before the send and OK or FAILED after it. Receiver: checks each
 * delivery at once (header, addressee, payload bytes, per-sender order
 * without duplicates) and logs it. Both measure every blocking call
 * against its timeout. The loss check is the conductor's (soak_check.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipcfs.h"
#include "soak.h"
#include "soak_fsd.h"

struct member {
	struct soak_shared *sh;
	struct soak_inc *me;
	unsigned idx;
	struct ipcfs_member *m;
	struct ipcfs_params p;
	_Atomic int stop_recv;
	uint64_t rng;           /* the sending (main) thread's */
	uint64_t recv_rng;      /* the receiving thread's seed, set before it starts */
	unsigned char *small;   /* a message's bytes for ipcfs_send */
	uint64_t last_seq[SOAK_MAX_INCS];
};

static const int timeouts_ms[] = { 0, 5, 50, 200, 1000 };

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: deterministic per incarnation, good enough here. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void violate(struct member *mb, const char *fmt, ...)
{
	char buf[sizeof(mb->me->violation)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soak: VIOLATION group %d rank %d inc %u pid %d: %s\n", mb->me->group,
		mb->me->rank, mb->idx, (int)getpid(), buf);
	/* Relaxed: the conductor reads these after the process is gone. */
	if (atomic_fetch_add_explicit(&mb->me->violations, 1, memory_order_relaxed) == 0)
		memcpy(mb->me->violation, buf, sizeof(buf));
}

/* A blocking call took @t0..now with @timeout_ms: record how far past
 * the timeout it went; beyond the slack is a violation. */
static void timed(struct member *mb, uint64_t t0, int timeout_ms, const char *what, int rc)
{
	uint64_t el = soak_now_ns() - t0, lim = (uint64_t)timeout_ms * 1000000u;
	uint64_t over = el > lim ? el - lim : 0, old;

	atomic_fetch_add_explicit(&mb->me->calls, 1, memory_order_relaxed);
	old = atomic_load_explicit(&mb->me->max_over_ns, memory_order_relaxed);
	while (over > old && !atomic_compare_exchange_weak_explicit(&mb->me->max_over_ns, &old, over,
								      memory_order_relaxed,
								      memory_order_relaxed))
		;
	if (over > mb->sh->slack_ns)
		violate(mb, "%s (timeout %d ms) took %.1f ms (rc %d)", what, timeout_ms, el / 1e6, rc);
}

static unsigned char pattern(uint32_t inc, uint64_t seq)
{
	return (unsigned char)(inc * 31u + seq * 7u + 1u);
}

static size_t pick_len(struct member *mb)
{
	uint64_t r = rnd(&mb->rng) % 100, slot = mb->p.slot_bytes;
	uint64_t big = mb->p.arena_bytes / 4 < (4u << 20) ? mb->p.arena_bytes / 4 : (4u << 20);

	if (r < 70 || mb->p.arena_bytes == 0 || big <= slot + 1)
		return sizeof(struct soak_hdr) + rnd(&mb->rng) % (slot - sizeof(struct soak_hdr) + 1);
	if (r < 95 || big <= (256u << 10))
		return slot + 1 + rnd(&mb->rng) % ((big < (256u << 10) ? big : (256u << 10)) - slot);
	return (256u << 10) + rnd(&mb->rng) % (big - (256u << 10) + 1);
}

/* A destination: 0 when no peer is live. */
static uint64_t pick_dest(struct member *mb)
{
	uint64_t live = 0, r = rnd(&mb->rng) % 10;
	int me = mb->me->rank, n = 0, pick;
	uint64_t others;

	if (r < 4)
		return IPCFS_ALL;
	ipcfs_live(mb->m, &live);
	others = live & ~IPCFS_RANK_BIT(me);
	if (!others || r < 7)
		return others;
	n = __builtin_popcountll(others);
	pick = (int)(rnd(&mb->rng) % (uint64_t)n);
	for (int i = 0; i < 64; i++)
		if ((others >> i & 1) && pick-- == 0)
			return IPCFS_RANK_BIT(i);
	return others;
}

static void fill(void *buf, const struct soak_hdr *h)
{
	memcpy(buf, h, sizeof(*h));
	memset((char *)buf + sizeof(*h), pattern(h->inc, h->seq), h->len - sizeof(*h));
}

/* One message; its sequence number is its index in the sent log + 1. */
static void send_one(struct member *mb)
{
	struct soak_inc *me = mb->me;
	uint32_t n = atomic_load_explicit(&me->nsent, memory_order_relaxed);
	struct soak_sent *rec = &soak_sent_log(mb->idx)[n];
	uint64_t dest = pick_dest(mb), seq = (uint64_t)n + 1;
	int to = timeouts_ms[rnd(&mb->rng) % 5], rc;
	struct soak_hdr h = { .magic = SOAK_MAGIC, .seq = seq, .dest = dest, .inc = mb->idx,
			      .group = (uint32_t)me->group, .epoch = mb->sh->epoch };
	void *buf;
	uint64_t t0;

	if (!dest) {
		usleep(1000);
		return;
	}
	h.len = (uint32_t)pick_len(mb);
	rec->seq = seq;
	rec->dest = dest;
	rec->len = h.len;
	rec->t_start = t0 = soak_now_ns();
	atomic_store_explicit(&rec->status, SENT_PENDING, memory_order_relaxed);
	/* S1: the record is complete before it is counted (the conductor
	 * reads after the process is gone; release keeps it honest). */
	atomic_store_explicit(&me->nsent, n + 1, memory_order_release);
	if (h.len <= mb->p.slot_bytes && (rnd(&mb->rng) & 1)) {
		fill(mb->small, &h);
		rc = ipcfs_send(mb->m, dest, mb->small, h.len, to);
		timed(mb, t0, to, "ipcfs_send", rc);
	} else {
		rc = ipcfs_reserve(mb->m, h.len, &buf, to);
		timed(mb, t0, to, "ipcfs_reserve", rc);
		if (rc == 0) {
			fill(buf, &h);
			rc = ipcfs_commit(mb->m, dest, h.len);
		}
	}
	atomic_store_explicit(&rec->status, rc == 0 ? SENT_OK : SENT_FAILED, memory_order_release);
	if (rc == 0) {
		atomic_fetch_add_explicit(&me->sent_ok, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&me->sent_bytes, h.len, memory_order_relaxed);
	} else if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != -ENOTCONN) {
		violate(mb, "send of %u bytes to %#llx: %s", h.len, (unsigned long long)dest,
			strerror(-rc));
	}
}

static void check_msg(struct member *mb, const struct ipcfs_msg *msg)
{
	struct soak_inc *me = mb->me;
	const unsigned char *d = msg->data;
	struct soak_hdr h;
	uint32_t n;

	if (msg->len < sizeof(h)) {
		violate(mb, "a message of %zu bytes from rank %d", msg->len, msg->src);
		return;
	}
	memcpy(&h, d, sizeof(h));
	if (h.magic != SOAK_MAGIC || h.len != msg->len || h.group != (uint32_t)me->group ||
	    h.epoch != mb->sh->epoch || h.inc >= SOAK_MAX_INCS ||
	    mb->sh->inc[h.inc].rank != msg->src || mb->sh->inc[h.inc].group != me->group) {
		violate(mb, "bad header from rank %d: magic %#llx len %u/%zu group %u epoch %u inc %u",
			msg->src, (unsigned long long)h.magic, h.len, msg->len, h.group, h.epoch, h.inc);
		return;
	}
	if (h.dest != IPCFS_ALL && !(h.dest & IPCFS_RANK_BIT(me->rank)))
		violate(mb, "inc %u seq %llu for %#llx delivered to rank %d", h.inc,
			(unsigned long long)h.seq, (unsigned long long)h.dest, me->rank);
	for (size_t off = sizeof(h); off < h.len; off += 4093)
		if (d[off] != pattern(h.inc, h.seq)) {
			violate(mb, "inc %u seq %llu: byte %zu of %u is wrong", h.inc,
				(unsigned long long)h.seq, off, h.len);
			break;
		}
	if (h.len > sizeof(h) && d[h.len - 1] != pattern(h.inc, h.seq))
		violate(mb, "inc %u seq %llu: last byte is wrong", h.inc, (unsigned long long)h.seq);
	if (h.seq <= mb->last_seq[h.inc])
		violate(mb, "from inc %u: seq %llu after %llu (%s)", h.inc, (unsigned long long)h.seq,
			(unsigned long long)mb->last_seq[h.inc],
			h.seq == mb->last_seq[h.inc] ? "duplicate" : "out of order");
	mb->last_seq[h.inc] = h.seq;
	n = atomic_load_explicit(&me->nrecv, memory_order_relaxed);
	if (n >= SOAK_RECV_CAP) {
		atomic_store_explicit(&me->log_full, 1, memory_order_relaxed);
		return;
	}
	soak_recv_log(mb->idx)[n] = (struct soak_recv){ .inc = h.inc, .len = h.len, .seq = h.seq };
	atomic_store_explicit(&me->nrecv, n + 1, memory_order_release);
	atomic_fetch_add_explicit(&me->recv_msgs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&me->recv_bytes, h.len, memory_order_relaxed);
}

static void *receiver(void *arg)
{
	struct member *mb = arg;
	struct soak_inc *me = mb->me;
	_Atomic int *phase = &mb->sh->phase[me->group];
	uint64_t rng = mb->recv_rng;

	while (!atomic_load_explicit(&mb->stop_recv, memory_order_acquire)) {
		int ph = atomic_load_explicit(phase, memory_order_acquire);
		int to = ph >= PH_DRAIN ? 300 : timeouts_ms[rnd(&rng) % 5];
		struct ipcfs_msg msg;
		uint64_t t0 = soak_now_ns();
		int rc = ipcfs_recv(mb->m, IPCFS_ANY, &msg, to);

		if (rc != -EPIPE)
			timed(mb, t0, to, "ipcfs_recv", rc);
		if (rc == 0) {
			check_msg(mb, &msg);
			rc = ipcfs_release(mb->m, &msg);
			if (rc)
				violate(mb, "release: %s", strerror(-rc));
			continue;
		}
		if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != -EPIPE) {
			violate(mb, "recv: %s", strerror(-rc));
			usleep(1000);
		}
		if (rc == -EPIPE)
			usleep(2000);
		/* Nothing more after every sender stopped: drained. */
		if (ph >= PH_DRAIN && (rc == -ETIMEDOUT || rc == -EPIPE || to == 0))
			atomic_store_explicit(&me->drained, 1, memory_order_release);
	}
	return NULL;
}

void soak_member_main(struct soak_shared *sh, unsigned i, const char *dir)
{
	static struct member mb; /* last_seq is large: not on the stack */
	struct soak_inc *me = &sh->inc[i];
	_Atomic int *phase = &sh->phase[me->group];
	pthread_t th;
	int rc;

	mb.sh = sh;
	mb.me = me;
	mb.idx = i;
	mb.rng = soak_now_ns() ^ ((uint64_t)getpid() << 32) ^ i;
	mb.recv_rng = mb.rng ^ 0x9e3779b97f4a7c15ULL;
	me->t_join_start = soak_now_ns();
	rc = ipcfs_join(dir, me->rank, &mb.m);
	me->join_rc = rc;
	if (rc < 0) {
		atomic_store_explicit(&me->state, INC_JOIN_FAILED, memory_order_release);
		_exit(0);
	}
	me->t_join_done = soak_now_ns();
	ipcfs_group_params(mb.m, &mb.p);
	mb.small = malloc(mb.p.slot_bytes);
	if (!mb.small)
		_exit(4);
	atomic_store_explicit(&me->state, INC_JOINED, memory_order_release);
	if (pthread_create(&th, NULL, receiver, &mb) != 0)
		_exit(4);
	while (atomic_load_explicit(phase, memory_order_acquire) == PH_RUN &&
	       !atomic_load_explicit(&me->leave_now, memory_order_acquire)) {
		if (atomic_load_explicit(&me->nsent, memory_order_relaxed) >= SOAK_SENT_CAP) {
			atomic_store_explicit(&me->log_full, 1, memory_order_relaxed);
			usleep(10000);
			continue;
		}
		send_one(&mb);
		/* Idle gaps now and then, as between model steps: the
		 * readers' futex sleeps and wake-ups get exercised. */
		if (rnd(&mb.rng) % 8 == 0)
			usleep((useconds_t)(rnd(&mb.rng) % 3000));
	}
	atomic_store_explicit(&me->send_done, 1, memory_order_release);
	while (!atomic_load_explicit(&me->leave_now, memory_order_acquire) &&
	       atomic_load_explicit(phase, memory_order_acquire) < PH_LEAVE)
		usleep(2000);
	atomic_store_explicit(&mb.stop_recv, 1, memory_order_release);
	pthread_join(th, NULL);
	ipcfs_leave(mb.m);
	atomic_store_explicit(&me->state,
			      atomic_load_explicit(&me->leave_now, memory_order_relaxed) ? INC_LEFT
											 : INC_EXITED,
			      memory_order_release);
	_exit(0);
}
