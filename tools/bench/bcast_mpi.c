/* SPDX-License-Identifier: MIT */
/*
 * bcast_mpi.c - broadcast round trip with MPI collectives.
 *
 * Run with readers + 1 ranks (mpirun -np N+1 ...); --readers must match.
 * Rank 0 fills the buffer and MPI_Bcast()s it; every other rank verifies
 * it; the ack is an MPI_Reduce (sum) of one int per reader back to rank 0,
 * which checks that it got N. Rank 0 times from before the fill to after
 * the reduce. Peak RSS: an MPI_Reduce (sum) of every rank's VmHWM (the
 * mpirun/orted launcher processes are not counted).
 *
 * Waiting is Open MPI's business: it busy-polls, and yields when it knows
 * it is oversubscribed (the driver sets mpi_yield_when_idle then).
 * Only rank 0 writes the JSON line.
 */
#include "bench_common.h"
#include "bench_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	unsigned char *buf;
	int rank, nranks;
	long rss, rss_sum = 0;
	char who[32];

	bench_mpi_init(&argc, &argv, &rank, &nranks);
	bench_parse_args(argc, argv, "mpi", &a);
	if (bench_mpi_check_ranks(rank, nranks, a.readers))
		return 2;
	snprintf(who, sizeof(who), "mpi reader %d", rank - 1);
	buf = malloc(a.size);
	bench_mpi_need_mem(buf, rank);
	memset(buf, 0, a.size);
	if (rank == 0)
		bench_samples_init(&s, (size_t)a.iters);
	bench_mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");

	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		uint64_t t0 = 0;
		int one = rank ? 1 : 0, acks = 0;

		if (rank == 0) {
			bench_pace(&a);
			t0 = bench_now_ns();
			bench_fill(buf, a.size, it);
		}
		bench_mpi_check(MPI_Bcast(buf, (int)a.size, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
		if (rank)
			bench_mpi_verify(buf, a.size, it, "iteration", who);
		bench_mpi_check(MPI_Reduce(&one, &acks, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD),
		       "MPI_Reduce");
		if (rank == 0) {
			if (acks != a.readers) {
				fprintf(stderr, "bench: mpi: %d acks, expected %d\n", acks,
					a.readers);
				MPI_Abort(MPI_COMM_WORLD, 1);
			}
			if (it > (uint64_t)a.warmup)
				bench_samples_add(&s, bench_now_ns() - t0);
		}
	}

	rss = bench_peak_rss_kib();
	bench_mpi_check(MPI_Reduce(&rss, &rss_sum, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD),
	       "MPI_Reduce rss");
	double cpu = bench_cpu_seconds(), cpu_sum = 0;
	bench_mpi_check(MPI_Reduce(&cpu, &cpu_sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD),
	       "MPI_Reduce cpu");
	if (rank == 0) {
		bench_report_json(&a, "mpi", &s, rss_sum, cpu_sum);
		bench_samples_free(&s);
	}
	free(buf);
	MPI_Finalize();
	return 0;
}
