/* SPDX-License-Identifier: MIT */
/*
 * ipcfs/plan.h - partitioning and algorithm choice of the GPU
 * all-reduce, and a CPU reference of the kernels. Internal (not exported).
 *
 * This header is included by the C library (lib/allreduce_plan.c,
 * lib/allreduce_ref.c, later the GPU host side) AND by the CUDA kernels
 * (kernels/allreduce.cu): the inline functions below are the single
 * definition of "which rank reduces which bytes" and of the summation
 * order, so that the kernels and the reference cannot drift apart. Under
 * nvcc they are __host__ __device__; for the C compiler they are plain
 * static inline C11.
 *
 * Units. Data is moved in 16-byte vectors (one uint4 load or store). A
 * buffer of B bytes holds B/16 vectors; the custom kernels only accept
 * B % 16 == 0 (everything else goes to NCCL). An element index e lives in
 * vector e / (16 / dtype_size).
 *
 * One-shot: every rank reads the whole input of every rank (its own
 * included) and writes the whole sum to its output. Vector v is reduced by
 * every rank.
 *
 * Two-shot: the nvec vectors are cut into N contiguous ranges, one per rank;
 * with q = nvec / N and m = nvec % N, rank r owns
 *     begin(r) = r*q + min(r, m),   end(r) = begin(r) + q + (r < m)
 * i.e. the first m ranks get one vector more: the ranges partition
 * [0, nvec) exactly, in rank order, every bound is a multiple of 16 bytes,
 * and two ranges differ by at most one vector. A rank with nvec < N may own
 * an empty range. Rank r reduces its range (reading it from every rank's
 * registered buffer) into its own registered buffer (reduce-scatter), then
 * every rank copies range s from rank s's buffer for every s (all-gather).
 *
 * Summation order (both algorithms, every rank, every element):
 *     acc = (float)x[0]; acc += (float)x[1]; ... acc += (float)x[N-1];
 *     out = round_to_dtype(acc)            (round to nearest, ties to even)
 * where x[p] is the element of rank p, fp32 accumulation, no FMA, no
 * reassociation. Starting from x[0] rather than 0.0f keeps -0.0 when every
 * input is -0.0. As a consequence every rank's result is bitwise identical,
 * and one-shot and two-shot give bitwise identical results. NaN: the GPU's
 * fp32 add yields the canonical NaN 0x7fffffff (no payload), so with N > 1
 * a NaN sum is 0x7fffffff before rounding (f16/bf16: 0x7fff); the CPU
 * reference canonicalizes the same way.
 */
#ifndef IPCFS_ALLREDUCE_PLAN_INT_H
#define IPCFS_ALLREDUCE_PLAN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ALLREDUCE_HD __host__ __device__ __forceinline__
#else
#define ALLREDUCE_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of one vector load/store; the alignment unit of every range. */
#define ALLREDUCE_VEC_BYTES 16
/* World sizes the custom kernels handle. */
#define ALLREDUCE_MIN_RANKS 2
#define ALLREDUCE_MAX_RANKS 8

/* Element types (the numbering is shared with include/ipcfs/allreduce_kernels.h). */
enum allreduce_dtype {
	ALLREDUCE_F32 = 0,
	ALLREDUCE_F16 = 1,
	ALLREDUCE_BF16 = 2,
	ALLREDUCE_NDTYPES
};

enum allreduce_algo {
	ALLREDUCE_ALGO_AUTO = 0,  /* only as a request: choose by size */
	ALLREDUCE_ALGO_ONESHOT = 1,
	ALLREDUCE_ALGO_TWOSHOT = 2,
	ALLREDUCE_ALGO_NCCL = 3,
	ALLREDUCE_NALGOS
};

/* Why allreduce_plan_choose() picked what it picked (for stat/error_log). */
enum allreduce_reason {
	ALLREDUCE_WHY_FORCED = 0,    /* the requested algorithm was applicable */
	ALLREDUCE_WHY_SMALL,         /* auto: bytes <= one-shot threshold */
	ALLREDUCE_WHY_LARGE,         /* auto: bytes above it */
	ALLREDUCE_WHY_EMPTY,         /* nothing to reduce (count 0): one-shot, no-op */
	ALLREDUCE_WHY_WORLD,         /* N == 1 or N > 8 (or more than one node) */
	ALLREDUCE_WHY_DTYPE,         /* unknown dtype */
	ALLREDUCE_WHY_UNALIGNED,     /* bytes % 16 != 0 */
	ALLREDUCE_WHY_TOO_BIG,       /* bytes > registered buffer */
	ALLREDUCE_WHY_NO_PEER,       /* no peer access between the GPUs */
	ALLREDUCE_WHY_NO_BUFFER,     /* no registered buffer at all */
	ALLREDUCE_NREASONS
};

/* Size in bytes of one element, 0 for an unknown dtype. */
ALLREDUCE_HD size_t allreduce_plan_dtype_size(int dtype)
{
	return dtype == ALLREDUCE_F32 ? 4 :
	       (dtype == ALLREDUCE_F16 || dtype == ALLREDUCE_BF16) ? 2 : 0;
}

/* Elements per 16-byte vector, 0 for an unknown dtype. */
ALLREDUCE_HD size_t allreduce_plan_vec_elems(int dtype)
{
	size_t s = allreduce_plan_dtype_size(dtype);
	return s ? ALLREDUCE_VEC_BYTES / s : 0;
}

/* A half-open range [begin, end) of vectors or elements. */
struct allreduce_range {
	size_t begin, end;
};

/* Two-shot: the vectors rank @rank of @world reduces, out of @nvec. The
 * caller guarantees 1 <= world and 0 <= rank < world. */
ALLREDUCE_HD struct allreduce_range
allreduce_plan_twoshot_range(size_t nvec, int world, int rank)
{
	size_t n = (size_t)world, r = (size_t)rank;
	size_t q = nvec / n, m = nvec % n;
	struct allreduce_range g;

	g.begin = r * q + (r < m ? r : m);
	g.end = g.begin + q + (r < m ? 1 : 0);
	return g;
}

/* Two-shot: the rank that owns vector @v (the inverse of the above). */
ALLREDUCE_HD int allreduce_plan_twoshot_owner(size_t nvec, int world, size_t v)
{
	size_t n = (size_t)world, q = nvec / n, m = nvec % n;
	size_t big = m * (q + 1);  /* vectors held by the first m ranks */

	if (v < big)
		return (int)(v / (q + 1));
	return (int)(m + (v - big) / q);  /* q > 0 here since v < nvec */
}

/* ---- fp16 / bf16 conversions, by hand (round to nearest, ties to even) ---- */

ALLREDUCE_HD uint32_t allreduce_f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

ALLREDUCE_HD float allreduce_bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* binary16 -> binary32: exact. */
ALLREDUCE_HD float allreduce_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;

	if (e == 0x1f)  /* inf, NaN (payload kept) */
		return allreduce_bits_f32(sign | 0x7f800000u | (m << 13));
	if (e == 0) {   /* zero, subnormal: m * 2^-24, exact in binary32 */
		float f = (float)m * 5.9604644775390625e-8f;
		return sign ? -f : f;
	}
	return allreduce_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

/* binary32 -> binary16, round to nearest even; overflow gives inf, NaN
 * gives a quiet NaN with the high payload bits. */
ALLREDUCE_HD uint16_t allreduce_f32_to_f16(float f)
{
	uint32_t x = allreduce_f32_bits(f);
	uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;

	if (ax > 0x7f800000u)                       /* NaN */
		return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
	if (ax >= 0x477ff000u)                      /* >= 65520: inf */
		return (uint16_t)(sign | 0x7c00u);
	if (ax < 0x38800000u) {                     /* < 2^-14: subnormal half */
		uint32_t exp = ax >> 23, mant, shift, q, rem, half;

		if (exp < 102)  /* < 2^-25 (binary32 subnormals included): 0 */
			return (uint16_t)sign;
		/* value = mant * 2^(exp-150) = (mant >> shift) units of 2^-24 */
		mant = (ax & 0x7fffffu) | 0x800000u;
		shift = 126 - exp;                  /* 14 .. 24 */
		q = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		return (uint16_t)(sign | q);        /* q may be 0x400: 2^-14 */
	}
	{
		uint32_t h = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;

		if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
			h++;                        /* may carry into the exponent */
		return (uint16_t)(sign | h);
	}
}

/* bfloat16 -> binary32: exact. */
ALLREDUCE_HD float allreduce_bf16_to_f32(uint16_t b)
{
	return allreduce_bits_f32((uint32_t)b << 16);
}

/* binary32 -> bfloat16, round to nearest even; NaN stays a quiet NaN. */
ALLREDUCE_HD uint16_t allreduce_f32_to_bf16(float f)
{
	uint32_t x = allreduce_f32_bits(f);

	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x0040u);
	x += 0x7fffu + ((x >> 16) & 1u);            /* carries into inf at the top */
	return (uint16_t)(x >> 16);
}

/* Element @i of a @dtype array, widened to float (exact). */
ALLREDUCE_HD float allreduce_load_f32(const void *p, int dtype, size_t i)
{
	if (dtype == ALLREDUCE_F32)
		return ((const float *)p)[i];
	if (dtype == ALLREDUCE_F16)
		return allreduce_f16_to_f32(((const uint16_t *)p)[i]);
	return allreduce_bf16_to_f32(((const uint16_t *)p)[i]);
}

/* Store @v rounded to @dtype at element @i. */
ALLREDUCE_HD void allreduce_store_f32(void *p, int dtype, size_t i, float v)
{
	if (dtype == ALLREDUCE_F32)
		((float *)p)[i] = v;
	else if (dtype == ALLREDUCE_F16)
		((uint16_t *)p)[i] = allreduce_f32_to_f16(v);
	else
		((uint16_t *)p)[i] = allreduce_f32_to_bf16(v);
}

#ifdef __cplusplus
}
#endif

/* ---- host code: validation, algorithm choice (allreduce_plan.c) --------- */
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 0 when @count elements of @dtype can go through the custom kernels of a
 * @world-rank group (2..8 ranks, known dtype, bytes % 16 == 0, no size_t
 * overflow); -EINVAL otherwise. *bytes (if not NULL) gets count * size when
 * that does not overflow. */
int allreduce_plan_check(int world, size_t count, int dtype, size_t *bytes);

/* Number of 16-byte vectors of @bytes (which must be a multiple of 16). */
static inline size_t allreduce_plan_nvec(size_t bytes)
{
	return bytes / ALLREDUCE_VEC_BYTES;
}

/* Two-shot range of @rank in elements (begin and end are multiples of
 * allreduce_plan_vec_elems(dtype)). Requires allreduce_plan_check() == 0. */
struct allreduce_range allreduce_plan_twoshot_elems(int world, size_t count,
						    int dtype, int rank);

/*
 * Tunable thresholds of the automatic choice. oneshot_max[N] is the largest
 * message (bytes) that goes one-shot in a group of N ranks; anything bigger
 * goes two-shot. One-shot pulls (N-1)*S bytes per rank against 2(N-1)*S/N
 * for two-shot, but has one barrier less; the gap grows with N, so the
 * threshold falls with N. Defaults (see allreduce_plan_tuning_default):
 *     N = 2      512 KiB   (both pull the same bytes; only latency differs)
 *     N = 3, 4   256 KiB
 *     N = 5..8   128 KiB
 */
struct allreduce_plan_tuning {
	size_t oneshot_max[ALLREDUCE_MAX_RANKS + 1];  /* index: world size */
};

#define ALLREDUCE_ONESHOT_MAX_2      (512u * 1024u)
#define ALLREDUCE_ONESHOT_MAX_LE4    (256u * 1024u)
#define ALLREDUCE_ONESHOT_MAX_LE8    (128u * 1024u)

void allreduce_plan_tuning_default(struct allreduce_plan_tuning *t);
/* Set the threshold of one world size (2..8), or of all when world == 0.
 * -EINVAL for another world size. */
int allreduce_plan_tuning_set(struct allreduce_plan_tuning *t, int world,
			      size_t oneshot_max);

/* What the caller knows about the communicator. */
struct allreduce_plan_env {
	int world;            /* ranks in the group */
	int nodes;            /* machines the ranks span (1 for ipcfs) */
	size_t buf_bytes;     /* registered buffer size per rank, 0 = none */
	bool peer_access;     /* every pair of GPUs can access each other */
};

/*
 * Choose the algorithm of one call: @req is AUTO or a forced algorithm.
 * NCCL whenever the custom kernels do not apply (world not 2..8, more than
 * one node, unknown dtype, bytes % 16 != 0, bytes > buffer, no peer access),
 * even when a custom algorithm was forced; else the forced one, else one-shot
 * up to tuning->oneshot_max[world] bytes and two-shot above. @t may be NULL
 * (defaults). *why (if not NULL) gets the reason. Every rank that calls this
 * with the same arguments gets the same answer (required: all ranks must run
 * the same kernel).
 */
enum allreduce_algo allreduce_plan_choose(const struct allreduce_plan_tuning *t,
					  const struct allreduce_plan_env *env,
					  enum allreduce_algo req, size_t count,
					  int dtype, enum allreduce_reason *why);

/* "auto", "oneshot", "twoshot", "nccl" (NULL when out of range), and back
 * (-EINVAL for an unknown name; leading/trailing blanks and one trailing
 * newline accepted, as written by echo into an attribute file). */
const char *allreduce_plan_algo_name(enum allreduce_algo a);
int allreduce_plan_algo_parse(const char *s, enum allreduce_algo *out);
const char *allreduce_plan_reason_name(enum allreduce_reason r);

/* ---- CPU reference (allreduce_ref.c) --------------------------------------
 * Simulates @world ranks in one process with exactly the kernels' summation
 * order and partitioning. in[p] is rank p's input (count elements of dtype),
 * out[p] rank p's output; they may be the same array for one rank only if
 * the algorithm allows it (see the functions). Return 0, or -EINVAL for a
 * bad world/dtype/size (same rules as allreduce_plan_check), -ENOMEM.
 */

/* One-shot: every rank computes every element from in[0..N-1]. out[p] must
 * not overlap any in[] (as on the GPU, where peers still read the inputs). */
int allreduce_ref_oneshot(int world, int dtype, size_t count,
			  const void *const in[], void *const out[]);

/* Two-shot: the inputs are copied to simulated registered buffers, each rank
 * reduces its range into its own buffer (reduce-scatter, ranks in order
 * 0..N-1), then every rank gathers every range from its owner's buffer. */
int allreduce_ref_twoshot(int world, int dtype, size_t count,
			  const void *const in[], void *const out[]);

/* Sum of one element over the ranks, in the kernels' order, rounded to
 * @dtype and returned widened back to float (what the kernels store). */
float allreduce_ref_sum1(int world, int dtype, const void *const in[], size_t i);

/* Exact-ish fp64 reference: out[i] = sum over p of (double)in[p][i]. */
int allreduce_ref_f64(int world, int dtype, size_t count,
		      const void *const in[], double *out);

#ifdef __cplusplus
}
#endif

#endif
