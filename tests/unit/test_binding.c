/* SPDX-License-Identifier: MIT */
/* test_binding.c - the functions made for language bindings:
 * ipcfs_group_params() and ipcfs_reap(). */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "testlib.h"

START_TEST(group_params_as_created)
{
	struct ipcfs_params p, got;
	char dir[PATH_MAX];

	ipcfs_params_init(&p);
	p.ranks = 3;
	p.slots = 16;
	p.slot_bytes = 1024;
	p.spin_us = 7;
	p.arena_bytes = 1 << 20;
	tl_group(dir, &p);
	struct ipcfs_member *m = tl_join(dir, 0);
	ck_assert_int_eq(ipcfs_group_params(m, &got), 0);
	ck_assert_uint_eq(got.ranks, 3);
	ck_assert_uint_eq(got.slots, 16);
	ck_assert_uint_eq(got.slot_bytes, 1024);
	ck_assert_uint_eq(got.spin_us, 7);
	ck_assert_uint_eq(got.arena_bytes, 1 << 20);
	ck_assert_int_eq(got.numa_node, -1);
	ck_assert_int_eq(ipcfs_group_params(NULL, &got), -EINVAL);
	ck_assert_int_eq(ipcfs_group_params(m, NULL), -EINVAL);
	ipcfs_leave(m);
	tl_group_done(dir);
}
END_TEST

struct child {
	const char *dir;
	int to_parent[2], to_child[2];
};

/* Join rank 2, say so, wait for the word, exit without ipcfs_leave(). */
static int join_hold_and_die(void *arg)
{
	struct child *c = arg;
	struct ipcfs_member *m;
	char x = 0;
	if (ipcfs_join(c->dir, 2, &m) != 2)
		return 1;
	if (write(c->to_parent[1], "j", 1) != 1 || read(c->to_child[0], &x, 1) != 1)
		return 2;
	return 0;
}

START_TEST(reap_gives_a_dead_ranks_slots_back)
{
	struct ipcfs_params p;
	struct child c;
	char dir[PATH_MAX], x;
	struct ipcfs_msg msg;
	uint64_t gone = 0, live;

	ipcfs_params_init(&p);
	p.ranks = 3;
	p.slots = 2;
	tl_group(dir, &p);
	c.dir = dir;
	ck_assert_int_eq(pipe(c.to_parent), 0);
	ck_assert_int_eq(pipe(c.to_child), 0);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	pid_t pid = tl_fork(join_hold_and_die, &c);
	ck_assert_int_eq(read(c.to_parent[0], &x, 1), 1);
	/* Both slots go to ranks 1 and 2; rank 2 never releases them. */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "m", 1, 1000), 0);
		ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
		ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	}
	ck_assert_int_eq(ipcfs_reap(a, &gone), 0); /* alive: nothing to mark */
	ck_assert_uint_eq(gone, 0);
	ck_assert_int_eq(write(c.to_child[1], "d", 1), 1);
	ck_assert_int_eq(tl_wait(pid, 10), 0);
	/* Dead, but not yet marked: its slot is still held. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "m", 1, 0), -EAGAIN);
	ck_assert_int_eq(ipcfs_reap(a, &gone), 1);
	ck_assert_uint_eq(gone, IPCFS_RANK_BIT(2));
	ck_assert_int_eq(ipcfs_live(a, &live), 0);
	ck_assert_uint_eq(live, 3);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "m", 1, 0), 0);
	ck_assert_int_eq(ipcfs_reap(a, NULL), 0); /* marked once */
	ck_assert_int_eq(ipcfs_reap(NULL, NULL), -EINVAL);
	struct ipcfs_rank_stat st;
	ck_assert_int_eq(ipcfs_stat_rank(a, 2, &st), 0);
	ck_assert_int_eq(st.state, IPCFS_STATE_DEAD);
	for (int i = 0; i < 2; i++) {
		close(c.to_parent[i]);
		close(c.to_child[i]);
	}
	ipcfs_leave(b);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("binding");
	TCase *tc = tcase_create("binding");
	tcase_add_test(tc, group_params_as_created);
	tcase_add_test(tc, reap_gives_a_dead_ranks_slots_back);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
