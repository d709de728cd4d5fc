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

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mcheck(int rc, const char *what)
{
	if (rc != MPI_SUCCESS) {
		char msg[MPI_MAX_ERROR_STRING];
		int len = 0;

		MPI_Error_string(rc, msg, &len);
		fprintf(stderr, "bench: mpi: %s: %s\n", what, msg);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	unsigned char *buf;
	int rank, nranks;
	long rss, rss_sum = 0;
	char who[32];

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	/* Errors come back as codes; mcheck() prints them and aborts. */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	bench_parse_args(argc, argv, "mpi", &a);
	if (nranks != a.readers + 1) {
		if (rank == 0)
			fprintf(stderr, "bench: mpi: --readers %d needs %d ranks, got %d\n",
				a.readers, a.readers + 1, nranks);
		MPI_Finalize();
		return 2;
	}
	snprintf(who, sizeof(who), "mpi reader %d", rank - 1);
	buf = malloc(a.size);
	if (!buf) {
		fprintf(stderr, "bench: mpi rank %d: out of memory\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	memset(buf, 0, a.size);
	if (rank == 0)
		bench_samples_init(&s, (size_t)a.iters);
	mcheck(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");

	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		uint64_t t0 = 0;
		int one = rank ? 1 : 0, acks = 0;

		if (rank == 0) {
			t0 = bench_now_ns();
			bench_fill(buf, a.size, it);
		}
		mcheck(MPI_Bcast(buf, (int)a.size, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
		if (rank) {
			long off = bench_verify(buf, a.size, it);

			if (off >= 0) {
				fprintf(stderr,
					"bench: %s: PAYLOAD MISMATCH at iteration %llu, byte %ld of %zu\n",
					who, (unsigned long long)it, off, a.size);
				MPI_Abort(MPI_COMM_WORLD, 1);
			}
		}
		mcheck(MPI_Reduce(&one, &acks, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD),
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
	mcheck(MPI_Reduce(&rss, &rss_sum, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD),
	       "MPI_Reduce rss");
	if (rank == 0) {
		bench_report_json(&a, "mpi", &s, rss_sum);
		bench_samples_free(&s);
	}
	free(buf);
	MPI_Finalize();
	return 0;
}
