/* SPDX-License-Identifier: MIT */
/*
 * payload_mpi.c - large payloads with MPI broadcasts (see payload_common.h
 * for the workload). Run with readers + 1 ranks (mpirun -np N+1 ...);
 * --readers must match.
 *
 * K = 1: rank 0 fills its buffer and MPI_Bcast()s it; every other rank
 * verifies its copy and acks with an MPI_Send of the message number (tag
 * ACK) to rank 0, which receives N acks.
 *
 * K > 1: each rank owns K buffers and message `it` uses buffer it % K.
 * Rank 0 starts MPI_Ibcast() of message `it` as soon as fewer than K
 * messages are unacked (and the Ibcast that last used the buffer has
 * completed); readers keep K MPI_Ibcast()s posted, wait for the oldest,
 * verify it, ack it and post the next one in its buffer. Collectives are
 * started in the same order everywhere, as MPI requires. Memory grows with
 * K: K buffers in every process.
 *
 * Peak memory: MPI_Reduce (sum) of every rank's figures (the mpirun/orted
 * launcher processes are not counted). Open MPI's vader BTL maps its
 * shared-memory segments in every rank: they count in shm_kib. Waiting is
 * Open MPI's business (it busy-polls; the driver sets mpi_yield_when_idle
 * when ranks outnumber CPUs). Only rank 0 writes the JSON line.
 */
#include "payload_common.h"
#include "bench_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_ACK 7

static void take_ack(struct payload_track *t)
{
	MPI_Status st;
	uint64_t v;

	bench_mpi_check(MPI_Recv(&v, 1, MPI_UINT64_T, MPI_ANY_SOURCE, TAG_ACK, MPI_COMM_WORLD, &st),
	       "MPI_Recv ack");
	payload_track_ack(t, st.MPI_SOURCE - 1, v);
}

static void reader(const struct payload_args *a, unsigned char **bufs, MPI_Request *req,
		   const char *who)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters), k = (uint64_t)a->inflight;
	int count = (int)a->b.size;

	if (k == 1) {
		for (uint64_t it = 1; it <= total; it++) {
			bench_mpi_check(MPI_Bcast(bufs[0], count, MPI_BYTE, 0, MPI_COMM_WORLD),
			       "MPI_Bcast");
			bench_mpi_verify(bufs[0], a->b.size, it, "message", who);
			bench_mpi_check(MPI_Send(&it, 1, MPI_UINT64_T, 0, TAG_ACK, MPI_COMM_WORLD),
			       "MPI_Send ack");
		}
		return;
	}
	for (uint64_t it = 1; it <= total && it <= k; it++)
		bench_mpi_check(MPI_Ibcast(bufs[it % k], count, MPI_BYTE, 0, MPI_COMM_WORLD, &req[it % k]),
		       "MPI_Ibcast");
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t next = it + k;

		bench_mpi_check(MPI_Wait(&req[it % k], MPI_STATUS_IGNORE), "MPI_Wait");
		bench_mpi_verify(bufs[it % k], a->b.size, it, "message", who);
		bench_mpi_check(MPI_Send(&it, 1, MPI_UINT64_T, 0, TAG_ACK, MPI_COMM_WORLD), "MPI_Send ack");
		if (next <= total)
			bench_mpi_check(MPI_Ibcast(bufs[next % k], count, MPI_BYTE, 0, MPI_COMM_WORLD,
					  &req[next % k]),
			       "MPI_Ibcast");
	}
}

static uint64_t sender(const struct payload_args *a, unsigned char **bufs, MPI_Request *req,
		       struct payload_track *t)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters), k = (uint64_t)a->inflight;
	uint64_t t_start = 0;
	int count = (int)a->b.size;

	for (uint64_t it = 1; it <= total; it++) {
		unsigned char *buf = bufs[it % k];
		uint64_t t0;

		while (payload_outstanding(t) >= a->inflight)
			take_ack(t);
		t0 = bench_now_ns();
		if (it == (uint64_t)a->b.warmup + 1)
			t_start = t0;
		if (k > 1)
			bench_mpi_check(MPI_Wait(&req[it % k], MPI_STATUS_IGNORE), "MPI_Wait");
		bench_fill(buf, a->b.size, it);
		payload_track_sent(t, it, t0);
		if (k == 1)
			bench_mpi_check(MPI_Bcast(buf, count, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
		else
			bench_mpi_check(MPI_Ibcast(buf, count, MPI_BYTE, 0, MPI_COMM_WORLD, &req[it % k]),
			       "MPI_Ibcast");
	}
	while (t->completed < total)
		take_ack(t);
	uint64_t timed_ns = bench_now_ns() - t_start;
	for (uint64_t i = 0; k > 1 && i < k; i++)
		bench_mpi_check(MPI_Wait(&req[i], MPI_STATUS_IGNORE), "MPI_Wait");
	return timed_ns;
}

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct payload_track t;
	struct payload_mem mem, sum = { 0, 0 };
	unsigned char **bufs;
	MPI_Request *req;
	uint64_t timed_ns = 0;
	long mine[2], all[2] = { 0, 0 };
	int rank, nranks;
	char who[32];

	bench_mpi_init(&argc, &argv, &rank, &nranks);
	payload_parse_args(argc, argv, "mpi", &a);
	if (bench_mpi_check_ranks(rank, nranks, a.b.readers))
		return 2;
	if (a.b.size > (size_t)0x7fffffff)
		bench_die("mpi: --size must fit an int count");
	snprintf(who, sizeof(who), "mpi reader %d", rank - 1);
	bufs = calloc((size_t)a.inflight, sizeof(*bufs));
	req = calloc((size_t)a.inflight, sizeof(*req));
	if (!bufs || !req)
		bench_die("mpi rank %d: out of memory", rank);
	for (int i = 0; i < a.inflight; i++) {
		req[i] = MPI_REQUEST_NULL;
		bufs[i] = malloc(a.b.size);
		bench_mpi_need_mem(bufs[i], rank);
	}
	bench_mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");

	if (rank == 0) {
		bench_samples_init(&s, (size_t)a.b.iters);
		payload_track_init(&t, &a, &s);
		timed_ns = sender(&a, bufs, req, &t);
	} else {
		reader(&a, bufs, req, who);
	}

	payload_mem_self(&mem);
	mine[0] = mem.hwm_kib;
	mine[1] = mem.shm_kib;
	bench_mpi_check(MPI_Reduce(mine, all, 2, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce mem");
	if (rank == 0) {
		sum.hwm_kib = all[0];
		sum.shm_kib = all[1];
		payload_report_json(&a, "mpi", &s, timed_ns, 0, &sum);
		payload_track_free(&t);
		bench_samples_free(&s);
	}
	for (int i = 0; i < a.inflight; i++)
		free(bufs[i]);
	free(bufs);
	free(req);
	MPI_Finalize();
	return 0;
}
