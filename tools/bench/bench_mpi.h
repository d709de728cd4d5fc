/* SPDX-License-Identifier: MIT */
/*
 * bench_mpi.h - what the MPI contenders (bcast_mpi.c, payload_mpi.c)
 * share. Compiled by $(MPICC), like them. Run with readers + 1 ranks
 * (mpirun -np N+1 ...); --readers must match.
 *
 * Errors: MPI calls return codes (MPI_ERRORS_RETURN); a failure prints
 * "bench: mpi: ..." to stderr and MPI_Abort()s the job.
 */
#ifndef BENCH_MPI_H
#define BENCH_MPI_H

#include <stddef.h>
#include <stdint.h>

/* MPI_Init(), then this rank in *@rank and the number of ranks in
 * *@nranks; errors on MPI_COMM_WORLD come back as codes. */
void bench_mpi_init(int *argc, char ***argv, int *rank, int *nranks);

/* 0 if @nranks is @readers + 1; else (rank 0 says so) MPI_Finalize() and
 * return 2, the exit status for main(). */
int bench_mpi_check_ranks(int rank, int nranks, int readers);

/* If @rc is not MPI_SUCCESS: print "bench: mpi: @what: <error>" and
 * abort. */
void bench_mpi_check(int rc, const char *what);

/* Abort if @ptr is NULL: "bench: mpi rank @rank: out of memory". */
void bench_mpi_need_mem(const void *ptr, int rank);

/* bench_verify(); on a mismatch print "bench: @who: PAYLOAD MISMATCH at
 * @unit @it, byte B of @size" and abort (@unit: "iteration", "message"). */
void bench_mpi_verify(const void *buf, size_t size, uint64_t it, const char *unit,
		      const char *who);

#endif /* BENCH_MPI_H */
