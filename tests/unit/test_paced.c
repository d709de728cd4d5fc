/* SPDX-License-Identifier: MIT */
/* test_paced.c - adaptive waiting on real processes: a sender that pauses
 * between messages (regular steps, then irregular gaps, then a burst per
 * step), a reader that naps between them; nothing lost, nothing reordered,
 * and the reader learnt the pace of the regular part. */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel_int.h"
#include "member_int.h"
#include "testlib.h"

#define STEPS 60    /* regular steps of GAP_US */
#define GAP_US 2000
#define ODD 40      /* irregular gaps */
#define BURST 3     /* then steps of BURST messages each */
#define BSTEPS 20

static const char *group_dir;
/* Where the two ranks run: anywhere, the sender on CPU 0 and the reader on
 * CPU 1, or both on CPU 0 (they compete for it). */
enum placement { UNPINNED, APART, SAME };
static enum placement placement;
/* The group's spin_us: 0 asks for a reader that only sleeps (no plan),
 * one longer than a step for one that only spins (no nap). */
static uint32_t group_spin_us;

static bool naps_expected(void)
{
	return group_spin_us && group_spin_us < GAP_US;
}

static void pin(int cpu)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
}

static void pause_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int total(void)
{
	return STEPS + ODD + BSTEPS * BURST;
}

/* Whether arrivals the reader learnt itself as @p (the times its receives
 * returned, what its library learns from too) were steady enough that the
 * library must have planned: a pattern, and half the jitter a plan allows.
 * On a loaded machine a sleep of GAP_US may last several times that, and
 * the reader's own wake-ups vary: then nothing regular was there to learn. */
static bool steady(const struct pace *p)
{
	return p->samples >= PACE_MIN_SAMPLES &&
	       2 * pace_guard(p) <= pace_guard_max(p->period);
}

/* The reader's exit status when what it learnt of the pace was wrong
 * (14, 15, 17) but the arrivals it saw were not steady, all messages
 * right: not judged. Every other nonzero status fails the test. */
#define NOT_JUDGED 19

/* Rank 1: receives every message in order and acks each; exit status says
 * what went wrong. */
static int reader(void *arg)
{
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	int pace_verdict = 0;
	struct pace seen; /* the arrivals of the regular part, as the test saw them */
	(void)arg;

	pace_reset(&seen);
	if (placement != UNPINNED)
		pin(placement == APART ? 1 : 0);
	if (ipcfs_join(group_dir, 1, &m) < 0)
		return 10;
	for (uint64_t want = 1; want <= (uint64_t)total(); want++) {
		uint64_t v;
		if (ipcfs_recv(m, 0, &msg, 10000))
			return 11;
		if (want <= STEPS)
			pace_arrival(&seen, wait_now_ns());
		if (msg.len != sizeof(v))
			return 12;
		memcpy(&v, msg.data, sizeof(v));
		ipcfs_release(m, &msg);
		if (v != want)
			return 13; /* lost, duplicated or reordered */
		if (want == STEPS) {
			/* The regular part taught the pace of rank 0. */
			struct pace *p = &member_chan(m)->pace[0];
			if (p->samples < PACE_MIN_SAMPLES)
				pace_verdict = 14;
			else if (p->period < GAP_US * 1000ull || p->period > 4 * GAP_US * 1000ull)
				pace_verdict = 15;
			/* With a plan, the waits napped until the message was
			 * nearly due: naps that ran to their end taught how late
			 * they wake. Every placement gets plans: where the
			 * ranks compete for a CPU, the spin after a nap yields. */
			else if (naps_expected() && member_chan(m)->nap_late == 0)
				pace_verdict = 17;
			/* Otherwise never a nap, however steady the steps. */
			if (!naps_expected() && member_chan(m)->nap_late != 0)
				return 18;
			if (pace_verdict && !steady(&seen))
				pace_verdict = NOT_JUDGED;
		}
		if (ipcfs_send(m, IPCFS_RANK_BIT(0), &v, sizeof(v), 10000))
			return 16;
	}
	ipcfs_leave(m);
	return pace_verdict;
}

static void send_one(struct ipcfs_member *m, uint64_t v)
{
	ck_assert_int_eq(ipcfs_send(m, IPCFS_RANK_BIT(1), &v, sizeof(v), 10000), 0);
}

static void ack(struct ipcfs_member *m, uint64_t v)
{
	struct ipcfs_msg msg;
	uint64_t got;
	ck_assert_int_eq(ipcfs_recv(m, 1, &msg, 10000), 0);
	memcpy(&got, msg.data, sizeof(got));
	ck_assert_uint_eq(got, v);
	ipcfs_release(m, &msg);
}

static void paced_exchange(uint32_t spin_us)
{
	cpu_set_t saved;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(saved), &saved), 0);
	char dir[PATH_MAX];
	struct ipcfs_params p;
	struct ipcfs_member *m;
	uint64_t seed = 42, v = 0;

	ipcfs_params_init(&p);
	p.ranks = 2;
	p.spin_us = spin_us;
	group_spin_us = spin_us;
	tl_group(dir, &p);
	group_dir = dir;
	pid_t pid = tl_fork(reader, NULL);
	if (placement != UNPINNED)
		pin(0);
	m = tl_join(dir, 0);
	ck_assert_int_eq(ipcfs_wait_ranks(m, 3, 10000), 0);
	for (int i = 0; i < STEPS; i++) {
		pause_us(GAP_US);
		send_one(m, ++v);
		ack(m, v);
	}
	for (int i = 0; i < ODD; i++) {
		pause_us((long)(tl_rand(&seed) % 4000));
		send_one(m, ++v);
		ack(m, v);
	}
	for (int i = 0; i < BSTEPS; i++) {
		pause_us(GAP_US);
		for (int k = 0; k < BURST; k++)
			send_one(m, ++v);
		for (int k = BURST - 1; k >= 0; k--)
			ack(m, v - (uint64_t)k);
	}
	int status = tl_wait(pid, 60);
	if (status == NOT_JUDGED)
		fprintf(stderr, "paced: reader's pace not judged: the arrivals it saw were too "
			"irregular on this loaded machine\n");
	else
		ck_assert_int_eq(status, 0);
	ipcfs_leave(m);
	tl_group_done(dir);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(saved), &saved), 0);
}

START_TEST(paced_default_spin)
{
	paced_exchange(50);
}
END_TEST

/* Ranks pinned apart (as deployed): the reader naps and spins through the
 * due time; still exactly once and in order. */
START_TEST(paced_pinned_apart)
{
	cpu_set_t own;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(own), &own), 0);
	if (CPU_COUNT(&own) < 2 || !CPU_ISSET(0, &own) || !CPU_ISSET(1, &own))
		return; /* needs CPUs 0 and 1 */
	placement = APART;
	paced_exchange(50);
	placement = UNPINNED;
}
END_TEST

/* Both ranks on one CPU: the reader naps and spins through the due time
 * too, yielding in every round so that the sender gets the CPU; still
 * exactly once and in order. */
START_TEST(paced_pinned_together)
{
	cpu_set_t own;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(own), &own), 0);
	if (!CPU_ISSET(0, &own))
		return; /* needs CPU 0 */
	placement = SAME;
	paced_exchange(50);
	placement = UNPINNED;
}
END_TEST

START_TEST(paced_spin_only)
{
	/* spin_us past the step: a reader that only spins (no nap); still
	 * exactly once and in order. */
	paced_exchange(1000000);
}
END_TEST

START_TEST(paced_no_spin)
{
	/* spin_us 0: a reader that only sleeps, paced or not (no plan, no
	 * nap, no spin); still exactly once and in order. */
	paced_exchange(0);
}
END_TEST

/* ---- relayed ranks: spinning while their messages flow ---- */

#define RELAY_N 200
/* Gaps past spin_us and inside FLOW_GAP_NS, drawn at random in this range:
 * too irregular for a pace's plan, whose naps would count as sleeps. */
#define RELAY_GAP_MIN_US 50
#define RELAY_GAP_MAX_US 300

/* Rank 1: receives RELAY_N messages from rank 0, which pauses between
 * them; exit status 0 when its waits spun through the gaps (few sleeps),
 * NOT_JUDGED when the gaps it saw were too often past the flow's window
 * (a loaded machine), 20 + n for lost or reordered messages, 30 when it
 * slept through the flow. */
static int relay_reader(void *arg)
{
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	unsigned long_gaps = 0;
	uint64_t last = 0;
	(void)arg;

	if (ipcfs_join(group_dir, 1, &m) < 0)
		return 20;
	struct seg_rank *me = seg_rank(&member_chan(m)->seg, 1);
	for (uint64_t want = 1; want <= RELAY_N; want++) {
		uint64_t v;
		if (ipcfs_recv(m, 0, &msg, 10000))
			return 21;
		memcpy(&v, msg.data, sizeof(v));
		ipcfs_release(m, &msg);
		if (v != want)
			return 22;
		uint64_t now = wait_now_ns();
		long_gaps += last && now - last > FLOW_GAP_NS * 4 / 5;
		last = now;
	}
	uint64_t sleeps = atomic_load(&me->rx_sleeps);
	ipcfs_leave(m);
	/* A gap past the window ends the flow: that wait and the next may
	 * sleep. Anything else should have found the reader spinning. */
	if (long_gaps > RELAY_N / 10)
		return NOT_JUDGED;
	return sleeps <= 2 * long_gaps + RELAY_N / 10 ? 0 : 30;
}

/* A rank a bridge relays (seg_rank.relay) sends RELAY_N messages at
 * irregular gaps, as a remote exchange delivers them: its reader
 * spins through the gaps (spin_us alone would sleep in each); the flag
 * goes when another process takes the rank. */
START_TEST(relayed_flow_spins)
{
	char dir[PATH_MAX];
	struct ipcfs_params p;
	uint64_t seed = 7;

	ipcfs_params_init(&p);
	p.ranks = 2;
	p.spin_us = 20;
	tl_group(dir, &p);
	group_dir = dir;
	pid_t pid = tl_fork(relay_reader, NULL);
	struct ipcfs_member *m = tl_join(dir, 0);
	member_mark_relay(m);
	ck_assert_int_eq(ipcfs_wait_ranks(m, 3, 10000), 0);
	for (uint64_t v = 1; v <= RELAY_N; v++) {
		ck_assert_int_eq(ipcfs_send(m, IPCFS_RANK_BIT(1), &v, sizeof(v), 10000), 0);
		pause_us(RELAY_GAP_MIN_US + (long)(tl_rand(&seed) % (RELAY_GAP_MAX_US - RELAY_GAP_MIN_US)));
	}
	int status = tl_wait(pid, 60);
	if (status == NOT_JUDGED)
		fprintf(stderr, "paced: relayed flow not judged: the gaps the reader saw were too "
			"often past the window on this loaded machine\n");
	else
		ck_assert_int_eq(status, 0);
	ipcfs_leave(m);
	/* The next process to take rank 0 relays nothing until it says so. */
	m = tl_join(dir, 0);
	ck_assert_uint_eq(atomic_load(&seg_rank(member_seg(m), 0)->relay), 0);
	ipcfs_leave(m);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("paced");
	TCase *tc = tcase_create("paced");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, paced_default_spin);
	tcase_add_test(tc, paced_no_spin);
	tcase_add_test(tc, paced_spin_only);
	tcase_add_test(tc, paced_pinned_apart);
	tcase_add_test(tc, paced_pinned_together);
	tcase_add_test(tc, relayed_flow_spins);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
