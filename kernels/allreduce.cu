// SPDX-License-Identifier: MIT
//
// allreduce.cu - one-shot and two-shot all-reduce (sum) over CUDA IPC
// buffers for fp32, fp16 and bf16, their launchers, and the NCCL wrappers of
// libipcfs_cuda.so. Interface and model: allreduce_kernels.h. Partition and
// summation order: include/ipcfs/plan.h (shared with the CPU reference,
// which the GPU tests compare against bit for bit).
//
// ---- Memory-model argument (PTX memory model, sm_70 and later) ------------
//
// Each rank runs its kernel on its own GPU; ranks exchange data only through
// (a) the registered buffers, read (and, in two-shot, written) with plain
// weak loads and stores, and (b) per-peer 64-bit flag words, written with
// st.release.sys and read with ld.acquire.sys. Scope .sys is required: the
// two sides run on different devices (.gpu would only order them within one
// GPU).
//
// Barrier k of call c, block b, between rank r and peer p:
//   1. __syncthreads(): every write of this block so far (its part of the
//      reduce-scatter, or none) happens-before what thread p does next (the
//      CTA barrier is morally strong at CTA scope).
//   2. thread p of rank r: st.release.sys  sigs[p]->flags[c&1][b][r] = 4c+k.
//      A release is cumulative: everything that happens-before it in
//      causality order, including the other threads' writes ordered by (1)
//      and the copy of the input into bufs[r] enqueued before the kernel on
//      the same stream, is made visible at system scope before the flag.
//   3. thread p of rank r: ld.acquire.sys sigs[r]->flags[c&1][b][p] until
//      >= 4c+k. The value read was written by peer p's release in its step
//      2, so p's step-2 release synchronizes-with this acquire.
//   4. __syncthreads(): the acquire happens-before every later load of every
//      thread of the block, so those loads see the peer's data.
// Only block b of each rank talks to block b of the others. That suffices
// because every rank derives the same grid (blocks x threads) from the same
// arguments and maps vectors to blocks by the same formula in every phase
// (grid-stride loops over the same ranges): the vectors block b of rank r
// reads from peer p in a phase are exactly those block b of rank p wrote,
// or finished reading, before it arrived at the barrier.
//
// Counters, not booleans. Each block keeps its call counter c in its own
// rank's signal block (device memory: the count survives CUDA graph replay,
// where kernel arguments are frozen). Values only grow, so a waiter never
// confuses a stale flag from an earlier call (< 4c) with this one, and no
// one ever has to clear a flag (clearing would race with the peer's next
// write). A peer may already have moved on to barrier k+1 of the same call
// (its flag then reads 4c+k+1 >= 4c+k: fine, it arrived at k before).
//
// Alternating flag sets. Call c uses set c & 1. A peer can be at most one
// call ahead (it cannot pass the start barrier of call c+2 before this rank
// arrives at the one of call c+1), so the set waited on never receives a
// value of a later call: any value above 4c+3 there means the ranks are out
// of step (different numbers of calls, blocks or algorithms): EPROTO,
// instead of a silent wrong result.
//
// Three barriers per call:
//   start   inputs of every rank are in their buffers (written by a copy
//           ordered before the kernel on each rank's stream);
//   middle  (two-shot) every rank's reduced range is in its buffer;
//   end     no rank still reads another's buffer: the next call may
//           overwrite it (the copy-in of call c+1 follows the kernel).
//
// Call descriptor. At the start barrier each thread also stores this call's
// descriptor (algorithm, vectors, dtype, grid, world: ipcfs_k_desc) into
// the peer's desc[set][b][rank] before its release of the flag, and after
// its acquire of the peer's flag compares the peer's with its own: ranks
// that make different calls at the same call number get EPROTO instead of
// passing each other's barriers (one-shot paired with two-shot, or two
// sizes, would otherwise complete with a wrong result).
//
// No hang, no silent result. The waiting threads read %globaltimer; past
// the timeout (or on EPROTO) they write the error record (host-mapped
// memory) and the abort word of every rank's signal block (fail()). Every
// block reads its own abort word on entry (touching no flag), while it
// spins (leaving at once instead of at its own timeout) and after its last
// barrier (a peer that failed meanwhile may overwrite its buffer while we
// still read it), and reports it for its call. So a rank whose later calls
// were already queued cannot pair them with a peer's earlier ones: every
// call that overlapped a failure fails on every rank. The abort word is
// written with relaxed stores (it orders nothing; best effort across the
// links, and the acquire after the last barrier makes the usual case,
// abort set before the peer's kernel ended, visible). The communicator
// must then be reset (signal blocks zeroed on all ranks), i.e. destroyed.
// -------------------------------------------------------------------------

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "ipcfs/allreduce_kernels.h"
#include "ipcfs/plan.h"
#include "ipc_host_int.h"

#define IPCFS_K_API extern "C" __attribute__((visibility("default")))

static_assert((int)IPCFS_K_F32 == (int)ALLREDUCE_F32 &&
		      (int)IPCFS_K_F16 == (int)ALLREDUCE_F16 &&
		      (int)IPCFS_K_BF16 == (int)ALLREDUCE_BF16,
	      "dtype numbering shared with ipcfs/plan.h");
static_assert(IPCFS_K_MAX_RANKS == ALLREDUCE_MAX_RANKS, "same world limit");
static_assert(ALLREDUCE_VEC_BYTES == sizeof(uint4), "16-byte vectors");

namespace {

// ---- device primitives -------------------------------------------------

// Release store at system scope. Cumulative: all writes that happen-before
// it (this thread's, and the block's, ordered by a preceding
// __syncthreads()) become visible to any thread on any device (or the host)
// that observes this value with an acquire, before it observes the value.
__device__ __forceinline__ void st_release_sys(uint64_t *p, uint64_t v)
{
	asm volatile("st.release.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

// Acquire load at system scope: if it reads a value written by a release
// (st_release_sys above), everything before that release happens-before
// every memory operation of this thread after the load (and, through a
// following __syncthreads(), of the whole block). "memory" keeps the
// compiler from hoisting later loads above it.
__device__ __forceinline__ uint64_t ld_acquire_sys(const uint64_t *p)
{
	uint64_t v;
	asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
}

// Relaxed store at system scope to host-mapped memory: a strong (non-torn,
// eventually visible) write; its order with other fields is given by the
// release store of the error code that follows it.
__device__ __forceinline__ void st_relaxed_sys32(int32_t *p, int32_t v)
{
	asm volatile("st.relaxed.sys.s32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ void st_relaxed_sys64(uint64_t *p, uint64_t v)
{
	asm volatile("st.relaxed.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

// Release store of the error code: a host thread that reads the code
// (after a stream synchronization, or polling with an acquire/volatile load
// on x86) also sees the diagnostic fields written before it.
__device__ __forceinline__ void st_release_sys32(int32_t *p, int32_t v)
{
	asm volatile("st.release.sys.s32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

// Nanoseconds, global to the GPU (not per SM, unlike clock64()).
__device__ __forceinline__ uint64_t globaltimer()
{
	uint64_t t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

// ---- dtypes: 16 bytes <-> floats -----------------------------------------

struct F32 {
	static constexpr int E = 4;
	__device__ static void unpack(const uint4 &v, float f[E])
	{
		f[0] = __uint_as_float(v.x);
		f[1] = __uint_as_float(v.y);
		f[2] = __uint_as_float(v.z);
		f[3] = __uint_as_float(v.w);
	}
	__device__ static uint4 pack(const float f[E])
	{
		return make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]),
				  __float_as_uint(f[2]), __float_as_uint(f[3]));
	}
};

// Element 2i of a vector is the low half of 32-bit word i (little endian),
// as in the host arrays of the CPU reference. The two 16-bit formats differ
// only in how one 32-bit word holds two values (Two::two); the 16-byte
// vector of eight is the same for both.
template <class Two> struct Halves8 {
	static constexpr int E = 8;
	__device__ static void unpack(const uint4 &v, float f[E])
	{
		Two::two(v.x, f);
		Two::two(v.y, f + 2);
		Two::two(v.z, f + 4);
		Two::two(v.w, f + 6);
	}
	__device__ static uint4 pack(const float f[E])
	{
		return make_uint4(Two::two(f), Two::two(f + 2), Two::two(f + 4), Two::two(f + 6));
	}
};

struct F16Word {
	__device__ static void two(uint32_t w, float *f)
	{
		f[0] = __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));  // exact
		f[1] = __half2float(__ushort_as_half((unsigned short)(w >> 16)));
	}
	__device__ static uint32_t two(const float *f)
	{
		// cvt.rn.f16.f32: round to nearest even, as allreduce_f32_to_f16()
		return (uint32_t)__half_as_ushort(__float2half_rn(f[0])) |
		       ((uint32_t)__half_as_ushort(__float2half_rn(f[1])) << 16);
	}
};

struct BF16Word {
	__device__ static void two(uint32_t w, float *f)
	{
		f[0] = __uint_as_float(w << 16);  // bf16 -> f32 is exact: a shift
		f[1] = __uint_as_float(w & 0xffff0000u);
	}
	__device__ static uint32_t two(const float *f)
	{
		// cvt.rn.bf16.f32: round to nearest even, as allreduce_f32_to_bf16()
		return (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(f[0])) |
		       ((uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(f[1])) << 16);
	}
};

using F16 = Halves8<F16Word>;
using BF16 = Halves8<BF16Word>;

// ---- kernel parameters ---------------------------------------------------

// Passed as a __grid_constant__: read in place from the parameter space,
// never copied to local memory (a per-thread copy of the whole struct would
// cost every block 88 KiB of local stores before its first load).
struct Params {
	uint4 *bufs[IPCFS_K_MAX_RANKS];          // registered buffers, all ranks
	ipcfs_k_signal *sigs[IPCFS_K_MAX_RANKS]; // signal blocks, all ranks
	uint4 *out;
	ipcfs_k_error *err;                      // device alias, may be NULL
	size_t nvec;                             // 16-byte vectors
	uint64_t timeout_ns;
	uint64_t desc;                           // ipcfs_k_desc() of this call
	uint4 *const *ind;                       // NULL, or bufs[] in device memory
	int rank;
	int out_is_buf;                          // two-shot: out == bufs[rank]
	unsigned flags;                          // IPCFS_K_F_*
};

__device__ __noinline__ void report(ipcfs_k_error *e, int rank, int code, int peer, int k,
				    uint64_t call)
{
	if (!e)
		return;
	st_relaxed_sys32(&e->rank, rank);
	st_relaxed_sys32(&e->peer, peer);
	st_relaxed_sys32(&e->barrier, k);
	st_relaxed_sys32(&e->block, (int32_t)blockIdx.x);
	st_relaxed_sys64(&e->call, call);
	st_release_sys32(&e->code, code);  // E1, last: paired with gpu_poll_err()'s acquire
}

__device__ __forceinline__ uint64_t ld_relaxed_sys(const uint64_t *p)
{
	uint64_t v;
	asm volatile("ld.relaxed.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
}

// A failure of this block: report it for this call, and make every call
// that overlaps it fail on every rank: the abort word of every signal
// block (ours and, through the peers' mappings, theirs) gets the code.
// Relaxed stores: the abort word orders nothing, it only has to arrive;
// the peers read it while they spin and at their next kernel's entry.
template <int N>
__device__ __noinline__ void fail(const Params &p, int code, int peer, int k, uint64_t call)
{
	report(p.err, p.rank, code, peer, k, call);
#pragma unroll
	for (int r = 0; r < N; r++)
		st_relaxed_sys64(&p.sigs[r]->abort, (uint64_t)code);
	if (p.flags & IPCFS_K_F_TRAP)
		__trap();
}

// Whether this block must not run: the abort word is set (a failure of an
// earlier, overlapping call on some rank). Thread 0 reads it once and the
// block follows that one answer (all threads leave, or none). Reported
// for this call, so that it fails on this rank too.
__device__ __forceinline__ bool aborted(const Params &p, uint64_t call, int k, int *s_fail)
{
	if (threadIdx.x == 0) {
		const uint64_t ab = ld_relaxed_sys(&p.sigs[p.rank]->abort);
		if (ab) {
			report(p.err, p.rank, (int)ab, -1, k, call);
			if (p.flags & IPCFS_K_F_TRAP)
				__trap();
		}
		*s_fail = ab != 0;
	}
	__syncthreads();
	return *(volatile int *)s_fail != 0;
}

// A call captured in a CUDA graph takes its buffers from device memory
// that the host fills after capture (ipcfs_gpu_register_graph): read them
// once per thread into registers (compile-time indices only). The host
// finished writing them before the graph launch, so plain loads see them.
// A NULL entry (graph replayed before registration) is reported as ENXIO
// by every block's thread 0, and every thread of every rank leaves: the
// condition is the same for the whole grid, no barrier is left half done.
template <int N>
__device__ __forceinline__ bool load_bufs(const Params &p, uint4 *bufs[N])
{
	bool missing = false;

#pragma unroll
	for (int r = 0; r < N; r++) {
		bufs[r] = p.ind ? p.ind[r] : p.bufs[r];
		missing |= bufs[r] == nullptr;
	}
	if (missing && threadIdx.x == 0)
		report(p.err, p.rank, ENXIO, -1, 0, p.sigs[p.rank]->calls[blockIdx.x] + 1);
	return missing;
}

// bufs[rank] without a dynamic index into the register array.
template <int N>
__device__ __forceinline__ uint4 *own_buf(uint4 *const bufs[N], int rank)
{
	uint4 *own = bufs[0];
#pragma unroll
	for (int r = 1; r < N; r++)
		if (r == rank)
			own = bufs[r];
	return own;
}

// Spin until *slot >= want: 0, or the code that ends the wait (ETIMEDOUT,
// or a peer's failure found in our abort word). The spin reads the flag
// relaxed (an acquire at .sys scope on every poll would invalidate the
// SM's L1 each time, for co-resident blocks of other ranks and programs
// too) and, every 32 rounds, the abort word and the clock; once it sees
// the value, one acquire load of the same word does the pairing of the
// barrier argument (step 3): flags only grow, so by coherence it reads a
// value >= want, written by the peer's release or a later one of it.
__device__ __forceinline__ int spin(const Params &p, const uint64_t *slot, uint64_t want,
				    uint64_t *seen)
{
	uint64_t v, start = 0;
	unsigned spins = 0;
	bool timed = false;

	while (ld_relaxed_sys(slot) < want) {
		if ((++spins & 31u) == 0) {
			const uint64_t ab = ld_relaxed_sys(&p.sigs[p.rank]->abort);
			if (ab)
				return (int)ab;
			const uint64_t now = globaltimer();
			if (!timed) {
				start = now;
				timed = true;
			} else if (now - start > p.timeout_ns) {
				return ETIMEDOUT;
			}
		}
	}
	v = ld_acquire_sys(slot);
	*seen = v;
	return 0;
}

// Barrier k of call @call for this block with block blockIdx.x of every
// peer; see the argument at the top of the file. Thread t < N (t != rank)
// handles peer t, so the N-1 signals and waits proceed in parallel. At the
// start barrier it also hands peer t this call's descriptor (stored before
// the release of the flag, so read after the acquire of it) and compares
// peer t's with its own: a different call is EPROTO. Returns true when the
// block must leave the kernel.
template <int N>
__device__ __forceinline__ bool barrier(const Params &p, uint64_t call, int k, int *s_fail)
{
	// (1) order the block's previous writes before the release below
	__syncthreads();
	const int t = threadIdx.x;
	if (t < N && t != p.rank) {
		const uint64_t want = call * 4 + (uint64_t)k;
		const int set = (int)(call & 1);
		uint64_t v = 0;

		if (k == 0)
			st_relaxed_sys64(&p.sigs[t]->desc[set][blockIdx.x][p.rank], p.desc);
		// (2) arrive: tell peer t that this rank reached barrier k.
		// Single writer per word (this rank's block b), so a plain
		// release store suffices; no read-modify-write across the link.
		st_release_sys(&p.sigs[t]->flags[set][blockIdx.x][p.rank], want);

		// (3) wait for peer t's arrival in our own signal block (local
		// memory: the spin does not cross the link).
		int code = spin(p, &p.sigs[p.rank]->flags[set][blockIdx.x][t], want, &v);
		if (!code && v > call * 4 + 3)  // a later call in our set
			code = EPROTO;
		if (!code && k == 0 && ld_relaxed_sys(&p.sigs[p.rank]->desc[set][blockIdx.x][t]) !=
						p.desc)
			code = EPROTO;  // the peer makes another call
		if (code) {
			fail<N>(p, code, t, k, call);
			atomicExch(s_fail, 1);
		}
	}
	// (4) order the acquires before every later access of the block
	__syncthreads();
	return *(volatile int *)s_fail != 0;
}

// The end of a call: its result counts only if no rank failed meanwhile
// (a peer that timed out at the end barrier may overwrite its buffer
// while we still read it). Thread 0 then advances the call counter.
template <int N>
__device__ __forceinline__ void finish(const Params &p, uint64_t call)
{
	if (threadIdx.x != 0)
		return;
	const uint64_t ab = ld_acquire_sys(&p.sigs[p.rank]->abort);
	if (ab) {
		report(p.err, p.rank, (int)ab, -1, 2, call);
		if (p.flags & IPCFS_K_F_TRAP)
			__trap();
		return;
	}
	// Read by the next call's kernel, ordered after this one on the stream.
	p.sigs[p.rank]->calls[blockIdx.x] = call;
}

// Sum of vector v over the ranks, in rank order 0..N-1, fp32 accumulation,
// one rounding at the end: the order of ipcfs/plan.h. The loads are
// issued first (N independent 16-byte loads in flight), then added in order;
// only additions, so no FMA contraction can change the result.
template <class D, int N>
__device__ __forceinline__ uint4 reduce_vec(uint4 *const bufs[N], size_t v)
{
	uint4 x[N];
#pragma unroll
	for (int r = 0; r < N; r++)
		x[r] = bufs[r][v];  // weak load, ordered by the start barrier
	float acc[D::E], t[D::E];
	D::unpack(x[0], acc);
#pragma unroll
	for (int r = 1; r < N; r++) {
		D::unpack(x[r], t);
#pragma unroll
		for (int j = 0; j < D::E; j++)
			acc[j] = __fadd_rn(acc[j], t[j]);  // never contracted
	}
	return D::pack(acc);
}

// The start of a call: entry check, buffers, call number. False when the
// block must leave.
template <int N>
__device__ __forceinline__ bool enter(const Params &p, uint4 *bufs[N], uint64_t *call,
				      int *s_fail)
{
	if (load_bufs<N>(p, bufs))
		return false;
	// This block's call number. Written only by thread 0 of this block,
	// after the last barrier (so after every thread read it here).
	*call = p.sigs[p.rank]->calls[blockIdx.x] + 1;
	if (aborted(p, *call, 0, s_fail))
		return false;
	return !barrier<N>(p, *call, 0, s_fail);
}

// At most IPCFS_K_THREADS x IPCFS_K_MIN_BLOCKS_PER_SM threads per SM:
// registers bounded so that two blocks fit, and every block of up to
// (blocks per SM x SMs) / ranks blocks per rank is resident at once.
#define IPCFS_K_BOUNDS __launch_bounds__(IPCFS_K_THREADS, IPCFS_K_MIN_BLOCKS_PER_SM)

template <class D, int N>
__global__ void IPCFS_K_BOUNDS oneshot_kernel(const __grid_constant__ Params p)
{
	__shared__ int s_fail;
	uint4 *bufs[N];
	uint64_t call;

	if (!enter<N>(p, bufs, &call, &s_fail))
		return;
	const size_t stride = (size_t)gridDim.x * blockDim.x;
	for (size_t v = (size_t)blockIdx.x * blockDim.x + threadIdx.x; v < p.nvec;
	     v += stride)
		p.out[v] = reduce_vec<D, N>(bufs, v);
	if (barrier<N>(p, call, 2, &s_fail))
		return;
	finish<N>(p, call);
}

// All-gather of two-shot: range q from rank q's buffer for every q !=
// rank, with the loads of all N-1 ranges in flight before their stores.
// Same vector -> block mapping as rank q used in its reduce-scatter (the
// barrier argument relies on it). When out is our buffer, writing the
// other ranges of it is safe: only their owners read them, before the
// middle barrier.
template <int N>
__device__ __forceinline__ void all_gather(const Params &p, uint4 *const bufs[N], size_t first,
					   size_t stride)
{
	const size_t len = (p.nvec + N - 1) / N;  // the longest range
	uint4 *__restrict__ out = p.out;

	for (size_t i = first; i < len; i += stride) {
		uint4 x[N];
#pragma unroll
		for (int q = 0; q < N; q++) {
			const allreduce_range g = allreduce_plan_twoshot_range(p.nvec, N, q);
			if (q != p.rank && g.begin + i < g.end)
				x[q] = bufs[q][g.begin + i];
		}
#pragma unroll
		for (int q = 0; q < N; q++) {
			const allreduce_range g = allreduce_plan_twoshot_range(p.nvec, N, q);
			if (q != p.rank && g.begin + i < g.end)
				out[g.begin + i] = x[q];
		}
	}
}

template <class D, int N>
__global__ void IPCFS_K_BOUNDS twoshot_kernel(const __grid_constant__ Params p)
{
	__shared__ int s_fail;
	uint4 *bufs[N];
	uint64_t call;

	if (!enter<N>(p, bufs, &call, &s_fail))
		return;
	const size_t stride = (size_t)gridDim.x * blockDim.x;
	const size_t first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	// Reduce-scatter: this rank's range, from every buffer, into its own
	// buffer (no other rank touches that range of that buffer now).
	const allreduce_range mine = allreduce_plan_twoshot_range(p.nvec, N, p.rank);
	uint4 *own = own_buf<N>(bufs, p.rank);
	for (size_t v = mine.begin + first; v < mine.end; v += stride) {
		const uint4 s = reduce_vec<D, N>(bufs, v);
		own[v] = s;
		if (!p.out_is_buf)
			p.out[v] = s;
	}
	if (barrier<N>(p, call, 1, &s_fail))
		return;
	all_gather<N>(p, bufs, first, stride);
	if (barrier<N>(p, call, 2, &s_fail))
		return;
	finish<N>(p, call);
}

// ---- host side ---------------------------------------------------------

thread_local char last_error[256];

void set_error(const char *what, const char *why)
{
	snprintf(last_error, sizeof last_error, "%s: %s", what, why);
}

int map_cuda(cudaError_t e, const char *what)
{
	set_error(what, cudaGetErrorString(e));
	(void)cudaGetLastError();  // clear a non-sticky error
	switch (e) {
	case cudaErrorNoDevice:
	case cudaErrorInsufficientDriver:
	case cudaErrorInitializationError:
	case cudaErrorDevicesUnavailable:
	case cudaErrorStubLibrary:
	case cudaErrorSystemDriverMismatch:
	case cudaErrorCompatNotSupportedOnDevice:
	case cudaErrorInvalidDevice:
		return -ENODEV;
	case cudaErrorNoKernelImageForDevice:
	case cudaErrorUnsupportedPtxVersion:
		return -ENOTSUP;
	case cudaErrorMemoryAllocation:
		return -ENOMEM;
	case cudaErrorInvalidValue:
	case cudaErrorInvalidDevicePointer:
		return -EINVAL;
	default:
		return -EIO;
	}
}

using KernelFn = void (*)(Params);

template <class D>
KernelFn pick(bool two, int world)
{
	switch (world) {
#define CASE(n) \
	case n: return two ? twoshot_kernel<D, n> : oneshot_kernel<D, n>;
	CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
	default: return nullptr;
	}
}

KernelFn pick_any(int dtype, bool two, int world)
{
	return dtype == IPCFS_K_F32 ? pick<F32>(two, world)
	     : dtype == IPCFS_K_F16 ? pick<F16>(two, world)
				     : pick<BF16>(two, world);
}

bool overlaps(const void *a, size_t na, const void *b, size_t nb)
{
	const uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

bool aligned16(const void *p)
{
	return ((uintptr_t)p & 15u) == 0;
}

int bad(const char *why)
{
	set_error("invalid argument", why);
	return -EINVAL;
}

// The argument checks of launch(): 0 or -EINVAL (reason set); *bytes.
int check(const ipcfs_k_allreduce_args *a, bool two, size_t *bytes)
{
	if (!a)
		return bad("no arguments");
	const int n = a->world;
	const size_t es = allreduce_plan_dtype_size(a->dtype);
	if (n < 2 || n > IPCFS_K_MAX_RANKS)
		return bad("world size not in 2..8");
	if (a->rank < 0 || a->rank >= n)
		return bad("rank out of range");
	if (!es)
		return bad("unknown dtype");
	if (a->count > SIZE_MAX / es)
		return bad("count overflows");
	*bytes = a->count * es;
	if (*bytes % ALLREDUCE_VEC_BYTES)
		return bad("size not a multiple of 16 bytes (use NCCL)");
	if (*bytes > a->buf_bytes)
		return bad("larger than the registered buffer (use NCCL)");
	if (a->blocks > IPCFS_K_MAX_BLOCKS)
		return bad("too many blocks");
	// With dev_bufs only this rank's input is known now (the peers' are
	// filled in after capture); the kernel checks the others for NULL.
	for (int r = 0; r < n; r++) {
		const bool known = !a->dev_bufs || r == a->rank;
		if ((known && !a->bufs[r]) || !a->sigs[r])
			return bad("missing buffer or signal block");
		if ((known && !aligned16(a->bufs[r])) || ((uintptr_t)a->sigs[r] & 7u))
			return bad("unaligned buffer or signal block");
	}
	if (a->dev_bufs && (a->in || ((uintptr_t)a->dev_bufs & 7u)))
		return bad("dev_bufs: in must be NULL, the table 8-byte aligned");
	// in may have any alignment: it is copied (cudaMemcpyAsync).
	if (!a->out || !aligned16(a->out))
		return bad("missing or unaligned out");
	void *own = a->bufs[a->rank];
	if (overlaps(a->out, *bytes, own, a->buf_bytes) && !(two && a->out == own))
		return bad(two ? "out overlaps the registered buffer"
			       : "one-shot: out overlaps the registered buffer");
	if (a->in && a->in != own && overlaps(a->in, *bytes, own, a->buf_bytes))
		return bad("in overlaps the registered buffer");
	return 0;
}

int launch(const ipcfs_k_allreduce_args *a, void *stream, bool two)
{
	size_t bytes = 0;
	int rc = check(a, two, &bytes);

	if (rc)
		return rc;
	if (!bytes)
		return 0;  // every rank returns here alike: no barrier needed
	const int n = a->world;
	void *own = a->bufs[a->rank];
	const bool copy_in = a->in && a->in != own;
	Params p;
	memset(&p, 0, sizeof p);
	for (int r = 0; r < n; r++) {
		p.bufs[r] = static_cast<uint4 *>(a->bufs[r]);
		p.sigs[r] = a->sigs[r];
	}
	p.out = static_cast<uint4 *>(a->out);
	p.err = a->err;
	p.ind = reinterpret_cast<uint4 *const *>(a->dev_bufs);
	p.nvec = bytes / ALLREDUCE_VEC_BYTES;
	p.timeout_ns = a->timeout_ns ? a->timeout_ns : IPCFS_K_DEFAULT_TIMEOUT_NS;
	p.rank = a->rank;
	p.out_is_buf = a->out == own;
	p.flags = a->flags;

	// The grid and the descriptor depend only on arguments that every rank
	// shares; the kernels compare the descriptors.
	const unsigned grid = ipcfs_k_grid(two, p.nvec, n, a->blocks);
	p.desc = ipcfs_k_desc(two, p.nvec, a->dtype, grid, n);

	cudaStream_t s = static_cast<cudaStream_t>(stream);
	cudaError_t e = cudaGetLastError();  // an earlier, unrelated error: not ours
	(void)e;
	if (copy_in) {
		e = cudaMemcpyAsync(own, a->in, bytes, cudaMemcpyDeviceToDevice, s);
		if (e != cudaSuccess)
			return map_cuda(e, "copy into the registered buffer");
	}
	pick_any(a->dtype, two, n)<<<grid, IPCFS_K_THREADS, 0, s>>>(p);
	e = cudaGetLastError();
	if (e != cudaSuccess)
		return map_cuda(e, two ? "two-shot launch" : "one-shot launch");
	return 0;
}

}  // namespace

// Shared with the other .cu files of libipcfs_cuda.so (hidden: not part of
// the library's C ABI).
int ipcfs_k_map_cuda(cudaError_t e, const char *what)
{
	return map_cuda(e, what);
}

void ipcfs_k_set_error(const char *what, const char *why)
{
	set_error(what, why);
}

IPCFS_K_API int ipcfs_k_allreduce_oneshot(const ipcfs_k_allreduce_args *a, void *stream)
{
	return launch(a, stream, false);
}

IPCFS_K_API int ipcfs_k_allreduce_twoshot(const ipcfs_k_allreduce_args *a, void *stream)
{
	return launch(a, stream, true);
}

// A driver older than the runtime this library was built with: say which.
static int driver_too_old(cudaError_t e)
{
	int drv = 0;
	char why[200];

	(void)cudaDriverGetVersion(&drv);
	(void)cudaGetLastError();
	if (drv == 0) {  // no driver at all: the runtime says "insufficient" too
		set_error("no usable CUDA device", "no NVIDIA driver is loaded");
		return -ENODEV;
	}
	snprintf(why, sizeof why, "%s: the NVIDIA driver supports CUDA %d.%d, libipcfs_cuda.so "
		 "was built for CUDA %d.%d: update the driver (or rebuild with an older toolkit)",
		 cudaGetErrorString(e), drv / 1000, drv % 1000 / 10, CUDART_VERSION / 1000,
		 CUDART_VERSION % 1000 / 10);
	set_error("CUDA driver too old", why);
	return -ENOTSUP;
}

IPCFS_K_API int ipcfs_k_device_count(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e == cudaErrorInsufficientDriver || e == cudaErrorCompatNotSupportedOnDevice)
		return driver_too_old(e);
	if (e != cudaSuccess) {
		map_cuda(e, "no usable CUDA device");
		return -ENODEV;
	}
	if (n <= 0) {
		set_error("no usable CUDA device", "the driver reports none");
		return -ENODEV;
	}
	return n;
}

IPCFS_K_API int ipcfs_k_versions(int *driver, int *runtime, int *nccl)
{
	if (!driver || !runtime || !nccl)
		return bad("no output");
	*driver = *runtime = 0;
	(void)cudaDriverGetVersion(driver);
	(void)cudaRuntimeGetVersion(runtime);
	(void)cudaGetLastError();
	*nccl = ipcfs_k_nccl_version();
	return 0;
}

// Every instantiation: {one,two}-shot x {f32,f16,bf16} x N = 2..8.
template <class F> static int each_kernel(F f)
{
	for (int dt = 0; dt < 3; dt++)
		for (int two = 0; two < 2; two++)
			for (int n = 2; n <= IPCFS_K_MAX_RANKS; n++) {
				int rc = f(pick_any(dt, two, n));
				if (rc)
					return rc;
			}
	return 0;
}

IPCFS_K_API int ipcfs_k_max_coresident_blocks(int dev, unsigned *blocks)
{
	int sms = 0, least = 1 << 30;
	cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);

	if (!blocks)
		return bad("no output");
	if (e != cudaSuccess)
		return map_cuda(e, "cudaDeviceGetAttribute(MultiProcessorCount)");
	int rc = each_kernel([&](KernelFn fn) {
		int per_sm = 0;
		cudaError_t r = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
			&per_sm, reinterpret_cast<const void *>(fn), IPCFS_K_THREADS, 0);
		if (r != cudaSuccess)
			return map_cuda(r, "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
		least = per_sm < least ? per_sm : least;
		return 0;
	});
	if (rc)
		return rc;
	*blocks = (unsigned)(sms * least);
	return 0;
}

IPCFS_K_API int ipcfs_k_preload(void)
{
	return each_kernel([](KernelFn fn) {
		cudaFuncAttributes attr;
		cudaError_t r = cudaFuncGetAttributes(&attr, reinterpret_cast<const void *>(fn));
		return r == cudaSuccess ? 0 : map_cuda(r, "loading an all-reduce kernel");
	});
}

IPCFS_K_API int ipcfs_k_signal_reset(ipcfs_k_signal *sig, void *stream)
{
	if (!sig)
		return bad("no signal block");
	cudaError_t e = cudaMemsetAsync(sig, 0, sizeof *sig,
					static_cast<cudaStream_t>(stream));
	return e == cudaSuccess ? 0 : map_cuda(e, "reset of a signal block");
}

IPCFS_K_API const char *ipcfs_k_last_error(void)
{
	return last_error;
}
