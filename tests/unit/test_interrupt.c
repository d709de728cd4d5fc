/* SPDX-License-Identifier: MIT */
/*
 * test_interrupt.c - what the bridge between machines needs of the
 * library: ipcfs_interrupt() ends a receive waiting in another thread
 * (and only one), ipcfs_msg_dest() gives a held view's destination mask.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testlib.h"

struct waiting {
	struct ipcfs_member *m;
	_Atomic int rc;
	_Atomic bool started;
};

static void *recv_forever(void *arg)
{
	struct waiting *w = arg;
	struct ipcfs_msg msg;

	atomic_store(&w->started, true);
	atomic_store(&w->rc, ipcfs_recv(w->m, IPCFS_ANY, &msg, -1));
	return NULL;
}

START_TEST(interrupt_ends_one_receive)
{
	char dir[PATH_MAX];
	tl_group(dir, NULL);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	struct waiting w = { .m = b, .rc = 1 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, recv_forever, &w), 0);
	while (!atomic_load(&w.started))
		usleep(1000);
	usleep(100 * 1000); /* asleep on its futex by now (spin_us 50) */
	ck_assert_int_eq(atomic_load(&w.rc), 1);
	ck_assert_int_eq(ipcfs_interrupt(b), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(atomic_load(&w.rc), -EINTR);
	/* One interrupt ends one receive: the next waits (and times out),
	 * and an interrupt with nobody waiting ends the next one at once. */
	struct ipcfs_msg msg;
	ck_assert_int_eq(ipcfs_recv(b, IPCFS_ANY, &msg, 20), -ETIMEDOUT);
	ck_assert_int_eq(ipcfs_interrupt(b), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, -1), -EINTR);
	/* Messages still flow. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "x", 1, -1), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ck_assert_int_eq(ipcfs_interrupt(NULL), -EINVAL);
	ipcfs_leave(a);
	ipcfs_leave(b);
	tl_group_done(dir);
}
END_TEST

START_TEST(msg_dest)
{
	char dir[PATH_MAX];
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = 4;
	tl_group(dir, &p);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1), *c = tl_join(dir, 2);
	struct ipcfs_msg msg;
	uint64_t dest = 0;

	/* IPCFS_ALL resolved to the live ranks it reached (3 never joined). */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "x", 1, -1), 0);
	ck_assert_int_eq(ipcfs_send(a, IPCFS_RANK_BIT(1), "y", 1, -1), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
	ck_assert_int_eq(ipcfs_msg_dest(b, &msg, &dest), 0);
	ck_assert_uint_eq(dest, IPCFS_RANK_BIT(1) | IPCFS_RANK_BIT(2));
	ck_assert_int_eq(ipcfs_msg_dest(c, &msg, &dest), -EINVAL); /* not c's view */
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ck_assert_int_eq(ipcfs_msg_dest(b, &msg, &dest), -EINVAL); /* released */
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
	ck_assert_int_eq(ipcfs_msg_dest(b, &msg, &dest), 0);
	ck_assert_uint_eq(dest, IPCFS_RANK_BIT(1));
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	ipcfs_leave(a);
	ipcfs_leave(b);
	ipcfs_leave(c);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("interrupt");
	TCase *tc = tcase_create("bridge needs");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, interrupt_ends_one_receive);
	tcase_add_test(tc, msg_dest);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
