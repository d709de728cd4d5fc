/* SPDX-License-Identifier: MIT */
/*
 * pace_int.h - when is a sender's next message due? Adaptive waiting for
 * paced traffic (one broadcast per model step, milliseconds apart).
 *
 * A reader that sleeps on the futex between steps makes every step pay a
 * wake-up (the sender's system call and the reader's trip through the
 * scheduler); one that spins burns a CPU. A pace learns, per sender, the
 * interval between messages that ended an idle wait and how much it
 * varies; the reader then naps (on the futex, so an early message still
 * wakes it) until shortly before the next one is due, and spins from
 * there: the message finds it awake, and the sender makes no wake call.
 * The spin costs about the jitter per message (it starts one jitter
 * before the due time), bounded by a share of the interval; irregular
 * traffic gets no plan (plain spin-then-sleep).
 *
 * Private to one process (it lives in struct chan), so no atomics.
 * Times are CLOCK_MONOTONIC nanoseconds.
 */
#ifndef IPCFS_PACE_INT_H
#define IPCFS_PACE_INT_H

#include <stdbool.h>
#include <stdint.h>

struct pace {
	uint64_t last;    /* arrival that ended the last idle wait, 0: none */
	uint64_t period;  /* running mean of the intervals (EWMA, 1/8) */
	uint64_t jitter;  /* running mean of |interval - period| (EWMA, 1/4) */
	uint32_t samples; /* intervals seen since the last reset */
	uint32_t misses;  /* outliers in a row (a step skipped, a pause) */
};

/* Regular traffic needs this many intervals before a plan is made. */
#define PACE_MIN_SAMPLES 4u
/* Intervals outside [PACE_MIN_NS, PACE_MAX_NS] carry no pattern: below,
 * the spin window covers them; above, a step is not a step any more. */
#define PACE_MIN_NS (100 * 1000ull)
#define PACE_MAX_NS (2000 * 1000 * 1000ull)
/* How long the guard (spun after the due time; one jitter and the slack
 * of it before) may be for a plan (pace_guard_max): a sixth of the
 * interval (PACE_SHARE), so that the spin costs at most a quarter of it;
 * and for short steps, PACE_GUARD_NS when that is at most a third of the
 * interval (PACE_SHARE_SHORT). A sleep's jitter is a time, not a share:
 * tens of microseconds on a VM, a sixth of 0.5 ms steps, so those got no
 * plan, and every reader slept and was woken in every step, which costs
 * more CPU than spinning through that jitter, and 10x the latency (three
 * readers, 0.5 ms steps: p50 43-50 us against 7-16 us planned, 229
 * against 169-210 ms of CPU per 1000 steps). A third keeps irregular
 * gaps below 0.5 ms (a relayed flow's, bridge/bridge.h) unplanned, and
 * the cap keeps long steps to their share: a guard of a quarter of 3 ms
 * would spin a third of the step. */
#define PACE_SHARE 6u
#define PACE_SHARE_SHORT 3u
#define PACE_GUARD_NS (150 * 1000ull)
/* The guard's floor: clock reads and the first polls after a nap. How late
 * the nap itself wakes is measured (struct waiter, nap_late), not assumed. */
#define PACE_SLACK_NS (10 * 1000ull)

/* A wait that lasted longer than this was an idle gap (not a burst): its
 * end is an arrival that the pace of its sender learns from. */
#define PACE_IDLE_NS (50 * 1000ull)

/* Record that a message from this sender ended an idle wait at @now. */
void pace_arrival(struct pace *p, uint64_t now);

/* Forget the pattern (the sender went away, or an arrival came out of the
 * blue): the next PACE_MIN_SAMPLES intervals rebuild it. */
void pace_reset(struct pace *p);

/* A plan's guard: spun after the due time, twice the jitter and the
 * slack (the nap ends one jitter and the slack before it). */
static inline uint64_t pace_guard(const struct pace *p)
{
	return 2 * p->jitter + PACE_SLACK_NS;
}

/* The longest guard a plan may have for steps of @period ns. */
static inline uint64_t pace_guard_max(uint64_t period)
{
	uint64_t share = period / PACE_SHARE, short_steps = period / PACE_SHARE_SHORT;

	if (short_steps > PACE_GUARD_NS)
		short_steps = PACE_GUARD_NS;
	return share > short_steps ? share : short_steps;
}

/*
 * Plan a wait that starts at @now: true with *@nap_until (nap until then:
 * one jitter and PACE_SLACK_NS before the due time) and *@spin_until (then
 * spin until then, the guard of twice the jitter and PACE_SLACK_NS after
 * it, before falling back to sleep); false when there is no regular
 * pattern.
 */
bool pace_plan(const struct pace *p, uint64_t now, uint64_t *nap_until, uint64_t *spin_until);

/*
 * A nap meant to end at @until ended at @now: learn how late naps wake
 * into *@late (a running mean, 1/4), which the next plan's nap subtracts.
 * Bounded, so that one stall of the machine costs little.
 */
void pace_late(uint64_t *late, uint64_t until, uint64_t now);

/*
 * Spinning while messages flow, where each hop's wake-up would add to a
 * network's latency. A thread that saw two messages come at most
 * FLOW_GAP_NS apart spins for FLOW_GAP_NS after each one, then sleeps as
 * before: a stream of messages finds it awake, while steps further apart,
 * and an idle group, cost no CPU. Used by the bridge's threads
 * (bridge/bridge.h) and by a rank's receive from a rank the bridge relays
 * (seg_rank.relay): a remote round trip outlasts spin_us on any network,
 * so without it every message of a remote exchange found its reader
 * asleep. A group whose spin_us is 0 asked for no spinning: none here
 * either (flow_spin_us). Private to one thread.
 */
#define FLOW_GAP_NS (500 * 1000ull)
struct flow {
	uint64_t last;  /* the last message, 0: none yet */
	uint64_t until; /* spin until then */
};

/* A message came (or went) at @now. */
static inline void flow_note(struct flow *f, uint64_t now)
{
	f->until = f->last && now - f->last <= FLOW_GAP_NS ? now + FLOW_GAP_NS : 0;
	f->last = now;
}

/* How long to spin from @now before sleeping, microseconds, in a group
 * whose spin_us is @spin_us: that, or to the end of the flow's window. */
static inline uint32_t flow_spin_us(const struct flow *f, uint64_t now, uint32_t spin_us)
{
	uint64_t left = now < f->until ? f->until - now : 0;

	if (left > FLOW_GAP_NS)
		left = FLOW_GAP_NS; /* set at most that far ahead */
	return !spin_us || left / 1000 <= spin_us ? spin_us : (uint32_t)(left / 1000);
}

#endif
