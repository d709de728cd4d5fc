/* SPDX-License-Identifier: MIT */
/* test_member.c - groups in plain directories, joining and leaving. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "member_int.h"
#include "segment_int.h"
#include "testlib.h"

START_TEST(create_exists_and_destroy)
{
	char dir[PATH_MAX];
	tl_group(dir, NULL);
	ck_assert_int_eq(ipcfs_group_create(dir, NULL), -EEXIST);
	tl_group_done(dir);
	ck_assert_int_eq(ipcfs_group_destroy(dir), -ENOENT);
	struct ipcfs_member *m;
	ck_assert_int_eq(ipcfs_join(dir, 0, &m), -ENOENT);
}
END_TEST

START_TEST(join_ranks)
{
	struct ipcfs_params p;
	char dir[PATH_MAX];
	struct ipcfs_member *a, *b, *c, *x;
	uint64_t live;

	ipcfs_params_init(&p);
	p.ranks = 3;
	tl_group(dir, &p);
	a = tl_join(dir, 1);
	ck_assert_int_eq(ipcfs_rank(a), 1);
	ck_assert_int_eq(ipcfs_size(a), 3);
	/* Held by a live process (us). */
	ck_assert_int_eq(ipcfs_join(dir, 1, &x), -EBUSY);
	ck_assert_int_eq(ipcfs_join(dir, 3, &x), -EINVAL);
	ck_assert_int_eq(ipcfs_join(dir, -2, &x), -EINVAL);
	/* -1 takes the lowest free ranks. */
	ck_assert_int_eq(ipcfs_join(dir, -1, &b), 0);
	ck_assert_int_eq(ipcfs_join(dir, -1, &c), 2);
	ck_assert_int_eq(ipcfs_join(dir, -1, &x), -EBUSY);
	ck_assert_int_eq(ipcfs_live(a, &live), 0);
	ck_assert_uint_eq(live, 7);
	ck_assert_int_eq(ipcfs_leave(b), 0);
	ck_assert_int_eq(ipcfs_live(a, &live), 0);
	ck_assert_uint_eq(live, 6);
	struct ipcfs_rank_stat st;
	ck_assert_int_eq(ipcfs_stat_rank(a, 0, &st), 0);
	ck_assert_int_eq(st.state, IPCFS_STATE_LEFT);
	ck_assert_str_eq(ipcfs_state_name(st.state), "left");
	ck_assert_int_eq(ipcfs_stat_rank(a, 1, &st), 0);
	ck_assert_int_eq(st.state, IPCFS_STATE_LIVE);
	ck_assert_int_eq(st.pid, getpid());
	ck_assert_int_eq(ipcfs_stat_rank(a, 3, &st), -EINVAL);
	/* A left rank can be taken again. */
	ck_assert_int_eq(ipcfs_join(dir, -1, &b), 0);
	ck_assert_int_eq(ipcfs_leave(a), 0);
	ck_assert_int_eq(ipcfs_leave(b), 0);
	ck_assert_int_eq(ipcfs_leave(c), 0);
	ck_assert_int_eq(ipcfs_leave(NULL), -EINVAL);
	tl_group_done(dir);
}
END_TEST

static int join_and_die(void *arg)
{
	struct ipcfs_member *m;
	return ipcfs_join(arg, 0, &m) == 0 ? 0 : 1;
	/* exits without ipcfs_leave: the rank stays "live" in the segment */
}

START_TEST(dead_owner_taken_over)
{
	char dir[PATH_MAX];
	tl_group(dir, NULL);
	ck_assert_int_eq(tl_wait(tl_fork(join_and_die, dir), 10), 0);
	/* The child is reaped: its pid is gone, so the rank can be claimed. */
	struct ipcfs_member *m = tl_join(dir, 0);
	struct ipcfs_rank_stat st;
	ck_assert_int_eq(ipcfs_stat_rank(m, 0, &st), 0);
	ck_assert_int_eq(st.pid, getpid());
	ipcfs_leave(m);
	tl_group_done(dir);
}
END_TEST

/* A finisher of rank 1's last departure holds its next byte (another open
 * file description of ours, as the daemon's or a reaping reader's would
 * be) for @arg milliseconds. */
struct finisher {
	struct seg_map seg;
	uint64_t gen;
	unsigned hold_ms;
};

static void *finisher_drops(void *arg)
{
	struct finisher *f = arg;
	usleep(f->hold_ms * 1000);
	seg_live_lock_drop(&f->seg, 1, f->gen);
	return NULL;
}

/* A worker restarted the moment its predecessor's departure is being
 * finished got -EBUSY ("held by a live process"), although nobody held
 * the rank: the CI run of fsd_pidns.sh whose namespaced member did not
 * join. Now the claim waits for the finisher; a live owner is still busy
 * at once. */
START_TEST(claim_waits_for_a_finisher)
{
	struct ipcfs_params p;
	char dir[PATH_MAX];
	struct ipcfs_member *a, *b, *x;
	struct finisher f = { .hold_ms = 100 };
	pthread_t t;

	ipcfs_params_init(&p);
	p.ranks = 2;
	tl_group(dir, &p);
	a = tl_join(dir, 0);
	ck_assert_int_eq(ipcfs_leave(tl_join(dir, 1)), 0);
	tl_map_seg(dir, &f.seg);
	f.gen = atomic_load(&seg_rank(&f.seg, 1)->joins) + 1;
	ck_assert_int_eq(seg_live_lock_take(&f.seg, 1, f.gen), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, finisher_drops, &f), 0);
	ck_assert_int_eq(ipcfs_join(dir, 1, &b), 1);
	pthread_join(t, NULL);
	/* Rank 0 is live: busy even while its next byte is held. */
	ck_assert_int_eq(seg_live_lock_take(&f.seg, 0, atomic_load(&seg_rank(&f.seg, 0)->joins) + 1), 0);
	ck_assert_int_eq(ipcfs_join(dir, 0, &x), -EBUSY);
	seg_unmap(&f.seg);
	ck_assert_int_eq(ipcfs_leave(a), 0);
	ck_assert_int_eq(ipcfs_leave(b), 0);
	tl_group_done(dir);
}
END_TEST

START_TEST(bad_shm_file)
{
	char dir[PATH_MAX], file[PATH_MAX + 8], seg[PATH_MAX];
	struct ipcfs_member *m;
	tl_group(dir, NULL);
	snprintf(file, sizeof(file), "%s/shm", dir);
	ck_assert_int_eq(member_segment_path(dir, seg, sizeof(seg)), 0);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("relative/path\n", f);
	fclose(f);
	ck_assert_int_eq(ipcfs_join(dir, 0, &m), -EBADMSG);
	f = fopen(file, "w");
	fputs("/nonexistent/ipcfs-segment\n", f);
	fclose(f);
	ck_assert_int_eq(ipcfs_join(dir, 0, &m), -ENOENT);
	/* Put the real name back, so that the group is destroyed as usual. */
	f = fopen(file, "w");
	fprintf(f, "%s\n", seg);
	fclose(f);
	tl_group_done(dir);
}
END_TEST

struct pair {
	struct ipcfs_member *a, *b;
};

/* In a child of the process that joined: every use of the parent's
 * members is refused, and leaving touches nothing of the parent's. */
static int use_parents_member(void *arg)
{
	struct pair *p = arg;
	struct ipcfs_msg msg;
	void *buf;
	int x = 1;

	if (ipcfs_send(p->a, IPCFS_ALL, &x, sizeof(x), 0) != -ECHILD)
		return 2;
	if (ipcfs_recv(p->b, IPCFS_ANY, &msg, 0) != -ECHILD)
		return 3;
	if (ipcfs_reserve(p->a, 8, &buf, 0) != -ECHILD || ipcfs_commit(p->a, IPCFS_ALL, 8) != -ECHILD)
		return 4;
	if (ipcfs_wait_ranks(p->a, IPCFS_ALL, 0) != -ECHILD)
		return 5;
	if (ipcfs_leave(p->a) != -ECHILD)
		return 6;
	return 0;
}

START_TEST(forked_child_gets_echild)
{
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	int x = 7;

	tl_group(dir, NULL);
	struct pair p = { tl_join(dir, 0), tl_join(dir, 1) };
	/* A message waits for rank 1: a child that used the parent's member
	 * would take it (and half of all messages) silently. */
	ck_assert_int_eq(ipcfs_send(p.a, IPCFS_ALL, &x, sizeof(x), 0), 0);
	ck_assert_int_eq(tl_wait(tl_fork(use_parents_member, &p), 30), 0);
	/* The parent's members are untouched: rank 0 is live, the message
	 * is still there. */
	uint64_t live;
	ck_assert_int_eq(ipcfs_live(p.b, &live), 0);
	ck_assert_uint_eq(live, 3);
	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(*(const int *)msg.data, 7);
	ck_assert_int_eq(ipcfs_release(p.b, &msg), 0);
	ck_assert_int_eq(ipcfs_leave(p.a), 0);
	ck_assert_int_eq(ipcfs_leave(p.b), 0);
	tl_group_done(dir);
}
END_TEST

/* ---- ipcfs_set_interrupt ------------------------------------------------ */

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

static int flag_set(void *arg)
{
	(void)arg;
	return alarmed;
}

static int count_asks(void *arg)
{
	(*(unsigned *)arg)++;
	return 0;
}

/* A signal whose handler only sets a flag ends a blocked receive with
 * -EINTR, and the message sent after it is still there. */
START_TEST(interrupt_ends_a_blocked_receive)
{
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	struct ipcfs_rank_stat st;
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	int x = 5;

	tl_group(dir, NULL);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	ck_assert_int_eq(ipcfs_set_interrupt(NULL, flag_set, NULL), -EINVAL);
	ck_assert_int_eq(ipcfs_set_interrupt(b, flag_set, NULL), 0);
	alarmed = 0;
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 20000), -EINTR);
	ck_assert(alarmed);
	/* A pending message is taken whatever the callback says. */
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, &x, sizeof(x), 0), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 1000), 0);
	ck_assert_int_eq(*(const int *)msg.data, 5);
	ck_assert_int_eq(ipcfs_release(b, &msg), 0);
	/* A flag already set before the sleep is seen at the next check. */
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 20000), -EINTR);
	ck_assert_int_eq(ipcfs_stat_rank(b, 1, &st), 0);
	ck_assert_uint_eq(st.timeouts, 0);
	signal(SIGALRM, SIG_DFL);
	ipcfs_leave(b);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

/* The checks of a long wait are not timeouts: a wait that runs out counts
 * one, however often the callback was asked. */
START_TEST(interrupt_checks_are_not_timeouts)
{
	char dir[PATH_MAX];
	struct ipcfs_msg msg;
	struct ipcfs_rank_stat st;
	unsigned asks = 0;

	tl_group(dir, NULL);
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	ck_assert_int_eq(ipcfs_set_interrupt(b, count_asks, &asks), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 400), -ETIMEDOUT);
	ck_assert_uint_ge(asks, 3);
	ck_assert_int_eq(ipcfs_stat_rank(b, 1, &st), 0);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_int_eq(ipcfs_set_interrupt(b, NULL, NULL), 0);
	asks = 0;
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 100), -ETIMEDOUT);
	ck_assert_uint_eq(asks, 0);
	ipcfs_leave(b);
	ipcfs_leave(a);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("member");
	TCase *tc = tcase_create("member");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_exists_and_destroy);
	tcase_add_test(tc, join_ranks);
	tcase_add_test(tc, dead_owner_taken_over);
	tcase_add_test(tc, claim_waits_for_a_finisher);
	tcase_add_test(tc, bad_shm_file);
	tcase_add_test(tc, forked_child_gets_echild);
	tcase_add_test(tc, interrupt_ends_a_blocked_receive);
	tcase_add_test(tc, interrupt_checks_are_not_timeouts);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
