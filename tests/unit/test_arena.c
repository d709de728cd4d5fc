/* SPDX-License-Identifier: MIT */
/*
 * test_arena.c - large payloads through the arena: written once, read in
 * place by every addressed rank, freed by the last release; bounded memory,
 * back pressure, reclaiming the blocks of ranks that die, corrupt
 * references.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena_int.h"
#include "channel_int.h"
#include "member_int.h"
#include "membership_int.h"
#include "testlib.h"
#include "util.h"
#include "wait_int.h"

static struct ipcfs_params arena_params(unsigned ranks, uint64_t arena, unsigned slots)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = ranks;
	p.slots = slots;
	p.slot_bytes = 256;
	p.arena_bytes = arena;
	return p;
}

/* @a sends @len bytes of pattern @seed through the arena to every rank;
 * @b receives them into *@msg, checks them and still holds them. */
static void send_checked(struct ipcfs_member *a, struct ipcfs_member *b, size_t len,
			 uint64_t seed, struct ipcfs_msg *msg)
{
	void *buf;

	ck_assert_int_eq(ipcfs_reserve(a, len, &buf, 0), 0);
	tl_fill(buf, len, seed);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, len), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, msg, 0), 0);
	ck_assert(tl_check(msg->data, len, seed));
}

/* Two members of a group with an arena, and a mapping of its segment to
 * write into as a hostile member would. */
struct pair {
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_member *a, *b;
};

static void pair_open(struct pair *x, uint64_t arena, uint32_t slots)
{
	struct ipcfs_params p = arena_params(2, arena, slots);

	tl_group(x->dir, &p);
	tl_map_seg(x->dir, &x->m);
	x->a = tl_join(x->dir, 0);
	x->b = tl_join(x->dir, 1);
}

static void pair_close(struct pair *x)
{
	seg_unmap(&x->m);
	ipcfs_leave(x->a);
	ipcfs_leave(x->b);
	tl_group_done(x->dir);
}

START_TEST(zero_copy_to_two_readers)
{
	struct ipcfs_params p = arena_params(3, 1 << 20, 8);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg x, y;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1), *c = tl_join(dir, 2);
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 0), 0);
	ck_assert_uint_eq((uintptr_t)buf % 64, 0);
	tl_fill(buf, 100000, 7);
	ck_assert_uint_ge(tl_arena_used(&m), 100000);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 100000), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &x, 0), 0);
	ck_assert_int_eq(ipcfs_recv(c, 0, &y, 0), 0);
	ck_assert_uint_eq(x.len, 100000);
	ck_assert_uint_eq(y.len, 100000);
	ck_assert(tl_check(x.data, x.len, 7));
	/* In place: the views point into the arena of each reader's mapping,
	 * at the block the sender filled. */
	ck_assert_uint_eq((uintptr_t)x.data % 64, 0);
	ck_assert(tl_check(y.data, y.len, 7));
	ck_assert_int_eq(ipcfs_release(b, &x), 0);
	ck_assert_uint_ge(tl_arena_used(&m), 100000); /* c still holds it */
	ck_assert_int_eq(ipcfs_release(c, &y), 0);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	ck_assert_int_eq(ipcfs_release(c, &y), -EINVAL);

	/* Too large ever to fit, and no arena at all. */
	ck_assert_int_eq(ipcfs_reserve(a, (2 << 20), &buf, 0), -ENOMEM);
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	ipcfs_leave(c);
	tl_group_done(dir);

	p.arena_bytes = 0;
	tl_group(dir, &p);
	a = tl_join(dir, 0);
	ck_assert_int_eq(ipcfs_reserve(a, 257, &buf, 0), -EMSGSIZE);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

START_TEST(sizes_1_byte_to_256_mib)
{
	const size_t sizes[] = { 1, 100, 255, 256, 257, 4095, 4096, 65537, (1 << 20) + 3,
				 16 << 20, 64 << 20, 256 << 20 };
	struct ipcfs_params p = arena_params(2, (256 << 20) + (1 << 20), 4);
	char dir[PATH_MAX];
	struct seg_map m;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		void *buf;
		struct ipcfs_msg msg;
		ck_assert_int_eq(ipcfs_reserve(a, n, &buf, 1000), 0);
		tl_fill(buf, n, n);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), n), 0);
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
		ck_assert_uint_eq(msg.len, n);
		ck_assert_msg(tl_check(msg.data, n, n), "payload of %zu bytes", n);
		ck_assert_int_eq(ipcfs_release(b, &msg), 0);
		ck_assert_uint_eq(tl_arena_used(&m), 0);
	}
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(full_arena_back_pressure)
{
	struct ipcfs_params p = arena_params(2, 64 << 10, 16);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg[4];
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	/* Three blocks of 20 KiB fill a 64 KiB arena. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 0), 0);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 20000), 0);
	}
	ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 0), -EAGAIN);
	uint64_t t0 = wait_now_ns();
	ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 50), -ETIMEDOUT);
	ck_assert_uint_ge(wait_now_ns() - t0, 50000000u);
	/* A small message still goes (the ring slot was claimed above). */
	ck_assert_int_eq(ipcfs_reserve(a, 8, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 8), 0);
	/* Released out of order: the middle block first. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg[i], 0), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg[1]), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 20000), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 0), -EAGAIN);
	ck_assert_int_eq(ipcfs_release(b, &msg[0]), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg[2]), 0);
	/* Free space is split around the new block: 40000 does not fit... */
	ck_assert_int_eq(ipcfs_reserve(a, 40000, &buf, 0), -EAGAIN);
	/* ...until it is released too, and everything merges again. */
	ck_assert_int_eq(ipcfs_release(b, &msg[3]), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg[0], 0), 0);
	ck_assert_uint_eq(msg[0].len, 20000);
	ck_assert_int_eq(ipcfs_release(b, &msg[0]), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 60000, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 60000), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg[0], 0), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg[0]), 0);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	struct arena_stat st;
	arena_stat(&m, &st);
	ck_assert_uint_eq(st.allocs, 5);
	ck_assert_uint_eq(st.frees, 5);
	ck_assert_uint_ge(st.waits, 1);
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(reservation_resized_and_dropped)
{
	struct ipcfs_params p = arena_params(2, 1 << 20, 4);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;
	void *buf, *again;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	ck_assert_int_eq(ipcfs_reserve(a, 10000, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 9000, &again, 0), 0);
	ck_assert_ptr_eq(buf, again); /* fits: the same block */
	ck_assert_int_eq(ipcfs_reserve(a, 500000, &again, 0), 0);
	ck_assert_uint_ge(tl_arena_used(&m), 500000);
	ck_assert_uint_lt(tl_arena_used(&m), 600000); /* the small one went back */
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 600000), -EINVAL); /* beyond the block */
	ck_assert_int_eq(ipcfs_reserve(a, 16, &again, 0), 0);
	ck_assert_uint_eq(tl_arena_used(&m), 0); /* back to the ring slot */
	memcpy(again, "small", 5);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 5), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert_int_eq(memcmp(msg.data, "small", 5), 0);
	ipcfs_release(b, &msg);
	/* Leaving with a reservation gives its block back. */
	ck_assert_int_eq(ipcfs_reserve(a, 70000, &buf, 0), 0);
	ipcfs_leave(a);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	seg_unmap(&m);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

struct holder {
	const char *dir;
	int pipe_fd;
};

/* Receive three blocks, hold them, tell the parent, and wait to be killed. */
static int hold_blocks(void *arg)
{
	struct holder *h = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg msg[3];
	if (ipcfs_join(h->dir, 1, &m) < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (ipcfs_recv(m, 0, &msg[i], 10000))
			return 2;
	if (write(h->pipe_fd, "x", 1) != 1)
		return 3;
	for (;;)
		pause();
}

START_TEST(killed_reader_blocks_come_back)
{
	struct ipcfs_params p = arena_params(3, 256 << 10, 16);
	char dir[PATH_MAX];
	struct seg_map m;
	int fds[2];
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	ck_assert_int_eq(pipe(fds), 0);
	struct holder h = { dir, fds[1] };
	struct ipcfs_member *a = tl_join(dir, 0), *c = tl_join(dir, 2);
	pid_t pid = tl_fork(hold_blocks, &h);
	ck_assert_int_eq(ipcfs_wait_ranks(a, 7, 10000), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcfs_reserve(a, 60000, &buf, 1000), 0);
		tl_fill(buf, 60000, (uint64_t)i);
		/* To the child only, and one to both. */
		ck_assert_int_eq(ipcfs_commit(a, i == 2 ? 6 : 2, 60000), 0);
	}
	char x;
	ck_assert_int_eq(read(fds[0], &x, 1), 1);
	ck_assert_uint_ge(tl_arena_used(&m), 180000);
	/* The arena is nearly full: a fourth 60 KiB block must wait. */
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 0), -EAGAIN);
	kill(pid, SIGKILL);
	ck_assert_int_eq(tl_wait(pid, 10), 128 + SIGKILL);
	/* The waiting sender notices the dead rank, whose blocks are swept;
	 * the block rank 2 still holds stays. */
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 5000), 0);
	struct arena_stat st;
	arena_stat(&m, &st);
	ck_assert_uint_ge(st.reclaimed, 2);
	struct ipcfs_msg msg;
	ck_assert_int_eq(ipcfs_recv(c, 0, &msg, 0), 0);
	ck_assert(tl_check(msg.data, 60000, 2));
	ck_assert_int_eq(ipcfs_release(c, &msg), 0);
	ipcfs_leave(a);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	seg_unmap(&m);
	ipcfs_leave(c);
	tl_group_done(dir);
}
END_TEST

START_TEST(stale_holders_reclaimed_on_slot_reuse)
{
	/* A reader leaves holding a block; the ring slot that carried it is
	 * reused by the sender, which frees the block. */
	struct ipcfs_params p = arena_params(3, 256 << 10, 2);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1), *c = tl_join(dir, 2);
	ck_assert_int_eq(ipcfs_reserve(a, 50000, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 50000), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	/* Simulate a holder that vanished without its sweep: its bit stays
	 * in the block while it is no longer live. */
	atomic_fetch_and(&m.hdr->live, ~IPCFS_RANK_BIT(1));
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(2), "x", 1, 0), 0);
		ck_assert_int_eq(ipcfs_recv(c, 0, &msg, 0), 0);
		ck_assert_int_eq(ipcfs_release(c, &msg), 0);
		/* The first lap leaves the block; reusing slot 0 frees it. */
		ck_assert_uint_eq(tl_arena_used(&m), i == 0 ? 50112 : 0);
	}
	struct arena_stat st;
	arena_stat(&m, &st);
	ck_assert_uint_eq(st.reclaimed, 1);
	seg_unmap(&m);
	ipcfs_leave(a);
	ipcfs_leave(b);
	ipcfs_leave(c);
	tl_group_done(dir);
}
END_TEST

START_TEST(corrupt_references)
{
	struct pair x;
	struct ipcfs_msg msg;
	void *buf;

	pair_open(&x, 256 << 10, 8);
	struct ipcfs_member *a = x.a, *b = x.b;
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(ipcfs_reserve(a, 1000, &buf, 0), 0);
		tl_fill(buf, 1000, (uint64_t)i);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 1000), 0);
	}
	struct arena_ref *ref[6];
	for (int i = 0; i < 6; i++)
		ref[i] = seg_slot_data(seg_slot(&x.m, 0, (uint64_t)i));
	ref[0]->off = seg_layout(&x.m)->arena_bytes + 64;   /* outside the arena */
	ref[1]->off += 8;                   /* not a block */
	ref[2]->gen += 1;                   /* another generation */
	ref[3]->len = 1 << 20;              /* beyond the block */
	atomic_store(&seg_slot(&x.m, 0, 4)->len, 7); /* not a reference's size */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), -EBADMSG);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert(tl_check(msg.data, 1000, 5));
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	/* A block header scribbled over: the allocator refuses to go on
	 * rather than follow it. */
	struct arena_block *blk = arena_block_at(&x.m, 0);
	blk->size = 3;
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 0), -EIO);
	struct arena_stat st;
	arena_stat(&x.m, &st);
	ck_assert_uint_eq(st.broken, 1);
	pair_close(&x);
}
END_TEST

/* A lock word that names our own thread under another rank (scribbled,
 * or a fuzzer's): a thread asking for the lock holds it through no
 * mapping, so the word is garbage and taken over at once. It used to be
 * waited for as a live holder: 2 s, then -ETIMEDOUT, on every call (found
 * by the segment fuzzer, tests/fuzz/crashes/seg_recv-timeout-f5e1f408...). */
START_TEST(lock_word_naming_our_thread)
{
	struct pair x;
	struct ipcfs_msg msg;

	pair_open(&x, 256 << 10, 8);
	struct ipcfs_member *a = x.a, *b = x.b;
	uint32_t other = 2; /* rank 1 + 1: b's mapping, not a's */
	atomic_store(&arena_state(&x.m)->lock,
		     (uint32_t)syscall(SYS_gettid) | other << ARENA_LOCK_RANK_SHIFT);
	send_checked(a, b, 100000, 7, &msg);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	pair_close(&x);
}
END_TEST

/* A lock word that names a live thread of another process that holds
 * nothing (scribbled, or a fuzzer's pid 1): it cannot be told from a live
 * holder, so a call waits the mapping's patience and fails with
 * -ETIMEDOUT, and nothing is lost: once the word is free, the arena works
 * as before. */
/* A live process that holds nothing: a thread for a lock word to name. */
static pid_t stranger_start(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void stranger_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(lock_word_naming_a_live_stranger)
{
	struct pair x;
	struct ipcfs_msg msg;
	void *buf;

	pair_open(&x, 256 << 10, 8);
	struct ipcfs_member *a = x.a, *b = x.b;
	pid_t stranger = stranger_start();
	member_chan(a)->seg.lock_wait_ns = 50 * 1000 * 1000;
	atomic_store(&arena_state(&x.m)->lock, (uint32_t)stranger | 2u << ARENA_LOCK_RANK_SHIFT);
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 0), -ETIMEDOUT);
	ck_assert_int_eq(ipcfs_reserve(a, 100000, &buf, 1000), -ETIMEDOUT);
	atomic_store(&arena_state(&x.m)->lock, 0);
	send_checked(a, b, 100000, 11, &msg);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	stranger_stop(stranger);
	pair_close(&x);
}
END_TEST

/* A rank departs while the arena's lock is kept (a word naming a live
 * stranger): its sweep gives up after the marker's patience, and the
 * departure stays unfinished rather than recorded done with the rank's
 * blocks still held (they were lost for good before). A claim of the rank
 * meanwhile fails rather than lose them; once the lock is free, the next
 * look finishes the departure, the blocks come back, the rank is joined. */
START_TEST(departure_waits_for_a_kept_lock)
{
	struct pair x;
	struct ipcfs_msg msg;

	pair_open(&x, 256 << 10, 8);
	send_checked(x.a, x.b, 100000, 13, &msg); /* b holds the block */
	pid_t stranger = stranger_start();
	x.m.lock_wait_ns = 20 * 1000 * 1000;
	atomic_store(&arena_state(&x.m)->lock, (uint32_t)stranger | 2u << ARENA_LOCK_RANK_SHIFT);

	ck_assert(seg_mark_gone(&x.m, 1, IPCFS_STATE_DEAD));
	ck_assert_int_eq(membership_unfinished(&x.m), 1);
	ck_assert_uint_ge(tl_arena_used(&x.m), 100000);
	membership_finish(&x.m); /* still kept: still unfinished */
	ck_assert_int_eq(membership_unfinished(&x.m), 1);
	ck_assert_int_eq(seg_claim(&x.m, 1, getpid()), -ETIMEDOUT);
	ck_assert_uint_eq(SEG_OWNER_STATE(atomic_load(&seg_rank(&x.m, 1)->owner)), IPCFS_STATE_DEAD);

	atomic_store(&arena_state(&x.m)->lock, 0);
	membership_finish(&x.m);
	ck_assert_int_eq(membership_unfinished(&x.m), -1);
	ck_assert_uint_eq(tl_arena_used(&x.m), 0);
	struct ipcfs_member *again = tl_join(x.dir, 1);
	send_checked(x.a, again, 100000, 14, &msg);
	ck_assert_int_eq(ipcfs_release(again, &msg), 0);
	ipcfs_leave(again);
	stranger_stop(stranger);
	pair_close(&x);
}
END_TEST

START_TEST(release_uses_the_checked_reference)
{
	/* The slot of a message we hold is rewritten after we received it:
	 * the release uses the reference checked at receive time, frees that
	 * block, and never follows what the slot says now. */
	struct pair x;
	struct ipcfs_msg msg;

	pair_open(&x, 256 << 10, 8);
	struct ipcfs_member *a = x.a, *b = x.b;
	send_checked(a, b, 5000, 9, &msg);
	struct arena_ref *ref = seg_slot_data(seg_slot(&x.m, 0, 0));
	ref->off = (uint64_t)1 << 50;
	ref->gen = 12345;
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ck_assert_uint_eq(tl_arena_used(&x.m), 0);
	/* The ring moves on. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "y", 1, 0), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	pair_close(&x);
}
END_TEST

/* Join rank 0, reserve a large block, say so, and stay until killed. */
static int reserve_and_hang(void *arg)
{
	struct holder *h = arg;
	struct ipcfs_member *m;
	void *buf;

	if (ipcfs_join(h->dir, 0, &m) < 0 || ipcfs_reserve(m, 100000, &buf, 1000))
		return 1;
	if (write(h->pipe_fd, "x", 1) != 1)
		return 2;
	for (;;)
		pause();
}

START_TEST(dead_senders_block_back_while_waiting_elsewhere)
{
	/* A sender dies holding a reserved block, in a group without a
	 * daemon. A reader waiting for another sender marks it gone (its
	 * liveness check covers every live rank), and the block comes back;
	 * it used to stay taken for as long as no one waited on that very
	 * rank. */
	struct ipcfs_params p = arena_params(3, 256 << 10, 8);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;
	int fds[2];
	char x;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	ck_assert_int_eq(pipe(fds), 0);
	struct holder h = { dir, fds[1] };
	pid_t pid = tl_fork(reserve_and_hang, &h);
	ck_assert_int_eq(read(fds[0], &x, 1), 1);
	struct ipcfs_member *r = tl_join(dir, 1), *s = tl_join(dir, 2);
	ck_assert_uint_gt(tl_arena_used(&m), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(tl_wait(pid, 10), 128 + SIGKILL);
	ck_assert_int_eq(ipcfs_recv(r, 2, &msg, 500), -ETIMEDOUT);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	ipcfs_leave(s);
	ipcfs_leave(r);
	seg_unmap(&m);
	close(fds[0]);
	close(fds[1]);
	tl_group_done(dir);
}
END_TEST

struct waiter_arg {
	const char *dir;
	int rank;
	unsigned waits;
};

/* Wait for space that never comes, @waits times. */
static int wait_for_space(void *arg)
{
	struct waiter_arg *w = arg;
	struct ipcfs_member *m;
	void *buf;

	if (ipcfs_join(w->dir, w->rank, &m) < 0)
		return 1;
	for (unsigned i = 0; i < w->waits; i++)
		if (ipcfs_reserve(m, 100000, &buf, 1) != -ETIMEDOUT)
			return 2;
	ipcfs_leave(m);
	return 0;
}

START_TEST(waits_counted_under_contention)
{
	/* Four ranks wait for space at once, again and again: the arena's
	 * `waits` counts every wait (it was a load and a store by each
	 * waiter, outside any lock, and lost updates). */
	enum { WAITERS = 4 };
	struct ipcfs_params p = arena_params(WAITERS + 2, 256 << 10, 8);
	unsigned n = (unsigned)(400 * tl_scale());
	char dir[PATH_MAX];
	struct seg_map m;
	void *buf;

	p.spin_us = 0;
	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0);
	/* The arena taken whole, and kept. */
	ck_assert_int_eq(ipcfs_reserve(a, (256 << 10) - 64, &buf, 0), 0);
	struct waiter_arg w[WAITERS];
	pid_t pid[WAITERS];
	for (int i = 0; i < WAITERS; i++) {
		w[i] = (struct waiter_arg){ dir, i + 1, n };
		pid[i] = tl_fork(wait_for_space, &w[i]);
	}
	for (int i = 0; i < WAITERS; i++)
		ck_assert_int_eq(tl_wait(pid[i], 120), 0);
	struct arena_stat st;
	arena_stat(&m, &st);
	ck_assert_uint_eq(st.waits, (uint64_t)WAITERS * n);
	seg_unmap(&m);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

/* @n messages of @len bytes from rank 0 to rank 1 in lockstep, in an arena
 * of @arena bytes: the block of each in @bufs. The arena is empty after. */
static void lockstep_blocks(uint64_t arena, size_t len, unsigned n, void **bufs)
{
	struct ipcfs_params p = arena_params(2, arena, 8);
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(ipcfs_reserve(a, len, &bufs[i], 0), 0);
		tl_fill(bufs[i], len, i);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), len), 0);
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
		ck_assert(tl_check(msg.data, msg.len, i));
		ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	}
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	ipcfs_leave(b);
	ipcfs_leave(a);
	seg_unmap(&m);
	tl_group_done(dir);
}

/* Lockstep with blocks that fit a private cache, one message in flight at a time: no block is the one just
 * read (its lines are still in the reader's cache), the sender alternates
 * between two (a working set that stays cached), and the space all comes
 * back. With first fit every message landed on the block just read. */
START_TEST(blocks_rotate_in_lockstep)
{
	void *bufs[40];
	unsigned wrapped = 0;

	lockstep_blocks(1 << 20, 100000, 40, bufs);
	for (unsigned i = 1; i < 40; i++) {
		ck_assert_ptr_ne(bufs[i], bufs[i - 1]);
		wrapped += bufs[i] == bufs[0];
	}
	/* Two blocks in turn: the first comes back every other message. */
	ck_assert_uint_eq(wrapped, 19);
}
END_TEST

/* A block larger than a core's private cache is reused (the readers'
 * caches no longer hold it; a second block would double the footprint). */
START_TEST(large_blocks_are_reused_in_lockstep)
{
	size_t len = util_private_cache_bytes() + 4096;
	void *bufs[6];

	lockstep_blocks(4 * len, len, 6, bufs);
	for (unsigned i = 1; i < 6; i++)
		ck_assert_ptr_eq(bufs[i], bufs[0]);
}
END_TEST

struct stream {
	const char *dir;
	unsigned rank, readers, msgs;
};

static int stream_reader(void *arg)
{
	struct stream *s = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg held[6];
	unsigned nheld = 0;
	uint64_t rnd = s->rank;
	if (ipcfs_join(s->dir, (int)s->rank, &m) < 0)
		return 1;
	for (unsigned i = 0; i < s->msgs; i++) {
		struct ipcfs_msg msg;
		int rc = ipcfs_recv(m, 0, &msg, 0);
		if (rc == -EAGAIN) {
			while (nheld)
				ipcfs_release(m, &held[--nheld]);
			rc = ipcfs_recv(m, 0, &msg, 20000);
		}
		if (rc) {
			fprintf(stderr, "reader %u: recv %d at %u\n", s->rank, rc, i);
			return 2;
		}
		uint64_t x = i;
		size_t want = (size_t)(tl_rand(&x) % (300 << 10)) + 1;
		if (msg.len != want || !tl_check(msg.data, msg.len, i)) {
			fprintf(stderr, "reader %u: message %u is wrong\n", s->rank, i);
			return 3;
		}
		held[nheld++] = msg;
		if (nheld == 6 || (tl_rand(&rnd) & 3) == 0) {
			while (nheld) {
				unsigned k = (unsigned)(tl_rand(&rnd) % nheld);
				ipcfs_release(m, &held[k]);
				held[k] = held[--nheld];
			}
		}
	}
	while (nheld)
		ipcfs_release(m, &held[--nheld]);
	ipcfs_leave(m);
	return 0;
}

START_TEST(many_in_flight_bounded)
{
	enum { READERS = 3 };
	struct ipcfs_params p = arena_params(READERS + 1, 1 << 20, 32);
	unsigned msgs = (unsigned)(3000 * tl_scale());
	char dir[PATH_MAX];
	struct seg_map m;
	struct stream s[READERS];
	pid_t pids[READERS];

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0);
	for (unsigned r = 0; r < READERS; r++) {
		s[r] = (struct stream){ dir, r + 1, READERS, msgs };
		pids[r] = tl_fork(stream_reader, &s[r]);
	}
	ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_ALL, 10000), 0);
	uint64_t peak = 0;
	for (unsigned i = 0; i < msgs; i++) {
		uint64_t x = i;
		size_t n = (size_t)(tl_rand(&x) % (300 << 10)) + 1;
		void *buf;
		ck_assert_int_eq(ipcfs_reserve(a, n, &buf, 20000), 0);
		tl_fill(buf, n, i);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, n), 0);
		uint64_t u = tl_arena_used(&m);
		peak = u > peak ? u : peak;
	}
	for (unsigned r = 0; r < READERS; r++)
		ck_assert_int_eq(tl_wait(pids[r], 120), 0);
	/* Memory never exceeded the arena, whatever was in flight; and it
	 * was used (blocks were in flight at once). */
	ck_assert_uint_le(peak, p.arena_bytes);
	ck_assert_uint_gt(peak, 300 << 10);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	seg_unmap(&m);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

START_TEST(cuda_register_without_gpu)
{
	struct ipcfs_params p = arena_params(2, 1 << 20, 4);
	char dir[PATH_MAX];

	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0);
	int rc = ipcfs_arena_register_cuda(a);
	if (rc == 0) {
		/* A machine with a GPU: registered, and again is a no-op. */
		ck_assert_int_eq(ipcfs_arena_register_cuda(a), 0);
	} else {
		ck_assert_int_eq(rc, -ENODEV);
		ck_assert_msg(strlen(ipcfs_gpu_error()) > 0, "no reason given");
		fprintf(stderr, "cuda_register_without_gpu: %s\n", ipcfs_gpu_error());
	}
	ipcfs_leave(a);
	tl_group_done(dir);
	/* No arena, nothing to register. */
	p.arena_bytes = 0;
	tl_group(dir, &p);
	a = tl_join(dir, 0);
	ck_assert_int_eq(ipcfs_arena_register_cuda(a), -EINVAL);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("arena");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, zero_copy_to_two_readers);
	tcase_add_test(tc, sizes_1_byte_to_256_mib);
	tcase_add_test(tc, full_arena_back_pressure);
	tcase_add_test(tc, reservation_resized_and_dropped);
	tcase_add_test(tc, killed_reader_blocks_come_back);
	tcase_add_test(tc, stale_holders_reclaimed_on_slot_reuse);
	tcase_add_test(tc, corrupt_references);
	tcase_add_test(tc, lock_word_naming_our_thread);
	tcase_add_test(tc, lock_word_naming_a_live_stranger);
	tcase_add_test(tc, departure_waits_for_a_kept_lock);
	tcase_add_test(tc, release_uses_the_checked_reference);
	tcase_add_test(tc, waits_counted_under_contention);
	tcase_add_test(tc, dead_senders_block_back_while_waiting_elsewhere);
	tcase_add_test(tc, many_in_flight_bounded);
	tcase_add_test(tc, blocks_rotate_in_lockstep);
	tcase_add_test(tc, large_blocks_are_reused_in_lockstep);
	tcase_add_test(tc, cuda_register_without_gpu);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
