/* SPDX-License-Identifier: MIT */
/*
 * payload_floor.c - the floor of a large broadcast through shared memory
 * (see payload_common.h for the workload): the same bytes through one
 * shared mapping, nothing else. The sender fills the payload in place in
 * a MAP_SHARED anonymous mapping (shmem, the pages /dev/shm would give),
 * publishes the message number on a cache line, and each reader verifies
 * every byte in place and acks on its own line. One buffer, so K = 1.
 *
 * Waiting spins (bench_spin); when the processes outnumber the CPUs, or
 * with BENCH_FLOOR_YIELD=1 (reported as floor-yield), a waiter yields its
 * CPU after a short spin. What ipcfs adds above this is its cost.
 */
#include "payload_common.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <sys/mman.h>

struct line {
	alignas(64) _Atomic uint64_t v;
	struct payload_mem mem; /* a reader's figures, written at its end */
};

struct floor_shm {
	struct line seq;     /* message number published by the sender */
	struct line ack[63]; /* per reader: the last message verified */
};

static void reader(struct floor_shm *sh, const unsigned char *payload, int r,
		   const struct payload_args *a, int oversub)
{
	bench_floor_reader(&sh->seq.v, &sh->ack[r].v, payload, a->b.size,
			   (uint64_t)(a->b.warmup + a->b.iters), r, oversub);
	payload_mem_self(&sh->ack[r].mem);
}

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct bench_spin sp;
	struct payload_mem sum = { 0, 0 }, mem;
	uint64_t total, t_start = 0, timed_ns;

	payload_parse_args(argc, argv, "floor", &a);
	if (a.inflight != 1)
		bench_die("floor: one buffer, so --inflight 1 only (not %d)", a.inflight);
	const char *yield_env = getenv("BENCH_FLOOR_YIELD");
	int force_yield = yield_env && strcmp(yield_env, "1") == 0;
	int oversub = force_yield || bench_oversubscribed(a.b.readers + 1);
	total = (uint64_t)(a.b.warmup + a.b.iters);

	size_t bytes = sizeof(struct floor_shm) + a.b.size;
	struct floor_shm *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (sh == MAP_FAILED)
		bench_die("mmap %zu bytes: %s", bytes, strerror(errno));
	unsigned char *payload = (unsigned char *)(sh + 1);
	for (int r = 0; r < a.b.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(sh, payload, r, &a, oversub);
			_exit(0);
		}
	}

	bench_samples_init(&s, (size_t)a.b.iters);
	bench_spin_init(&sp, oversub);
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t t0 = bench_now_ns();
		if (it == (uint64_t)a.b.warmup + 1)
			t_start = t0;
		bench_fill(payload, a.b.size, it);
		/* release: the payload stores above are visible to a reader
		 * that acquires seq == it. */
		atomic_store_explicit(&sh->seq.v, it, memory_order_release);
		for (int r = 0; r < a.b.readers; r++) {
			bench_spin_reset(&sp);
			/* acquire: pairs with the reader's release of its ack. */
			while (atomic_load_explicit(&sh->ack[r].v, memory_order_acquire) != it)
				bench_spin_once(&sp);
		}
		if (it > (uint64_t)a.b.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}
	timed_ns = bench_now_ns() - t_start;

	bench_reap_children();
	payload_mem_self(&mem);
	payload_mem_add(&sum, &mem);
	for (int r = 0; r < a.b.readers; r++)
		payload_mem_add(&sum, &sh->ack[r].mem);
	payload_report_json(&a, force_yield ? "floor-yield" : "floor", &s, timed_ns, 0, &sum);
	bench_samples_free(&s);
	munmap(sh, bytes);
	return 0;
}
