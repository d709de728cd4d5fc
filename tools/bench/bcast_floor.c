/* SPDX-License-Identifier: MIT */
/*
 * bcast_floor.c - the floor of the broadcast round-trip benchmark: a bare
 * cache-line ping-pong over anonymous shared memory, moving the same
 * payload as every other contender and nothing else (no rings, no headers,
 * no sleeping). It is the best a shared-memory design can hope for.
 *
 *   shared: [seq line][ack line 0]...[ack line N-1][payload, S bytes]
 *
 *   sender, iteration it:  fill payload; seq = it (release);
 *                          wait until every ack[r] == it (acquire)
 *   reader r:              wait until seq == it (acquire); verify payload;
 *                          ack[r] = it (release)
 *
 * Every 64-bit word shared between processes sits alone on its own 64-byte
 * cache line, so a reader's ack never invalidates the line others poll.
 */
#include "bench_common.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LINE 64

/* One word on its own cache line. */
struct line {
	alignas(LINE) _Atomic uint64_t v;
	/* Written once by the reader before it exits; read by the parent
	 * after reaping it (waitpid orders the two). */
	long rss_kib;
};

struct floor_shm {
	struct line seq;     /* iteration published by the sender */
	struct line ack[];   /* one per reader; the payload follows */
};

static unsigned char *payload_of(struct floor_shm *sh, int readers)
{
	return (unsigned char *)&sh->ack[readers];
}

static void reader(struct floor_shm *sh, int r, const struct bench_args *a, int oversub)
{
	bench_floor_reader(&sh->seq.v, &sh->ack[r].v, payload_of(sh, a->readers), a->size,
			   (uint64_t)(a->warmup + a->iters), r, oversub);
	sh->ack[r].rss_kib = bench_peak_rss_kib();
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	struct bench_spin sp;
	struct floor_shm *sh;
	unsigned char *payload;
	size_t bytes;
	long rss;
	int oversub;

	bench_parse_args(argc, argv, "floor", &a);
	/* BENCH_FLOOR_YIELD=1: the floor of a reader that polls with
	 * sched_yield after a short spin whatever the CPUs (what vLLM's
	 * shared-memory queue does), reported as system floor-yield. */
	const char *yield_env = getenv("BENCH_FLOOR_YIELD");
	int force_yield = yield_env && strcmp(yield_env, "1") == 0;
	oversub = force_yield || bench_oversubscribed(a.readers + 1);
	bytes = sizeof(*sh) + (size_t)a.readers * sizeof(struct line) + a.size;
	sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bench_die("mmap %zu bytes: %s", bytes, strerror(errno));
	/* Touch every page now (the mapping is zero-filled): no page faults
	 * in the timed loop, and the pages are shared before the fork. */
	memset(sh, 0, bytes);
	payload = payload_of(sh, a.readers);

	for (int r = 0; r < a.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(sh, r, &a, oversub);
			_exit(0);
		}
	}

	bench_samples_init(&s, (size_t)a.iters);
	bench_spin_init(&sp, oversub);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		bench_pace(&a);
		uint64_t t0 = bench_now_ns();

		bench_fill(payload, a.size, it);
		/* release: the payload stores above are visible to a reader that
		 * acquires seq == it. */
		atomic_store_explicit(&sh->seq.v, it, memory_order_release);
		for (int r = 0; r < a.readers; r++) {
			bench_spin_reset(&sp);
			/* acquire: pairs with the reader's release of its ack, so
			 * its payload reads are done before our next fill. */
			while (atomic_load_explicit(&sh->ack[r].v, memory_order_acquire) != it)
				bench_spin_once(&sp);
		}
		if (it > (uint64_t)a.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}

	bench_reap_children();
	rss = bench_peak_rss_kib();
	for (int r = 0; r < a.readers; r++)
		rss += sh->ack[r].rss_kib;
	bench_report_json(&a, force_yield ? "floor-yield" : "floor", &s, rss, bench_cpu_seconds());
	bench_samples_free(&s);
	munmap(sh, bytes);
	return 0;
}
