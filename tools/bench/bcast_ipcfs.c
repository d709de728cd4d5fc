/* SPDX-License-Identifier: MIT */
/*
 * bcast_ipcfs.c - the broadcast round trip through libipcfs: rank 0 builds
 * the payload in place in its ring slot and broadcasts it; each reader
 * verifies every byte in place (a view into shared memory), releases it and
 * acks with an 8-byte message; rank 0 waits for every ack.
 *
 * The group lives in a plain temporary directory (no daemon needed), with
 * rings sized for the payload: slot_bytes = size, 16 slots.
 *
 * BENCH_IPCFS_SPIN_US=U sets the group's spin_us (default: the library's
 * default); the system is then reported as ipcfs-sleep (U = 0, a reader
 * that only sleeps), ipcfs-spin (U = 1000000, the most: a reader that
 * spins) or ipcfs-spinU.
 */
#include "bench_common.h"
#include "bench_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs.h"

static void reader(const char *dir, int rank, const struct bench_args *a, long *rss_out)
{
	uint64_t total = (uint64_t)(a->warmup + a->iters);
	struct ipcfs_member *m;
	char who[32];

	snprintf(who, sizeof(who), "ipcfs reader %d", rank);
	m = bench_group_reader_run(dir, rank, a->size, total, who);
	*rss_out = bench_peak_rss_kib();
	ipcfs_leave(m);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	struct bench_group g;
	struct ipcfs_params p;
	struct ipcfs_member *m;
	long *rss, total_rss;
	int rc;

	bench_parse_args(argc, argv, "ipcfs", &a);
	if (a.readers < 1 || a.readers >= IPCFS_MAX_RANKS)
		bench_die("readers must be 1..%d", IPCFS_MAX_RANKS - 1);
	bench_group_mkdtemp(&g, "/tmp/ipcfs-bench.XXXXXX");
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)a.readers + 1;
	char name[32] = "ipcfs";
	const char *spin_env = getenv("BENCH_IPCFS_SPIN_US");
	if (spin_env && *spin_env) {
		char *end;
		unsigned long u = strtoul(spin_env, &end, 10);
		if (*end || u > 1000000)
			bench_die("BENCH_IPCFS_SPIN_US wants 0..1000000, not '%s'", spin_env);
		p.spin_us = (uint32_t)u;
		if (u == 0)
			snprintf(name, sizeof(name), "ipcfs-sleep");
		else if (u == 1000000)
			snprintf(name, sizeof(name), "ipcfs-spin");
		else
			snprintf(name, sizeof(name), "ipcfs-spin%lu", u);
	}
	p.slots = 16;
	p.slot_bytes = a.size < 64 ? 64 : (uint32_t)((a.size + 63) / 64 * 64);
	rc = ipcfs_group_create(g.dir, &p);
	if (rc)
		bench_die("group create: %s", strerror(-rc));
	m = bench_group_join(g.dir, 0, NULL);

	/* Each reader leaves its peak RSS here before it exits. */
	rss = bench_group_shared_page();
	for (int r = 1; r <= a.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(g.dir, r, &a, &rss[r]);
			_exit(0);
		}
	}
	bench_group_wait_readers(m);

	bench_samples_init(&s, (size_t)a.iters);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		bench_pace(&a);
		uint64_t t0 = bench_now_ns();
		struct ipcfs_msg ack;

		bench_group_send_filled(m, a.size, it);
		for (int r = 0; r < a.readers; r++) {
			rc = ipcfs_recv(m, IPCFS_ANY, &ack, -1);
			if (rc)
				bench_die("ack: %s", strerror(-rc));
			uint64_t v;
			memcpy(&v, ack.data, sizeof(v));
			if (v != it)
				bench_die("ack for %llu in iteration %llu", (unsigned long long)v,
					  (unsigned long long)it);
			ipcfs_release(m, &ack);
		}
		if (it > (uint64_t)a.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}
	bench_reap_children();
	total_rss = bench_peak_rss_kib();
	for (int r = 1; r <= a.readers; r++)
		total_rss += rss[r];
	bench_report_json(&a, name, &s, total_rss, bench_cpu_seconds());
	bench_samples_free(&s);
	bench_group_cleanup(&g, m);
	return 0;
}
