/* SPDX-License-Identifier: MIT */
/*
 * wait_int.h - the slow path of waiting: spinning politely, futexes on
 * shared memory, clocks. Internal to libipcfs and the daemon.
 */
#ifndef IPCFS_WAIT_INT_H
#define IPCFS_WAIT_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One round of a spin loop: tells the core we are spinning (pause on x86,
 * yield on arm64) so the sibling hyperthread and the memory system are not
 * starved. */
static inline void wait_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * Sleep while *@word == @expected, at most @timeout_ns (< 0: no limit).
 * Shared futex (the word lives in a MAP_SHARED mapping). Returns 0 when
 * woken or the value differed, -ETIMEDOUT, or -EINTR.
 */
int wait_futex(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);

/* wait_futex() with a timer slack of 1 us for this one sleep: a sleep
 * timed to end just before a message is due must not overshoot by the
 * default 50 us slack. The thread's own slack is restored after. */
int wait_futex_precise(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);

/* Wake every sleeper on @word. */
void wait_futex_wake(_Atomic uint32_t *word);

/*
 * Asymmetric fences. A publisher must not miss a sleeper's flag: it stores
 * data then loads the flag, the sleeper stores the flag then loads the
 * data, and both sides need a full (StoreLoad) fence in between. The fast
 * side is the publisher, so we move the cost to the sleeper with
 * membarrier(2): a process registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED
 * may publish with plain stores, because a sleeper runs a full fence on
 * every CPU that runs a registered process before it re-checks.
 *
 * wait_asym_register(): register this process once; true if it may use
 * the plain fast path (else it must use seq_cst stores).
 * wait_asym_fence(): the sleeper's side, called after it announced its
 * sleep and before it looks again.
 */
bool wait_asym_register(void);
void wait_asym_fence(void);

/* How often a sleeper wakes to check that the peers it waits for are
 * alive, when no daemon does it for us. */
#define WAIT_LIVENESS_NS 100000000ull

/*
 * The one waiting engine (ring space, messages, ranks, arena space).
 *
 * A waiter announces its sleep in *waiting, then sleeps on *bell; whoever
 * makes progress possible bumps the bell and wakes it only when *waiting
 * is set. Two kinds of announcement: a flag (one sleeper, the owner of the
 * word: store 1, store 0) or a count (many sleepers: add 1, subtract 1).
 */
struct waiter {
	/* >0: done, 0: not yet, <0: error. Called many times; with @full
	 * false (inside a spin batch) it may skip costly looks, and checks
	 * that only turn a wait into an error (a peer that died). */
	int (*poll)(void *arg, bool full);
	/* Called about every WAIT_LIVENESS_NS while sleeping: marks peers
	 * whose process is gone, so that poll() stops waiting for them. */
	void (*check)(void *arg);
	/* Optional (paced receivers): a plan for a wait that starts at @now,
	 * from when the next message is due (pace_plan, pace_int.h): nap on
	 * the bell until *@nap_until, then spin until *@spin_until. */
	bool (*plan)(void *arg, uint64_t now, uint64_t *nap_until, uint64_t *spin_until);
	void *arg;
	_Atomic uint32_t *waiting, *bell;
	bool counting;    /* *waiting counts sleepers (else: a flag) */
	bool yield;       /* spin by yielding the CPU (more ranks than CPUs) */
	uint32_t spin_us; /* spin this long before sleeping */
	/* Single-writer counters of the waiter, or NULL. */
	_Atomic uint64_t *spins, *sleeps, *timeouts;
	/* Out, or NULL: how long the wait took past its first spin batch
	 * (0 when it ended sooner: the clock was not read). */
	uint64_t *waited_ns;
	/* In/out, or NULL: how late a timed nap ends (running mean, ns); a
	 * plan's nap starts that much earlier. On a VM, waking an idle vCPU
	 * from a timer takes tens of microseconds, more than any fixed guard. */
	uint64_t *nap_late;
	/* Optional (ipcfs_set_interrupt): asked after a sleep that a signal
	 * cut short, and at least every WAIT_INTERRUPT_NS of sleeping;
	 * nonzero ends the wait with -EINTR. Never asked after a wake-up, so
	 * a message is taken without it. */
	int (*interrupt)(void *arg);
	void *interrupt_arg;
};

/* The longest sleep of a waiter with an interrupt callback: a signal that
 * lands just before a sleep (not inside it, so it does not cut it short)
 * is seen within this. */
#define WAIT_INTERRUPT_NS 50000000ull

/*
 * Wait until w->poll() says done, at most @timeout_ms (< 0: no limit; 0:
 * one look, then -EAGAIN). The first poll is the fast path and makes no
 * system call. With a plan (w->plan) and a spin_us other than 0, nap
 * until the message is nearly due, unless the spin window reaches that
 * far. Then spin for spin_us (or to the end of the plan's window), then
 * sleep on the bell in naps of at most WAIT_LIVENESS_NS. Returns poll's
 * result, -EAGAIN, -ETIMEDOUT or (w->interrupt said so) -EINTR.
 */
int wait_until(const struct waiter *w, int timeout_ms);

/* CLOCK_MONOTONIC, ns. */
uint64_t wait_now_ns(void);

#endif
