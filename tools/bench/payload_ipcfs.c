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
#include "bench_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs.h"

#define SLOT_BYTES 4096u

static void reader(const char *dir, int rank, const struct payload_args *a,
		   struct payload_mem *mem_out)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters);
	struct ipcfs_member *m;
	char who[32];

	snprintf(who, sizeof(who), "ipcfs reader %d", rank);
	m = bench_group_reader_run(dir, rank, a->b.size, total, who);
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
	struct bench_group g;
	struct ipcfs_params p;
	struct ipcfs_member *m;
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

	bench_group_mkdtemp(&g, "/tmp/ipcfs-payload.XXXXXX");
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)a.b.readers + 1;
	p.slots = slots;
	p.slot_bytes = SLOT_BYTES;
	p.arena_bytes = arena;
	rc = ipcfs_group_create(g.dir, &p);
	if (rc)
		bench_die("group create (arena %llu bytes): %s", (unsigned long long)arena,
			  strerror(-rc));

	/* Each reader leaves its memory figures here before it exits. */
	mems = bench_group_shared_page();
	for (int r = 1; r <= a.b.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(g.dir, r, &a, &mems[r]);
			_exit(0);
		}
	}
	m = bench_group_join(g.dir, 0, NULL);
	bench_group_wait_readers(m);

	bench_samples_init(&s, (size_t)a.b.iters);
	payload_track_init(&t, &a, &s);
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t t0;

		while (payload_outstanding(&t) >= a.inflight)
			take_ack(m, &t);
		t0 = bench_now_ns();
		if (it == (uint64_t)a.b.warmup + 1)
			t_start = t0;
		bench_group_send_filled(m, a.b.size, it);
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
	bench_group_cleanup(&g, m);
	return 0;
}
