/* SPDX-License-Identifier: MIT */
/*
 * bench_mpi.c - what the MPI contenders share (see bench_mpi.h).
 */
#include "bench_mpi.h"

#include "bench_common.h"

#include <mpi.h>
#include <stdio.h>

void bench_mpi_init(int *argc, char ***argv, int *rank, int *nranks)
{
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, nranks);
	/* Errors come back as codes; bench_mpi_check() prints them and
	 * aborts. */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int bench_mpi_check_ranks(int rank, int nranks, int readers)
{
	if (nranks == readers + 1)
		return 0;
	if (rank == 0)
		fprintf(stderr, "bench: mpi: --readers %d needs %d ranks, got %d\n", readers,
			readers + 1, nranks);
	MPI_Finalize();
	return 2;
}

void bench_mpi_check(int rc, const char *what)
{
	if (rc != MPI_SUCCESS) {
		char msg[MPI_MAX_ERROR_STRING];
		int len = 0;

		MPI_Error_string(rc, msg, &len);
		fprintf(stderr, "bench: mpi: %s: %s\n", what, msg);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}

void bench_mpi_need_mem(const void *ptr, int rank)
{
	if (!ptr) {
		fprintf(stderr, "bench: mpi rank %d: out of memory\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}

void bench_mpi_verify(const void *buf, size_t size, uint64_t it, const char *unit,
		      const char *who)
{
	long off = bench_verify(buf, size, it);

	if (off >= 0) {
		fprintf(stderr, "bench: %s: PAYLOAD MISMATCH at %s %llu, byte %ld of %zu\n", who,
			unit, (unsigned long long)it, off, size);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}
