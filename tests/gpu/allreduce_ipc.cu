// SPDX-License-Identifier: MIT
//
// allreduce_ipc.cu - the GPU communicator end to end: ranks are forked
// processes on one GPU (device 0, or $IPCFS_TEST_DEVICE), rendezvous through
// a plain group directory (no daemon, no FUSE), CUDA IPC between the
// processes. For 2..8 ranks ($IPCFS_GPU_TEST_WORLDS, e.g. "2,3,5,8"):
// one-shot, two-shot and auto communicators, every dtype, 16 B .. 64 MiB,
// checked bit for bit against the CPU reference of the kernels and against
// an fp64 sum; 120 consecutive calls without synchronization, sizes and
// dtypes changing, every output checked; a captured CUDA graph replayed with
// new inputs; a registered user buffer (no copy); counters; -EOPNOTSUPP for
// what would need NCCL (NCCL refuses several ranks on one GPU); (2 ranks) a
// peer that never arrives -> -ETIMEDOUT, no hang, and a peer late by more
// than the timeout with calls queued -> an error on both ranks, never a
// wrong result; NaN, infinities, signed zeros, subnormals; an ordering
// soak whose per-call output hashes must agree across ranks. Ranks use
// device 0, $IPCFS_TEST_DEVICE, or rank mod count with IPCFS_TEST_DEVICES=rr.
//
// Requirements. The one-shot and two-shot kernels spin waiting for their
// peers, so the ranks' kernels must run at the same time: kernels of
// different processes run concurrently only under MPS. The test starts its
// own MPS control daemon (private pipe and log directories) when
// nvidia-cuda-mps-control is in PATH, and quits it at the end; without it
// the kernels progress only by time slicing between the processes (slow:
// the sizes are limited to 1 MiB then, and the barrier timeout raised).
// The grid is the library's default, which it clamps so that every block
// of every rank sharing a device is resident at once.
//
// Exit status: 0 passed, 1 failed (also when a GPU is present but CUDA
// cannot use it), 77 skipped (no GPU on this machine).
// IPCFS_GPU_TEST_QUICK=1: sizes up to 1 MiB. IPCFS_GPU_TEST_NO_MPS=1: do not
// start MPS.

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "ipcfs/plan.h"
#include "gpu_env.h"
#include "ipcfs.h"

extern "C" __attribute__((visibility("default"), used)) const char *__asan_default_options()
{
	return "protect_shadow_gap=0";
}

static int rank_g = -1;
static int failures;

#define FAILF(...)                                                                   \
	do {                                                                         \
		failures++;                                                          \
		fprintf(stderr, "FAIL rank %d %s:%d: ", rank_g, __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                                        \
		fputc('\n', stderr);                                                 \
	} while (0)
#define EXPECT(c, ...)                     \
	do {                               \
		if (!(c))                  \
			FAILF(__VA_ARGS__); \
	} while (0)
#define CK(x)                                                                         \
	do {                                                                          \
		cudaError_t e_ = (x);                                                 \
		if (e_ != cudaSuccess) {                                              \
			FAILF("%s: %s", #x, cudaGetErrorString(e_));                  \
			return 1;                                                     \
		}                                                                     \
	} while (0)
#define IPC(x)                                                                        \
	do {                                                                          \
		int rc_ = (x);                                                        \
		if (rc_ < 0) {                                                        \
			FAILF("%s: %s (%s)", #x, strerror(-rc_), ipcfs_gpu_error());  \
			return 1;                                                     \
		}                                                                     \
	} while (0)

static const int pub_dtypes[3] = { IPCFS_F32, IPCFS_F16, IPCFS_BF16 };  // index = ALLREDUCE_*
static const char *const dtype_names[3] = { "f32", "f16", "bf16" };
static bool quick;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

// Input of rank @r for (@seed): values in [-1, 1) * 2^[-6, 5].
static float special_value(unsigned k)
{
	static const uint32_t bits[6] = { 0x7fc01234u, 0x7f800000u, 0xff800000u,
					  0x80000000u, 0x00000005u, 0xffc00001u };
	return allreduce_bits_f32(bits[k % 6]);
}

static void fill(void *p, int dtype, size_t count, int r, uint64_t seed)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t x = mix(seed * 0x9e3779b97f4a7c15ULL + (uint64_t)r * 0x1000003ULL + i);
		float v = (float)((x >> 40) & 0xffffff) * 0x1p-23f - 1.0f;
		v = ldexpf(v, (int)((x >> 8) % 12) - 6);
		// One element in 61: a special value (NaN with a payload, +-inf,
		// -0, a subnormal), so NaN canonicalization, inf - inf and signed
		// zeros are compared with the reference bit for bit as well.
		if (i % 61 == 7)
			v = special_value((unsigned)(x >> 4));
		allreduce_store_f32(p, dtype, i, v);
	}
}

struct Ref {
	std::vector<std::vector<unsigned char>> in;  // every rank's input
	std::vector<const void *> ptrs;
};

static void make_ref(Ref &ref, int world, int dtype, size_t count, uint64_t seed)
{
	size_t bytes = count * allreduce_plan_dtype_size(dtype);
	ref.in.assign(world, std::vector<unsigned char>(bytes ? bytes : 1));
	ref.ptrs.resize(world);
	for (int r = 0; r < world; r++) {
		fill(ref.in[r].data(), dtype, count, r, seed);
		ref.ptrs[r] = ref.in[r].data();
	}
}

// Bitwise equal to the kernels' order (CPU reference), and within the
// rounding error of an fp64 sum.
static bool verify(const Ref &ref, int world, int dtype, size_t count, const void *got,
		   const char *what)
{
	static const double unit[3] = { 0x1p-24, 0x1p-11, 0x1p-8 };
	int bad = 0;

	for (size_t i = 0; i < count && bad < 5; i++) {
		float want = allreduce_ref_sum1(world, dtype, ref.ptrs.data(), i);
		float g = allreduce_load_f32(got, dtype, i);
		double s = 0, sa = 0;
		for (int r = 0; r < world; r++) {
			double x = allreduce_load_f32(ref.ptrs[r], dtype, i);
			s += x;
			sa += fabs(x);
		}
		double tol = sa * world * 0x1p-23 + fabs(s) * unit[dtype] * 1.01 + 0x1p-24;
		if (memcmp(&want, &g, sizeof g) || fabs((double)g - s) > tol) {
			if (!bad)
				FAILF("%s %s count %zu: element %zu = %.9g, reference %.9g, fp64 %.12g",
				      what, dtype_names[dtype], count, i, g, want, s);
			bad++;
		}
	}
	return bad == 0;
}

static void stat_of(ipcfs_member *m, int r, ipcfs_rank_stat *st)
{
	memset(st, 0, sizeof *st);
	ipcfs_stat_rank(m, r, st);
}

// A host-to-device copy that has reached the device: a pageable cudaMemcpy
// may return before its DMA is done, and the kernels run on a non-blocking
// stream that does not wait for the legacy one (review finding 5).
static cudaError_t h2d(void *dst, const void *src, size_t bytes)
{
	cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
	return e != cudaSuccess ? e : cudaDeviceSynchronize();
}

// Order-dependent hash of @words 32-bit words, into *out: every thread
// mixes its words with their index and adds (commutative: the same on
// every rank for the same bytes).
__global__ void hash_kernel(const uint32_t *p, size_t words, unsigned long long *out)
{
	unsigned long long h = 0;
	for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < words;
	     i += (size_t)gridDim.x * blockDim.x) {
		unsigned long long x = p[i] ^ (i << 32);
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdULL;
		x ^= x >> 33;
		h += x;
	}
	atomicAdd(out, h);
}

// 2. Consecutive calls without synchronization, sizes, dtypes and
// algorithms changing on the same communicators, every output in its own
// slot and every one checked.
static int consecutive(ipcfs_gpu_comm *const comm[3], int world, int rank, void *din,
		       void *dout, size_t buf_bytes, cudaStream_t s)
{
	const int calls = 120;
	std::vector<size_t> off(calls + 1), cnt(calls);
	std::vector<int> dt(calls);
	std::vector<Ref> refs(calls);
	off[0] = 0;
	for (int i = 0; i < calls; i++) {
		dt[i] = i % 3;
		size_t es = allreduce_plan_dtype_size(dt[i]);
		size_t bytes = (size_t)16 << (i % 13);  // 16 B .. 64 KiB
		cnt[i] = bytes / es;
		off[i + 1] = off[i] + bytes;
	}
	if (off[calls] > buf_bytes)
		return 0;
	std::vector<unsigned char> host(off[calls]);
	for (int i = 0; i < calls; i++) {
		make_ref(refs[i], world, dt[i], cnt[i], 1000 + (uint64_t)i);
		memcpy(host.data() + off[i], refs[i].in[rank].data(), off[i + 1] - off[i]);
	}
	CK(h2d(din, host.data(), off[calls]));
	for (int i = 0; i < calls; i++)
		IPC(ipcfs_allreduce(comm[i % 3], (char *)din + off[i], (char *)dout + off[i], cnt[i],
				    pub_dtypes[dt[i]], IPCFS_OP_SUM, s));
	CK(cudaStreamSynchronize(s));
	for (int a = 0; a < 3; a++)
		IPC(ipcfs_gpu_comm_check(comm[a]));
	CK(cudaMemcpy(host.data(), dout, off[calls], cudaMemcpyDeviceToHost));
	for (int i = 0; i < calls; i++)
		verify(refs[i], world, dt[i], cnt[i], host.data() + off[i], "consecutive");
	return 0;
}

// 7. A peer late by more than the timeout with calls queued on every rank
// (2 ranks): every call that overlapped the failure reports an error, on
// both ranks; a call without an error has the right result.
static int late_peer(ipcfs_member *m, int rank, void *din, void *dout, cudaStream_t s)
{
	const size_t count = 4096, bytes = count * 4;
	ipcfs_gpu_comm *tc = nullptr;
	Ref ref[4];
	std::vector<unsigned char> host(4 * bytes);

	setenv("IPCFS_GPU_TIMEOUT_MS", "500", 1);
	IPC(ipcfs_gpu_comm_init(m, "tlate", 1 << 20, 60000, &tc));
	unsetenv("IPCFS_GPU_TIMEOUT_MS");
	for (int i = 0; i < 4; i++) {
		make_ref(ref[i], 2, ALLREDUCE_F32, count, 300 + (uint64_t)i);
		memcpy(host.data() + i * bytes, ref[i].in[rank].data(), bytes);
	}
	CK(h2d(din, host.data(), 4 * bytes));
	if (rank == 1)
		usleep(1200 * 1000);
	int rc = 0;
	for (int i = 0; i < 4 && !rc; i++) {
		rc = ipcfs_allreduce(tc, (char *)din + i * bytes, (char *)dout + i * bytes, count,
				     IPCFS_F32, IPCFS_OP_SUM, s);
		if (rank == 1 && !rc) {  // rank 1 checks each call alone
			CK(cudaStreamSynchronize(s));
			rc = ipcfs_gpu_comm_check(tc);
			if (!rc) {
				CK(cudaMemcpy(host.data(), (char *)dout + i * bytes, bytes,
					      cudaMemcpyDeviceToHost));
				verify(ref[i], 2, ALLREDUCE_F32, count, host.data(),
				       "late peer: a call without an error");
			}
		}
	}
	CK(cudaStreamSynchronize(s));
	if (!rc)
		rc = ipcfs_gpu_comm_check(tc);
	EXPECT(rc == -ETIMEDOUT || rc == -ECANCELED, "late peer: rank %d: %d (%s)", rank, rc,
	       ipcfs_gpu_error());
	IPC(ipcfs_gpu_comm_destroy(tc));
	return 0;
}

// 8. NaN, infinities, signed zeros and subnormals: the result equals the
// CPU reference bit for bit, except that any NaN matches any NaN (the GPU
// returns its canonical NaN, the CPU keeps payloads).
static int special_values(ipcfs_gpu_comm *c, int world, int rank, void *din, void *dout,
			  cudaStream_t s)
{
	static const float vals[] = { NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f,
				      -1e-40f, 5.96e-8f, 1e-45f, 3.0e38f, 1.0f };
	const int nv = (int)(sizeof vals / sizeof vals[0]);
	for (int d = 0; d < 3; d++) {
		size_t es = allreduce_plan_dtype_size(d), count = 4096 / es;
		std::vector<std::vector<unsigned char>> in(world, std::vector<unsigned char>(4096));
		std::vector<const void *> ptrs(world);
		for (int r = 0; r < world; r++) {
			for (size_t i = 0; i < count; i++)
				allreduce_store_f32(in[r].data(), d, i, vals[(i / (size_t)(r + 1)) % nv]);
			ptrs[r] = in[r].data();
		}
		std::vector<unsigned char> got(4096);
		CK(h2d(din, in[rank].data(), 4096));
		IPC(ipcfs_allreduce(c, din, dout, count, pub_dtypes[d], IPCFS_OP_SUM, s));
		CK(cudaStreamSynchronize(s));
		IPC(ipcfs_gpu_comm_check(c));
		CK(cudaMemcpy(got.data(), dout, 4096, cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < count; i++) {
			float want = allreduce_ref_sum1(world, d, ptrs.data(), i);
			float g = allreduce_load_f32(got.data(), d, i);
			if (std::isnan(want) && std::isnan(g))
				continue;
			if (memcmp(&want, &g, sizeof g)) {
				FAILF("special values %s: element %zu = %a, reference %a",
				      dtype_names[d], i, g, want);
				break;
			}
		}
	}
	return 0;
}

// 9. Ordering soak: $IPCFS_GPU_SOAK (default 2000, 100000 when not quick)
// calls of random sizes and algorithms on one communicator; each output
// hashed on the device; the hashes go to DIR/hash.RANK for the parent to
// compare across ranks (the only test that can catch a scope or
// cumulativity mistake that one GPU hides).
static int soak(ipcfs_gpu_comm *c, int world, int rank, const char *dir, void *din, void *dout,
		size_t buf_bytes, cudaStream_t s)
{
	const char *e = getenv("IPCFS_GPU_SOAK");
	const int n = e ? atoi(e) : quick ? 2000 : 100000;
	unsigned long long *dh = nullptr;
	size_t max = buf_bytes < ((size_t)4 << 20) ? buf_bytes : (size_t)4 << 20;
	std::vector<unsigned char> host(max);
	for (size_t i = 0; i < max; i++)
		host[i] = (unsigned char)(mix((uint64_t)rank * 0x10001 + i) & 0x3f);  // small values
	CK(h2d(din, host.data(), max));
	CK(cudaMalloc(&dh, sizeof(*dh) * (size_t)n));
	CK(cudaMemsetAsync(dh, 0, sizeof(*dh) * (size_t)n, s));
	for (int i = 0; i < n; i++) {
		uint64_t x = mix(0x5eed + (uint64_t)i);  // the same sequence on every rank
		size_t bytes = (size_t)16 << (x % 19);   // 16 B .. 4 MiB
		if (bytes > max)
			bytes = max;
		size_t count = bytes / 2;                // bf16
		IPC(ipcfs_allreduce(c, din, dout, count, IPCFS_BF16, IPCFS_OP_SUM, s));
		hash_kernel<<<8, 256, 0, s>>>((const uint32_t *)dout, bytes / 4, dh + i);
	}
	CK(cudaStreamSynchronize(s));
	IPC(ipcfs_gpu_comm_check(c));
	std::vector<unsigned long long> hashes((size_t)n);
	CK(cudaMemcpy(hashes.data(), dh, sizeof(*dh) * (size_t)n, cudaMemcpyDeviceToHost));
	cudaFree(dh);
	std::string path = std::string(dir) + "/../hash." + std::to_string(rank);
	FILE *f = fopen(path.c_str(), "w");
	if (!f || fwrite(hashes.data(), sizeof(hashes[0]), hashes.size(), f) != hashes.size())
		FAILF("writing %s", path.c_str());
	if (f)
		fclose(f);
	(void)world;
	return 0;
}

// Hashes of every rank equal, call by call.
static int compare_hashes(const std::string &dir, int world)
{
	std::vector<std::vector<unsigned long long>> h(world);
	for (int r = 0; r < world; r++) {
		std::string path = dir + "/hash." + std::to_string(r);
		FILE *f = fopen(path.c_str(), "r");
		if (!f)
			return 0;  // no soak ran
		unsigned long long v;
		while (fread(&v, sizeof v, 1, f) == 1)
			h[r].push_back(v);
		fclose(f);
		unlink(path.c_str());
	}
	for (int r = 1; r < world; r++)
		for (size_t i = 0; i < h[0].size(); i++)
			if (i >= h[r].size() || h[r][i] != h[0][i]) {
				fprintf(stderr, "FAIL soak: world %d: call %zu: rank %d's output differs "
					"from rank 0's\n", world, i, r);
				return 1;
			}
	printf("ok: soak, %zu calls, outputs equal on %d ranks\n", h[0].size(), world);
	return 0;
}

struct Opts {
	const char *dir;
	int world, rank;
	size_t buf_bytes;
};

static int run_rank(const Opts &o)
{
	ipcfs_member *m = nullptr;
	ipcfs_gpu_comm *comm[3] = {};  // oneshot, twoshot, auto
	static const char *const algos[3] = { "oneshot", "twoshot", "auto" };
	const int world = o.world, rank = o.rank;
	cudaStream_t s;
	void *din = nullptr, *dout = nullptr;
	ipcfs_rank_stat st0, st1;

	rank_g = rank;
	IPC(ipcfs_join(o.dir, rank, &m));
	// One GPU (device 0 or $IPCFS_TEST_DEVICE), or round robin over all
	// of them with IPCFS_TEST_DEVICES=rr.
	const char *devs = getenv("IPCFS_TEST_DEVICE"), *rr = getenv("IPCFS_TEST_DEVICES");
	int ndev = 1;
	CK(cudaGetDeviceCount(&ndev));
	CK(cudaSetDevice(rr && !strcmp(rr, "rr") ? rank % ndev : devs ? atoi(devs) : 0));
	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	for (int a = 0; a < 3; a++) {
		char name[32];
		setenv("IPCFS_ALGO", algos[a], 1);
		snprintf(name, sizeof name, "t%s", algos[a]);
		IPC(ipcfs_gpu_comm_init(m, name, o.buf_bytes, 60000, &comm[a]));
	}
	unsetenv("IPCFS_ALGO");
	CK(cudaMalloc(&din, o.buf_bytes));
	CK(cudaMalloc(&dout, o.buf_bytes));
	stat_of(m, rank, &st0);

	// 1. sizes x dtypes x algorithms.
	std::vector<size_t> sizes = { 16, 32, 48, 1024, 8192, 65536 + 16, 262144, 1 << 20 };
	// Quick: up to 4 MiB (the buffer's size), enough for 8 ranks' two-shot
	// to want more blocks than one device holds at once (co-residency).
	for (size_t b : { (size_t)4 << 20, (size_t)16 << 20, (size_t)64 << 20 })
		if (b <= o.buf_bytes)
			sizes.push_back(b);
	std::vector<unsigned char> host(o.buf_bytes);
	Ref ref;
	size_t calls[3] = {}, bytes_total = 0;
	for (size_t bytes : sizes) {
		for (int d = 0; d < 3; d++) {
			size_t es = allreduce_plan_dtype_size(d), count = bytes / es;
			uint64_t seed = bytes * 3 + (uint64_t)d;
			make_ref(ref, world, d, count, seed);
			CK(h2d(din, ref.in[rank].data(), bytes));
			for (int a = 0; a < 3; a++) {
				CK(cudaMemsetAsync(dout, 0xff, bytes, s));
				IPC(ipcfs_allreduce(comm[a], din, dout, count, pub_dtypes[d],
						    IPCFS_OP_SUM, s));
				CK(cudaStreamSynchronize(s));
				IPC(ipcfs_gpu_comm_check(comm[a]));
				CK(cudaMemcpy(host.data(), dout, bytes, cudaMemcpyDeviceToHost));
				verify(ref, world, d, count, host.data(), algos[a]);
				calls[a]++;
				bytes_total += bytes;
			}
			// in place (out == in), auto
			IPC(ipcfs_allreduce(comm[2], din, din, count, pub_dtypes[d], IPCFS_OP_SUM, s));
			CK(cudaStreamSynchronize(s));
			CK(cudaMemcpy(host.data(), din, bytes, cudaMemcpyDeviceToHost));
			verify(ref, world, d, count, host.data(), "in place");
			calls[2]++;
			bytes_total += bytes;
		}
	}
	stat_of(m, rank, &st1);
	EXPECT(st1.allreduce_oneshot + st1.allreduce_twoshot - st0.allreduce_oneshot -
			       st0.allreduce_twoshot == calls[0] + calls[1] + calls[2],
	       "custom-kernel calls counted %llu, made %zu",
	       (unsigned long long)(st1.allreduce_oneshot + st1.allreduce_twoshot -
				    st0.allreduce_oneshot - st0.allreduce_twoshot),
	       calls[0] + calls[1] + calls[2]);
	EXPECT(st1.allreduce_oneshot - st0.allreduce_oneshot >= calls[0],
	       "forced one-shot not counted as one-shot");
	EXPECT(st1.allreduce_twoshot - st0.allreduce_twoshot >= calls[1],
	       "forced two-shot not counted as two-shot");
	EXPECT(st1.allreduce_bytes - st0.allreduce_bytes == bytes_total, "bytes counted %llu, %zu",
	       (unsigned long long)(st1.allreduce_bytes - st0.allreduce_bytes), bytes_total);

	// 2. Consecutive calls, sizes changing, every output checked.
	if (consecutive(comm, world, rank, din, dout, o.buf_bytes, s))
		return 1;

	// 3. CUDA graph: capture two calls, register, replay with new inputs.
	{
		const size_t count = 65536;  // bf16, 128 KiB
		const size_t bytes = count * 2;
		cudaGraph_t g;
		cudaGraphExec_t ge;
		CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
		int rc1 = ipcfs_allreduce(comm[0], din, dout, count, IPCFS_BF16, IPCFS_OP_SUM, s);
		int rc2 = ipcfs_allreduce(comm[1], din, (char *)dout + bytes, count, IPCFS_BF16,
					  IPCFS_OP_SUM, s);
		CK(cudaStreamEndCapture(s, &g));
		IPC(rc1);
		IPC(rc2);
		// The one-shot call reads din in place through a table that
		// only registration fills in; the two-shot one (out of place)
		// copies into the communicator's buffer.
		IPC(ipcfs_gpu_register_graph(comm[0]));
		IPC(ipcfs_gpu_register_graph(comm[1]));
		CK(cudaGraphInstantiate(&ge, g, 0));
		for (int rep = 0; rep < 5; rep++) {
			make_ref(ref, world, ALLREDUCE_BF16, count, 5000 + (uint64_t)rep);
			CK(h2d(din, ref.in[rank].data(), bytes));
			CK(cudaGraphLaunch(ge, s));
			CK(cudaStreamSynchronize(s));
			IPC(ipcfs_gpu_comm_check(comm[0]));
			CK(cudaMemcpy(host.data(), dout, 2 * bytes, cudaMemcpyDeviceToHost));
			verify(ref, world, ALLREDUCE_BF16, count, host.data(), "graph one-shot");
			verify(ref, world, ALLREDUCE_BF16, count, host.data() + bytes,
			       "graph two-shot");
		}
		cudaGraphExecDestroy(ge);
		cudaGraphDestroy(g);
	}

	// 4. A registered user buffer: in == that buffer skips the copy.
	{
		const size_t bytes = 1 << 20, count = bytes / 4;
		void *ub = nullptr;
		CK(cudaMalloc(&ub, bytes));
		IPC(ipcfs_gpu_register(comm[1], ub, bytes));
		make_ref(ref, world, ALLREDUCE_F32, count, 7777);
		CK(h2d(ub, ref.in[rank].data(), bytes));
		IPC(ipcfs_allreduce(comm[1], ub, ub, count, IPCFS_F32, IPCFS_OP_SUM, s));
		CK(cudaStreamSynchronize(s));
		IPC(ipcfs_gpu_comm_check(comm[1]));
		CK(cudaMemcpy(host.data(), ub, bytes, cudaMemcpyDeviceToHost));
		verify(ref, world, ALLREDUCE_F32, count, host.data(), "registered, in place");
		// The communicator must be gone before the buffer is freed.
		IPC(ipcfs_gpu_comm_destroy(comm[1]));
		comm[1] = nullptr;
		CK(cudaFree(ub));
	}

	// 5. What would need NCCL: a size not a multiple of 16 bytes. NCCL is
	// not initialized with several ranks on one GPU: -EOPNOTSUPP + reason.
	{
		stat_of(m, rank, &st0);
		int rc = ipcfs_allreduce(comm[2], din, dout, 3, IPCFS_F32, IPCFS_OP_SUM, s);
		stat_of(m, rank, &st1);
		if (rc == -EOPNOTSUPP) {
			EXPECT(strstr(ipcfs_gpu_error(), "NCCL") != nullptr, "reason: %s",
			       ipcfs_gpu_error());
			EXPECT(st1.allreduce_errors == st0.allreduce_errors + 1, "error not counted");
		} else {
			EXPECT(rc == 0, "12-byte all-reduce: %d", rc);
			EXPECT(st1.allreduce_nccl == st0.allreduce_nccl + 1, "NCCL call not counted");
		}
		EXPECT(ipcfs_allreduce(comm[2], din, dout, 16, IPCFS_F32, 1, s) == -EINVAL, "op");
		EXPECT(ipcfs_allreduce(comm[2], din, dout, 16, IPCFS_U8, IPCFS_OP_SUM, s) ==
			       -EINVAL, "dtype");
	}

	// 6. Timeout (2 ranks): rank 1 never calls; rank 0 must get -ETIMEDOUT.
	if (world == 2) {
		ipcfs_gpu_comm *tc = nullptr;
		setenv("IPCFS_GPU_TIMEOUT_MS", "300", 1);
		IPC(ipcfs_gpu_comm_init(m, "ttimeout", 1 << 16, 60000, &tc));
		unsetenv("IPCFS_GPU_TIMEOUT_MS");
		if (rank == 0) {
			stat_of(m, rank, &st0);
			IPC(ipcfs_allreduce(tc, din, dout, 1024, IPCFS_F32, IPCFS_OP_SUM, s));
			int rc = ipcfs_gpu_comm_check(tc);
			EXPECT(rc == -ETIMEDOUT, "check after a missing peer: %d (%s)", rc,
			       ipcfs_gpu_error());
			rc = ipcfs_allreduce(tc, din, dout, 1024, IPCFS_F32, IPCFS_OP_SUM, s);
			EXPECT(rc == -ETIMEDOUT, "broken communicator: %d", rc);
			stat_of(m, rank, &st1);
			EXPECT(st1.allreduce_errors > st0.allreduce_errors, "timeout not counted");
		}
		IPC(ipcfs_gpu_comm_destroy(tc));
	}

	if (world == 2 && late_peer(m, rank, din, dout, s))
		return 1;
	if (special_values(comm[2], world, rank, din, dout, s))
		return 1;
	if (soak(comm[2], world, rank, o.dir, din, dout, o.buf_bytes, s))
		return 1;

	for (int a = 0; a < 3; a++)
		if (comm[a])
			IPC(ipcfs_gpu_comm_destroy(comm[a]));
	cudaFree(din);
	cudaFree(dout);
	cudaStreamDestroy(s);
	ipcfs_leave(m);
	return failures ? 1 : 0;
}

// ---- the parent: no CUDA here (CUDA does not survive fork) -----------------

static int probe_device()
{
	pid_t p = fork();
	if (p == 0)  // CUDA in a child only: it does not survive fork
		_exit(gpu_env_check("allreduce_ipc"));
	int st = 0;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return 77;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 77;
}

static std::string mps_dir;

static bool start_mps()
{
	if (getenv("IPCFS_GPU_TEST_NO_MPS") || system("command -v nvidia-cuda-mps-control >/dev/null 2>&1"))
		return false;
	char tmpl[] = "/tmp/ipcfs-mps-XXXXXX";
	if (!mkdtemp(tmpl))
		return false;
	mps_dir = tmpl;
	setenv("CUDA_MPS_PIPE_DIRECTORY", (mps_dir + "/pipe").c_str(), 1);
	setenv("CUDA_MPS_LOG_DIRECTORY", (mps_dir + "/log").c_str(), 1);
	std::string cmd = "mkdir -p " + mps_dir + "/pipe " + mps_dir + "/log && nvidia-cuda-mps-control -d";
	if (system(cmd.c_str())) {
		unsetenv("CUDA_MPS_PIPE_DIRECTORY");
		unsetenv("CUDA_MPS_LOG_DIRECTORY");
		return false;
	}
	return true;
}

static void stop_mps()
{
	if (mps_dir.empty())
		return;
	if (system("echo quit | nvidia-cuda-mps-control"))
		fprintf(stderr, "allreduce_ipc: could not stop MPS\n");
	sleep(1);
	std::string cmd = "rm -rf " + mps_dir;
	if (system(cmd.c_str()))
		fprintf(stderr, "allreduce_ipc: could not remove %s\n", mps_dir.c_str());
}

static int run_world(int world, size_t buf_bytes, int limit_s)
{
	char dir[] = "/tmp/ipcfs-gpu-ipc-XXXXXX";
	std::string gdir;
	ipcfs_params p;
	std::vector<pid_t> pids;
	int bad = 0;

	if (!mkdtemp(dir))
		return 1;
	gdir = std::string(dir) + "/g";
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)world;
	int rc = ipcfs_group_create(gdir.c_str(), &p);
	if (rc) {
		fprintf(stderr, "ipcfs_group_create: %s\n", strerror(-rc));
		return 1;
	}
	for (int r = 0; r < world; r++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm((unsigned)limit_s);
			Opts o = { gdir.c_str(), world, r, buf_bytes };
			_exit(run_rank(o));
		}
		pids.push_back(pid);
	}
	for (pid_t pid : pids) {
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "world %d: rank process %d %s %d\n", world, (int)pid,
				WIFEXITED(st) ? "exited" : "killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			bad++;
		}
	}
	bad += compare_hashes(dir, world);
	ipcfs_group_destroy(gdir.c_str());
	rmdir(dir);
	printf("%s: %d ranks on one GPU\n", bad ? "FAIL" : "ok", world);
	fflush(stdout);
	return bad ? 1 : 0;
}

int main()
{
	gpu_env_setup();
	int rc = probe_device(), bad = 0;
	char self[PATH_MAX], lib[PATH_MAX + 32];

	if (rc)
		return rc;  // 77: no GPU here; 1: a GPU that CUDA cannot use
	// libipcfs dlopens libipcfs_cuda.so: the test is in $(BUILD)/tests.
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0 && !getenv("IPCFS_CUDA_LIB")) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(lib, sizeof lib, "%s/../libipcfs_cuda.so", self);
			setenv("IPCFS_CUDA_LIB", lib, 1);
		}
	}
	quick = getenv("IPCFS_GPU_TEST_QUICK") != nullptr;
	bool mps = start_mps();
	if (!mps) {
		printf("allreduce_ipc: no MPS: kernels of the rank processes time-slice "
		       "(slow); sizes limited to 1 MiB\n");
		quick = true;
		if (!getenv("IPCFS_GPU_TIMEOUT_MS"))
			setenv("IPCFS_GPU_TIMEOUT_MS", "60000", 1);
	} else {
		printf("allreduce_ipc: MPS started (%s)\n", mps_dir.c_str());
	}
	// The default grid (the library clamps it to what the ranks sharing a
	// device can hold at once) unless IPCFS_GPU_BLOCKS says otherwise.
	fflush(stdout);
	const char *w = getenv("IPCFS_GPU_TEST_WORLDS");
	std::vector<int> worlds;
	for (const char *p = w ? w : quick ? "2,3,5,8" : "2,3,4,5,6,7,8"; *p;) {
		worlds.push_back(atoi(p));
		while (*p && *p != ',')
			p++;
		if (*p)
			p++;
	}
	for (int world : worlds)
		bad += run_world(world, quick ? (size_t)4 << 20 : (size_t)64 << 20, 500);
	stop_mps();
	return bad ? 1 : 0;
}
