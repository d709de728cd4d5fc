/* SPDX-License-Identifier: MIT */
/*
 * gpu_faults.c - the failure scenarios of gpu_ranks (see gpu_ranks.c for
 * the program). Each checks what the review of 2026-11-30 found broken:
 *
 *   late        rank 0 queues 4 calls, rank 1 comes 1.2 s late (timeout
 *               0.5 s) and checks each call: every call that overlapped
 *               the failure fails, on both ranks; none returns a result
 *               paired with another call of the peer (finding 2)
 *   skew        rank 1 is 12 s late with the default timeout: it just
 *               waits, the results are right (finding 2d)
 *   stall1, stall2  rank 1 stalls 1 s before barrier 1 / 2 of its first
 *               call (timeout 0.3 s): both ranks report an error
 *   replay_late     a graph replayed while a peer is late: every later
 *               replay fails on both ranks, none silently
 *   trap        as replay_late with IPCFS_GPU_TRAP=1: the error is sticky
 *               in the stream (the next replay or sync returns it)
 *   diverge_size, diverge_algo  rank 1 makes a call of another size /
 *               another algorithm: -EPROTO on both ranks (finding 6)
 *   coresident  4 ranks on a device of 16 SMs (32 blocks at once) with the
 *               default grid: the grid is clamped, no deadlock (finding 1)
 *   nccl_one    NCCL init fails on rank 1 only, init timeout infinite: the
 *               others stop waiting at once and go on without NCCL
 *   early_fail  rank 1's cudaMalloc fails, init timeout infinite: every
 *               rank fails init at once (finding 4)
 *   old_driver  a driver older than the runtime: -ENOTSUP naming it
 *   preload     the kernels are loaded at init (finding 8)
 *   killed      rank 1's process dies after a call (default timeout):
 *               rank 0's next call fails within seconds, not minutes, and
 *               destroy returns
 *   wrong_lib   IPCFS_CUDA_LIB names a library without the table of
 *               operations (libipcfs.so itself): -ENODEV, one sentence
 *   pcie        devices linked by PCIe only: the custom kernels for 2
 *               ranks, NCCL for more (finding 11: full connectivity)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs/plan.h"
#include "gpu_ranks.h"
#include "ipcfs.h"

static bool is(const char *name)
{
	return !strcmp(scenario, name);
}

void faults_setup(void)
{
	if (is("late") || is("replay_late") || is("trap"))
		setenv("IPCFS_GPU_TIMEOUT_MS", "500", 1);
	if (is("stall1") || is("stall2")) {
		setenv("IPCFS_GPU_TIMEOUT_MS", "300", 1);
		setenv("IPCFS_ALGO", "twoshot", 1);
		if (rank == 1)
			setenv("IPCFS_EMU_STALL", is("stall1") ? "1:1000" : "2:1000", 1);
	}
	if (is("trap"))
		setenv("IPCFS_GPU_TRAP", "1", 1);
	if (is("coresident")) {
		setenv("IPCFS_EMU_SMS", "16", 1);
		setenv("IPCFS_GPU_TIMEOUT_MS", "3000", 1);
		setenv("IPCFS_ONESHOT_MAX", "1M", 1);
	}
	if (is("nccl_one") && rank == 1)
		setenv("IPCFS_EMU_NCCL_FAIL", "1", 1);
	if (is("early_fail") && rank == 1)
		setenv("IPCFS_EMU_ALLOC_FAIL", "1", 1);
	if (is("old_driver"))
		setenv("IPCFS_EMU_OLD_DRIVER", "1", 1);
	if (is("wrong_lib")) {
		/* The emulator is loaded already (gpu_ranks.c); libipcfs must now
		 * find a library without ipcfs_k_ops_v1: libipcfs.so. */
		char path[4096];
		const char *emu_path = getenv("IPCFS_CUDA_LIB");
		const char *slash = emu_path ? strrchr(emu_path, '/') : NULL;
		snprintf(path, sizeof(path), "%.*s/../libipcfs.so",
			 slash ? (int)(slash - emu_path) : 1, slash ? emu_path : ".");
		setenv("IPCFS_CUDA_LIB", path, 1);
	}
}

int faults_init_timeout(void)
{
	/* For ever: only a published failure can end these waits. */
	return is("nccl_one") || is("early_fail") ? -1 : 20000;
}

int faults_after_init(int rc, struct ipcfs_gpu_comm *c)
{
	(void)c;
	if (is("early_fail")) {
		int want = rank == 1 ? -ENOMEM : -ECANCELED;
		if (rc != want || (rank != 1 && !strstr(ipcfs_gpu_error(), "rank 1 failed")))
			die("init with rank 1 out of memory: %d, expected %d", rc, want);
		return 1;
	}
	if (is("wrong_lib")) {
		if (rc != -ENODEV || !strstr(ipcfs_gpu_error(), "ipcfs_k_ops_v1"))
			die("init with a library without the table: %d, expected -ENODEV naming "
			    "ipcfs_k_ops_v1", rc);
		return 1;
	}
	if (is("old_driver")) {
		if (rc != -ENOTSUP || !strstr(ipcfs_gpu_error(), "driver"))
			die("init with an old driver: %d, expected -ENOTSUP naming the driver", rc);
		return 1;
	}
	return 0;  /* the caller checks rc */
}

/* A call that must fail (any error: ETIMEDOUT, ECANCELED, EPROTO) either
 * when it is made or at the next check. */
static int call_rc(struct ipcfs_gpu_comm *c, const void *in, void *out, size_t count)
{
	int rc = ipcfs_allreduce(c, in, out, count, IPCFS_F32, IPCFS_OP_SUM, NULL);
	return rc ? rc : ipcfs_gpu_comm_check(c);
}

/* Rank 0 queues its calls at once; rank 1, late by more than the timeout,
 * checks each call alone: a result without an error must be right. */
static void late(struct ipcfs_gpu_comm *c)
{
	enum { K = 4, N = 1024 };
	void *in[K], *out[K];
	int rc;

	for (int i = 0; i < K; i++) {
		in[i] = dev_alloc(N * 4);
		out[i] = dev_alloc(N * 4);
		fill(in[i], IPCFS_F32, N, rank, (unsigned)i);
	}
	if (rank == 0) {
		for (int i = 0; i < K; i++)
			if ((rc = ipcfs_allreduce(c, in[i], out[i], N, IPCFS_F32, IPCFS_OP_SUM, NULL)))
				die("queueing call %d: %d", i, rc);
		if ((rc = ipcfs_gpu_comm_check(c)) != -ETIMEDOUT)
			die("rank 0 after its peer came late: %d, expected -ETIMEDOUT", rc);
		return;
	}
	usleep(1200 * 1000);
	for (int i = 0; i < K; i++) {
		rc = call_rc(c, in[i], out[i], N);
		if (!rc)  /* no error: the result must be this call's */
			verify(out[i], IPCFS_F32, N, (unsigned)i, "late: a call without an error");
		if (rc != -ECANCELED && rc != -ETIMEDOUT)
			die("rank 1, call %d after rank 0 timed out: %d, expected an error", i, rc);
	}
}

/* Late by 12 s with the default timeout: ordinary skew, no error. */
static void skew(struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(4096), *out = dev_alloc(4096);
	int rc;

	fill(in, IPCFS_F32, 1024, rank, 3);
	if (rank == 1)
		usleep(12 * 1000 * 1000);
	if ((rc = call_rc(c, in, out, 1024)))
		die("a call with a peer 12 s late: %d (the default timeout fired)", rc);
	verify(out, IPCFS_F32, 1024, 3, "skew");
}

/* Rank 1 stalls inside its first call: both ranks must report it. */
static void stall(struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(8192), *out = dev_alloc(8192);
	int rc;

	fill(in, IPCFS_F32, 2048, rank, 5);
	rc = call_rc(c, in, out, 2048);
	if (rc != -ETIMEDOUT && rc != -ECANCELED)
		die("a call that rank 1 stalled in: %d, expected an error on every rank", rc);
	if ((rc = call_rc(c, in, out, 2048)) == 0)
		die("a call after the failure succeeded");
}

/* Capture 2 calls, register, replay once; then rank 1 comes late. */
static void replay_late(struct ipcfs_gpu_comm *c, bool trap)
{
	void *in[2] = { dev_alloc(4096), dev_alloc(4096) }, *out[2] = { dev_alloc(4096),
								   dev_alloc(4096) };
	int rc;

	emu.graph_reset();
	emu.capture(1);
	for (int i = 0; i < 2; i++)
		if ((rc = ipcfs_allreduce(c, in[i], out[i], 1024, IPCFS_F32, IPCFS_OP_SUM, NULL)))
			die("captured call %d: %d", i, rc);
	emu.capture(0);
	if ((rc = ipcfs_gpu_register_graph(c)))
		die("ipcfs_gpu_register_graph: %d", rc);
	for (int rep = 0; rep < 3; rep++) {
		for (int i = 0; i < 2; i++)
			fill(in[i], IPCFS_F32, 1024, rank, (unsigned)(rep * 10 + i));
		if (rep == 1 && rank == 1)
			usleep(1200 * 1000);
		int rr = emu.replay();
		rc = ipcfs_gpu_comm_check(c);
		if (rep == 0) {
			if (rr || rc)
				die("the first replay: %d/%d", rr, rc);
		} else if (!rr && !rc) {
			die("replay %d after the peer came late: no error", rep);
		} else if (trap && rep == 2 && !rr && emu.ops->device_sync() == 0) {
			die("IPCFS_GPU_TRAP=1: the error is not sticky in the stream");
		}
		if (!rr && !rc)
			for (int i = 0; i < 2; i++)
				verify(out[i], IPCFS_F32, 1024, (unsigned)(rep * 10 + i), "replay");
	}
}

/* Rank 1 makes another call (@count1 elements) than rank 0 (@count0). */
static void diverge(struct ipcfs_gpu_comm *c, size_t count0, size_t count1)
{
	size_t n = rank == 0 ? count0 : count1;
	void *in = dev_alloc(n * 4), *out = dev_alloc(n * 4);
	int rc;

	fill(in, IPCFS_F32, n, rank, 9);
	if ((rc = call_rc(c, in, out, n)) != -EPROTO)
		die("rank %d with %zu elements, its peer with %zu: %d, expected -EPROTO", rank, n,
		    rank ? count0 : count1, rc);
	if (!strstr(ipcfs_gpu_error(), "out of step"))
		die("the reason does not say the ranks are out of step");
}

static void coresident(struct ipcfs_gpu_comm *c)
{
	const size_t n = 65536;  /* 256 KiB: 32 blocks of one-shot at most */
	void *in = dev_alloc(n * 4), *out = dev_alloc(n * 4);
	struct emu_stats st;
	int rc;

	fill(in, IPCFS_F32, n, rank, 11);
	if ((rc = call_rc(c, in, out, n)))
		die("a call with the default grid, %d ranks on a 16-SM device: %d", world, rc);
	verify(out, IPCFS_F32, n, 11, "coresident");
	emu.stats(&st);
	if (st.max_grid * (uint64_t)world > 32)
		die("grid %llu x %d ranks > the device's 32 resident blocks",
		    (unsigned long long)st.max_grid, world);
}

static void killed(struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(4096), *out = dev_alloc(4096);
	int rc;

	fill(in, IPCFS_F32, 1024, rank, 6);
	if (call_rc(c, in, out, 1024))
		die("the call before rank 1 dies");
	verify(out, IPCFS_F32, 1024, 6, "killed");
	if (rank == 1)
		_exit(0);  /* dies: no destroy, no leave */
	if ((rc = call_rc(c, in, out, 1024)) != -ECONNRESET)
		die("a call after rank 1 died: %d, expected -ECONNRESET", rc);
	if (!strstr(ipcfs_gpu_error(), "died"))
		die("the reason does not say the peer died");
}

static void pcie(struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(4096), *out = dev_alloc(4096);
	struct emu_stats s0, s1;

	if (world > 2 && !strstr(ipcfs_gpu_error(), "NVLink"))
		die("%d ranks over PCIe: no reason names NVLink", world);
	fill(in, IPCFS_F32, 1024, rank, 4);
	emu.stats(&s0);
	if (call_rc(c, in, out, 1024))
		die("a call over PCIe");
	emu.stats(&s1);
	verify(out, IPCFS_F32, 1024, 4, "pcie");
	if ((s1.launches - s0.launches == 1) != (world == 2) ||
	    (s1.nccl_calls - s0.nccl_calls == 1) != (world > 2))
		die("%d ranks over PCIe: %llu kernels, %llu NCCL calls", world,
		    (unsigned long long)(s1.launches - s0.launches),
		    (unsigned long long)(s1.nccl_calls - s0.nccl_calls));
}

int faults_run(struct ipcfs_member *m, struct ipcfs_gpu_comm *c)
{
	(void)m;
	if (is("late"))
		late(c);
	else if (is("skew"))
		skew(c);
	else if (is("stall1") || is("stall2"))
		stall(c);
	else if (is("replay_late") || is("trap"))
		replay_late(c, is("trap"));
	else if (is("diverge_size"))
		diverge(c, 512, 1024);   /* one-shot, one block, both */
	else if (is("diverge_algo"))
		diverge(c, 1024, 2048);  /* 4 KiB one-shot, 8 KiB two-shot */
	else if (is("coresident"))
		coresident(c);
	else if (is("nccl_one")) {
		void *in = dev_alloc(4096), *out = dev_alloc(4096);
		fill(in, IPCFS_F32, 1024, rank, 2);
		if (call_rc(c, in, out, 1024))
			die("the custom kernels after NCCL failed on rank 1");
		verify(out, IPCFS_F32, 1024, 2, "nccl_one");
		/* 4 bytes: only NCCL could, and it failed on rank 1. */
		if (ipcfs_allreduce(c, in, out, 1, IPCFS_F32, IPCFS_OP_SUM, NULL) != -EOPNOTSUPP)
			die("NCCL is used although it failed on rank 1");
	} else if (is("killed")) {
		killed(c);
	} else if (is("pcie")) {
		pcie(c);
	} else if (is("preload")) {
		struct emu_stats st;
		emu.stats(&st);
		if (st.preloads != 1)
			die("init loaded the kernels %llu times, expected once",
			    (unsigned long long)st.preloads);
	} else {
		return 0;
	}
	return 1;
}
