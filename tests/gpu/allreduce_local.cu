// SPDX-License-Identifier: MIT
//
// allreduce_local.cu - the all-reduce kernels on one GPU: N "ranks" are N
// buffers (and signal blocks, streams, error records) of the same device in
// one process; a rank's peer pointers are simply the other ranks' buffers.
// Every result is compared bit for bit with the CPU reference
// (lib/allreduce_ref.c): all dtypes, 2..8 ranks, 16 B .. 64 MiB, one-shot
// and two-shot, many consecutive calls without synchronization, a CUDA-graph
// captured sequence replayed several times, a peer that never arrives
// (-> ETIMEDOUT, no hang), ranks out of step (-> EPROTO).
//
// Exit status: 0 passed, 1 failed, 77 skipped (no CUDA device).
// IPCFS_GPU_TEST_QUICK=1 limits the sizes to 1 MiB.

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#include "ipcfs/allreduce_kernels.h"
#include "gpu_env.h"
#include "ipcfs/plan.h"

// A sanitizer build links the (instrumented) reference from libipcfs.a; the
// CUDA driver needs the address range ASan reserves by default.
extern "C" __attribute__((visibility("default"), used)) const char *__asan_default_options()
{
	return "protect_shadow_gap=0";
}

#define CK(x)                                                                        \
	do {                                                                         \
		cudaError_t e_ = (x);                                                \
		if (e_ != cudaSuccess) {                                             \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x,   \
				cudaGetErrorString(e_));                             \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

static int checks, failures;
#define EXPECT(c, ...)                                                               \
	do {                                                                         \
		checks++;                                                            \
		if (!(c)) {                                                          \
			failures++;                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
		}                                                                    \
	} while (0)

static const char *const dtype_names[] = { "f32", "f16", "bf16" };

static uint64_t rng = 0x1234abcdULL;
static uint64_t rnd()
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static float special_value(unsigned k)
{
	static const uint32_t bits[6] = { 0x7fc01234u, 0x7f800000u, 0xff800000u,
					  0x80000000u, 0x00000005u, 0xffc00001u };
	return allreduce_bits_f32(bits[k % 6]);
}

static void fill(void *p, int dtype, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t r = rnd();
		float v = (float)((r >> 40) & 0xffffff) * 0x1p-23f - 1.0f;  // [-1, 1)
		v = ldexpf(v, (int)((r >> 8) % 12) - 6);
		// One element in 61: a special value (NaN with a payload, +-inf,
		// -0, a subnormal), so NaN canonicalization, inf - inf and signed
		// zeros are compared with the reference bit for bit as well.
		if (i % 61 == 7)
			v = special_value((unsigned)(r >> 4));
		allreduce_store_f32(p, dtype, i, v);
	}
}

struct Group {
	int n = 0;
	size_t buf_bytes = 0;
	void *bufs[IPCFS_K_MAX_RANKS] = {};
	ipcfs_k_signal *sigs[IPCFS_K_MAX_RANKS] = {};
	cudaStream_t st[IPCFS_K_MAX_RANKS] = {};
	ipcfs_k_error *err_h[IPCFS_K_MAX_RANKS] = {};
	ipcfs_k_error *err_d[IPCFS_K_MAX_RANKS] = {};
	unsigned blocks = 0;

	void init(int world, size_t bytes, int sms)
	{
		n = world;
		buf_bytes = bytes;
		// every block of every rank must be resident at once (they wait
		// for each other): at most one block per SM and rank
		blocks = (unsigned)(sms / world);
		if (blocks > IPCFS_K_DEFAULT_BLOCKS)
			blocks = IPCFS_K_DEFAULT_BLOCKS;
		if (blocks < 1)
			blocks = 1;
		for (int r = 0; r < n; r++) {
			CK(cudaMalloc(&bufs[r], bytes));
			CK(cudaMalloc((void **)&sigs[r], sizeof(ipcfs_k_signal)));
			CK(cudaStreamCreateWithFlags(&st[r], cudaStreamNonBlocking));
			CK(cudaHostAlloc((void **)&err_h[r], sizeof(ipcfs_k_error),
					 cudaHostAllocMapped));
			CK(cudaHostGetDevicePointer((void **)&err_d[r], err_h[r], 0));
		}
		reset();
	}
	void reset()
	{
		for (int r = 0; r < n; r++) {
			EXPECT(ipcfs_k_signal_reset(sigs[r], st[r]) == 0, "reset");
			memset(err_h[r], 0, sizeof *err_h[r]);
		}
		sync();
	}
	void sync()
	{
		for (int r = 0; r < n; r++)
			CK(cudaStreamSynchronize(st[r]));
	}
	void fini()
	{
		for (int r = 0; r < n; r++) {
			CK(cudaFree(bufs[r]));
			CK(cudaFree(sigs[r]));
			CK(cudaStreamDestroy(st[r]));
			CK(cudaFreeHost(err_h[r]));
		}
		n = 0;
	}
	ipcfs_k_allreduce_args args(int r, int dtype, size_t count, const void *in,
				    void *out, uint64_t timeout_ns = 0) const
	{
		ipcfs_k_allreduce_args a;
		memset(&a, 0, sizeof a);
		a.world = n;
		a.rank = r;
		a.dtype = dtype;
		a.count = count;
		a.in = in;
		a.out = out;
		a.buf_bytes = buf_bytes;
		for (int p = 0; p < n; p++) {
			a.bufs[p] = bufs[p];
			a.sigs[p] = sigs[p];
		}
		a.err = err_d[r];
		a.timeout_ns = timeout_ns ? timeout_ns : 5000000000ull;
		a.blocks = blocks;
		return a;
	}
	int run(bool two, int r, int dtype, size_t count, const void *in, void *out)
	{
		ipcfs_k_allreduce_args a = args(r, dtype, count, in, out);
		return two ? ipcfs_k_allreduce_twoshot(&a, st[r])
			   : ipcfs_k_allreduce_oneshot(&a, st[r]);
	}
	bool errors_clear(const char *what)
	{
		bool ok = true;
		for (int r = 0; r < n; r++) {
			int e = ipcfs_k_error_check(err_h[r]);
			EXPECT(e == 0, "%s: rank %d error %d (peer %d barrier %d block %d)", what,
			       r, e, err_h[r]->peer, err_h[r]->barrier, err_h[r]->block);
			ok = ok && e == 0;
		}
		return ok;
	}
};

// Per-rank device inputs and outputs, host inputs, the reference result.
struct Data {
	int n, dtype;
	size_t count, bytes;
	std::vector<std::vector<unsigned char>> in_h;
	std::vector<unsigned char> ref;
	void *in_d[IPCFS_K_MAX_RANKS] = {};
	void *out_d[IPCFS_K_MAX_RANKS] = {};

	Data(int world, int dt, size_t cnt) : n(world), dtype(dt), count(cnt)
	{
		bytes = count * allreduce_plan_dtype_size(dtype);
		in_h.resize(n);
		const void *in[IPCFS_K_MAX_RANKS];
		void *out[IPCFS_K_MAX_RANKS];
		ref.resize(bytes + 1);
		for (int r = 0; r < n; r++) {
			in_h[r].resize(bytes + 1);
			fill(in_h[r].data(), dtype, count);
			in[r] = in_h[r].data();
			out[r] = ref.data();  // every rank's result is the same
			CK(cudaMalloc(&in_d[r], bytes ? bytes : 16));
			CK(cudaMalloc(&out_d[r], bytes ? bytes : 16));
			CK(cudaMemcpy(in_d[r], in[r], bytes, cudaMemcpyHostToDevice));
		}
		// the copies ran on the legacy stream, which the ranks'
		// non-blocking streams do not wait for
		CK(cudaDeviceSynchronize());
		if (allreduce_ref_oneshot(n, dtype, count, in, out) != 0) {
			fprintf(stderr, "reference failed\n");
			exit(1);
		}
	}
	~Data()
	{
		for (int r = 0; r < n; r++) {
			cudaFree(in_d[r]);
			cudaFree(out_d[r]);
		}
	}
	void clear_out()
	{
		for (int r = 0; r < n; r++)
			CK(cudaMemset(out_d[r], 0xff, bytes ? bytes : 16));
		CK(cudaDeviceSynchronize());
	}
	// Compare device array @d (rank r's result) with the reference.
	void compare(const void *d, int r, const char *what)
	{
		std::vector<unsigned char> got(bytes + 1);
		CK(cudaMemcpy(got.data(), d, bytes, cudaMemcpyDeviceToHost));
		size_t bad = bytes;
		for (size_t i = 0; i < bytes; i++)
			if (got[i] != ref[i]) {
				bad = i;
				break;
			}
		size_t e = bad / allreduce_plan_dtype_size(dtype);
		EXPECT(bad == bytes,
		       "%s N=%d %s %zu B rank %d: first difference at element %zu: %a vs ref %a",
		       what, n, dtype_names[dtype], bytes, r, e,
		       bad == bytes ? 0.0 : (double)allreduce_load_f32(got.data(), dtype, e),
		       bad == bytes ? 0.0 : (double)allreduce_load_f32(ref.data(), dtype, e));
	}
};

static void one_call(Group &g, Data &d, bool two, const char *what)
{
	d.clear_out();
	for (int r = 0; r < g.n; r++) {
		int e = g.run(two, r, d.dtype, d.count, d.in_d[r], d.out_d[r]);
		EXPECT(e == 0, "%s: launch rank %d: %d %s", what, r, e, ipcfs_k_last_error());
	}
	g.sync();
	if (g.errors_clear(what))
		for (int r = 0; r < g.n; r++)
			d.compare(d.out_d[r], r, what);
}

// Every world size, dtype and size; both algorithms against one reference.
static void test_sweep(int sms, bool quick)
{
	for (int n = 2; n <= IPCFS_K_MAX_RANKS; n++) {
		std::vector<size_t> sizes = { 16, 32, 48, 16 * (size_t)(n - 1), 16 * (size_t)n,
					      16 * (size_t)n + 16, 16 * 1021, 4096,
					      65536 + 16 * 7, 1 << 20, (1 << 20) + 16 * 13 };
		if (!quick) {
			sizes.push_back((16 << 20) + 16 * 7);
			if (n == 2 || n == 8)
				sizes.push_back(64 << 20);
		}
		size_t maxb = 0;
		for (size_t s : sizes)
			maxb = s > maxb ? s : maxb;
		Group g;
		g.init(n, maxb, sms);
		for (int dt = 0; dt < 3; dt++) {
			for (size_t s : sizes) {
				Data d(n, dt, s / allreduce_plan_dtype_size(dt));
				one_call(g, d, false, "one-shot");
				one_call(g, d, true, "two-shot");
				// input already in the registered buffer (in = NULL),
				// two-shot in place (out = the buffer)
				for (int r = 0; r < n; r++)
					CK(cudaMemcpy(g.bufs[r], d.in_d[r], d.bytes,
						      cudaMemcpyDeviceToDevice));
				CK(cudaDeviceSynchronize());
				for (int r = 0; r < n; r++)
					EXPECT(g.run(true, r, dt, d.count, nullptr, g.bufs[r]) == 0,
					       "in-place launch");
				g.sync();
				if (g.errors_clear("two-shot in place"))
					for (int r = 0; r < n; r++)
						d.compare(g.bufs[r], r, "two-shot in place");
			}
		}
		g.fini();
		printf("  sweep N=%d: %d checks, %d failures\n", n, checks, failures);
	}
}

// K consecutive calls per rank, sizes and algorithms varying, no host
// synchronization in between: the barriers alone keep them apart.
static void test_consecutive(int sms)
{
	const int K = 64;
	for (int n : { 2, 3, 4, 8 }) {
		Group g;
		g.init(n, 256 << 10, sms);
		std::vector<Data *> d;
		for (int k = 0; k < K; k++) {
			int dt = k % 3;
			size_t bytes = 16 * (1 + (rnd() % (16 << 10)));  // 16 B .. 256 KiB
			d.push_back(new Data(n, dt, bytes / allreduce_plan_dtype_size(dt)));
			d.back()->clear_out();
		}
		CK(cudaDeviceSynchronize());
		for (int k = 0; k < K; k++)
			for (int r = 0; r < n; r++)
				EXPECT(g.run(k % 2 == 1, r, d[k]->dtype, d[k]->count, d[k]->in_d[r],
					     d[k]->out_d[r]) == 0, "launch");
		g.sync();
		if (g.errors_clear("consecutive"))
			for (int k = 0; k < K; k++)
				for (int r = 0; r < n; r++)
					d[k]->compare(d[k]->out_d[r], r, "consecutive");
		for (Data *x : d)
			delete x;
		g.fini();
	}
	printf("  consecutive: %d checks, %d failures\n", checks, failures);
}

// Each rank captures its sequence in a CUDA graph; the graphs are replayed
// several times (the call counters advance in device memory).
static void test_graph(int sms)
{
	const int K = 12, REPLAYS = 5, n = 4;
	Group g;
	g.init(n, 1 << 20, sms);
	std::vector<Data *> d;
	for (int k = 0; k < K; k++)
		d.push_back(new Data(n, k % 3, ((k % 4) + 1) * 64 * 1024 /
					       allreduce_plan_dtype_size(k % 3) + (k % 2) * 8));
	cudaGraphExec_t exec[IPCFS_K_MAX_RANKS];
	for (int r = 0; r < n; r++) {
		cudaGraph_t graph;
		CK(cudaStreamBeginCapture(g.st[r], cudaStreamCaptureModeThreadLocal));
		for (int k = 0; k < K; k++)
			EXPECT(g.run(k % 2 == 0, r, d[k]->dtype, d[k]->count, d[k]->in_d[r],
				     d[k]->out_d[r]) == 0, "launch under capture: %s",
			       ipcfs_k_last_error());
		CK(cudaStreamEndCapture(g.st[r], &graph));
		CK(cudaGraphInstantiate(&exec[r], graph, 0));
		CK(cudaGraphDestroy(graph));
	}
	for (int rep = 0; rep < REPLAYS; rep++) {
		for (Data *x : d)
			x->clear_out();
		CK(cudaDeviceSynchronize());
		for (int r = 0; r < n; r++)
			CK(cudaGraphLaunch(exec[r], g.st[r]));
		g.sync();
		if (g.errors_clear("graph"))
			for (Data *x : d)
				for (int r = 0; r < n; r++)
					x->compare(x->out_d[r], r, "graph replay");
	}
	// eager calls after the replays still line up with the counters
	one_call(g, *d[0], true, "eager after graph");
	for (int r = 0; r < n; r++)
		CK(cudaGraphExecDestroy(exec[r]));
	for (Data *x : d)
		delete x;
	g.fini();
	printf("  graph: %d checks, %d failures\n", checks, failures);
}

// A rank that never arrives: the others report ETIMEDOUT and return.
static void test_timeout(int sms)
{
	const int n = 4;
	Group g;
	g.init(n, 1 << 16, sms);
	Data d(n, IPCFS_K_F32, 1 << 14);
	for (bool two : { false, true }) {
		auto t0 = std::chrono::steady_clock::now();
		for (int r = 0; r < n - 1; r++) {  // rank n-1 stays away
			ipcfs_k_allreduce_args a = g.args(r, d.dtype, d.count, d.in_d[r],
							  d.out_d[r], 100000000ull);  // 100 ms
			EXPECT((two ? ipcfs_k_allreduce_twoshot(&a, g.st[r])
				    : ipcfs_k_allreduce_oneshot(&a, g.st[r])) == 0, "launch");
		}
		g.sync();
		double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
		for (int r = 0; r < n - 1; r++) {
			EXPECT(ipcfs_k_error_check(g.err_h[r]) == -ETIMEDOUT,
			       "rank %d: %d, not -ETIMEDOUT", r, ipcfs_k_error_check(g.err_h[r]));
			// peer -1: the kernel found the abort word of another
			// rank's timeout set on entry.
			EXPECT(g.err_h[r]->peer == n - 1 || g.err_h[r]->peer == -1,
			       "rank %d waited for %d", r, g.err_h[r]->peer);
			EXPECT(g.err_h[r]->barrier == 0, "barrier %d", g.err_h[r]->barrier);
		}
		EXPECT(s < 10.0, "timeout took %.1f s", s);
		g.reset();
		one_call(g, d, two, "after reset");
	}
	g.fini();
	printf("  timeout: %d checks, %d failures\n", checks, failures);
}

// Rank 1's counters two calls ahead of the others: they see a value of a
// later call in the set they wait on -> EPROTO (and rank 1 times out).
static void test_out_of_step(int sms)
{
	const int n = 2;
	Group g;
	g.init(n, 1 << 16, sms);
	Data d(n, IPCFS_K_F16, 1 << 12);
	one_call(g, d, false, "before");
	std::vector<uint64_t> calls(IPCFS_K_MAX_BLOCKS);
	void *dev_calls = (char *)g.sigs[1] + offsetof(ipcfs_k_signal, calls);
	CK(cudaMemcpy(calls.data(), dev_calls, sizeof(uint64_t) * calls.size(),
		      cudaMemcpyDeviceToHost));
	for (uint64_t &c : calls)
		c += 2;
	CK(cudaMemcpy(dev_calls, calls.data(), sizeof(uint64_t) * calls.size(),
		      cudaMemcpyHostToDevice));
	CK(cudaDeviceSynchronize());
	for (int r = 0; r < n; r++) {
		ipcfs_k_allreduce_args a = g.args(r, d.dtype, d.count, d.in_d[r], d.out_d[r],
						  100000000ull);
		EXPECT(ipcfs_k_allreduce_oneshot(&a, g.st[r]) == 0, "launch");
	}
	g.sync();
	EXPECT(ipcfs_k_error_check(g.err_h[0]) == -EPROTO, "rank 0: %d, not -EPROTO",
	       ipcfs_k_error_check(g.err_h[0]));
	// Rank 1 leaves through the abort word that rank 0 set (EPROTO), or
	// times out: an error either way, never a result.
	EXPECT(ipcfs_k_error_check(g.err_h[1]) == -EPROTO ||
		       ipcfs_k_error_check(g.err_h[1]) == -ETIMEDOUT,
	       "rank 1: %d, not an error", ipcfs_k_error_check(g.err_h[1]));
	g.reset();
	one_call(g, d, true, "after reset");
	g.fini();
	printf("  out of step: %d checks, %d failures\n", checks, failures);
}

// Argument checks: no CUDA call is made, so these hold with or without a GPU.
static void test_args()
{
	alignas(16) static unsigned char fake[8][4096];
	alignas(16) static ipcfs_k_signal fsig[8];
	ipcfs_k_allreduce_args a;
	memset(&a, 0, sizeof a);
	a.world = 4;
	a.rank = 1;
	a.dtype = IPCFS_K_F32;
	a.count = 64;
	a.buf_bytes = sizeof fake[0];
	for (int r = 0; r < 4; r++) {
		a.bufs[r] = fake[r];
		a.sigs[r] = &fsig[r];
	}
	a.out = fake[7];
	auto expect = [&](ipcfs_k_allreduce_args x, int want, const char *what) {
		int e1 = ipcfs_k_allreduce_oneshot(&x, nullptr);
		int e2 = ipcfs_k_allreduce_twoshot(&x, nullptr);
		EXPECT(e1 == want && e2 == want, "%s: %d/%d, want %d", what, e1, e2, want);
	};
	ipcfs_k_allreduce_args x = a;
	EXPECT(ipcfs_k_allreduce_oneshot(nullptr, nullptr) == -EINVAL, "NULL args");
	x.world = 1; expect(x, -EINVAL, "world 1");
	x = a; x.world = 9; expect(x, -EINVAL, "world 9");
	x = a; x.rank = 4; expect(x, -EINVAL, "rank 4");
	x = a; x.rank = -1; expect(x, -EINVAL, "rank -1");
	x = a; x.dtype = 3; expect(x, -EINVAL, "dtype");
	x = a; x.count = 63; expect(x, -EINVAL, "63 floats");
	x = a; x.dtype = IPCFS_K_F16; x.count = 68; expect(x, -EINVAL, "68 halves");
	x = a; x.count = 1025; x.dtype = IPCFS_K_F32; expect(x, -EINVAL, "beyond buffer");
	x = a; x.bufs[3] = nullptr; expect(x, -EINVAL, "missing buffer");
	x = a; x.sigs[0] = nullptr; expect(x, -EINVAL, "missing signal");
	x = a; x.bufs[2] = fake[2] + 8; expect(x, -EINVAL, "unaligned buffer");
	x = a; x.out = fake[7] + 4; expect(x, -EINVAL, "unaligned out");
	x = a; x.out = nullptr; expect(x, -EINVAL, "no out");
	// An unaligned in is accepted: it is copied (cudaMemcpyAsync).
	x = a; x.in = fake[1] + 16; expect(x, -EINVAL, "in inside the buffer");
	x = a; x.blocks = IPCFS_K_MAX_BLOCKS + 1; expect(x, -EINVAL, "blocks");
	x = a; x.out = fake[1] + 32;
	EXPECT(ipcfs_k_allreduce_oneshot(&x, nullptr) == -EINVAL, "one-shot out in buffer");
	EXPECT(ipcfs_k_allreduce_twoshot(&x, nullptr) == -EINVAL, "two-shot out inside buffer");
	x = a; x.count = 0; expect(x, 0, "empty");
	EXPECT(ipcfs_k_signal_reset(nullptr, nullptr) == -EINVAL, "reset NULL");
	EXPECT(ipcfs_k_nccl_allreduce(nullptr, nullptr, nullptr, 0, 7, nullptr) == -EINVAL,
	       "nccl dtype");
	EXPECT(ipcfs_k_nccl_init_start(nullptr, 2, 0, nullptr) == -EINVAL ||
	       ipcfs_k_nccl_init_start(nullptr, 2, 0, nullptr) == -ENOTSUP, "nccl init");
	EXPECT(ipcfs_k_nccl_destroy(nullptr) == 0, "nccl destroy NULL");
}

int main()
{
	setvbuf(stdout, nullptr, _IOLBF, 0);
	gpu_env_setup();
	test_args();
	int ndev = ipcfs_k_device_count();
	char why[256];
	snprintf(why, sizeof why, "%s", ipcfs_k_last_error());
	if (ndev <= 0) {
		// Without a device, valid arguments must give -ENODEV (the fake
		// pointers are never dereferenced: the first CUDA call fails).
		alignas(16) static unsigned char fake[3][256];
		alignas(16) static ipcfs_k_signal fsig[2];
		ipcfs_k_allreduce_args a;
		memset(&a, 0, sizeof a);
		a.world = 2;
		a.rank = 0;
		a.dtype = IPCFS_K_BF16;
		a.count = 64;
		a.in = fake[2];
		a.out = fake[2];
		a.buf_bytes = sizeof fake[0];
		for (int r = 0; r < 2; r++) {
			a.bufs[r] = fake[r];
			a.sigs[r] = &fsig[r];
		}
		EXPECT(ndev == -ENODEV || ndev == -ENOTSUP, "device count %d", ndev);
		EXPECT(ipcfs_k_allreduce_oneshot(&a, nullptr) == -ENODEV, "one-shot without GPU");
		EXPECT(ipcfs_k_allreduce_twoshot(&a, nullptr) == -ENODEV, "two-shot without GPU");
		if (failures) {
			fprintf(stderr, "gpu_allreduce_local: %d of %d checks failed\n", failures,
				checks);
			return 1;
		}
		printf("gpu_allreduce_local: %d argument checks passed (%s)\n", checks, why);
		return gpu_env_check("gpu_allreduce_local");
	}
	gpu_env_check("gpu_allreduce_local");  // the versions
	int drv = 0, rtv = 0, ncv = 0;
	if (ipcfs_k_versions(&drv, &rtv, &ncv) == 0)
		printf("gpu_allreduce_local: NCCL %d.%d.%d%s\n", ncv / 10000, ncv / 100 % 100,
		       ncv % 100, ncv ? "" : " (not loadable: no NCCL fallback)");
	cudaDeviceProp prop;
	CK(cudaGetDeviceProperties(&prop, 0));
	printf("gpu_allreduce_local: %s, %d SMs, sm_%d%d\n", prop.name,
	       prop.multiProcessorCount, prop.major, prop.minor);
	const char *q = getenv("IPCFS_GPU_TEST_QUICK");
	bool quick = q && *q && strcmp(q, "0");
	int sms = prop.multiProcessorCount;
	test_timeout(sms);
	test_out_of_step(sms);
	test_graph(sms);
	test_consecutive(sms);
	test_sweep(sms, quick);
	printf("gpu_allreduce_local: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
