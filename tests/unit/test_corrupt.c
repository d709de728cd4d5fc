/* SPDX-License-Identifier: MIT */
/*
 * test_corrupt.c - a receiver over a segment that another member has
 * scribbled on: each case is one the fuzzer found (tests/fuzz/
 * fuzz_seg_recv.c, inputs kept in tests/fuzz/crashes/seg_recv-*), written
 * out by hand. Every call must return, with 0 or an error, and never touch
 * memory outside the segment: the receiver's mapping lies between
 * PROT_NONE guards here, so such an access faults and fails the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena_int.h"
#include "channel_int.h"
#include "member_int.h"
#include "testlib.h"

#define GUARD ((size_t)1 << 30)

/* A small group: two ranks, two slots, an arena of @arena bytes. */
static struct ipcfs_params small_params(uint64_t arena)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = 2;
	p.slots = 2;
	p.slot_bytes = 64;
	p.arena_bytes = arena;
	p.spin_us = 0;
	return p;
}

/* Move @m's mapping of @dir's segment between two PROT_NONE guards. */
static void guard(const char *dir, struct ipcfs_member *m)
{
	struct seg_map *s = member_seg(m);
	char path[PATH_MAX];

	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	char *res = mmap(NULL, s->size + 2 * GUARD, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(res != MAP_FAILED);
	char *base = mmap(res + GUARD, s->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			  fd, 0);
	ck_assert(base != MAP_FAILED);
	close(fd);
	munmap(s->base, s->size);
	s->base = base;
	s->hdr = (struct seg_hdr *)(void *)base;
}

/* Bits of `joined` beyond the group (the fuzzer: SEGV in sender_gone): a
 * receive from any rank, once every rank that joined is gone, looked up
 * the rank table at those bits, far outside the segment. */
START_TEST(joined_beyond_the_group)
{
	struct ipcfs_params p = small_params(0);
	struct ipcfs_msg msg;
	char dir[PATH_MAX];
	struct seg_map m;

	tl_group(dir, &p);
	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	guard(dir, a);
	ck_assert_int_eq(ipcfs_leave(b), 0);
	atomic_fetch_or(&m.hdr->joined, (uint64_t)1 << 40);
	/* Rank 1 left and nothing is pending: the group is over. */
	ck_assert_int_eq(ipcfs_recv(a, IPCFS_ANY, &msg, 0), -EPIPE);
	ipcfs_leave(a);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

struct twice_arg {
	const char *dir;
};

/* In a child, as the receive may never return before the fix. */
static int held_twice_child(void *arg)
{
	const char *dir = ((struct twice_arg *)arg)->dir;
	struct ipcfs_msg first, second;
	struct seg_map m;
	char data[8] = "abcdefg";

	tl_map_seg(dir, &m);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	guard(dir, a);
	if (ipcfs_send(b, IPCFS_RANK_BIT(0), data, sizeof(data), 0) ||
	    ipcfs_recv(a, 1, &first, 0))
		return 2;
	/* We hold position 0 (slot 0). The hostile sender claims that
	 * position 1 (slot 1) went to someone else and that position 2 -
	 * slot 0 again, which cannot be reused while we hold it - is ours. */
	struct seg_slot *s1 = seg_slot(&m, 1, 1), *s0 = seg_slot(&m, 1, 0);
	atomic_store(&s1->dest, IPCFS_RANK_BIT(1));
	atomic_store(&s1->seq, 2);
	atomic_store(&s0->seq, 3);
	int rc = ipcfs_recv(a, 1, &second, 0);
	if (rc == 0)
		ipcfs_release(a, &second);
	/* Giving back the first view must end (it looped for ever when the
	 * slot was counted as held twice). */
	if (ipcfs_release(a, &first))
		return 3;
	ipcfs_leave(b);
	ipcfs_leave(a);
	seg_unmap(&m);
	return rc == -EBADMSG ? 0 : 4;
}

/* A seq that hands out a slot we still hold (the fuzzer: a hang in
 * release_ring): refused, and releases still end. */
START_TEST(slot_held_twice)
{
	struct ipcfs_params p = small_params(0);
	char dir[PATH_MAX];

	tl_group(dir, &p);
	struct twice_arg t = { dir };
	ck_assert_int_eq(tl_wait(tl_fork(held_twice_child, &t), 20), 0);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corrupt");
	TCase *tc = tcase_create("receiver");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, joined_beyond_the_group);
	tcase_add_test(tc, slot_held_twice);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
