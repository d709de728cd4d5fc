/* SPDX-License-Identifier: MIT */
/*
 * test_death.c - members killed at chosen points of the protocol (the
 * death points of lib/fault_int.h, compiled into the library this test
 * links): what they published is delivered exactly once, and the arena's
 * accounting comes back to zero.
 *
 * Each victim is a real process that sets $IPCFS_FAULT and dies there by
 * SIGKILL; the survivors are this process and its other children.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena_int.h"
#include "fault_int.h"
#include "membership_int.h"
#include "member_int.h"
#include "testlib.h"

static struct ipcfs_params death_params(void)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = 3;
	p.slots = 8;
	p.slot_bytes = 256;
	p.arena_bytes = 256 << 10;
	return p;
}

struct victim {
	const char *dir;
	const char *fault; /* NULL: live through */
	int rank;
	size_t len;
	uint64_t seed;
	int gate; /* > 0: wait for a byte on this fd first */
};

/* Join, send one message of len bytes (seed) to rank 1, leave. */
static int send_one(void *arg)
{
	struct victim *v = arg;
	struct ipcfs_member *m;
	void *buf;

	char x;
	if (v->gate > 0 && read(v->gate, &x, 1) != 1)
		return 5;
	if (v->fault)
		setenv("IPCFS_FAULT", v->fault, 1);
	if (ipcfs_join(v->dir, v->rank, &m) < 0)
		return 1;
	if (ipcfs_reserve(m, v->len, &buf, 5000))
		return 2;
	tl_fill(buf, v->len, v->seed);
	if (ipcfs_commit(m, IPCFS_RANK_BIT(1), v->len))
		return 3;
	ipcfs_leave(m);
	return v->fault ? 4 : 0; /* a victim must not get here */
}

START_TEST(killed_between_publish_and_head)
{
	/* Issue 14 item 2: the sender dies after publishing its slot, before
	 * storing its ring head; the next process on that rank must not
	 * overwrite the published message. Small (slot) and large (arena). */
	static const size_t lens[] = { 100, 20000 };
	struct ipcfs_params p = death_params();
	size_t len = lens[_i];
	char dir[PATH_MAX];
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	struct ipcfs_member *r = tl_join(dir, 1);
	struct victim v = { dir, "chan_commit_published", 0, len, 1, 0 };
	ck_assert_int_eq(tl_wait(tl_fork(send_one, &v), 30), 128 + SIGKILL);
	struct victim next = { dir, NULL, 0, len, 2, 0 };
	ck_assert_int_eq(tl_wait(tl_fork(send_one, &next), 30), 0);
	for (uint64_t seed = 1; seed <= 2; seed++) {
		ck_assert_int_eq(ipcfs_recv(r, 0, &msg, 1000), 0);
		ck_assert_uint_eq(msg.len, len);
		ck_assert_msg(tl_check(msg.data, len, seed), "message %llu lost or overwritten",
			      (unsigned long long)seed);
		ck_assert_int_eq(ipcfs_release(r, &msg), 0);
	}
	ck_assert_int_eq(ipcfs_recv(r, 0, &msg, 0), -EPIPE);
	ipcfs_leave(r);
	tl_group_done(dir);
}
END_TEST

struct reader {
	const char *dir;
	const char *fault;
};

/* Join rank 1, receive one message from rank 0 and release it. */
static int recv_one(void *arg)
{
	struct reader *rd = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg msg;

	setenv("IPCFS_FAULT", rd->fault, 1);
	if (ipcfs_join(rd->dir, 1, &m) < 0)
		return 1;
	if (ipcfs_recv(m, 0, &msg, 5000))
		return 2;
	ipcfs_release(m, &msg);
	return 3; /* a victim must not get here */
}

START_TEST(reader_killed_inside_release)
{
	/* Issue 14 item 3: the last holder of a block dies after clearing
	 * its bit and before freeing the block. When it is marked gone, the
	 * block with no holders comes back. */
	struct ipcfs_params p = death_params();
	char dir[PATH_MAX];
	struct seg_map m;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0);
	struct reader rd = { dir, "arena_release_cleared" };
	pid_t pid = tl_fork(recv_one, &rd);
	ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_RANK_BIT(1), 10000), 0);
	ck_assert_int_eq(ipcfs_reserve(a, 30000, &buf, 0), 0);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 30000), 0);
	ck_assert_int_eq(tl_wait(pid, 30), 128 + SIGKILL);
	ck_assert_uint_gt(tl_arena_used(&m), 0);
	/* Its rank taken over: the dead owner is marked gone and swept. */
	struct ipcfs_member *b = tl_join(dir, 1);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	ipcfs_leave(b);
	ipcfs_leave(a);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

/* Join rank 1, receive one arena message from rank 0 and keep it, then
 * leave: killed at the death point inside the leave. */
static int leave_with_a_view(void *arg)
{
	struct reader *rd = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg msg;

	if (ipcfs_join(rd->dir, 1, &m) < 0)
		return 1;
	if (ipcfs_recv(m, 0, &msg, 5000))
		return 2;
	setenv("IPCFS_FAULT", rd->fault, 1);
	ipcfs_leave(m);
	return 3; /* a victim must not get here */
}

START_TEST(killed_inside_its_own_leave)
{
	/* A member dies inside its own leave: after its owner word says
	 * left, before it is out of the live mask (0), or before its blocks
	 * are swept (1). A reaper finishes the departure: the rank is not
	 * live, a broadcast finds nobody, the block it held comes back; and
	 * so does the next claim of the rank. */
	static const char *points[] = { "mark_gone_state_set", "mark_gone_unmasked" };
	struct ipcfs_params p = death_params();
	char dir[PATH_MAX];
	struct seg_map m;
	uint64_t live, gone;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0);
	for (int round = 0; round < 2; round++) {
		struct reader rd = { dir, points[_i] };
		pid_t pid = tl_fork(leave_with_a_view, &rd);
		ck_assert_int_eq(ipcfs_wait_ranks(a, IPCFS_RANK_BIT(1), 10000), 0);
		ck_assert_int_eq(ipcfs_reserve(a, 30000, &buf, 0), 0);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 30000), 0);
		ck_assert_int_eq(tl_wait(pid, 30), 128 + SIGKILL);
		struct seg_owner o;
		seg_owner_read(&m, 1, &o);
		ck_assert_int_eq(o.state, IPCFS_STATE_LEFT);
		if (round == 0) {
			/* A reaper finishes what the leave began. */
			ipcfs_reap(a, &gone);
			ipcfs_live(a, &live);
			ck_assert_uint_eq(live, 1);
			ck_assert_int_eq(ipcfs_reserve(a, 100, &buf, 0), 0);
			ck_assert_int_eq(ipcfs_commit(a, IPCFS_ALL, 100), -ENOTCONN);
			ck_assert_uint_eq(tl_arena_used(&m), 0);
		} else {
			/* The next claim of the rank does. */
			struct ipcfs_member *b = tl_join(dir, 1);
			ck_assert_uint_eq(tl_arena_used(&m), 0);
			ipcfs_leave(b);
		}
	}
	ipcfs_leave(a);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

START_TEST(sender_killed_inside_the_allocator)
{
	/* Issue 14 item 3: a sender dies inside the allocator, holding its
	 * lock, its block taken but not yet counted. Another process takes
	 * the lock over and recounts; when every member has left the arena is
	 * empty again (no leak, no underflow). This process uses the arena
	 * before it forks the victim, so that the victim must not hold the
	 * lock under its parent's (cached) thread id. */
	struct ipcfs_params p = death_params();
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	/* The third process is forked first, so that it never saw this
	 * process's thread id: it waits on a pipe. */
	int gate[2];
	ck_assert_int_eq(pipe(gate), 0);
	struct victim next = { dir, NULL, 2, 20000, 5, gate[0] };
	pid_t third = tl_fork(send_one, &next);
	struct ipcfs_member *r = tl_join(dir, 1);
	struct ipcfs_member *a = tl_join(dir, 0);
	for (uint64_t i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcfs_reserve(a, 10000, &buf, 1000), 0);
		tl_fill(buf, 10000, i);
		ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 10000), 0);
		ck_assert_int_eq(ipcfs_recv(r, 0, &msg, 1000), 0);
		ck_assert(tl_check(msg.data, 10000, i));
		ck_assert_int_eq(ipcfs_release(r, &msg), 0);
	}
	struct victim v = { dir, "arena_take_reserved", 2, 20000, 1, 0 };
	ck_assert_int_eq(tl_wait(tl_fork(send_one, &v), 30), 128 + SIGKILL);
	/* The third process takes rank 2 over (the dead owner is marked gone
	 * and swept) and sends through the arena. */
	ck_assert_int_eq(write(gate[1], "x", 1), 1);
	ck_assert_int_eq(tl_wait(third, 30), 0);
	close(gate[0]);
	close(gate[1]);
	ck_assert_int_eq(ipcfs_recv(r, 2, &msg, 1000), 0);
	ck_assert(tl_check(msg.data, 20000, 5));
	ck_assert_int_eq(ipcfs_release(r, &msg), 0);
	ipcfs_leave(a);
	ipcfs_leave(r);
	struct arena_stat st;
	arena_stat(&m, &st);
	ck_assert_uint_eq(st.used_bytes, 0);
	ck_assert_uint_eq(st.blocks, 0);
	ck_assert_uint_eq(st.broken, 0);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

START_TEST(sender_killed_between_block_and_slot)
{
	/* Issue 14 item 3: the sender dies after publishing its arena block
	 * and before publishing the slot that names it. Nobody can read that
	 * message; the next process on the rank gives the block back. */
	struct ipcfs_params p = death_params();
	char dir[PATH_MAX];
	struct seg_map m;
	struct ipcfs_msg msg;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *r = tl_join(dir, 1);
	struct victim v = { dir, "chan_commit_block_published", 0, 20000, 1, 0 };
	ck_assert_int_eq(tl_wait(tl_fork(send_one, &v), 30), 128 + SIGKILL);
	ck_assert_uint_gt(tl_arena_used(&m), 0);
	struct ipcfs_member *a = tl_join(dir, 0);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	/* And the ring goes on from there. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), "z", 1, 0), 0);
	ck_assert_int_eq(ipcfs_recv(r, 0, &msg, 1000), 0);
	ck_assert_uint_eq(msg.len, 1);
	ck_assert_int_eq(ipcfs_release(r, &msg), 0);
	ipcfs_leave(a);
	ipcfs_leave(r);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

/* The hook's group: rank 1 is marked gone (its blocks swept) at the worst
 * moment of a commit, after the sender read `live`. */
static struct seg_map *gone_seg;

static void mark_rank1_gone(const char *point)
{
	if (gone_seg && strcmp(point, "chan_commit_live_read") == 0) {
		seg_mark_gone(gone_seg, 1, IPCFS_STATE_DEAD);
		gone_seg = NULL;
	}
}

/* Found by the Spin model (tests/model/ring.pml, NO_PUBLISH_RECHECK): the
 * reaper swept a rank between the sender's read of live and its publish
 * of a block naming that rank; nobody cleared the bit, and the block
 * stayed taken after everyone left. */
START_TEST(reader_swept_during_a_commit)
{
	struct ipcfs_params p = death_params();
	char dir[PATH_MAX];
	struct seg_map m;
	void *buf;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *r = tl_join(dir, 1);
	ck_assert_int_eq(ipcfs_reserve(a, 20000, &buf, 0), 0);
	tl_fill(buf, 20000, 9);
	gone_seg = &m;
	fault_set_hook(mark_rank1_gone);
	ck_assert_int_eq(ipcfs_commit(a, IPCFS_RANK_BIT(1), 20000), 0);
	fault_set_hook(NULL);
	ck_assert_ptr_null(gone_seg); /* the hook ran inside the commit */
	/* Nobody is left to hold the block: it is free already. */
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	ipcfs_leave(r);
	ipcfs_leave(a);
	ck_assert_uint_eq(tl_arena_used(&m), 0);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("death");
	TCase *tc = tcase_create("points");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, killed_between_publish_and_head, 0, 2);
	tcase_add_test(tc, reader_killed_inside_release);
	tcase_add_loop_test(tc, killed_inside_its_own_leave, 0, 2);
	tcase_add_test(tc, sender_killed_inside_the_allocator);
	tcase_add_test(tc, sender_killed_between_block_and_slot);
	tcase_add_test(tc, reader_swept_during_a_commit);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
