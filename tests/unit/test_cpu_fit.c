/* SPDX-License-Identifier: MIT */
/* test_cpu_fit.c - the waiting mode chosen for each affinity layout: the
 * pure matching, then real member processes pinned with
 * sched_setaffinity and the verdict a peer computes from the segment. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu_fit_int.h"
#include "channel_int.h"
#include "member_int.h"
#include "testlib.h"

/* @sets[i] = the CPUs listed in @spec[i] ("01" = CPUs 0 and 1; "*" = the
 * first @ncpu CPUs). */
static void layout(cpu_set_t *sets, const char *const *spec, unsigned n, int ncpu)
{
	for (unsigned r = 0; r < n; r++) {
		CPU_ZERO(&sets[r]);
		for (const char *c = spec[r]; *c; c++) {
			if (*c == '*')
				for (int k = 0; k < ncpu; k++)
					CPU_SET(k, &sets[r]);
			else
				CPU_SET(*c - '0', &sets[r]);
		}
	}
}

static bool compete(const char *const *spec, unsigned n, int ncpu)
{
	cpu_set_t sets[8];
	layout(sets, spec, n, ncpu);
	return cpu_sets_compete(sets, n);
}

START_TEST(pure_layouts)
{
	/* Pinned to distinct CPUs: each has its own (the case). */
	ck_assert(!compete((const char *[]){ "0", "1" }, 2, 2));
	/* Pinned to the same CPU: they compete. */
	ck_assert(compete((const char *[]){ "0", "0" }, 2, 2));
	/* Unpinned: compete only when there are more ranks than CPUs. */
	ck_assert(!compete((const char *[]){ "*", "*" }, 2, 2));
	ck_assert(compete((const char *[]){ "*", "*", "*" }, 3, 2));
	ck_assert(!compete((const char *[]){ "*", "*", "*", "*" }, 4, 8));
	/* One pinned, one free on the same two CPUs: the free one moves. */
	ck_assert(!compete((const char *[]){ "*", "0" }, 2, 2));
	/* A matching needs moving an earlier choice (augmenting path):
	 * rank 0 first takes CPU 0, rank 1 needs it, 0 moves to 1, 2 to 2. */
	ck_assert(!compete((const char *[]){ "01", "0", "12" }, 3, 3));
	/* Enough CPUs in the union, but not in the right places (Hall). */
	ck_assert(compete((const char *[]){ "0", "0", "123" }, 3, 4));
	ck_assert(compete((const char *[]){ "01", "01", "01", "2" }, 4, 3));
	/* Nothing live: nobody competes. */
	ck_assert(!cpu_sets_compete(NULL, 0));
}
END_TEST

struct pinned {
	const char *dir;
	int rank, cpu;   /* cpu < 0: unpinned */
	int up[2], down[2]; /* child -> parent, parent -> child */
};

/* A member pinned to its CPU: joins, says so, answers 'v' with the
 * waiting mode its own channel chose ('1': yield), leaves on 'q'. */
static int pinned_member(void *arg)
{
	struct pinned *p = arg;
	struct ipcfs_member *m;
	char c = 'r';

	if (p->cpu >= 0) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(p->cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			return 10;
	}
	if (ipcfs_join(p->dir, p->rank, &m) < 0)
		return 11;
	if (write(p->up[1], &c, 1) != 1)
		return 12;
	while (read(p->down[0], &c, 1) == 1 && c == 'v') {
		c = chan_cpus_compete(member_chan(m)) ? '1' : '0';
		if (write(p->up[1], &c, 1) != 1)
			return 13;
	}
	ipcfs_leave(m);
	return c == 'q' ? 0 : 14;
}

/* The waiting mode each of @nr members chooses when pinned to @cpus
 * (-1: unpinned), all joined as real processes; they must agree. */
static bool verdict(const int *cpus, unsigned nr)
{
	char dir[PATH_MAX];
	struct ipcfs_params p;
	struct pinned pins[4];
	pid_t pids[4];
	char c;
	int v = -1;

	ipcfs_params_init(&p);
	p.ranks = nr;
	tl_group(dir, &p);
	for (unsigned r = 0; r < nr; r++) {
		pins[r] = (struct pinned){ .dir = dir, .rank = (int)r, .cpu = cpus[r] };
		ck_assert_int_eq(pipe(pins[r].up), 0);
		ck_assert_int_eq(pipe(pins[r].down), 0);
		pids[r] = tl_fork(pinned_member, &pins[r]);
		/* Our copies of the child's ends closed: a child that fails
		 * gives EOF here, not a hang. */
		close(pins[r].up[1]);
		close(pins[r].down[0]);
		ck_assert_int_eq(read(pins[r].up[0], &c, 1), 1);
	}
	for (unsigned r = 0; r < nr; r++) {
		c = 'v';
		ck_assert_int_eq(write(pins[r].down[1], &c, 1), 1);
		ck_assert_int_eq(read(pins[r].up[0], &c, 1), 1);
		ck_assert(c == '0' || c == '1');
		ck_assert(v < 0 || v == c - '0');
		v = c - '0';
	}
	for (unsigned r = 0; r < nr; r++) {
		c = 'q';
		ck_assert_int_eq(write(pins[r].down[1], &c, 1), 1);
		ck_assert_int_eq(tl_wait(pids[r], 30), 0);
		close(pins[r].up[0]);
		close(pins[r].down[1]);
	}
	tl_group_done(dir);
	return v == 1;
}

static int online_cpus(void)
{
	cpu_set_t own;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(own), &own), 0);
	return CPU_COUNT(&own);
}

START_TEST(processes_pinned_apart)
{
	if (online_cpus() < 2)
		return; /* nothing to pin apart on one CPU */
	/* Before cpu_fit, each process counted its own mask (1 CPU) and
	 * took the yielding path although the peer had a CPU of its own. */
	ck_assert(!verdict((const int[]){ 0, 1 }, 2));
}
END_TEST

START_TEST(processes_pinned_together)
{
	ck_assert(verdict((const int[]){ 0, 0 }, 2));
}
END_TEST

START_TEST(processes_unpinned)
{
	int n = online_cpus();
	ck_assert(!verdict((const int[]){ -1, -1 }, 2) || n < 2);
	/* Three unpinned ranks compete exactly when there are fewer CPUs. */
	ck_assert_int_eq(verdict((const int[]){ -1, -1, -1 }, 3), n < 3);
}
END_TEST

START_TEST(recomputed_when_live_changes)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct ipcfs_params p;
	struct ipcfs_member *a, *b;
	struct seg_map m;
	struct cpu_fit fit = { 0 };
	cpu_set_t old, one;

	/* This process pinned to CPU 0, as rank 0 and rank 1: two ranks on
	 * one CPU compete; with rank 1 gone, the one left does not. */
	ck_assert_int_eq(sched_getaffinity(0, sizeof(old), &old), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	ipcfs_params_init(&p);
	p.ranks = 2;
	tl_group(dir, &p);
	a = tl_join(dir, 0);
	b = tl_join(dir, 1);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, 0, &m), 0);
	ck_assert(cpu_fit_compete(&fit, &m));
	ipcfs_leave(b);
	ck_assert(!cpu_fit_compete(&fit, &m));
	ck_assert_uint_eq(fit.uses, 0);
	seg_unmap(&m);
	ipcfs_leave(a);
	tl_group_done(dir);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(old), &old), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu_fit");
	TCase *tc = tcase_create("cpu_fit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pure_layouts);
	tcase_add_test(tc, processes_pinned_apart);
	tcase_add_test(tc, processes_pinned_together);
	tcase_add_test(tc, processes_unpinned);
	tcase_add_test(tc, recomputed_when_live_changes);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
