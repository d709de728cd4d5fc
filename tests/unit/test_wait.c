/* SPDX-License-Identifier: MIT */
/* test_wait.c - futexes on shared memory, the clock, membarrier. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"
#include "wait_int.h"

START_TEST(futex_value_differs)
{
	_Atomic uint32_t w = 5;
	/* Not the expected value: returns at once. */
	ck_assert_int_eq(wait_futex(&w, 4, -1), 0);
}
END_TEST

START_TEST(futex_timeout)
{
	_Atomic uint32_t w = 5;
	uint64_t t0 = wait_now_ns();
	ck_assert_int_eq(wait_futex(&w, 5, 20 * 1000 * 1000), -ETIMEDOUT);
	ck_assert_uint_ge(wait_now_ns() - t0, 20u * 1000 * 1000);
}
END_TEST

static _Atomic uint32_t *shared_word;

static int bump_and_wake(void *arg)
{
	(void)arg;
	usleep(50000);
	atomic_fetch_add(shared_word, 1);
	wait_futex_wake(shared_word);
	return 0;
}

START_TEST(futex_wake_across_processes)
{
	/* The word lives in a shared mapping: the wake of another process
	 * must reach us (a private futex would not). */
	shared_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(shared_word, MAP_FAILED);
	pid_t pid = tl_fork(bump_and_wake, NULL);
	uint64_t t0 = wait_now_ns();
	while (atomic_load(shared_word) == 0)
		ck_assert_int_eq(wait_futex(shared_word, 0, 5000000000ll), 0);
	ck_assert_uint_lt(wait_now_ns() - t0, 4000000000ull);
	ck_assert_int_eq(tl_wait(pid, 10), 0);
	munmap((void *)shared_word, 4096);
}
END_TEST

START_TEST(clock_is_monotonic)
{
	uint64_t a = wait_now_ns(), b = wait_now_ns();
	ck_assert_uint_le(a, b);
}
END_TEST

START_TEST(asym_register_is_stable)
{
	/* Whatever the kernel offers, the answer does not change, and the
	 * fence is callable either way. */
	bool first = wait_asym_register();
	ck_assert(wait_asym_register() == first);
	wait_asym_fence();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, futex_value_differs);
	tcase_add_test(tc, futex_timeout);
	tcase_add_test(tc, futex_wake_across_processes);
	tcase_add_test(tc, clock_is_monotonic);
	tcase_add_test(tc, asym_register_is_stable);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
