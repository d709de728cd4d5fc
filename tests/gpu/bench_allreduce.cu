// SPDX-License-Identifier: MIT
//
// bench_allreduce.cu - latency and bandwidth of ipcfs_allreduce, one-shot and
// two-shot, with N rank processes (IPCFS_BENCH_RANKS, default 2) on one GPU,
// against cudaMemcpy device-to-device of the same bytes on that GPU.
// Latency: 8 KiB and 256 KiB (f32); bandwidth: 1, 4, 16, 64 MiB. Rank 0
// times ITERS back-to-back calls on its stream with CUDA events (after a
// warm-up); every rank makes the same calls. Prints one JSON line per
// measurement, then a table. Exit 77 without a CUDA device. Like the test,
// it starts a private MPS daemon when nvidia-cuda-mps-control exists.
//
// What one GPU shows: all ranks share one device's HBM and SMs, the
// "peer" reads are local HBM reads (no NVLink), so the numbers bound the
// kernels' own overhead (barriers, launch), not multi-GPU link bandwidth.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "gpu_env.h"
#include "ipcfs.h"

extern "C" __attribute__((visibility("default"), used)) const char *__asan_default_options()
{
	return "protect_shadow_gap=0";
}

static const size_t sizes[] = { 8 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20 };
static const int nsizes = sizeof sizes / sizeof sizes[0];

static int iters_for(size_t b)
{
	return b <= (256 << 10) ? 500 : b <= (4 << 20) ? 100 : 20;
}

#define CK(x)                                                                      \
	do {                                                                       \
		cudaError_t e_ = (x);                                              \
		if (e_ != cudaSuccess) {                                           \
			fprintf(stderr, "rank %d: %s: %s\n", rank, #x,             \
				cudaGetErrorString(e_));                           \
			return 1;                                                  \
		}                                                                  \
	} while (0)
#define IPC(x)                                                                     \
	do {                                                                       \
		int rc_ = (x);                                                     \
		if (rc_ < 0) {                                                     \
			fprintf(stderr, "rank %d: %s: %s (%s)\n", rank, #x,        \
				strerror(-rc_), ipcfs_gpu_error());                \
			return 1;                                                  \
		}                                                                  \
	} while (0)

// Results go from rank 0 to the parent through a pipe: [algo][size] us.
static int run_rank(const char *dir, int rank, int fd)
{
	ipcfs_member *m;
	ipcfs_gpu_comm *c[2];
	static const char *const algos[2] = { "oneshot", "twoshot" };
	double us[3][nsizes];
	void *in, *out;
	cudaStream_t s;
	cudaEvent_t e0, e1;

	IPC(ipcfs_join(dir, rank, &m));
	CK(cudaSetDevice(0));
	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaEventCreate(&e0));
	CK(cudaEventCreate(&e1));
	for (int a = 0; a < 2; a++) {
		setenv("IPCFS_ALGO", algos[a], 1);
		IPC(ipcfs_gpu_comm_init(m, a ? "btwo" : "bone", 64 << 20, 60000, &c[a]));
	}
	CK(cudaMalloc(&in, 64 << 20));
	CK(cudaMalloc(&out, 64 << 20));
	CK(cudaMemset(in, 0, 64 << 20));
	for (int a = 0; a < 2; a++) {
		for (int i = 0; i < nsizes; i++) {
			size_t count = sizes[i] / 4;
			int n = iters_for(sizes[i]);
			for (int w = 0; w < 10; w++)
				IPC(ipcfs_allreduce(c[a], in, out, count, IPCFS_F32, IPCFS_OP_SUM, s));
			CK(cudaEventRecord(e0, s));
			for (int k = 0; k < n; k++)
				IPC(ipcfs_allreduce(c[a], in, out, count, IPCFS_F32, IPCFS_OP_SUM, s));
			CK(cudaEventRecord(e1, s));
			CK(cudaEventSynchronize(e1));
			IPC(ipcfs_gpu_comm_check(c[a]));
			float ms = 0;
			CK(cudaEventElapsedTime(&ms, e0, e1));
			us[a][i] = ms * 1000.0 / n;
		}
	}
	if (rank == 0) {
		for (int i = 0; i < nsizes; i++) {
			int n = iters_for(sizes[i]);
			CK(cudaMemcpyAsync(out, in, sizes[i], cudaMemcpyDeviceToDevice, s));
			CK(cudaEventRecord(e0, s));
			for (int k = 0; k < n; k++)
				CK(cudaMemcpyAsync(out, in, sizes[i], cudaMemcpyDeviceToDevice, s));
			CK(cudaEventRecord(e1, s));
			CK(cudaEventSynchronize(e1));
			float ms = 0;
			CK(cudaEventElapsedTime(&ms, e0, e1));
			us[2][i] = ms * 1000.0 / n;
		}
		if (write(fd, us, sizeof us) != (ssize_t)sizeof us)
			return 1;
	}
	for (int a = 0; a < 2; a++)
		IPC(ipcfs_gpu_comm_destroy(c[a]));
	ipcfs_leave(m);
	return 0;
}

int main()
{
	int world = getenv("IPCFS_BENCH_RANKS") ? atoi(getenv("IPCFS_BENCH_RANKS")) : 2;
	char tmpl[] = "/tmp/ipcfs-gpu-bench-XXXXXX", self[PATH_MAX], lib[PATH_MAX + 32];
	std::string dir, mps;
	int fds[2], bad = 0;
	double us[3][nsizes];

	gpu_env_setup();
	pid_t p = fork();
	if (p == 0)  // CUDA in a child only: it does not survive fork
		_exit(gpu_env_check("bench_allreduce"));
	int st = 0;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;  // 77: no GPU; 1: unusable
	if (world < 2 || world > 8) {
		fprintf(stderr, "IPCFS_BENCH_RANKS: 2..8\n");
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0 && !getenv("IPCFS_CUDA_LIB")) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(lib, sizeof lib, "%s/../libipcfs_cuda.so", self);
		setenv("IPCFS_CUDA_LIB", lib, 1);
	}
	if (!mkdtemp(tmpl))
		return 1;
	if (!getenv("IPCFS_GPU_TEST_NO_MPS") &&
	    !system("command -v nvidia-cuda-mps-control >/dev/null 2>&1")) {
		mps = std::string(tmpl) + "/mps";
		setenv("CUDA_MPS_PIPE_DIRECTORY", mps.c_str(), 1);
		setenv("CUDA_MPS_LOG_DIRECTORY", mps.c_str(), 1);
		if (system(("mkdir -p " + mps + " && nvidia-cuda-mps-control -d").c_str()))
			mps.clear();
	}
	dir = std::string(tmpl) + "/g";
	ipcfs_params pr;
	ipcfs_params_init(&pr);
	pr.ranks = (uint32_t)world;
	if (ipcfs_group_create(dir.c_str(), &pr) || pipe(fds))
		return 1;
	std::vector<pid_t> pids;
	for (int r = 0; r < world; r++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			alarm(500);
			_exit(run_rank(dir.c_str(), r, fds[1]));
		}
		pids.push_back(pid);
	}
	close(fds[1]);
	bool got = read(fds[0], us, sizeof us) == (ssize_t)sizeof us;
	for (pid_t pid : pids) {
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	ipcfs_group_destroy(dir.c_str());
	if (!mps.empty() && system("echo quit | nvidia-cuda-mps-control"))
		fprintf(stderr, "could not stop MPS\n");
	if (system(("rm -rf " + std::string(tmpl)).c_str()))
		fprintf(stderr, "could not remove %s\n", tmpl);
	if (bad || !got) {
		fprintf(stderr, "bench_allreduce: %d rank(s) failed\n", bad);
		return 1;
	}
	static const char *const names[3] = { "oneshot", "twoshot", "memcpy_d2d" };
	for (int a = 0; a < 3; a++)
		for (int i = 0; i < nsizes; i++)
			printf("{\"bench\":\"gpu_allreduce\",\"ranks\":%d,\"mps\":%s,\"algo\":\"%s\","
			       "\"bytes\":%zu,\"us\":%.3f,\"GBps\":%.2f}\n",
			       world, mps.empty() ? "false" : "true", names[a], sizes[i], us[a][i],
			       sizes[i] / us[a][i] / 1e3);
	printf("\n%d ranks on one GPU%s; f32 sum, time per call (us) and bytes/time (GB/s)\n",
	       world, mps.empty() ? " (no MPS: time-sliced)" : " (MPS)");
	printf("%10s %14s %14s %14s\n", "bytes", "oneshot", "twoshot", "memcpy D2D");
	for (int i = 0; i < nsizes; i++) {
		printf("%10zu", sizes[i]);
		for (int a = 0; a < 3; a++)
			printf("  %7.1f %5.0f", us[a][i], sizes[i] / us[a][i] / 1e3);
		printf("\n");
	}
	return 0;
}
