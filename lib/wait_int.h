/* SPDX-License-Identifier: MIT */
/*
 * wait_int.h - the slow path of waiting: spinning politely, futexes on
 * shared memory, clocks. Internal to libipcfs and the daemon.
 */
#ifndef IPCFS_WAIT_INT_H
#define IPCFS_WAIT_INT_H

#include <stdatomic.h>
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

/* Wake every sleeper on @word. */
void wait_futex_wake(_Atomic uint32_t *word);

/* CPUs this process may run on (sched_getaffinity), at least 1. */
unsigned wait_cpus(void);

/* CLOCK_MONOTONIC, ns. */
uint64_t wait_now_ns(void);

#endif
