/* SPDX-License-Identifier: MIT */
/*
 * test_hostile.c - a member with write access to its group's segment
 * scribbles on it (the arena's lock word, block headers, ring and slot
 * headers); the paths the daemon runs over that segment (sweeping the
 * arena of a dead member, broadcasting through the control ring, reading
 * statistics) must end, each with 0 or an error, and never crash or hang.
 *
 * The "daemon" is a child process that maps the segment and becomes its
 * control sender exactly as ipcfsd does (fsd/registry.c: claim_ctl); it
 * must exit 0 within a bound, whatever the scribbler writes.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena_int.h"
#include "channel_int.h"
#include "member_int.h"
#include "testlib.h"
#include "wait_int.h"

static struct ipcfs_params hostile_params(void)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = 3;
	p.slots = 8;
	p.slot_bytes = 256;
	p.arena_bytes = 256 << 10;
	p.timeout_ms = 200;
	return p;
}

/* The first bytes of the arena's state in the header: where its lock is. */
static unsigned char *lock_area(const struct seg_map *m)
{
	return (unsigned char *)m->hdr + offsetof(struct seg_hdr, arena);
}

/* Become the control sender of the segment at @dir, as ipcfsd does. */
static int daemon_attach(const char *dir, struct chan *c)
{
	struct seg_map seg;
	char path[PATH_MAX];
	int rc = member_segment_path(dir, path, sizeof(path));

	if (rc || (rc = seg_map_path(path, SEG_MAP_WRITE | SEG_MAP_SERVICE, &seg)))
		return rc;
	rc = seg_claim(&seg, seg_layout(&seg)->ranks, getpid());
	if (rc)
		return rc;
	seg_go_live(&seg, seg_layout(&seg)->ranks, getpid());
	return chan_init(c, &seg, seg_layout(&seg)->ranks);
}

/* One round of the daemon's work: a broadcast of @len bytes, statistics,
 * a sweep of rank @dead. Every call returns; its result does not matter. */
static void daemon_round(struct chan *c, size_t len, unsigned dead)
{
	struct ipcfs_rank_stat st;
	struct arena_stat as;
	void *buf;

	if (chan_reserve(c, len, &buf, 100) == 0) {
		memset(buf, 'x', len);
		if (chan_commit(c, IPCFS_ALL, len, 0))
			chan_unreserve(c);
	}
	arena_stat(&c->seg, &as);
	for (unsigned i = 0; i <= seg_layout(&c->seg)->ranks; i++)
		seg_rank_stat(&c->seg, i, &st);
	arena_sweep(&c->seg, dead, c->seg.lock_wait_ns);
}

struct daemon_arg {
	const char *dir;
	unsigned rounds;
	double secs; /* or run this long, when > 0 */
};

static int daemon_child(void *arg)
{
	struct daemon_arg *d = arg;
	struct chan c;

	if (daemon_attach(d->dir, &c))
		return 2;
	uint64_t end = wait_now_ns() + (uint64_t)(d->secs * 1e9);
	for (unsigned i = 0; d->secs > 0 ? wait_now_ns() < end : i < d->rounds; i++)
		daemon_round(&c, i & 1 ? 100 : 5000 + (i % 7) * 3000, i % 3);
	chan_fini(&c);
	return 0;
}

/* Run the daemon for @rounds and require a clean exit within @secs. */
static void run_daemon_within(const char *dir, unsigned rounds, int secs)
{
	struct daemon_arg d = { dir, rounds, 0 };
	ck_assert_int_eq(tl_wait(tl_fork(daemon_child, &d), secs), 0);
}

static void run_daemon(const char *dir, unsigned rounds)
{
	run_daemon_within(dir, rounds, 60);
}

START_TEST(lock_word_garbage)
{
	struct ipcfs_params p = hostile_params();
	char dir[PATH_MAX];
	struct seg_map m;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0);
	/* Every byte of the lock set: a holder that is no thread at all. */
	memset(lock_area(&m), 0xff, 64);
	run_daemon(dir, 4);
	/* The member's own large sends end too. */
	void *buf;
	int rc = ipcfs_reserve(a, 10000, &buf, 100);
	ck_assert(rc == 0 || rc == -EIO || rc == -ETIMEDOUT);
	ipcfs_leave(a);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

START_TEST(lock_held_by_a_live_stranger)
{
	struct ipcfs_params p = hostile_params();
	char dir[PATH_MAX];
	struct seg_map m;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	/* A hostile member writes the id of a live thread (ours) into the
	 * lock word and never lets go: the daemon is not held by it. Each of
	 * its calls gives up after SEG_LOCK_WAIT_SERVICE_NS (a member's
	 * patience, 2 s, made each round take 4 s: 40 s for these rounds). */
	uint32_t me = (uint32_t)getpid();
	memcpy(lock_area(&m), &me, sizeof(me));
	struct ipcfs_member *a = tl_join(dir, 0);
	run_daemon_within(dir, 10, 10);
	ipcfs_leave(a);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

struct reserver {
	const char *dir;
	int pipe_fd;
};

/* A member that takes two arena blocks and then stays until killed. */
static int reserve_and_stay(void *arg)
{
	struct reserver *r = arg;
	struct ipcfs_member *m;
	void *buf;

	if (ipcfs_join(r->dir, 1, &m) < 0)
		return 1;
	/* The second reservation replaces the first only when it must grow:
	 * send one to rank 2 (held there) and keep the next reserved. */
	if (ipcfs_reserve(m, 4000, &buf, 1000) || ipcfs_commit(m, IPCFS_RANK_BIT(2), 4000))
		return 2;
	if (ipcfs_reserve(m, 4000, &buf, 1000))
		return 3;
	if (write(r->pipe_fd, "x", 1) != 1)
		return 4;
	for (;;)
		pause();
}

START_TEST(block_header_garbage_then_death)
{
	struct ipcfs_params p = hostile_params();
	char dir[PATH_MAX];
	struct seg_map m;
	int fds[2];
	char x;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	ck_assert_int_eq(pipe(fds), 0);
	struct ipcfs_member *c = tl_join(dir, 2);
	struct reserver r = { dir, fds[1] };
	pid_t pid = tl_fork(reserve_and_stay, &r);
	ck_assert_int_eq(read(fds[0], &x, 1), 1);
	/* The second block (reserved by rank 1) gets a wild prev_size: a
	 * free of it must not follow it back out of the mapping. Free the
	 * first block so that a merge backwards is tempting. */
	struct ipcfs_msg msg;
	ck_assert_int_eq(ipcfs_recv(c, 1, &msg, 1000), 0);
	ck_assert_int_eq(ipcfs_release(c, &msg), 0);
	uint64_t second = 0;
	for (uint64_t off = 0; off < seg_layout(&m)->arena_bytes;
	     off += arena_block_at(&m, off)->size) {
		if (atomic_load(&arena_block_at(&m, off)->state) == ARENA_RESERVED) {
			second = off;
			break;
		}
	}
	ck_assert_uint_gt(second, 0);
	arena_block_at(&m, second)->prev_size = (uint64_t)1 << 40;
	kill(pid, SIGKILL);
	ck_assert_int_eq(tl_wait(pid, 10), 128 + SIGKILL);
	/* The daemon notices the death and sweeps rank 1's blocks. */
	run_daemon(dir, 2);
	/* Another wild value: a size that runs past the arena. */
	arena_block_at(&m, 0)->size = seg_layout(&m)->arena_bytes * 2;
	run_daemon(dir, 2);
	ipcfs_leave(c);
	seg_unmap(&m);
	close(fds[0]);
	close(fds[1]);
	tl_group_done(dir);
}
END_TEST

struct scribbler {
	const char *dir;
	uint64_t seed;
};

/* Write random bytes over the lock, block headers, the rank area and the
 * ring headers until killed. */
static int scribble(void *arg)
{
	struct scribbler *s = arg;
	struct seg_map m;
	char path[PATH_MAX];
	uint64_t rnd = s->seed;

	if (member_segment_path(s->dir, path, sizeof(path)) ||
	    seg_map_path(path, SEG_MAP_WRITE, &m))
		return 1;
	uint64_t rings = seg_layout(&m)->ranks + 1;
	for (;;) {
		uint64_t v = tl_rand(&rnd);
		unsigned char *at;
		switch (tl_rand(&rnd) % 4) {
		case 0: /* the arena's lock and counters */
			at = lock_area(&m) + tl_rand(&rnd) % 128;
			break;
		case 1: /* a block header, at any 8-byte place of the arena */
			at = (unsigned char *)arena_block_at(&m, 0) +
			     (tl_rand(&rnd) % (seg_layout(&m)->arena_bytes / 8)) * 8;
			break;
		case 2: /* a slot header of any ring */
			at = (unsigned char *)seg_slot(&m, (unsigned)(tl_rand(&rnd) % rings),
						       tl_rand(&rnd)) +
			     (tl_rand(&rnd) % 4) * 8;
			break;
		default: /* a rank's state (owner, head, released) */
			at = (unsigned char *)seg_rank(&m, (unsigned)(tl_rand(&rnd) % rings)) +
			     (tl_rand(&rnd) % (seg_layout(&m)->rank_stride / 8)) * 8;
			break;
		}
		/* Whole words, sometimes small numbers (offsets, sizes and
		 * ranks that look plausible). */
		if (v & 1)
			v = (v >> 1) % (2 * seg_layout(&m)->arena_bytes);
		memcpy(at, &v, 8);
		if ((v & 63) == 0)
			sched_yield();
	}
}

/* A member that sends (small and large) and receives for @secs, ignoring
 * every error: it must only not crash or hang. Every message it gets
 * lies inside the segment. */
struct peer_arg {
	const char *dir;
	int rank;
	double secs;
};

static int peer_child(void *arg)
{
	struct peer_arg *pa = arg;
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	void *buf;

	if (ipcfs_join(pa->dir, pa->rank, &m) < 0)
		return 1;
	struct seg_map *seg = member_seg(m);
	const char *lo = seg->base, *hi = lo + seg->size;
	uint64_t end = wait_now_ns() + (uint64_t)(pa->secs * 1e9);
	for (unsigned i = 0; wait_now_ns() < end; i++) {
		size_t len = i & 1 ? 50 : 3000 + (i % 5) * 7000;
		if (ipcfs_reserve(m, len, &buf, 20) == 0) {
			memset(buf, 'm', len);
			ipcfs_commit(m, IPCFS_ALL, len);
		}
		while (ipcfs_recv(m, IPCFS_ANY, &msg, 5) == 0) {
			const char *d = msg.data;
			if (d < lo || d > hi || msg.len > (size_t)(hi - d))
				return 3;
			ipcfs_release(m, &msg);
		}
	}
	ipcfs_leave(m);
	return 0;
}

START_TEST(random_bytes_while_the_daemon_works)
{
	struct ipcfs_params p = hostile_params();
	char dir[PATH_MAX];
	double secs = 3.0 * tl_scale();

	tl_group(dir, &p);
	struct peer_arg pa[2] = { { dir, 0, secs }, { dir, 1, secs } };
	pid_t peer[2] = { tl_fork(peer_child, &pa[0]), tl_fork(peer_child, &pa[1]) };
	struct scribbler s = { dir, 0x5eed + (uint64_t)_i };
	pid_t spid = tl_fork(scribble, &s);
	struct daemon_arg d = { dir, 0, secs };
	pid_t dpid = tl_fork(daemon_child, &d);
	int rc = tl_wait(dpid, 120);
	int rc0 = tl_wait(peer[0], 120), rc1 = tl_wait(peer[1], 120);
	kill(spid, SIGKILL);
	tl_wait(spid, 10);
	ck_assert_int_eq(rc, 0);
	/* A peer may fail to join (its owner word scribbled: 1), never die. */
	ck_assert_msg(rc0 <= 1 && rc1 <= 1, "members: %d %d", rc0, rc1);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("daemon");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, lock_word_garbage);
	tcase_add_test(tc, lock_held_by_a_live_stranger);
	tcase_add_test(tc, block_header_garbage_then_death);
	tcase_add_loop_test(tc, random_bytes_while_the_daemon_works, 0, 3);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
