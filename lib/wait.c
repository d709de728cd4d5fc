/* SPDX-License-Identifier: MIT */
/* wait.c - futex sleep and wake on shared memory, CPU count, clock. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

unsigned wait_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return (unsigned)n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
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
