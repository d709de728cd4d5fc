/* SPDX-License-Identifier: MIT */
/* wait.c - futex sleep and wake on shared memory, the waiting engine (with
 * the naps of paced receivers), clock. */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pace_int.h"
#include "wait_int.h"

int wait_futex(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long rc;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* Not FUTEX_PRIVATE_FLAG: the word is in memory shared between
	 * processes, so the kernel must key it by the backing page. */
	rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
	if (rc == 0)
		return 0;
	switch (errno) {
	case EAGAIN: /* the value already differed: nothing to wait for */
		return 0;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	case EINTR:
		return -EINTR;
	default:
		return -errno;
	}
}

int wait_futex_precise(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	bool set = slack > 1000 && prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0) == 0;
	int rc = wait_futex(word, expected, timeout_ns);
	if (set)
		prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0);
	return rc;
}

void wait_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

uint64_t wait_now_ns(void)
{
	struct timespec ts;

	/* vDSO on Linux: a function call, not a system call. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1: registered, -1: not available, 0: not tried yet. Several threads may
 * race to register; each outcome is the same, so relaxed is enough. */
static _Atomic int asym_state;

bool wait_asym_register(void)
{
	int st = atomic_load_explicit(&asym_state, memory_order_relaxed);

	if (st == 0) {
		long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
		st = q >= 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
				     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
					     0, 0) == 0
			     ? 1
			     : -1;
		atomic_store_explicit(&asym_state, st, memory_order_relaxed);
	}
	return st == 1;
}

void wait_asym_fence(void)
{
	/* Always, whether or not we registered: the publishers that did rely
	 * on it. Where the kernel lacks it, nobody could register, and every
	 * publisher uses seq_cst stores instead. */
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

/* Polls between two reads of the clock in the spin phase. */
#define SPIN_BATCH 32

/* Add to a single-writer counter (relaxed load and store, as seg_count). */
static void count(_Atomic uint64_t *c, uint64_t n)
{
	if (c && n)
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
				      memory_order_relaxed);
}

static void announce(const struct waiter *w)
{
	/* seq_cst: the store (or add) of the flag is ordered before the
	 * loads of poll() that follow; see wait_until. */
	if (w->counting)
		atomic_fetch_add_explicit(w->waiting, 1, memory_order_seq_cst);
	else
		atomic_store_explicit(w->waiting, 1, memory_order_seq_cst);
}

static void withdraw(const struct waiter *w)
{
	/* Relaxed: a stale announcement only costs a waker one needless
	 * wake call. */
	if (w->counting)
		atomic_fetch_sub_explicit(w->waiting, 1, memory_order_relaxed);
	else
		atomic_store_explicit(w->waiting, 0, memory_order_relaxed);
}

/* Times of one wait. */
struct wait_times {
	uint64_t start;    /* first reading of the clock, 0: not read yet */
	uint64_t deadline;
	uint64_t spin_end;
};

static int nap(const struct waiter *w, uint64_t now, uint64_t until, uint64_t *sleeps);

/* Spin: each round pauses (or yields, when oversubscribed: the process we
 * wait for gets to run) and polls. 0 when the spin window (or the
 * deadline) passed; the times are set here. A plan found at the first
 * reading of the clock naps first and may widen the window. */
static int spin(const struct waiter *w, int timeout_ms, struct wait_times *t, uint64_t *spins,
		uint64_t *sleeps)
{
	/* In batches, reading the clock between them. The first batch comes
	 * before the first reading: most waits of a busy group end within
	 * it, and the clock costs as much as a poll. A yield can take a whole
	 * time slice of another process: then the clock is read after every
	 * one, so that the spin window holds. */
	int batch = w->yield ? 1 : SPIN_BATCH, rc;
	/* After each batch (not before the first: most waits of a busy group
	 * end within it), give the CPU to whoever waits for it: the process
	 * we wait for may have been woken onto our CPU even where the ranks
	 * could each have one (the scheduler places a waking process near
	 * where it slept), and pausing would keep it off until our window
	 * ends. Idle, a yield returns at once: one system call per batch. */
	bool yield_between = !w->yield;
	uint64_t nap_end, plan_end;

	for (;;) {
		for (int i = 0; i < batch; i++) {
			if (w->yield)
				sched_yield();
			else
				wait_cpu_relax();
			(*spins)++;
			rc = w->poll(w->arg, i == batch - 1);
			if (rc)
				return rc;
		}
		if (yield_between)
			sched_yield();
		uint64_t now = wait_now_ns();
		if (!t->start) {
			t->start = now;
			t->deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
			t->spin_end = now + (uint64_t)w->spin_us * 1000u;
			/* A plan spins through the due time: none when spin_us
			 * is 0 (the group asked for a waiter that only sleeps),
			 * and no nap when the spin window reaches the due time
			 * anyway (spin_us at its most asks for one that only
			 * spins). */
			if (w->spin_us && w->plan && w->plan(w->arg, now, &nap_end, &plan_end)) {
				uint64_t late = w->nap_late ? *w->nap_late : 0;
				uint64_t until = nap_end > now + late ? nap_end - late : now;
				if (until > t->deadline)
					until = t->deadline;
				if (until > t->spin_end) {
					rc = nap(w, now, until, sleeps);
					if (rc)
						return rc;
					now = wait_now_ns();
					/* The nap ran to its end: learn how late it woke. */
					if (w->nap_late && until > t->start)
						pace_late(w->nap_late, until, now);
				}
				if (plan_end > t->spin_end)
					t->spin_end = plan_end;
			}
		}
		if (now >= t->spin_end || now >= t->deadline)
			return 0;
	}
}

/* The length of the next sleep: to @until, at most a liveness period, and
 * at most WAIT_INTERRUPT_NS when the waiter can be interrupted. */
static uint64_t sleep_len(const struct waiter *w, uint64_t now, uint64_t until)
{
	uint64_t max = w->interrupt ? WAIT_INTERRUPT_NS : WAIT_LIVENESS_NS;
	return until - now < max ? until - now : max;
}

/* After a sleep that ended with @rc (not a wake-up): has the caller's
 * interrupt callback asked to stop? */
static bool interrupted(const struct waiter *w, int rc)
{
	return w->interrupt && (rc == -EINTR || rc == -ETIMEDOUT) && w->interrupt(w->interrupt_arg);
}

/*
 * Paced traffic: nap on the bell until @until, announced, so that a
 * message that comes early still wakes us, almost always (see the fence
 * below; sleeping with a precise timer: the nap ends just before the
 * message is due). Then withdraw: a sender
 * that finds us so makes no wake call, and the spin that follows polls
 * after the withdrawal. The liveness check runs as in a sleep. Returns
 * poll's verdict or 0.
 */
static int nap(const struct waiter *w, uint64_t now, uint64_t until, uint64_t *sleeps)
{
	uint64_t last_check = now;
	int rc = 0;

	announce(w);
	while (now < until) {
		if (!w->counting)
			announce(w);
		/* The handshake of wait_until (flag, fence, bell, look,
		 * sleep), but with our own fence only, not the membarrier: it
		 * interrupts every CPU that runs a member (about 9 us through
		 * a VM's hypervisor), and a nap ends just when the sender whose
		 * message is due runs. A publisher whose plain store was still
		 * in its store buffer as it read our flag (nanoseconds) is then
		 * missed: its message is found when the nap ends, which is
		 * bounded by @until, and never lost. seq_cst: pairs with the
		 * publishers that use seq_cst stores (not registered). */
		atomic_thread_fence(memory_order_seq_cst);
		uint32_t bell = atomic_load_explicit(w->bell, memory_order_seq_cst);
		rc = w->poll(w->arg, true);
		if (rc)
			break;
		now = wait_now_ns();
		if (now >= until)
			break;
		(*sleeps)++;
		int slept = wait_futex_precise(w->bell, bell, (int64_t)sleep_len(w, now, until));
		if (interrupted(w, slept)) {
			rc = -EINTR;
			break;
		}
		now = wait_now_ns();
		if (w->check && now - last_check >= WAIT_LIVENESS_NS) {
			w->check(w->arg);
			last_check = now;
		}
	}
	withdraw(w);
	return rc;
}

int wait_until(const struct waiter *w, int timeout_ms)
{
	struct wait_times t = { 0 };
	uint64_t spins = 0, sleeps = 0;
	int rc = w->poll(w->arg, true);

	if (w->waited_ns)
		*w->waited_ns = 0;
	if (rc)
		return rc;
	if (timeout_ms == 0)
		return -EAGAIN;
	rc = spin(w, timeout_ms, &t, &spins, &sleeps);
	if (rc)
		goto out;
	uint64_t deadline = t.deadline;
	uint64_t last_check = wait_now_ns();
	/* Announce the sleep, then look once more. seq_cst on the
	 * announcement and (inside poll) on the loads that follow, paired
	 * with the waker's store of the data then load of the flag (a seq_cst
	 * store, or a plain one made safe by our membarrier, see
	 * wait_asym_fence): one of the two sides sees the other, so a wake-up
	 * is never lost. The bell is read after the announcement so that a
	 * bump between our look and the futex call makes FUTEX_WAIT return at
	 * once. A count is announced once; a flag at every round, as before. */
	/* Model: tests/model/ring.pml, W2 (the sleeper: flag, bell, look,
	 * futex; sequentially consistent by seq_cst or the membarrier). */
	announce(w);
	for (;;) {
		if (!w->counting)
			announce(w);
		wait_asym_fence();
		uint32_t bell = atomic_load_explicit(w->bell, memory_order_seq_cst);
		rc = w->poll(w->arg, true);
		if (rc)
			break;
		uint64_t now = wait_now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		sleeps++;
		int slept = wait_futex(w->bell, bell, (int64_t)sleep_len(w, now, deadline));
		if (interrupted(w, slept)) {
			rc = -EINTR;
			break;
		}
		now = wait_now_ns();
		if (w->check && now - last_check >= WAIT_LIVENESS_NS) {
			w->check(w->arg);
			last_check = now;
		}
	}
	withdraw(w);
out:
	if (w->waited_ns && t.start)
		*w->waited_ns = wait_now_ns() - t.start;
	count(w->spins, spins);
	count(w->sleeps, sleeps);
	if (rc == -ETIMEDOUT)
		count(w->timeouts, 1);
	return rc;
}
