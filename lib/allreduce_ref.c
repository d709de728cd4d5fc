/* SPDX-License-Identifier: MIT */
/*
 * allreduce_ref.c - CPU reference of the GPU all-reduce kernels.
 *
 * N ranks are simulated in one process on host arrays. The order of the
 * phases (and of the ranks within a phase) follows the kernels' barriers:
 * nothing a phase reads is written by the same phase on another rank, so
 * any interleaving of the ranks gives the same bytes; rank order is just
 * the simplest one. Every element is summed with the kernels' order (see
 * ipcfs/plan.h): fp32 accumulation starting from rank 0's value,
 * ranks 0..N-1, one rounding to the dtype at the end.
 *
 * The float additions below must stay binary32 operations, one at a time:
 * the library is built without -ffast-math and x86-64 evaluates float in
 * SSE registers (FLT_EVAL_METHOD 0), so this holds.
 */
#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs/plan.h"

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "the reference needs binary32 evaluation of float (FLT_EVAL_METHOD 0)"
#endif

/*
 * The GPU's fp32 add returns the canonical NaN 0x7fffffff whatever the
 * operands' payloads; x86 keeps the first NaN operand's payload and makes
 * 0xffc00000 of inf - inf. Every world has two ranks or more, so every sum
 * went through an add: a NaN sum is the canonical one on the GPU, and here.
 */
static float canon_nan(float acc)
{
	return acc != acc ? allreduce_bits_f32(0x7fffffffu) : acc;
}

float allreduce_ref_sum1(int world, int dtype, const void *const in[], size_t i)
{
	float acc = allreduce_load_f32(in[0], dtype, i);
	union { float f; uint16_t h[2]; } tmp;

	for (int p = 1; p < world; p++)
		acc += allreduce_load_f32(in[p], dtype, i);
	acc = canon_nan(acc);
	/* round to the dtype exactly as the kernel's store does */
	allreduce_store_f32(&tmp, dtype, 0, acc);
	return allreduce_load_f32(&tmp, dtype, 0);
}

/* Reduce elements [b, e) of in[0..world-1] into dst (same dtype). */
static void reduce_range(int world, int dtype, const void *const in[],
			 void *dst, size_t b, size_t e)
{
	for (size_t i = b; i < e; i++) {
		float acc = allreduce_load_f32(in[0], dtype, i);

		for (int p = 1; p < world; p++)
			acc += allreduce_load_f32(in[p], dtype, i);
		allreduce_store_f32(dst, dtype, i, canon_nan(acc));
	}
}

static int ref_args(int world, int dtype, size_t count, const void *const in[],
		    void *const out[], size_t *bytes)
{
	int err = allreduce_plan_check(world, count, dtype, bytes);

	if (err)
		return err;
	if (!in || !out)
		return -EINVAL;
	for (int p = 0; p < world; p++)
		if ((!in[p] || !out[p]) && count)
			return -EINVAL;
	return 0;
}

int allreduce_ref_oneshot(int world, int dtype, size_t count,
			  const void *const in[], void *const out[])
{
	size_t bytes;
	int err = ref_args(world, dtype, count, in, out, &bytes);

	if (err)
		return err;
	/* Each rank: one barrier (inputs ready), reduce all, one barrier. */
	for (int r = 0; r < world; r++)
		reduce_range(world, dtype, in, out[r], 0, count);
	return 0;
}

int allreduce_ref_twoshot(int world, int dtype, size_t count,
			  const void *const in[], void *const out[])
{
	size_t bytes, per = allreduce_plan_vec_elems(dtype);
	void *buf[ALLREDUCE_MAX_RANKS] = { 0 };
	const void *cbuf[ALLREDUCE_MAX_RANKS];
	int err = ref_args(world, dtype, count, in, out, &bytes);

	if (err)
		return err;
	if (!count)
		return 0;
	/* The registered buffers: each rank's input, copied in before the
	 * kernel (by the host side, cudaMemcpyAsync on the rank's stream). */
	for (int p = 0; p < world; p++) {
		buf[p] = malloc(bytes);
		if (!buf[p]) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(buf[p], in[p], bytes);
		cbuf[p] = buf[p];
	}
	/* Phase 1 (after the start barrier): reduce-scatter. Rank r reads its
	 * range from every buffer and writes the sum into its own buffer. No
	 * other rank reads or writes that range of that buffer in this phase. */
	for (int r = 0; r < world; r++) {
		struct allreduce_range g =
			allreduce_plan_twoshot_range(bytes / ALLREDUCE_VEC_BYTES,
						     world, r);
		reduce_range(world, dtype, cbuf, buf[r], g.begin * per,
			     g.end * per);
	}
	/* Phase 2 (after the middle barrier): all-gather. Rank r copies range s
	 * from rank s's buffer, for s in 0..N-1. */
	for (int r = 0; r < world; r++) {
		for (int s = 0; s < world; s++) {
			struct allreduce_range g =
				allreduce_plan_twoshot_range(bytes / ALLREDUCE_VEC_BYTES,
							     world, s);
			size_t off = g.begin * ALLREDUCE_VEC_BYTES;

			memcpy((char *)out[r] + off, (const char *)buf[s] + off,
			       (g.end - g.begin) * ALLREDUCE_VEC_BYTES);
		}
	}
out:
	for (int p = 0; p < world; p++)
		free(buf[p]);
	return err;
}

int allreduce_ref_f64(int world, int dtype, size_t count,
		      const void *const in[], double *out)
{
	if (world < 1 || world > ALLREDUCE_MAX_RANKS ||
	    !allreduce_plan_dtype_size(dtype) || (count && (!in || !out)))
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		double acc = 0;

		for (int p = 0; p < world; p++)
			acc += (double)allreduce_load_f32(in[p], dtype, i);
		out[i] = acc;
	}
	return 0;
}
