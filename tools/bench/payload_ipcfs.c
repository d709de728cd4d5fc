/* SPDX-License-Identifier: MIT */
/*
 * payload_ipcfs.c - large payloads through libipcfs's arena (see
 * payload_common.h for the workload).
 *
 * Rank 0 reserves S bytes (S > slot_bytes: a block of the group's arena),
 * fills them in place (bench_fill writes straight into shared memory: no
 * private buffer, no copy) and commits the message to every reader. Each
 * reader receives a view into the arena block, verifies every byte in
 * place, releases it (the last release frees the block) and acks with an
 * 8-byte message (the message number) to rank 0.
 *
 * Group: a plain temporary directory (no daemon), ranks = N + 1,
 * slot_bytes = 4096, slots = a power of two >= 2K (at least 16), and
 * arena_bytes = M blocks of S bytes plus their 64-byte headers plus 4 KiB,
 * rounded up to 4 KiB, with M = --arena-msgs (default K): K messages in
 * flight fit. With M < K the sender waits in ipcfs_reserve() for readers
 * to release blocks (back pressure), and memory stays at the arena.
 *
 * Memory: the segment is pre-faulted and every member maps it with
 * MAP_POPULATE, so the whole segment counts in the VmHWM (and RssShmem) of
 * each of the N + 1 processes. The readers are forked right after the
 * group is created and before rank 0 maps it.
 */
#include "payload_common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcfs.h"

#define SLOT_BYTES 4096u

static void reader(const char *dir, int rank, const struct payload_args *a,
		   struct payload_mem *mem_out)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters);
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
		if (msg.len != a->b.size)
			bench_die("%s: got %zu bytes, want %zu", who, msg.len, a->b.size);
		bench_check(msg.data, msg.len, it, who);
		rc = ipcfs_release(m, &msg);
		if (rc)
			bench_die("%s: release: %s", who, strerror(-rc));
		rc = ipcfs_reserve(m, sizeof(it), &buf, -1);
		if (!rc) {
			memcpy(buf, &it, sizeof(it));
			rc = ipcfs_commit(m, IPCFS_RANK_BIT(0), sizeof(it));
		}
		if (rc)
			bench_die("%s: ack: %s", who, strerror(-rc));
	}
	payload_mem_self(mem_out);
	ipcfs_leave(m);
}

/* Wait for one ack and record it. */
static void take_ack(struct ipcfs_member *m, struct payload_track *t)
{
	struct ipcfs_msg ack;
	uint64_t v;
	int rc;

	rc = ipcfs_recv(m, IPCFS_ANY, &ack, -1);
	if (rc)
		bench_die("ack: %s", strerror(-rc));
	if (ack.len != sizeof(v) || ack.src < 1)
		bench_die("bad ack: %zu bytes from rank %d", ack.len, ack.src);
	memcpy(&v, ack.data, sizeof(v));
	ipcfs_release(m, &ack);
	payload_track_ack(t, ack.src - 1, v);
}

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct payload_track t;
	struct payload_mem *mems, sum = { 0, 0 }, self;
	struct ipcfs_params p;
	struct ipcfs_member *m;
	char tmpl[] = "/tmp/ipcfs-payload.XXXXXX", dir[PATH_MAX];
	uint64_t total, t_start = 0, block, arena;
	uint32_t slots = 16;
	int msgs, rc;

	payload_parse_args(argc, argv, "ipcfs", &a);
	if (a.b.readers >= IPCFS_MAX_RANKS)
		bench_die("readers must be 1..%d", IPCFS_MAX_RANKS - 1);
	if (a.b.size <= SLOT_BYTES)
		bench_die("--size must exceed slot_bytes (%u) to go through the arena",
			  SLOT_BYTES);
	total = (uint64_t)(a.b.warmup + a.b.iters);
	msgs = a.arena_msgs ? a.arena_msgs : a.inflight;
	block = (a.b.size + 63) / 64 * 64 + 64; /* payload + block header */
	arena = ((uint64_t)msgs * block + 4096 + 4095) / 4096 * 4096;
	while (slots < 2u * (uint32_t)a.inflight)
		slots *= 2;

	if (!mkdtemp(tmpl))
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/g", tmpl);
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)a.b.readers + 1;
	p.slots = slots;
	p.slot_bytes = SLOT_BYTES;
	p.arena_bytes = arena;
	rc = ipcfs_group_create(dir, &p);
	if (rc)
		bench_die("group create (arena %llu bytes): %s", (unsigned long long)arena,
			  strerror(-rc));

	/* Each reader leaves its memory figures here before it exits. */
	mems = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mems == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	for (int r = 1; r <= a.b.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(dir, r, &a, &mems[r]);
			_exit(0);
		}
	}
	rc = ipcfs_join(dir, 0, &m);
	if (rc < 0)
		bench_die("join: %s", strerror(-rc));
	rc = ipcfs_wait_ranks(m, IPCFS_ALL, 30000);
	if (rc)
		bench_die("readers did not join: %s", strerror(-rc));

	bench_samples_init(&s, (size_t)a.b.iters);
	payload_track_init(&t, &a, &s);
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t t0;
		void *buf;

		while (payload_outstanding(&t) >= a.inflight)
			take_ack(m, &t);
		t0 = bench_now_ns();
		if (it == (uint64_t)a.b.warmup + 1)
			t_start = t0;
		rc = ipcfs_reserve(m, a.b.size, &buf, -1);
		if (rc)
			bench_die("reserve: %s", strerror(-rc));
		bench_fill(buf, a.b.size, it);
		rc = ipcfs_commit(m, IPCFS_ALL, a.b.size);
		if (rc)
			bench_die("commit: %s", strerror(-rc));
		payload_track_sent(&t, it, t0);
	}
	while (t.completed < total)
		take_ack(m, &t);
	uint64_t timed_ns = bench_now_ns() - t_start;

	bench_reap_children();
	payload_mem_self(&self);
	payload_mem_add(&sum, &self);
	for (int r = 1; r <= a.b.readers; r++)
		payload_mem_add(&sum, &mems[r]);
	payload_report_json(&a, "ipcfs", &s, timed_ns, arena, &sum);
	payload_track_free(&t);
	bench_samples_free(&s);
	ipcfs_leave(m);
	ipcfs_group_destroy(dir);
	rmdir(tmpl);
	return 0;
}
