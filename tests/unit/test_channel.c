/* SPDX-License-Identifier: MIT */
/*
 * test_channel.c - the message channel with real processes and real shared
 * memory: ordering and exactly-once under wrap-around, unicast and
 * multicast, back pressure and timeouts, sleeping and waking, dead peers,
 * corrupt slots, the control ring.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel_int.h"
#include "member_int.h"
#include "testlib.h"
#include "wait_int.h"

/* ---- helpers ---------------------------------------------------------------- */

static struct ipcfs_params small(unsigned ranks, unsigned slots, unsigned slot_bytes)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = ranks;
	p.slots = slots;
	p.slot_bytes = slot_bytes;
	return p;
}

/* Message k of sender s: its size and seed. */
static size_t msg_size(unsigned s, uint64_t k, size_t max)
{
	uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)s << 56);
	return (size_t)(tl_rand(&x) % (max + 1));
}

static uint64_t msg_seed(unsigned s, uint64_t k)
{
	return ((uint64_t)s << 48) ^ (k * 2654435761u);
}

#define CHILD_CHECK(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);        \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			return 1;                                              \
		}                                                              \
	} while (0)

struct stress {
	const char *dir;
	unsigned rank;    /* of this process */
	unsigned senders; /* ranks 0..senders-1 send */
	unsigned ranks;
	uint64_t msgs;    /* per sender */
	size_t max;       /* largest message */
	uint64_t mask_seed; /* 0: broadcast; else per-message random dest sets */
};

/* The destination set of message k of sender s: either everybody else, or
 * a random non-empty subset of the readers. */
/* Bits of ranks 0..n-1 (n <= 64). */
static uint64_t first_ranks(unsigned n)
{
	return n >= 64 ? ~(uint64_t)0 : IPCFS_RANK_BIT(n) - 1;
}

static uint64_t msg_dest(const struct stress *st, unsigned s, uint64_t k)
{
	uint64_t readers = first_ranks(st->ranks) & ~first_ranks(st->senders);
	if (!st->mask_seed)
		return readers & ~IPCFS_RANK_BIT(s);
	uint64_t x = st->mask_seed ^ (k * 0xD6E8FEB86659FD93ull) ^ s;
	uint64_t d = tl_rand(&x) & readers;
	return d ? d : IPCFS_RANK_BIT(st->ranks - 1);
}

static int stress_sender(void *arg)
{
	struct stress *st = arg;
	struct ipcfs_member *m;
	void *buf;

	CHILD_CHECK(ipcfs_join(st->dir, (int)st->rank, &m) >= 0, "join");
	CHILD_CHECK(ipcfs_wait_ranks(m, IPCFS_ALL, 20000) == 0, "wait_ranks");
	for (uint64_t k = 0; k < st->msgs; k++) {
		size_t len = msg_size(st->rank, k, st->max);
		int rc = ipcfs_reserve(m, len, &buf, -1);
		CHILD_CHECK(rc == 0, "reserve %d", rc);
		tl_fill(buf, len, msg_seed(st->rank, k));
		rc = ipcfs_commit(m, msg_dest(st, st->rank, k), len);
		CHILD_CHECK(rc == 0, "commit %d", rc);
	}
	ipcfs_leave(m);
	return 0;
}

static int stress_reader(void *arg)
{
	struct stress *st = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg held[4];
	unsigned nheld = 0;
	uint64_t next[IPCFS_MAX_RANKS] = { 0 }, seq[IPCFS_MAX_RANKS] = { 0 }, expect = 0;
	uint64_t rnd = st->rank * 7919u + 1;

	CHILD_CHECK(ipcfs_join(st->dir, (int)st->rank, &m) >= 0, "join");
	/* How many messages are for us, from every sender. */
	for (unsigned s = 0; s < st->senders; s++)
		for (uint64_t k = 0; k < st->msgs; k++)
			expect += !!(msg_dest(st, s, k) & IPCFS_RANK_BIT(st->rank));
	for (uint64_t got = 0; got < expect; got++) {
		struct ipcfs_msg msg;
		int rc = ipcfs_recv(m, IPCFS_ANY, &msg, 0);
		if (rc == -EAGAIN) {
			/* Views held while we wait could hold back the very
			 * senders we wait for (with several senders): hand them
			 * back before sleeping. */
			while (nheld)
				CHILD_CHECK(ipcfs_release(m, &held[--nheld]) == 0, "release");
			rc = ipcfs_recv(m, IPCFS_ANY, &msg, 20000);
		}
		CHILD_CHECK(rc == 0, "rank %u: recv %d after %llu of %llu", st->rank, rc,
			    (unsigned long long)got, (unsigned long long)expect);
		unsigned s = (unsigned)msg.src;
		CHILD_CHECK(s < st->senders, "src %u", s);
		/* Skip the messages of this sender that were not for us. */
		while (!(msg_dest(st, s, next[s]) & IPCFS_RANK_BIT(st->rank)))
			next[s]++;
		uint64_t k = next[s]++;
		CHILD_CHECK(msg.seq > seq[s], "order: seq %llu after %llu",
			    (unsigned long long)msg.seq, (unsigned long long)seq[s]);
		CHILD_CHECK(msg.seq == k + 1, "seq %llu for message %llu",
			    (unsigned long long)msg.seq, (unsigned long long)k);
		seq[s] = msg.seq;
		CHILD_CHECK(msg.len == msg_size(s, k, st->max), "len");
		CHILD_CHECK(tl_check(msg.data, msg.len, msg_seed(s, k)), "payload of %u/%llu", s,
			    (unsigned long long)k);
		/* Hold a few views and release them in random order. */
		held[nheld++] = msg;
		if (nheld == 4 || (tl_rand(&rnd) & 1)) {
			while (nheld) {
				unsigned i = (unsigned)(tl_rand(&rnd) % nheld);
				CHILD_CHECK(ipcfs_release(m, &held[i]) == 0, "release");
				held[i] = held[--nheld];
			}
		}
	}
	while (nheld)
		CHILD_CHECK(ipcfs_release(m, &held[--nheld]) == 0, "release");
	/* Exactly once: nothing more comes from any sender, and each one
	 * that left says so. */
	for (unsigned s = 0; s < st->senders; s++) {
		struct ipcfs_msg extra;
		int rc = ipcfs_recv(m, (int)s, &extra, 20000);
		CHILD_CHECK(rc == -EPIPE, "after the last message of %u: %d", s, rc);
	}
	struct ipcfs_rank_stat rs;
	CHILD_CHECK(ipcfs_stat_rank(m, (int)st->rank, &rs) == 0 && rs.recv == expect &&
			    rs.lag == 0, "stat recv %llu lag %llu",
		    (unsigned long long)rs.recv, (unsigned long long)rs.lag);
	ipcfs_leave(m);
	return 0;
}

static void run_stress(unsigned senders, unsigned readers, uint64_t msgs, unsigned slots,
		       size_t max, uint64_t mask_seed)
{
	struct ipcfs_params p = small(senders + readers, slots, (unsigned)((max + 63) / 64 * 64));
	struct stress st[IPCFS_MAX_RANKS];
	pid_t pids[IPCFS_MAX_RANKS];
	char dir[PATH_MAX];

	tl_group(dir, &p);
	for (unsigned r = 0; r < senders + readers; r++) {
		st[r] = (struct stress){ .dir = dir, .rank = r, .senders = senders,
					 .ranks = senders + readers, .msgs = msgs, .max = max,
					 .mask_seed = mask_seed };
		pids[r] = tl_fork(r < senders ? stress_sender : stress_reader, &st[r]);
	}
	for (unsigned r = 0; r < senders + readers; r++)
		ck_assert_msg(tl_wait(pids[r], 600) == 0, "rank %u failed", r);
	tl_group_done(dir);
}

static uint64_t scaled(double n)
{
	uint64_t v = (uint64_t)(n * tl_scale());
	return v ? v : 1;
}

/* ---- ordering and exactly-once ---------------------------------------------- */

START_TEST(bcast_1_reader_million)
{
	run_stress(1, 1, scaled(1000000), 16, 1024, 0);
}
END_TEST

START_TEST(bcast_3_readers_million)
{
	run_stress(1, 3, scaled(1000000), 16, 1024, 0);
}
END_TEST

START_TEST(bcast_8_readers_million)
{
	run_stress(1, 8, scaled(1000000), 32, 512, 0);
}
END_TEST

START_TEST(multicast_masks)
{
	/* Random destination subsets; 2 senders, 4 readers. */
	run_stress(2, 4, scaled(200000), 8, 256, 0x1234567);
}
END_TEST

START_TEST(many_senders_one_reader)
{
	run_stress(5, 1, scaled(100000), 8, 128, 0);
}
END_TEST

START_TEST(max_ranks)
{
	/* 64 ranks: the mask is full; 1 sender, 63 readers, few messages. */
	run_stress(1, 63, scaled(300), 4, 64, 0);
}
END_TEST

/* ---- in-process behaviour (two members of one process) -------------------------- */

START_TEST(unicast_and_errors)
{
	struct ipcfs_params p = small(4, 4, 128);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	void *buf;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1), *c = tl_join(dir, 2);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(2), "to-c", 4, 0), 0);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), "to-b", 4, 0), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert_int_eq(msg.len, 4);
	ck_assert_int_eq(memcmp(msg.data, "to-b", 4), 0);
	ck_assert_int_eq(msg.seq, 2);
	ck_assert_int_eq(msg.src, 0);
	ck_assert_int_eq((uintptr_t)msg.data % 32, 0);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg), -EINVAL); /* twice */
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), -EAGAIN);
	ck_assert_int_eq(ipcfs_recv(c, IPCFS_ANY, &msg, 0), 0);
	ck_assert_int_eq(memcmp(msg.data, "to-c", 4), 0);
	/* A view is only released by the member that holds it. */
	ck_assert_int_eq(ipcfs_release(a, &msg), -EINVAL);
	ck_assert_int_eq(ipcfs_release(c, &msg), 0);

	/* Errors. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), NULL, 129, 0), -EINVAL);
	char big[129] = { 0 };
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), big, 129, 0), -EMSGSIZE);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 1), -EINVAL); /* no reservation */
	ck_assert_int_eq(ipcfs_reserve(a, 16, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(0), 16), -EINVAL); /* itself */
	ck_assert_int_eq(ipcfs_commit(a, 0, 16), -EINVAL);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(4), 16), -EINVAL); /* outside */
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(3), 16), -ENOTCONN); /* not joined */
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 129), -EINVAL);
	/* The reservation survives failed commits. */
	void *again;
	ck_assert_int_eq(ipcfs_reserve(a, 16, &again, 0), 0);
	ck_assert_ptr_eq(buf, again);
	memcpy(again, "multi", 5);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1) | IPCFS_RANK_BIT(2), 5), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert_int_eq(memcmp(msg.data, "multi", 5), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ck_assert_int_eq(ipcfs_recv(c, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_release(c, &msg), 0);
	ck_assert_int_eq(ipcfs_recv(b, 1, &msg, 0), -EINVAL); /* from itself */
	ck_assert_int_eq(ipcfs_recv(b, 4, &msg, 0), -EINVAL);
	ck_assert_int_eq(ipcfs_recv(b, -5, &msg, 0), -EINVAL);
	ck_assert_int_eq(ipcfs_recv(b, 0, NULL, 0), -EINVAL);
	ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_RANK_BIT(9), 0), -EINVAL);
	ck_assert_int_eq(ipcfs_wait_ranks(a, 7, 0), 0);
	ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_ALL, 0), -EAGAIN);

	/* Broadcast with nobody else live. */
	ipcfs_leave(b);
	ipcfs_leave(c);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "x", 1, 0), -ENOTCONN);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

START_TEST(back_pressure_and_timeouts)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg[4];
	void *buf;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &i, sizeof(i), 0), 0);
	/* The ring is full: the slowest (only) reader holds every slot. */
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), -EAGAIN);
	uint64_t t0 = wait_now_ns();
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 50), -ETIMEDOUT);
	ck_assert_uint_ge(wait_now_ns() - t0, 50000000u);
	/* Received but held: still full. */
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg[0], 0), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), -EAGAIN);
	/* Released: the oldest slot is free again; the next one is not. */
	ck_assert_int_eq(ipcfs_release(b, &msg[0]), 0);
	int v = 4;
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &v, sizeof(v), 0), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), -EAGAIN);
	/* Out-of-order release: slot 2 freed first does not help slot 1. */
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg[i], 0), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg[2]), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), -EAGAIN);
	ck_assert_int_eq(ipcfs_release(b, &msg[1]), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), 0);
	ck_assert_int_eq(*(int *)msg[3].data, 3);
	ck_assert_int_eq(ipcfs_release(b, &msg[3]), 0);

	struct ipcfs_rank_stat st;
	ck_assert_int_eq(ipcfs_stat_rank(a, 0, &st), 0);
	ck_assert_uint_eq(st.sent, 5);
	ck_assert_uint_ge(st.stalls, 4);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(st.wakeups, 0); /* nobody ever slept */
	ck_assert_uint_eq(st.stalled_ms, 0);
	ck_assert_int_eq(ipcfs_stat_rank(a, 1, &st), 0);
	ck_assert_uint_eq(st.recv, 4);
	ck_assert_uint_eq(st.lag, 1); /* message 4 */
	ck_assert_uint_eq(st.recv_bytes, 16);

	/* A receive timeout. */
	ck_assert_int_eq(ipcfs_recv(a, 1, &msg[0], 30), -ETIMEDOUT);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

/* A receive with no time to wait is a look, not a wait: the bridge's
 * proxies poll so while messages flow, and a wait counted per look made
 * their waits in stat count polls. */
START_TEST(a_look_is_not_a_wait)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	struct ipcfs_rank_stat st;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(ipcfs_recv(b, IPCFS_ANY, &msg, 0), -EAGAIN);
	ck_assert_int_eq(ipcfs_stat_rank(b, 1, &st), 0);
	ck_assert_uint_eq(st.waits, 0);
	ck_assert_uint_eq(st.timeouts, 0);
	ck_assert_int_eq(ipcfs_recv(b, IPCFS_ANY, &msg, 1), -ETIMEDOUT);
	ck_assert_int_eq(ipcfs_stat_rank(b, 1, &st), 0);
	ck_assert_uint_eq(st.waits, 1);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(rejoin_ignores_stale_holds)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &i, sizeof(i), 0), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0); /* held, never released */
	ipcfs_leave(b);
	/* b's bits are in every slot; a new b must neither be held back by
	 * them nor receive the old messages. */
	b = tl_join(dir, 1);
	for (int i = 10; i < 18; i++)
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &i, sizeof(i), 100), i < 14 ? 0 : -ETIMEDOUT);
	for (int i = 10; i < 14; i++) {
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
		ck_assert_int_eq(*(int *)msg.data, i);
		ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	}
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), -EAGAIN);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(corrupt_slot_skipped)
{
	struct ipcfs_params p = small(2, 8, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &i, sizeof(i), 0), 0);
	/* A mapping of our own to scribble on the slots of ring 0. */
	char path[PATH_MAX];
	struct seg_map m;
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, SEG_MAP_WRITE, &m), 0);
	atomic_store(&seg_slot(&m, 0, 1)->len, 1u << 30);       /* length beyond the slot */
	atomic_store(&seg_slot(&m, 0, 2)->dest, 2 | (1ull << 40)); /* ranks outside */
	atomic_store(&seg_slot(&m, 0, 3)->seq, 3 + 1 + 5);         /* a position off its slot */
	int expect[] = { 0, -EBADMSG, -EBADMSG, -EBADMSG, 4 };
	for (int i = 0; i < 5; i++) {
		int rc = ipcfs_recv(b, 0, &msg, 0);
		if (expect[i] < 0) {
			ck_assert_int_eq(rc, expect[i]);
			continue;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(*(int *)msg.data, expect[i]);
		ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	}
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), -EAGAIN);
	/* Garbage everywhere in the ring: never a crash, only errors. */
	uint64_t x = 42;
	for (uint64_t i = 0; i < seg_layout(&m)->slots; i++) {
		struct seg_slot *sl = seg_slot(&m, 0, i);
		atomic_store(&sl->seq, tl_rand(&x));
		atomic_store(&sl->dest, tl_rand(&x));
		atomic_store(&sl->len, (uint32_t)tl_rand(&x));
		atomic_store(&sl->kind, (uint32_t)tl_rand(&x));
	}
	for (int i = 0; i < 100; i++) {
		int rc = ipcfs_recv(b, 0, &msg, 0);
		ck_assert(rc == -EBADMSG || rc == -EAGAIN || rc == 0);
		if (rc == 0) {
			ck_assert_uint_le(msg.len, 64);
			ipcfs_release(b, &msg);
		}
	}
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(garbage_ring_waits_out_the_timeout)
{
	/* A live sender whose ring holds only garbage: a receive skips what
	 * it meets, waits out its timeout like on an empty ring, and then
	 * says that it skipped corrupt slots. It used to return -EBADMSG at
	 * once, every time, so that a reader skipping corrupt messages (as
	 * ipcfs_recv(3) shows) spun at full CPU for ever. */
	struct ipcfs_params p = small(2, 8, 64);
	char dir[PATH_MAX], path[PATH_MAX];
	struct ipcfs_msg msg;
	struct seg_map m;
	uint64_t x = 7;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, SEG_MAP_WRITE, &m), 0);
	for (uint64_t i = 0; i < seg_layout(&m)->slots; i++) {
		struct seg_slot *sl = seg_slot(&m, 0, i);
		/* A sequence number that cannot live in its slot. */
		atomic_store(&sl->seq, (tl_rand(&x) >> 2) * seg_layout(&m)->slots + i + 2);
		atomic_store(&sl->dest, tl_rand(&x));
	}
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = wait_now_ns();
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 200), -EBADMSG);
		/* A lower bound only: the deadline, never a quick answer. */
		ck_assert_uint_ge(wait_now_ns() - t0, 200 * 1000000ull);
	}
	/* With no time to wait, each call skips one and says so. */
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), -EBADMSG);
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(control_ring)
{
	/* What the daemon does for `bcast TEXT`: publish through ring `ranks`. */
	struct ipcfs_params p = small(3, 4, 64);
	char dir[PATH_MAX], path[PATH_MAX];
	struct seg_map m;
	struct chan ctl;
	struct ipcfs_msg msg;
	void *buf;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 2);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, SEG_MAP_WRITE, &m), 0);
	ck_assert_int_eq(seg_claim(&m, seg_layout(&m)->ranks, getpid()), 0);
	seg_go_live(&m, seg_layout(&m)->ranks, getpid());
	ck_assert_int_eq(chan_init(&ctl, &m, seg_layout(&m)->ranks), 0);
	ck_assert_int_eq(chan_reserve(&ctl, 5, &buf, 0), 0);
	memcpy(buf, "hello", 5);
	ck_assert_int_eq(chan_commit(&ctl, IPCFS_ALL, 5, 0), 0);
	ck_assert_int_eq(ipcfs_recv(a, IPCFS_SRC_CTL, &msg, 0), 0);
	ck_assert_int_eq(msg.src, IPCFS_SRC_CTL);
	ck_assert_int_eq(memcmp(msg.data, "hello", 5), 0);
	ck_assert_int_eq(ipcfs_release(a, &msg), 0);
	ck_assert_int_eq(ipcfs_recv(b, IPCFS_ANY, &msg, 0), 0);
	ck_assert_int_eq(msg.src, IPCFS_SRC_CTL);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	/* The control sender is no member: broadcasts never include it, and
	 * it receives nothing. */
	uint64_t live;
	ipcfs_live(a, &live);
	ck_assert_uint_eq(live, 5);
	ck_assert_int_eq(chan_recv(&ctl, 0, &msg, 0), -EINVAL);
	struct ipcfs_rank_stat st;
	ck_assert_int_eq(ipcfs_stat_rank(a, IPCFS_SRC_CTL, &st), 0);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_int_eq(st.rank, IPCFS_SRC_CTL);
	chan_fini(&ctl);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

/* ---- sleeping, waking, dead peers ------------------------------------------- */

struct sleeper {
	const char *dir;
	unsigned rank, msgs;
};

static int sleepy_reader(void *arg)
{
	struct sleeper *s = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	CHILD_CHECK(ipcfs_join(s->dir, (int)s->rank, &m) >= 0, "join");
	for (unsigned i = 0; i < s->msgs; i++) {
		CHILD_CHECK(ipcfs_recv(m, 0, &msg, 10000) == 0, "recv %u", i);
		CHILD_CHECK(msg.len == 4 && *(const unsigned *)msg.data == i, "payload %u", i);
		ipcfs_release(m, &msg);
	}
	struct ipcfs_rank_stat st;
	ipcfs_stat_rank(m, (int)s->rank, &st);
	/* Messages came every 5 ms with a 10 us spin window: we slept. */
	CHILD_CHECK(st.sleeps > 0 && st.waits > 0, "sleeps %llu", (unsigned long long)st.sleeps);
	ipcfs_leave(m);
	return 0;
}

START_TEST(sleep_and_wake_oversubscribed)
{
	/* Six readers on a machine with fewer cores. */
	enum { READERS = 6, MSGS = 150 };
	struct ipcfs_params p = small(READERS + 1, 8, 64);
	struct sleeper s[READERS];
	pid_t pids[READERS];
	char dir[PATH_MAX];

	p.spin_us = 10;
	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0);
	for (unsigned r = 0; r < READERS; r++) {
		s[r] = (struct sleeper){ dir, r + 1, MSGS };
		pids[r] = tl_fork(sleepy_reader, &s[r]);
	}
	ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_ALL, 10000), 0);
	for (unsigned i = 0; i < MSGS; i++) {
		usleep(5000);
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &i, sizeof(i), 10000), 0);
	}
	for (unsigned r = 0; r < READERS; r++)
		ck_assert_int_eq(tl_wait(pids[r], 60), 0);
	struct ipcfs_rank_stat st;
	ipcfs_stat_rank(a, 0, &st);
	ck_assert_uint_gt(st.wakeups, 0);
	/* At most one wake-up per message and reader: never for nothing. */
	ck_assert_uint_le(st.wakeups, (uint64_t)MSGS * READERS);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

static int send_ten_and_die(void *arg)
{
	struct ipcfs_member *m;
	CHILD_CHECK(ipcfs_join(arg, 1, &m) >= 0, "join");
	CHILD_CHECK(ipcfs_wait_ranks(m, 3, 10000) == 0, "wait");
	for (int i = 0; i < 10; i++)
		CHILD_CHECK(ipcfs_send(m, IPCFS_RANK_BIT(0), &i, sizeof(i), 10000) == 0, "send");
	_exit(0); /* no ipcfs_leave: as if killed */
}

START_TEST(dead_sender_gives_epipe)
{
	struct ipcfs_params p = small(2, 16, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0);
	pid_t pid = tl_fork(send_ten_and_die, dir);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(ipcfs_recv(a, 1, &msg, 10000), 0);
		ck_assert_int_eq(*(int *)msg.data, i);
		ipcfs_release(a, &msg);
	}
	/* The child exits (a zombie until we reap it, which counts as dead):
	 * nothing is lost, then -EPIPE instead of a hang. */
	uint64_t t0 = wait_now_ns();
	ck_assert_int_eq(ipcfs_recv(a, 1, &msg, 10000), -EPIPE);
	ck_assert_int_eq(ipcfs_recv(a, IPCFS_ANY, &msg, 10000), -EPIPE);
	ck_assert_uint_lt(wait_now_ns() - t0, 5000000000ull);
	struct ipcfs_rank_stat st;
	ipcfs_stat_rank(a, 1, &st);
	ck_assert_int_eq(st.state, IPCFS_STATE_DEAD);
	ck_assert_int_eq(tl_wait(pid, 10), 0);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

static int join_and_hang(void *arg)
{
	struct ipcfs_member *m;
	CHILD_CHECK(ipcfs_join(arg, 1, &m) >= 0, "join");
	for (;;)
		pause();
}

START_TEST(killed_reader_releases_sender)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0);
	pid_t pid = tl_fork(join_and_hang, dir);
	ck_assert_int_eq(ipcfs_wait_ranks(a, 3, 10000), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), &i, sizeof(i), 1000), 0);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), "x", 1, 0), -EAGAIN);
	kill(pid, SIGKILL);
	ck_assert_int_eq(tl_wait(pid, 10), 128 + SIGKILL);
	/* The blocked sender notices the dead reader and goes on; the dead
	 * rank is no longer a destination. */
	void *buf;
	ck_assert_int_eq(ipcfs_reserve(a, 1, &buf, 5000), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 1), -ENOTCONN);
	struct ipcfs_rank_stat st;
	ipcfs_stat_rank(a, 1, &st);
	ck_assert_int_eq(st.state, IPCFS_STATE_DEAD);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

/* ---- threads (for ThreadSanitizer) ------------------------------------------ */

struct pingpong {
	struct ipcfs_member *m;
	int peer, iters, err;
};

static void *pingpong_thread(void *arg)
{
	struct pingpong *pp = arg;
	struct ipcfs_msg msg;
	int me = ipcfs_rank(pp->m);
	for (int i = 0; i < pp->iters && !pp->err; i++) {
		if ((i & 1) == me) {
			uint64_t v = (uint64_t)i;
			void *buf;
			if (ipcfs_reserve(pp->m, 64, &buf, 10000)) {
				pp->err = 1;
				break;
			}
			tl_fill(buf, 64, v);
			pp->err = ipcfs_commit(pp->m, IPCFS_RANK_BIT(pp->peer), 64) ? 2 : 0;
		} else {
			if (ipcfs_recv(pp->m, pp->peer, &msg, 10000) || !tl_check(msg.data, 64, (uint64_t)i))
				pp->err = 3;
			else
				ipcfs_release(pp->m, &msg);
		}
	}
	return NULL;
}

START_TEST(threads_ping_pong)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];
	pthread_t t[2];
	struct pingpong pp[2];
	int iters = (int)scaled(20000);

	tl_group(dir, &p);
	for (int i = 0; i < 2; i++) {
		pp[i] = (struct pingpong){ tl_join(dir, i), 1 - i, iters, 0 };
	}
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, pingpong_thread, &pp[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(pp[i].err, 0);
		ipcfs_leave(pp[i].m);
	}
	tl_group_done(dir);
}
END_TEST

/* One member, a sending and a receiving thread at once (as ipcfs.h
 * allows), both waiting: rank 0 streams to rank 1, which echoes every
 * message back. (Their waits once shared one CPU-fit cache: a data race
 * ThreadSanitizer reports.) */
struct duplex {
	struct ipcfs_member *m;
	int iters, err;
};

static void *duplex_send(void *arg)
{
	struct duplex *d = arg;
	for (int i = 0; i < d->iters && !d->err; i++)
		if (ipcfs_send(d->m, IPCFS_RANK_BIT(1), &i, sizeof(i), 10000))
			d->err = 1;
	return NULL;
}

static void *duplex_echo(void *arg)
{
	struct duplex *d = arg;
	struct ipcfs_msg msg;
	for (int i = 0; i < d->iters && !d->err; i++) {
		if (ipcfs_recv(d->m, 0, &msg, 10000)) {
			d->err = 2;
			break;
		}
		int v = *(const int *)msg.data;
		ipcfs_release(d->m, &msg);
		if (v != i || ipcfs_send(d->m, IPCFS_RANK_BIT(0), &v, sizeof(v), 10000))
			d->err = 3;
	}
	return NULL;
}

START_TEST(threads_send_and_receive_on_one_member)
{
	struct ipcfs_params p = small(2, 4, 64);
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	pthread_t ts, te;
	int iters = (int)scaled(20000);

	tl_group(dir, &p);
	struct duplex a = { tl_join(dir, 0), iters, 0 }, b = { tl_join(dir, 1), iters, 0 };
	ck_assert_int_eq(pthread_create(&ts, NULL, duplex_send, &a), 0);
	ck_assert_int_eq(pthread_create(&te, NULL, duplex_echo, &b), 0);
	for (int i = 0; i < iters; i++) {
		ck_assert_int_eq(ipcfs_recv(a.m, 1, &msg, 10000), 0);
		ck_assert_int_eq(*(const int *)msg.data, i);
		ipcfs_release(a.m, &msg);
	}
	pthread_join(ts, NULL);
	pthread_join(te, NULL);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(b.err, 0);
	ipcfs_leave(a.m);
	ipcfs_leave(b.m);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("channel");
	TCase *basic = tcase_create("basic");
	tcase_set_timeout(basic, 60);
	tcase_add_test(basic, unicast_and_errors);
	tcase_add_test(basic, back_pressure_and_timeouts);
	tcase_add_test(basic, a_look_is_not_a_wait);
	tcase_add_test(basic, rejoin_ignores_stale_holds);
	tcase_add_test(basic, corrupt_slot_skipped);
	tcase_add_test(basic, garbage_ring_waits_out_the_timeout);
	tcase_add_test(basic, control_ring);
	tcase_add_test(basic, threads_ping_pong);
	tcase_add_test(basic, threads_send_and_receive_on_one_member);
	suite_add_tcase(s, basic);

	TCase *peers = tcase_create("peers");
	tcase_set_timeout(peers, 120);
	tcase_add_test(peers, sleep_and_wake_oversubscribed);
	tcase_add_test(peers, dead_sender_gives_epipe);
	tcase_add_test(peers, killed_reader_releases_sender);
	suite_add_tcase(s, peers);

	/* One case per long test, so that CK_RUN_CASE=name runs just one. */
	const struct {
		const char *name;
		const TTest *test;
	} long_tests[] = {
		{ "bcast_1_reader_million", bcast_1_reader_million },
		{ "bcast_3_readers_million", bcast_3_readers_million },
		{ "bcast_8_readers_million", bcast_8_readers_million },
		{ "multicast_masks", multicast_masks },
		{ "many_senders_one_reader", many_senders_one_reader },
		{ "max_ranks", max_ranks },
	};
	for (size_t i = 0; i < sizeof(long_tests) / sizeof(long_tests[0]); i++) {
		TCase *tc = tcase_create(long_tests[i].name);
		tcase_set_timeout(tc, 900);
		tcase_add_test(tc, long_tests[i].test);
		suite_add_tcase(s, tc);
	}
	return tl_run(s);
}
