/* SPDX-License-Identifier: MIT */
/*
 * remote_mpi.c - the round trip of tools/bench/run_remote.sh through Open
 * MPI: rank 0 (on one simulated machine) MPI_Bcast()s the payload, rank 1
 * (on the other) checks its first and last bytes, and the ack is an
 * MPI_Reduce (sum) of one int back to rank 0, as bcast_mpi.c does.
 *
 *   mpirun -np 2 ... remote_mpi ITERS SIZES SYSTEM TARGET
 *
 * SIZES: comma-separated byte counts. Workload, timing and the JSON lines
 * (rank 0, stdout; SYSTEM and TARGET name them): remote_common.h. Which
 * transport carries it is mpirun's business (run_remote.sh: TCP only,
 * between the two network namespaces).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote_common.h"

#define MAX_SIZES 32

static void check(int rc, const char *what)
{
	if (rc != MPI_SUCCESS) {
		char msg[MPI_MAX_ERROR_STRING];
		int len = 0;
		MPI_Error_string(rc, msg, &len);
		fprintf(stderr, "remote_mpi: %s: %s\n", what, msg);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}

static void fail(const char *what)
{
	fprintf(stderr, "remote_mpi: %s\n", what);
	MPI_Abort(MPI_COMM_WORLD, 1);
}

static void round_trip(unsigned char *buf, size_t size, unsigned char tag, int rank)
{
	int one = rank ? 1 : 0, acks = 0;

	if (rank == 0)
		memset(buf, tag, size);
	check(MPI_Bcast(buf, (int)size, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
	if (rank && (buf[0] != tag || buf[size - 1] != tag))
		fail("payload check");
	check(MPI_Reduce(&one, &acks, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
	if (rank == 0 && acks != 1)
		fail("wrong ack count");
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_SIZES];
	int rank, nranks, nsizes = 0;
	long iters;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	if (argc != 5 || nranks != 2 || (iters = atol(argv[1])) < 1) {
		if (rank == 0)
			fprintf(stderr, "usage: mpirun -np 2 remote_mpi ITERS SIZES SYSTEM TARGET\n");
		MPI_Finalize();
		return 2;
	}
	for (char *tok = strtok(argv[2], ","); tok && nsizes < MAX_SIZES; tok = strtok(NULL, ",")) {
		long long v = atoll(tok);
		if (v < 2 || v > (1 << 30))
			fail("a size must be 2 .. 1 GiB");
		sizes[nsizes++] = (size_t)v;
	}
	for (int s = 0; s < nsizes; s++) {
		size_t size = sizes[s];
		long n = remote_iters(iters, size);
		unsigned char *buf = malloc(size);
		double *t = malloc((size_t)n * sizeof(*t)), cpu0 = 0;
		struct remote_cpu cpu = {0};
		if (!buf || !t)
			fail("out of memory");
		if (rank == 0)
			remote_cpu_open(&cpu);
		for (long i = 0; i < iters / 10 + 1; i++)
			round_trip(buf, size, (unsigned char)i, rank);
		if (rank == 0)
			cpu0 = remote_cpu_read(&cpu);
		for (long i = 0; i < n; i++) {
			double t0 = remote_now_us();
			round_trip(buf, size, (unsigned char)i, rank);
			t[i] = remote_now_us() - t0;
		}
		if (rank == 0) {
			cpu0 = remote_cpu_read(&cpu) - cpu0;
			remote_cpu_close(&cpu);
			remote_report(argv[3], argv[4], size, t, n, cpu0);
		}
		free(buf);
		free(t);
	}
	MPI_Finalize();
	return 0;
}
