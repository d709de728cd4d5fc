/* SPDX-License-Identifier: MIT */
/* test_pace.c - the arrival predictor of adaptive waiting, on synthetic
 * arrival times (no clock, no processes). */
#include "pace_int.h"
#include "testlib.h"

#define US 1000ull
#define MS (1000 * US)

/* Feed @n arrivals @iv apart, each late by a jitter from @seed in
 * [0, @jit); returns the last arrival time. */
static uint64_t feed(struct pace *p, uint64_t t, unsigned n, uint64_t iv, uint64_t jit,
		     uint64_t *seed)
{
	for (unsigned i = 0; i < n; i++) {
		t += iv;
		pace_arrival(p, t + (jit ? tl_rand(seed) % jit : 0));
	}
	return t;
}

START_TEST(regular_steps_get_a_plan)
{
	struct pace p;
	uint64_t nap, spin, seed = 7;

	pace_reset(&p);
	uint64_t t = feed(&p, 1 * MS, PACE_MIN_SAMPLES, 2 * MS, 10 * US, &seed);
	/* Not yet: PACE_MIN_SAMPLES arrivals make PACE_MIN_SAMPLES - 1
	 * intervals. */
	ck_assert(!pace_plan(&p, t + 50 * US, &nap, &spin));
	t = feed(&p, t, 20, 2 * MS, 10 * US, &seed);
	ck_assert(pace_plan(&p, p.last + 50 * US, &nap, &spin));
	/* The period learnt is the step, within the jitter. */
	ck_assert_uint_le(p.period > 2 * MS ? p.period - 2 * MS : 2 * MS - p.period, 10 * US);
	uint64_t due = p.last + p.period;
	ck_assert_uint_lt(nap, due);
	ck_assert_uint_gt(spin, due);
	/* The spin around the due time is a small share of the step. */
	ck_assert_uint_le(spin - nap, 2 * 2 * MS / PACE_SHARE);
	ck_assert_uint_ge(due - nap, PACE_SLACK_NS);
}
END_TEST

/* The nap ends one jitter (and the slack) before the due time, the spin
 * goes on for twice the jitter (and the slack) after it: arrivals are
 * spun for from the nap's end, so the early side is what costs CPU, and
 * only its share of early arrivals pays a wake-up. (The plan used to be
 * symmetric: two jitters on each side, 18-25% more CPU per step for no
 * measurable latency.) */
START_TEST(nap_ends_one_jitter_before_due)
{
	struct pace p;
	uint64_t nap, spin, seed = 13;

	pace_reset(&p);
	feed(&p, MS, 40, 2 * MS, 40 * US, &seed);
	ck_assert_uint_gt(p.jitter, 0);
	ck_assert(pace_plan(&p, p.last + 50 * US, &nap, &spin));
	uint64_t due = p.last + p.period;
	ck_assert_uint_eq(due - nap, p.jitter + PACE_SLACK_NS);
	ck_assert_uint_eq(spin - due, 2 * p.jitter + PACE_SLACK_NS);
}
END_TEST

/* 0.5 ms steps whose sender's sleep wakes late by 0 or 50 us in turn
 * (intervals 50 us off the step, as a 0.5 ms sleep varies on a VM): a
 * plan. With the guard bounded to a sixth of the step, as until
 * 2026-12-02, there was none (pace_int.h, PACE_GUARD_NS). */
START_TEST(vm_jitter_at_half_a_millisecond_gets_a_plan)
{
	struct pace p;
	uint64_t nap, spin, t = MS;

	pace_reset(&p);
	for (int i = 0; i < 40; i++) {
		t += 500 * US;
		pace_arrival(&p, t + (i & 1) * 50 * US);
	}
	ck_assert_uint_ge(p.jitter, 40 * US);
	ck_assert_uint_gt(pace_guard(&p), p.period / PACE_SHARE);
	ck_assert(pace_plan(&p, p.last + 50 * US, &nap, &spin));
	/* What it spins for stays bounded: one jitter before the due
	 * time, the guard after it. */
	ck_assert_uint_le(spin - nap, PACE_GUARD_NS * 3 / 2);
}
END_TEST

START_TEST(irregular_traffic_gets_none)
{
	struct pace p;
	uint64_t nap, spin, seed = 11, t = MS;

	pace_reset(&p);
	for (int i = 0; i < 200; i++) {
		t += 200 * US + tl_rand(&seed) % (5 * MS);
		pace_arrival(&p, t);
		ck_assert(!pace_plan(&p, t + 10 * US, &nap, &spin));
	}
}
END_TEST

START_TEST(due_now_spins_at_once)
{
	struct pace p;
	uint64_t nap, spin, seed = 3;

	pace_reset(&p);
	feed(&p, MS, 30, 1 * MS, 0, &seed);
	uint64_t due = p.last + p.period;
	/* Asked inside the guard before the due time: no nap, spin now. */
	ck_assert(pace_plan(&p, due - 5 * US, &nap, &spin));
	ck_assert_uint_eq(nap, due - 5 * US);
	ck_assert_uint_gt(spin, due);
}
END_TEST

START_TEST(skipped_step_then_pattern_change)
{
	struct pace p;
	uint64_t nap, spin, seed = 5;

	pace_reset(&p);
	uint64_t t = feed(&p, MS, 30, 2 * MS, 0, &seed);
	uint64_t period = p.period;
	/* One step skipped: an outlier, the pattern stays. */
	t += 4 * MS;
	pace_arrival(&p, t);
	ck_assert_uint_eq(p.period, period);
	ck_assert(pace_plan(&p, t + 10 * US, &nap, &spin));
	/* Overdue (the sender skipped again): the plan is for the step
	 * after, a whole period later, not for a time already past. */
	ck_assert(pace_plan(&p, t + 2 * MS + MS / 2, &nap, &spin));
	ck_assert_uint_gt(spin, t + 4 * MS);
	ck_assert_uint_lt(nap, t + 4 * MS);
	/* Two outliers in a row: the pattern changed, start over. */
	t += 7 * MS;
	pace_arrival(&p, t);
	ck_assert_uint_eq(p.samples, 0);
	ck_assert(!pace_plan(&p, t + 10 * US, &nap, &spin));
	/* The new pattern is learnt. */
	feed(&p, t, 10, 7 * MS, 0, &seed);
	ck_assert(pace_plan(&p, p.last + 10 * US, &nap, &spin));
	ck_assert_uint_eq(p.period, 7 * MS);
}
END_TEST

START_TEST(out_of_range_intervals)
{
	struct pace p;
	uint64_t nap, spin, seed = 9;

	pace_reset(&p);
	/* Back to back (below PACE_MIN_NS): the spin window covers those. */
	feed(&p, MS, 50, 20 * US, 0, &seed);
	ck_assert(!pace_plan(&p, p.last + US, &nap, &spin));
	/* A long pause forgets a learnt pattern. */
	feed(&p, p.last, 20, 2 * MS, 0, &seed);
	ck_assert(pace_plan(&p, p.last + US, &nap, &spin));
	pace_arrival(&p, p.last + PACE_MAX_NS + 1);
	ck_assert(!pace_plan(&p, p.last + US, &nap, &spin));
	/* A clock that did not move (two arrivals at one time) changes
	 * nothing. */
	struct pace q = p;
	pace_arrival(&p, p.last);
	ck_assert_uint_eq(p.samples, q.samples);
}
END_TEST

/* How late naps wake: learnt as a running mean, not moved by a nap that
 * ended early (a message woke it), bounded against one long stall. */
START_TEST(nap_lateness_is_learnt)
{
	uint64_t late = 0;

	for (int i = 0; i < 40; i++)
		pace_late(&late, 10 * MS, 10 * MS + 20 * US);
	ck_assert_uint_ge(late, 19 * US);
	ck_assert_uint_le(late, 20 * US);
	pace_late(&late, 10 * MS, 9 * MS);
	ck_assert_uint_ge(late, 19 * US);
	/* One stall of a second moves it by a quarter of the bound only. */
	pace_late(&late, 10 * MS, 10 * MS + 1000 * MS);
	ck_assert_uint_le(late, 20 * US + 200 * US / 4);
}
END_TEST

/* Spinning while messages flow: two messages at most FLOW_GAP_NS apart
 * open a window of FLOW_GAP_NS after the last; a longer gap closes it; a
 * group that asked for no spinning gets none. */
START_TEST(flow_window)
{
	struct flow f = { 0 };

	flow_note(&f, 10 * MS);
	ck_assert_uint_eq(flow_spin_us(&f, 10 * MS, 50), 50); /* one message: no flow */
	flow_note(&f, 10 * MS + 200 * US);
	ck_assert_uint_eq(flow_spin_us(&f, 10 * MS + 300 * US, 50), (FLOW_GAP_NS - 100 * US) / US);
	ck_assert_uint_eq(flow_spin_us(&f, 10 * MS + 300 * US, 0), 0);
	/* Past the window, or a window shorter than spin_us: spin_us. */
	ck_assert_uint_eq(flow_spin_us(&f, 11 * MS, 50), 50);
	ck_assert_uint_eq(flow_spin_us(&f, 10 * MS + 200 * US + FLOW_GAP_NS - 10 * US, 50), 50);
	/* A gap past FLOW_GAP_NS ends the flow; the next close one opens it. */
	flow_note(&f, 20 * MS);
	ck_assert_uint_eq(flow_spin_us(&f, 20 * MS, 50), 50);
	flow_note(&f, 20 * MS + FLOW_GAP_NS);
	ck_assert_uint_eq(flow_spin_us(&f, 20 * MS + FLOW_GAP_NS, 50), FLOW_GAP_NS / US);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pace");
	TCase *tc = tcase_create("pace");
	tcase_add_test(tc, regular_steps_get_a_plan);
	tcase_add_test(tc, nap_ends_one_jitter_before_due);
	tcase_add_test(tc, vm_jitter_at_half_a_millisecond_gets_a_plan);
	tcase_add_test(tc, irregular_traffic_gets_none);
	tcase_add_test(tc, due_now_spins_at_once);
	tcase_add_test(tc, skipped_step_then_pattern_change);
	tcase_add_test(tc, out_of_range_intervals);
	tcase_add_test(tc, nap_lateness_is_learnt);
	tcase_add_test(tc, flow_window);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
