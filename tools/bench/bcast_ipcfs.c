/* SPDX-License-Identifier: MIT */
/*
 * bcast_ipcfs.c - the broadcast round trip through libipcfs: rank 0 builds
 * the payload in place in its ring slot and broadcasts it; each reader
 * verifies every byte in place (a view into shared memory), releases it and
 * acks with an 8-byte message; rank 0 waits for every ack.
 *
 * The group lives in a plain temporary directory (no daemon needed), with
 * rings sized for the payload: slot_bytes = size, 16 slots.
 */
#include "bench_common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcfs.h"

static void reader(const char *dir, int rank, const struct bench_args *a, long *rss_out)
{
	uint64_t total = (uint64_t)(a->warmup + a->iters);
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	char who[32];
	void *buf;
	int rc;

	snprintf(who, sizeof(who), "ipcfs reader %d", rank);
	rc = ipcfs_join(dir, rank, &m);
	if (rc < 0)
		bench_die("%s: join: %s", who, strerror(-rc));
	for (uint64_t it = 1; it <= total; it++) {
		rc = ipcfs_recv(m, 0, &msg, -1);
		if (rc)
			bench_die("%s: recv: %s", who, strerror(-rc));
		if (msg.len != a->size)
			bench_die("%s: got %zu bytes, want %zu", who, msg.len, a->size);
		bench_check(msg.data, msg.len, it, who);
		ipcfs_release(m, &msg);
		rc = ipcfs_reserve(m, sizeof(it), &buf, -1);
		if (!rc) {
			memcpy(buf, &it, sizeof(it));
			rc = ipcfs_commit(m, IPCFS_RANK_BIT(0), sizeof(it));
		}
		if (rc)
			bench_die("%s: ack: %s", who, strerror(-rc));
	}
	*rss_out = bench_peak_rss_kib();
	ipcfs_leave(m);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	struct ipcfs_params p;
	struct ipcfs_member *m;
	char tmpl[] = "/tmp/ipcfs-bench.XXXXXX", dir[PATH_MAX];
	long *rss, total_rss;
	int rc;

	bench_parse_args(argc, argv, "ipcfs", &a);
	if (a.readers < 1 || a.readers >= IPCFS_MAX_RANKS)
		bench_die("readers must be 1..%d", IPCFS_MAX_RANKS - 1);
	if (!mkdtemp(tmpl))
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/g", tmpl);
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)a.readers + 1;
	p.slots = 16;
	p.slot_bytes = a.size < 64 ? 64 : (uint32_t)((a.size + 63) / 64 * 64);
	rc = ipcfs_group_create(dir, &p);
	if (rc)
		bench_die("group create: %s", strerror(-rc));
	rc = ipcfs_join(dir, 0, &m);
	if (rc < 0)
		bench_die("join: %s", strerror(-rc));

	/* Each reader leaves its peak RSS here before it exits. */
	rss = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rss == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	for (int r = 1; r <= a.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(dir, r, &a, &rss[r]);
			_exit(0);
		}
	}
	rc = ipcfs_wait_ranks(m, IPCFS_ALL, 30000);
	if (rc)
		bench_die("readers did not join: %s", strerror(-rc));

	bench_samples_init(&s, (size_t)a.iters);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		uint64_t t0 = bench_now_ns();
		struct ipcfs_msg ack;
		void *buf;

		rc = ipcfs_reserve(m, a.size, &buf, -1);
		if (rc)
			bench_die("reserve: %s", strerror(-rc));
		bench_fill(buf, a.size, it);
		rc = ipcfs_commit(m, IPCFS_ALL, a.size);
		if (rc)
			bench_die("commit: %s", strerror(-rc));
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
	bench_report_json(&a, "ipcfs", &s, total_rss);
	bench_samples_free(&s);
	ipcfs_leave(m);
	ipcfs_group_destroy(dir);
	rmdir(tmpl);
	return 0;
}
