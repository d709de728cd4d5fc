/* SPDX-License-Identifier: MIT */
/*
 * payload_memcpy.c - the ceiling of the large-payload benchmark: one
 * process, one memcpy() of S bytes per iteration between two buffers that
 * are already faulted in. A sample is one memcpy; gbps_p50 is S / p50.
 *
 * There are no readers: --readers and --inflight are accepted (so the
 * driver can pass the usual arguments) and only echoed in the JSON line.
 * After the timed loop the destination is verified, so the copies are
 * real.
 */
#include "payload_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct payload_mem mem;
	uint64_t total, timed_ns;
	unsigned char *src, *dst;

	payload_parse_args(argc, argv, "memcpy", &a);
	total = (uint64_t)(a.b.warmup + a.b.iters);
	src = malloc(a.b.size);
	dst = malloc(a.b.size);
	if (!src || !dst)
		bench_die("out of memory");
	memset(dst, 0, a.b.size);

	bench_samples_init(&s, (size_t)a.b.iters);
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t t0;

		/* A new pattern each time, untimed, so no copy is a no-op. */
		bench_fill(src, a.b.size, it);
		t0 = bench_now_ns();
		memcpy(dst, src, a.b.size);
		/* Keep the compiler from moving or dropping the copy. */
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		if (it > (uint64_t)a.b.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}
	/* Sum of the copy times only: the fills in between are not counted. */
	timed_ns = 0;
	for (size_t i = 0; i < s.n; i++)
		timed_ns += s.ns[i];
	bench_check(dst, a.b.size, total, "memcpy");

	payload_mem_self(&mem);
	payload_report_json(&a, "memcpy", &s, timed_ns, 0, &mem);
	bench_samples_free(&s);
	free(src);
	free(dst);
	return 0;
}
