/* SPDX-License-Identifier: MIT */
/*
 * test_allreduce_plan.c - the GPU all-reduce without a GPU: the two-shot
 * partition (every world size, odd sizes), the size rules, the algorithm
 * choice, the hand-written fp16/bf16 conversions, and the CPU reference of
 * one-shot and two-shot (bitwise identical across ranks and between the
 * algorithms, close to an fp64 sum).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs/plan.h"

/* Check records the location of every passing assertion (a write to its
 * pipe): far too slow in loops over millions of values. These only call
 * into Check when the condition fails. */
#define FAST(e) do { if (!(e)) ck_assert(e); } while (0)
#define FAST_MSG(e, ...) do { if (!(e)) ck_assert_msg(e, __VA_ARGS__); } while (0)
#define FAST_IEQ(a, b) do { if ((intmax_t)(a) != (intmax_t)(b)) ck_assert_int_eq(a, b); } while (0)
#define FAST_UEQ(a, b) do { if ((uintmax_t)(a) != (uintmax_t)(b)) ck_assert_uint_eq(a, b); } while (0)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static const int dtypes[] = { ALLREDUCE_F32, ALLREDUCE_F16, ALLREDUCE_BF16 };
static const char *const dtype_names[] = { "f32", "f16", "bf16" };

/* Vector counts tried for every world size N (plus N-1, N, N+1, 2N-1 ...). */
static const size_t nvec_fixed[] = {
	0, 1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 63, 64, 65, 97, 127, 251, 509,
	1021, 4093, 4096, 65521, 65536, 1048573, (1u << 22) + 3, 1000000007,
	(size_t)1 << 40, ((size_t)1 << 40) + 5,
};

/* ---- dtype and size rules ------------------------------------------------ */

START_TEST(dtype_sizes)
{
	FAST_UEQ(allreduce_plan_dtype_size(ALLREDUCE_F32), 4);
	FAST_UEQ(allreduce_plan_dtype_size(ALLREDUCE_F16), 2);
	FAST_UEQ(allreduce_plan_dtype_size(ALLREDUCE_BF16), 2);
	FAST_UEQ(allreduce_plan_dtype_size(-1), 0);
	FAST_UEQ(allreduce_plan_dtype_size(ALLREDUCE_NDTYPES), 0);
	FAST_UEQ(allreduce_plan_vec_elems(ALLREDUCE_F32), 4);
	FAST_UEQ(allreduce_plan_vec_elems(ALLREDUCE_F16), 8);
	FAST_UEQ(allreduce_plan_vec_elems(ALLREDUCE_BF16), 8);
	FAST_UEQ(allreduce_plan_vec_elems(7), 0);
}
END_TEST

START_TEST(check_rules)
{
	size_t b = 0;

	for (int n = ALLREDUCE_MIN_RANKS; n <= ALLREDUCE_MAX_RANKS; n++) {
		for (unsigned d = 0; d < 3; d++) {
			size_t per = allreduce_plan_vec_elems(dtypes[d]);

			for (size_t c = 0; c < 5 * per; c++) {
				int want = c % per ? -EINVAL : 0;

				FAST_IEQ(allreduce_plan_check(n, c, dtypes[d], &b), want);
				FAST_UEQ(b, c * allreduce_plan_dtype_size(dtypes[d]));
			}
		}
	}
	/* world sizes the kernels do not take */
	FAST_IEQ(allreduce_plan_check(1, 4, ALLREDUCE_F32, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(0, 4, ALLREDUCE_F32, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(-3, 4, ALLREDUCE_F32, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(9, 4, ALLREDUCE_F32, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(64, 4, ALLREDUCE_F32, NULL), -EINVAL);
	/* dtype, overflow */
	FAST_IEQ(allreduce_plan_check(2, 4, 3, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(2, 4, -1, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(2, SIZE_MAX / 2 + 1, ALLREDUCE_F16, NULL), -EINVAL);
	FAST_IEQ(allreduce_plan_check(2, SIZE_MAX / 4 + 1, ALLREDUCE_F32, NULL), -EINVAL);
	/* the largest that does not overflow and is aligned */
	FAST_IEQ(allreduce_plan_check(2, (SIZE_MAX / 16) * 8, ALLREDUCE_F16, &b), 0);
	FAST_UEQ(b, (SIZE_MAX / 16) * 16);
}
END_TEST

/* ---- two-shot partition -------------------------------------------------- */

static void check_partition(size_t nvec, int n)
{
	size_t expect = 0, lo = SIZE_MAX, hi = 0;

	for (int r = 0; r < n; r++) {
		struct allreduce_range g = allreduce_plan_twoshot_range(nvec, n, r);
		size_t len = g.end - g.begin;

		/* contiguous, in rank order, no gap, no overlap */
		FAST_MSG(g.begin == expect, "N=%d nvec=%zu rank %d begins at %zu, not %zu",
			      n, nvec, r, g.begin, expect);
		FAST_MSG(g.end >= g.begin, "N=%d nvec=%zu rank %d reversed", n, nvec, r);
		expect = g.end;
		lo = len < lo ? len : lo;
		hi = len > hi ? len : hi;
		/* the bigger ranges come first */
		if (r > 0) {
			struct allreduce_range p = allreduce_plan_twoshot_range(nvec, n, r - 1);
			FAST(p.end - p.begin >= len);
		}
		/* owner() is the inverse at both ends of a non-empty range */
		if (len) {
			FAST_IEQ(allreduce_plan_twoshot_owner(nvec, n, g.begin), r);
			FAST_IEQ(allreduce_plan_twoshot_owner(nvec, n, g.end - 1), r);
			FAST_IEQ(allreduce_plan_twoshot_owner(nvec, n, g.begin + len / 2), r);
		}
	}
	FAST_MSG(expect == nvec, "N=%d nvec=%zu covered %zu", n, nvec, expect);
	/* balanced within one vector */
	FAST_MSG(hi - lo <= 1, "N=%d nvec=%zu sizes %zu..%zu", n, nvec, lo, hi);
	FAST_UEQ(lo, nvec / (size_t)n);
}

START_TEST(partition_exact_balanced)
{
	int n = _i;

	for (size_t k = 0; k < sizeof nvec_fixed / sizeof nvec_fixed[0]; k++)
		check_partition(nvec_fixed[k], n);
	/* around multiples of N */
	for (size_t m = 0; m < 5; m++)
		for (int d = -1; d <= 1; d++)
			if (m * (size_t)n + (size_t)d < SIZE_MAX / 2)
				check_partition(m * (size_t)n + (size_t)(ptrdiff_t)d, n);
	check_partition((size_t)n - 1, n);
	check_partition(2 * (size_t)n - 1, n);
	/* every size up to 1000 */
	for (size_t v = 0; v <= 1000; v++)
		check_partition(v, n);
	/* the largest possible message */
	check_partition(SIZE_MAX / ALLREDUCE_VEC_BYTES, n);
}
END_TEST

START_TEST(partition_owner_every_vector)
{
	int n = _i;

	for (size_t nvec = 1; nvec <= 300; nvec++) {
		int prev = 0;

		for (size_t v = 0; v < nvec; v++) {
			int o = allreduce_plan_twoshot_owner(nvec, n, v);
			struct allreduce_range g = allreduce_plan_twoshot_range(nvec, n, o);

			FAST(o >= prev && o < n);
			FAST(v >= g.begin && v < g.end);
			prev = o;
		}
	}
}
END_TEST

START_TEST(partition_elems_aligned)
{
	int n = _i;

	for (unsigned d = 0; d < 3; d++) {
		size_t per = allreduce_plan_vec_elems(dtypes[d]);
		size_t es = allreduce_plan_dtype_size(dtypes[d]);

		for (size_t k = 0; k < sizeof nvec_fixed / sizeof nvec_fixed[0]; k++) {
			size_t count = nvec_fixed[k] * per, expect = 0;

			if (nvec_fixed[k] > SIZE_MAX / 16)
				continue;
			FAST_IEQ(allreduce_plan_check(n, count, dtypes[d], NULL), 0);
			for (int r = 0; r < n; r++) {
				struct allreduce_range g =
					allreduce_plan_twoshot_elems(n, count, dtypes[d], r);

				FAST_UEQ(g.begin, expect);
				FAST_UEQ((g.begin * es) % ALLREDUCE_VEC_BYTES, 0);
				FAST_UEQ((g.end * es) % ALLREDUCE_VEC_BYTES, 0);
				expect = g.end;
			}
			FAST_UEQ(expect, count);
		}
	}
	/* bad arguments give an empty range */
	struct allreduce_range g = allreduce_plan_twoshot_elems(n, 64, 9, 0);
	FAST_UEQ(g.end - g.begin, 0);
	g = allreduce_plan_twoshot_elems(n, 64, ALLREDUCE_F32, n);
	FAST_UEQ(g.end - g.begin, 0);
	g = allreduce_plan_twoshot_elems(n, 64, ALLREDUCE_F32, -1);
	FAST_UEQ(g.end - g.begin, 0);
}
END_TEST

/* ---- algorithm choice ---------------------------------------------------- */

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

struct choose_case {
	int world, nodes;
	size_t buf;
	bool peer;
	enum allreduce_algo req;
	size_t count;
	int dtype;
	enum allreduce_algo want;
	enum allreduce_reason why;
};

START_TEST(choose_table)
{
	const size_t B = 64 * MiB;
	const struct choose_case t[] = {
		/* auto, by size: the thresholds by world size */
		{ 2, 1, B, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 2, 1, B, true, ALLREDUCE_ALGO_AUTO, 512 * KiB / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 2, 1, B, true, ALLREDUCE_ALGO_AUTO, 512 * KiB / 4 + 4, ALLREDUCE_F32, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 3, 1, B, true, ALLREDUCE_ALGO_AUTO, 256 * KiB / 2, ALLREDUCE_F16, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 3, 1, B, true, ALLREDUCE_ALGO_AUTO, 256 * KiB / 2 + 8, ALLREDUCE_F16, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, 256 * KiB / 2, ALLREDUCE_BF16, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, 384 * KiB / 2, ALLREDUCE_BF16, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 5, 1, B, true, ALLREDUCE_ALGO_AUTO, 128 * KiB / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 5, 1, B, true, ALLREDUCE_ALGO_AUTO, 256 * KiB / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 8, 1, B, true, ALLREDUCE_ALGO_AUTO, 128 * KiB / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 8, 1, B, true, ALLREDUCE_ALGO_AUTO, 128 * KiB / 4 + 4, ALLREDUCE_F32, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 8, 1, B, true, ALLREDUCE_ALGO_AUTO, B / 2, ALLREDUCE_F16, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 8, 1, B, true, ALLREDUCE_ALGO_AUTO, 0, ALLREDUCE_F16, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_EMPTY },
		/* forced custom algorithms win over size, when applicable */
		{ 8, 1, B, true, ALLREDUCE_ALGO_ONESHOT, B / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_FORCED },
		{ 2, 1, B, true, ALLREDUCE_ALGO_TWOSHOT, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_FORCED },
		{ 4, 1, B, true, ALLREDUCE_ALGO_NCCL, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_FORCED },
		{ 1, 1, B, true, ALLREDUCE_ALGO_NCCL, 3, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_FORCED },
		/* NCCL when the custom kernels do not apply (forced or not) */
		{ 1, 1, B, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_WORLD },
		{ 9, 1, B, true, ALLREDUCE_ALGO_ONESHOT, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_WORLD },
		{ 16, 1, B, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_WORLD },
		{ 4, 2, B, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_WORLD },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, 4, 5, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_DTYPE },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, 3, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_UNALIGNED },
		{ 4, 1, B, true, ALLREDUCE_ALGO_TWOSHOT, 1001, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_UNALIGNED },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F16, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_UNALIGNED },
		{ 4, 1, B, true, ALLREDUCE_ALGO_ONESHOT, 12, ALLREDUCE_BF16, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_UNALIGNED },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, SIZE_MAX / 2, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_UNALIGNED },
		{ 4, 1, B, false, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_NO_PEER },
		{ 4, 1, B, false, ALLREDUCE_ALGO_ONESHOT, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_NO_PEER },
		{ 4, 1, 0, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_NO_BUFFER },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, B / 4, ALLREDUCE_F32, ALLREDUCE_ALGO_TWOSHOT, ALLREDUCE_WHY_LARGE },
		{ 4, 1, B, true, ALLREDUCE_ALGO_AUTO, B / 4 + 4, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_TOO_BIG },
		{ 4, 1, B, true, ALLREDUCE_ALGO_TWOSHOT, B / 2 + 8, ALLREDUCE_F16, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_TOO_BIG },
		{ 2, 1, 16, true, ALLREDUCE_ALGO_AUTO, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
		{ 2, 1, 16, true, ALLREDUCE_ALGO_AUTO, 8, ALLREDUCE_F32, ALLREDUCE_ALGO_NCCL, ALLREDUCE_WHY_TOO_BIG },
		/* an unknown request is taken as auto */
		{ 2, 1, B, true, (enum allreduce_algo)42, 4, ALLREDUCE_F32, ALLREDUCE_ALGO_ONESHOT, ALLREDUCE_WHY_SMALL },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct allreduce_plan_env env = {
			.world = t[i].world, .nodes = t[i].nodes,
			.buf_bytes = t[i].buf, .peer_access = t[i].peer,
		};
		enum allreduce_reason why = ALLREDUCE_NREASONS;
		enum allreduce_algo a = allreduce_plan_choose(NULL, &env, t[i].req,
							      t[i].count, t[i].dtype, &why);

		FAST_MSG(a == t[i].want && why == t[i].why,
			      "case %zu: got %s (%s), want %s (%s)", i,
			      allreduce_plan_algo_name(a), allreduce_plan_reason_name(why),
			      allreduce_plan_algo_name(t[i].want),
			      allreduce_plan_reason_name(t[i].why));
		/* same answer with explicit default tuning and without *why */
		struct allreduce_plan_tuning def;
		allreduce_plan_tuning_default(&def);
		FAST_IEQ(allreduce_plan_choose(&def, &env, t[i].req, t[i].count,
						       t[i].dtype, NULL), a);
	}
}
END_TEST

START_TEST(choose_thresholds_every_world)
{
	struct allreduce_plan_tuning t;

	allreduce_plan_tuning_default(&t);
	for (int n = ALLREDUCE_MIN_RANKS; n <= ALLREDUCE_MAX_RANKS; n++) {
		struct allreduce_plan_env env = { .world = n, .nodes = 1,
						  .buf_bytes = 1u << 30, .peer_access = true };
		size_t th = t.oneshot_max[n];

		FAST_UEQ(th, n == 2 ? 512 * KiB : n <= 4 ? 256 * KiB : 128 * KiB);
		if (n > 2)
			ck_assert_uint_le(th, t.oneshot_max[n - 1]);  /* falls with N */
		for (unsigned d = 0; d < 3; d++) {
			size_t es = allreduce_plan_dtype_size(dtypes[d]);
			FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO,
							       th / es, dtypes[d], NULL),
					 ALLREDUCE_ALGO_ONESHOT);
			FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO,
							       (th + 16) / es, dtypes[d], NULL),
					 ALLREDUCE_ALGO_TWOSHOT);
		}
	}
}
END_TEST

START_TEST(choose_tunable)
{
	struct allreduce_plan_tuning t;
	struct allreduce_plan_env env = { .world = 4, .nodes = 1,
					  .buf_bytes = 1u << 30, .peer_access = true };

	allreduce_plan_tuning_default(&t);
	FAST_IEQ(allreduce_plan_tuning_set(&t, 4, 1 * MiB), 0);
	FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO, MiB / 4,
					       ALLREDUCE_F32, NULL), ALLREDUCE_ALGO_ONESHOT);
	FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO, MiB / 4 + 4,
					       ALLREDUCE_F32, NULL), ALLREDUCE_ALGO_TWOSHOT);
	/* other world sizes untouched */
	FAST_UEQ(t.oneshot_max[3], 256 * KiB);
	FAST_UEQ(t.oneshot_max[5], 128 * KiB);
	/* 0: always two-shot (except empty) */
	FAST_IEQ(allreduce_plan_tuning_set(&t, 0, 0), 0);
	for (int n = 2; n <= 8; n++)
		FAST_UEQ(t.oneshot_max[n], 0);
	FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO, 4,
					       ALLREDUCE_F32, NULL), ALLREDUCE_ALGO_TWOSHOT);
	FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO, 0,
					       ALLREDUCE_F32, NULL), ALLREDUCE_ALGO_ONESHOT);
	/* SIZE_MAX: always one-shot */
	FAST_IEQ(allreduce_plan_tuning_set(&t, 0, SIZE_MAX), 0);
	FAST_IEQ(allreduce_plan_choose(&t, &env, ALLREDUCE_ALGO_AUTO, (1u << 30) / 4,
					       ALLREDUCE_F32, NULL), ALLREDUCE_ALGO_ONESHOT);
	FAST_IEQ(allreduce_plan_tuning_set(&t, 1, 0), -EINVAL);
	FAST_IEQ(allreduce_plan_tuning_set(&t, 9, 0), -EINVAL);
	FAST_IEQ(allreduce_plan_tuning_set(&t, -1, 0), -EINVAL);
}
END_TEST

START_TEST(algo_names)
{
	enum allreduce_algo a = ALLREDUCE_NALGOS;

	for (int i = 0; i < ALLREDUCE_NALGOS; i++) {
		const char *n = allreduce_plan_algo_name((enum allreduce_algo)i);
		char buf[32];

		ck_assert_ptr_nonnull(n);
		FAST_IEQ(allreduce_plan_algo_parse(n, &a), 0);
		FAST_IEQ(a, i);
		snprintf(buf, sizeof buf, "  %s \n", n);
		FAST_IEQ(allreduce_plan_algo_parse(buf, &a), 0);
		FAST_IEQ(a, i);
	}
	ck_assert_str_eq(allreduce_plan_algo_name(ALLREDUCE_ALGO_TWOSHOT), "twoshot");
	ck_assert_ptr_null(allreduce_plan_algo_name(ALLREDUCE_NALGOS));
	ck_assert_ptr_null(allreduce_plan_algo_name((enum allreduce_algo)-1));
	a = ALLREDUCE_ALGO_NCCL;
	FAST_IEQ(allreduce_plan_algo_parse("", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse("\n", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse("one", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse("oneshotx", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse("ONESHOT", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse("nccl\n\n", &a), -EINVAL);
	FAST_IEQ(allreduce_plan_algo_parse(NULL, &a), -EINVAL);
	FAST_IEQ(a, ALLREDUCE_ALGO_NCCL);  /* untouched on error */
	for (int r = 0; r < ALLREDUCE_NREASONS; r++)
		ck_assert_ptr_nonnull(allreduce_plan_reason_name((enum allreduce_reason)r));
	ck_assert_ptr_null(allreduce_plan_reason_name(ALLREDUCE_NREASONS));
}
END_TEST

/* ---- fp16 / bf16 conversions -------------------------------------------- */

static bool f16_is_nan(uint16_t h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

START_TEST(f16_roundtrip_exhaustive)
{
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = allreduce_f16_to_f32((uint16_t)h);

		if (f16_is_nan((uint16_t)h)) {
			FAST(isnan(f));
			FAST(f16_is_nan(allreduce_f32_to_f16(f)));
			continue;
		}
		FAST_MSG(allreduce_f32_to_f16(f) == h, "0x%04x -> %a -> 0x%04x", h,
			      (double)f, allreduce_f32_to_f16(f));
		/* the value, from first principles */
		int e = (h >> 10) & 0x1f, m = h & 0x3ff;
		double v = e == 0x1f ? INFINITY :
			   e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
		if (h & 0x8000)
			v = -v;
		FAST(v == (double)f);
		FAST(!!signbit(f) == !!(h & 0x8000));
	}
}
END_TEST

START_TEST(bf16_roundtrip_exhaustive)
{
	for (uint32_t b = 0; b < 0x10000; b++) {
		float f = allreduce_bf16_to_f32((uint16_t)b);

		if (isnan(f)) {
			FAST(isnan(allreduce_bf16_to_f32(allreduce_f32_to_bf16(f))));
			continue;
		}
		FAST_UEQ(allreduce_f32_to_bf16(f), b);
	}
}
END_TEST

/* Is @h the nearest @decode(h) to @x, ties to even? Checked against the
 * neighbours in magnitude (same sign); @maxbits is the inf encoding. */
static void check_nearest(float x, uint16_t h, float (*decode)(uint16_t),
			  uint16_t inf)
{
	double dx = x, v = decode(h);
	uint16_t mag = h & 0x7fff, sign = h & 0x8000;

	if (x == 0) {
		FAST_UEQ(mag, 0);
		FAST(!!sign == !!signbit(x));
		return;
	}
	FAST_MSG(!!sign == !!signbit(x), "sign of %a", dx);
	if (mag == inf) {
		/* overflow: x must be at or beyond the midpoint above max */
		double maxv = fabs((double)decode((uint16_t)(inf - 1)));
		double next = fabs((double)decode((uint16_t)(inf - 2)));
		double mid = maxv + (maxv - next) / 2;
		FAST_MSG(fabs(dx) >= mid, "%a overflowed", dx);
		return;
	}
	double err = fabs(v - dx);
	if (mag > 0) {
		double lo = fabs((double)decode((uint16_t)(mag - 1)));
		double elo = fabs(lo - fabs(dx));
		FAST_MSG(err < elo || (err == elo && !(mag & 1)),
			      "%a -> 0x%04x, below is nearer", dx, h);
	}
	{
		double hi = fabs((double)decode((uint16_t)(mag + 1)));
		double ehi = mag + 1 == inf ? INFINITY : fabs(hi - fabs(dx));
		if (mag + 1 == inf) {
			/* rounding down to max: below the midpoint (or at it,
			 * max being odd never wins a tie) */
			double maxv = fabs((double)decode(mag)), next =
				fabs((double)decode((uint16_t)(mag - 1)));
			ehi = fabs(maxv + (maxv - next) - fabs(dx));
		}
		FAST_MSG(err < ehi || (err == ehi && !(mag & 1)),
			      "%a -> 0x%04x, above is nearer", dx, h);
	}
}

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

START_TEST(f32_to_f16_nearest_even)
{
	/* a sweep over the binary32 bit patterns (every 251st, both signs) */
	for (uint64_t u = 0; u < 0x100000000ull; u += 251) {
		float x = from_bits((uint32_t)u);
		uint16_t h = allreduce_f32_to_f16(x);

		if (isnan(x)) {
			FAST(f16_is_nan(h));
			continue;
		}
		if (isinf(x)) {
			FAST_UEQ(h, signbit(x) ? 0xfc00 : 0x7c00);
			continue;
		}
#ifdef __FLT16_MAX__
		{
			/* the compiler's own conversion (round to nearest even) */
			_Float16 o = (_Float16)x;
			uint16_t ob;
			memcpy(&ob, &o, sizeof ob);
			FAST_MSG(ob == h, "%a: 0x%04x, compiler 0x%04x", (double)x, h, ob);
		}
#endif
		if (u % (251 * 16) == 0)
			check_nearest(x, h, allreduce_f16_to_f32, 0x7c00);
	}
	/* ties and edges */
	FAST_UEQ(allreduce_f32_to_f16(65504.0f), 0x7bff);
	FAST_UEQ(allreduce_f32_to_f16(65519.996f), 0x7bff);
	FAST_UEQ(allreduce_f32_to_f16(65520.0f), 0x7c00);   /* tie, max is odd */
	FAST_UEQ(allreduce_f32_to_f16(-65520.0f), 0xfc00);
	FAST_UEQ(allreduce_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);   /* tie -> even */
	FAST_UEQ(allreduce_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);   /* tie -> even (up) */
	FAST_UEQ(allreduce_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
	FAST_UEQ(allreduce_f32_to_f16(0x1p-24f), 0x0001);
	FAST_UEQ(allreduce_f32_to_f16(0x1p-25f), 0x0000);            /* tie -> 0 */
	FAST_UEQ(allreduce_f32_to_f16(0x1.000002p-25f), 0x0001);
	FAST_UEQ(allreduce_f32_to_f16(0x3p-25f), 0x0002);            /* 1.5 -> 2 */
	FAST_UEQ(allreduce_f32_to_f16(0x1.ffcp-15f), 0x0400);        /* tie to min normal */
	FAST_UEQ(allreduce_f32_to_f16(0x1p-14f), 0x0400);
	FAST_UEQ(allreduce_f32_to_f16(-0.0f), 0x8000);
	FAST_UEQ(allreduce_f32_to_f16(0x1p-149f), 0x0000);
	FAST_UEQ(allreduce_f32_to_f16(-0x1p-149f), 0x8000);
}
END_TEST

START_TEST(f32_to_bf16_nearest_even)
{
	for (uint64_t u = 0; u < 0x100000000ull; u += 4093) {
		float x = from_bits((uint32_t)u);
		uint16_t b = allreduce_f32_to_bf16(x);

		if (isnan(x)) {
			FAST(isnan(allreduce_bf16_to_f32(b)));
			continue;
		}
		if (isinf(x)) {
			FAST_UEQ(b, (uint16_t)((uint32_t)u >> 16));
			continue;
		}
		check_nearest(x, b, allreduce_bf16_to_f32, 0x7f80);
	}
	FAST_UEQ(allreduce_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);     /* tie -> even */
	FAST_UEQ(allreduce_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82);
	FAST_UEQ(allreduce_f32_to_bf16(0x1.fffffep127f), 0x7f80);    /* overflow */
	FAST_UEQ(allreduce_f32_to_bf16(0x1.fep127f), 0x7f7f);
	FAST_UEQ(allreduce_f32_to_bf16(0x1p-149f), 0x0000);
	FAST_UEQ(allreduce_f32_to_bf16(0x1p-133f), 0x0001);
	FAST_UEQ(allreduce_f32_to_bf16(-0.0f), 0x8000);
}
END_TEST

/* ---- the reference ------------------------------------------------------- */

/* Random element of @dtype with |x| <= 2^maxexp, some of them exact zeros,
 * negative zeros and subnormals of the dtype. */
static void fill(void *p, int dtype, size_t count, uint64_t *s, int maxexp)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t r = rnd(s);
		float v;

		switch (r & 63) {
		case 0: v = 0.0f; break;
		case 1: v = -0.0f; break;
		case 2: /* a subnormal of the dtype */
			v = dtype == ALLREDUCE_F16 ? (float)((r >> 8) & 0x3ff) * 0x1p-24f :
			    dtype == ALLREDUCE_BF16 ? (float)((r >> 8) & 0x7f) * 0x1p-133f :
			    (float)((r >> 8) & 0x7fffff) * 0x1p-149f;
			break;
		default: {
			/* wide dynamic range: mantissa in [1,2), exponent in [maxexp-20, maxexp] */
			int e = maxexp - (int)((r >> 8) % 21);
			v = ldexpf(1.0f + (float)((r >> 32) & 0xffffff) * 0x1p-24f, e - 1);
			if (r & 64)
				v = -v;
		}
		}
		allreduce_store_f32(p, dtype, i, v);
	}
}

static double ulp_of(int dtype)
{
	return dtype == ALLREDUCE_F32 ? 0x1p-24 : dtype == ALLREDUCE_F16 ? 0x1p-11 : 0x1p-8;
}

static double tiny_of(int dtype)
{
	return dtype == ALLREDUCE_F32 ? 0x1p-150 : dtype == ALLREDUCE_F16 ? 0x1p-25 : 0x1p-134;
}

/* Run both references for @n ranks, @count elements, and check everything. */
static void check_reference(int n, int dtype, size_t count, uint64_t seed)
{
	size_t es = allreduce_plan_dtype_size(dtype), bytes = count * es;
	void *in[ALLREDUCE_MAX_RANKS], *o1[ALLREDUCE_MAX_RANKS], *o2[ALLREDUCE_MAX_RANKS];
	double *exact = malloc((count ? count : 1) * sizeof *exact);
	uint64_t s = seed;

	ck_assert_ptr_nonnull(exact);
	for (int p = 0; p < n; p++) {
		in[p] = malloc(bytes + 16);
		o1[p] = malloc(bytes + 16);
		o2[p] = malloc(bytes + 16);
		FAST(in[p] && o1[p] && o2[p]);
		fill(in[p], dtype, count, &s, dtype == ALLREDUCE_F16 ? 12 : 20);
		memset(o1[p], 0xa5, bytes + 16);
		memset(o2[p], 0x5a, bytes + 16);
	}
	FAST_IEQ(allreduce_ref_oneshot(n, dtype, count, (const void *const *)in, o1), 0);
	FAST_IEQ(allreduce_ref_twoshot(n, dtype, count, (const void *const *)in, o2), 0);
	FAST_IEQ(allreduce_ref_f64(n, dtype, count, (const void *const *)in, exact), 0);

	for (int p = 0; p < n; p++) {
		/* bitwise identical across ranks and between the algorithms */
		FAST_MSG(!memcmp(o1[p], o1[0], bytes), "N=%d %s count=%zu: one-shot rank %d differs",
			      n, dtype_names[dtype], count, p);
		FAST_MSG(!memcmp(o2[p], o1[0], bytes), "N=%d %s count=%zu: two-shot rank %d differs",
			      n, dtype_names[dtype], count, p);
		/* nothing written past the end */
		for (size_t k = 0; k < 16; k++) {
			FAST_UEQ(((unsigned char *)o1[p])[bytes + k], 0xa5);
			FAST_UEQ(((unsigned char *)o2[p])[bytes + k], 0x5a);
		}
	}
	for (size_t i = 0; i < count; i++) {
		double got = allreduce_load_f32(o1[0], dtype, i), mag = 0;
		float one = allreduce_ref_sum1(n, dtype, (const void *const *)in, i);

		FAST(memcmp(&one, &(float){ (float)got }, sizeof one) == 0);
		for (int p = 0; p < n; p++)
			mag += fabs((double)allreduce_load_f32(in[p], dtype, i));
		/* n-1 binary32 additions, then one rounding to the dtype */
		double tol = (double)n * 0x1p-24 * mag * (1 + ulp_of(dtype)) +
			     ulp_of(dtype) * fabs(exact[i]) + tiny_of(dtype);
		FAST_MSG(fabs(got - exact[i]) <= tol,
			      "N=%d %s count=%zu elem %zu: %a vs exact %a (tol %a)",
			      n, dtype_names[dtype], count, i, got, exact[i], tol);
		/* the input is not modified (two-shot works on copies) */
	}
	for (int p = 0; p < n; p++) {
		free(in[p]);
		free(o1[p]);
		free(o2[p]);
	}
	free(exact);
}

START_TEST(reference_every_world_odd_sizes)
{
	int n = _i;

	for (unsigned d = 0; d < 3; d++) {
		size_t per = allreduce_plan_vec_elems(dtypes[d]);
		const size_t nvecs[] = { 0, 1, 2, (size_t)n - 1, (size_t)n, (size_t)n + 1,
					 2 * (size_t)n - 1, 7, 13, 31, 97, 251, 1021, 4099 };

		for (size_t k = 0; k < sizeof nvecs / sizeof nvecs[0]; k++)
			check_reference(n, dtypes[d], nvecs[k] * per,
					0x9e3779b97f4a7c15ull * (k + 1) + (uint64_t)n * 131 + d);
	}
}
END_TEST

START_TEST(reference_large)
{
	/* 1 MiB per rank, 8 ranks, every dtype; and a prime number of vectors */
	for (unsigned d = 0; d < 3; d++) {
		size_t per = allreduce_plan_vec_elems(dtypes[d]);
		check_reference(8, dtypes[d], (1u << 20) / allreduce_plan_dtype_size(dtypes[d]), 77 + d);
		check_reference(5, dtypes[d], 65521 * per, 99 + d);
	}
}
END_TEST

/* The kernels' order is a left-to-right fp32 sum from rank 0: not pairwise,
 * not fp64. These values tell the orders apart. */
START_TEST(reference_summation_order)
{
	float a[4] = { 1e8f, 1e8f, 1e8f, 1e8f }, b[4] = { 1, 1, 1, 1 },
	      c[4] = { -1e8f, -1e8f, -1e8f, -1e8f }, d[4] = { 3, 3, 3, 3 };
	float o[4][4];
	const void *in[4] = { a, b, c, d };
	void *out[4] = { o[0], o[1], o[2], o[3] };
	double ex[4];

	FAST_IEQ(allreduce_ref_oneshot(4, ALLREDUCE_F32, 4, in, out), 0);
	FAST_IEQ(allreduce_ref_f64(4, ALLREDUCE_F32, 4, in, ex), 0);
	for (int i = 0; i < 4; i++) {
		/* ((1e8 + 1) + -1e8) + 3 = (1e8 + -1e8) + 3 = 3 in binary32 */
		FAST(o[0][i] == 3.0f);
		FAST(ex[i] == 4.0);
	}
	FAST_IEQ(allreduce_ref_twoshot(4, ALLREDUCE_F32, 4, in, out), 0);
	for (int r = 0; r < 4; r++)
		for (int i = 0; i < 4; i++)
			FAST(o[r][i] == 3.0f);
	/* fp16: 2048 + 1 + 1 in fp32 is exact (2050), rounded once at the end;
	 * summing in fp16 would give 2048 (each 2048+1 ties to even). */
	uint16_t h0[8], h1[8], h2[8];
	for (int i = 0; i < 8; i++) {
		h0[i] = allreduce_f32_to_f16(2048.0f);
		h1[i] = h2[i] = allreduce_f32_to_f16(1.0f);
	}
	const void *hin[3] = { h0, h1, h2 };
	uint16_t ho3[3][8];
	void *h3[3] = { ho3[0], ho3[1], ho3[2] };
	FAST_IEQ(allreduce_ref_oneshot(3, ALLREDUCE_F16, 8, hin, h3), 0);
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 8; i++)
			FAST(allreduce_f16_to_f32(ho3[r][i]) == 2050.0f);
	/* -0 + -0 stays -0 (the sum starts from rank 0's value, not +0) */
	float z[2][4] = { { -0.0f, -0.0f, 0.0f, -0.0f }, { -0.0f, 0.0f, -0.0f, -0.0f } };
	float zo[2][4];
	const void *zin[2] = { z[0], z[1] };
	void *zout[2] = { zo[0], zo[1] };
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 4, zin, zout), 0);
	FAST(signbit(zo[0][0]) && !signbit(zo[0][1]) && !signbit(zo[0][2]) &&
		  signbit(zo[1][3]));
}
END_TEST

START_TEST(reference_overflow_and_specials)
{
	uint16_t x[8][8], o[8][8];
	const void *in[8];
	void *out[8];

	/* eight times 60000 in fp16: the fp32 sum is finite, the result inf */
	for (int p = 0; p < 8; p++) {
		for (int i = 0; i < 8; i++)
			x[p][i] = allreduce_f32_to_f16(i & 1 ? -60000.0f : 60000.0f);
		in[p] = x[p];
		out[p] = o[p];
	}
	FAST_IEQ(allreduce_ref_twoshot(8, ALLREDUCE_F16, 8, in, out), 0);
	for (int p = 0; p < 8; p++)
		for (int i = 0; i < 8; i++)
			FAST_UEQ(o[p][i], i & 1 ? 0xfc00 : 0x7c00);
	/* bf16 has fp32's range: no overflow */
	for (int p = 0; p < 8; p++)
		for (int i = 0; i < 8; i++)
			x[p][i] = allreduce_f32_to_bf16(60000.0f);
	FAST_IEQ(allreduce_ref_oneshot(8, ALLREDUCE_BF16, 8, in, out), 0);
	FAST(allreduce_bf16_to_f32(o[3][2]) == allreduce_bf16_to_f32(allreduce_f32_to_bf16(
		8 * allreduce_bf16_to_f32(allreduce_f32_to_bf16(60000.0f)))));
	/* a NaN anywhere gives NaN everywhere for that element */
	for (int p = 0; p < 8; p++)
		for (int i = 0; i < 8; i++)
			x[p][i] = allreduce_f32_to_f16(1.0f);
	x[6][4] = 0x7e00;
	FAST_IEQ(allreduce_ref_twoshot(8, ALLREDUCE_F16, 8, in, out), 0);
	for (int p = 0; p < 8; p++) {
		FAST(f16_is_nan(o[p][4]));
		FAST_UEQ(o[p][3], allreduce_f32_to_f16(8.0f));
	}
}
END_TEST

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

/* NaN sums are the GPU's canonical NaN whatever the payloads (x86 alone
 * would keep a payload, or give 0xffc00000 for inf - inf); signed zeros,
 * infinities and subnormals sum as IEEE says. */
START_TEST(reference_nan_canonical_and_specials)
{
	float x[2][8], o[8];
	const void *in[2] = { x[0], x[1] };
	void *out[2] = { o, o };
	float sub = allreduce_bits_f32(0x00000003u);

	float a[8] = { allreduce_bits_f32(0x7fc01234u), INFINITY, -0.0f, -0.0f, sub, 1.0f,
		       allreduce_bits_f32(0xffc00001u), INFINITY };
	float b[8] = { 1.0f, -INFINITY, -0.0f, 0.0f, sub, allreduce_bits_f32(0x7f800001u), 2.0f,
		       INFINITY };
	memcpy(x[0], a, sizeof(a));
	memcpy(x[1], b, sizeof(b));
	FAST_IEQ(allreduce_ref_oneshot(2, ALLREDUCE_F32, 8, in, out), 0);
	FAST_UEQ(f32_bits(o[0]), 0x7fffffffu);  /* NaN + 1 */
	FAST_UEQ(f32_bits(o[1]), 0x7fffffffu);  /* inf - inf */
	FAST_UEQ(f32_bits(o[2]), 0x80000000u);  /* -0 + -0 */
	FAST_UEQ(f32_bits(o[3]), 0x00000000u);  /* -0 + 0 */
	FAST_UEQ(f32_bits(o[4]), 0x00000006u);  /* subnormals, exact */
	FAST_UEQ(f32_bits(o[5]), 0x7fffffffu);  /* 1 + signalling NaN */
	FAST_UEQ(f32_bits(o[6]), 0x7fffffffu);  /* negative NaN + 2 */
	FAST_UEQ(f32_bits(o[7]), 0x7f800000u);  /* inf + inf */
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 8, in, out), 0);
	FAST_UEQ(f32_bits(o[1]), 0x7fffffffu);
	/* f16 and bf16: the canonical NaN rounds to 0x7fff. */
	uint16_t h[2][8], ho[8];
	const void *hin[2] = { h[0], h[1] };
	void *hout[2] = { ho, ho };
	for (int dt = ALLREDUCE_F16; dt <= ALLREDUCE_BF16; dt++) {
		for (int p = 0; p < 2; p++)
			for (int i = 0; i < 8; i++)
				allreduce_store_f32(h[p], dt, i, 1.0f);
		h[0][2] = dt == ALLREDUCE_F16 ? 0xfe01 : 0xffc1;
		FAST_IEQ(allreduce_ref_oneshot(2, dt, 8, hin, hout), 0);
		FAST_UEQ(ho[2], 0x7fff);
		FAST(allreduce_load_f32(ho, dt, 3) == 2.0f);
	}
}
END_TEST

START_TEST(reference_bad_args)
{
	float a[8] = { 0 }, b[8] = { 0 }, c[8], d[8];
	const void *in[2] = { a, b };
	void *out[2] = { c, d };
	double ex[8];

	FAST_IEQ(allreduce_ref_oneshot(2, ALLREDUCE_F32, 3, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 6, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_oneshot(1, ALLREDUCE_F32, 4, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_twoshot(9, ALLREDUCE_F32, 4, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_oneshot(2, 3, 4, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F16, 4, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_oneshot(2, ALLREDUCE_F32, 4, NULL, out), -EINVAL);
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 4, in, NULL), -EINVAL);
	in[1] = NULL;
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 4, in, out), -EINVAL);
	FAST_IEQ(allreduce_ref_oneshot(2, ALLREDUCE_F32, 0, in, out), 0);
	FAST_IEQ(allreduce_ref_twoshot(2, ALLREDUCE_F32, 0, in, out), 0);
	FAST_IEQ(allreduce_ref_f64(0, ALLREDUCE_F32, 4, in, ex), -EINVAL);
	FAST_IEQ(allreduce_ref_f64(2, 7, 4, in, ex), -EINVAL);
	FAST_IEQ(allreduce_ref_f64(2, ALLREDUCE_F32, 4, NULL, ex), -EINVAL);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("allreduce_plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, dtype_sizes);
	tcase_add_test(tc, check_rules);
	tcase_add_loop_test(tc, partition_exact_balanced, ALLREDUCE_MIN_RANKS, ALLREDUCE_MAX_RANKS + 1);
	tcase_add_loop_test(tc, partition_owner_every_vector, 1, ALLREDUCE_MAX_RANKS + 1);
	tcase_add_loop_test(tc, partition_elems_aligned, ALLREDUCE_MIN_RANKS, ALLREDUCE_MAX_RANKS + 1);
	tcase_add_test(tc, choose_table);
	tcase_add_test(tc, choose_thresholds_every_world);
	tcase_add_test(tc, choose_tunable);
	tcase_add_test(tc, algo_names);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *convert_suite(void)
{
	Suite *s = suite_create("allreduce_convert");
	TCase *tc = tcase_create("convert");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, f16_roundtrip_exhaustive);
	tcase_add_test(tc, bf16_roundtrip_exhaustive);
	tcase_add_test(tc, f32_to_f16_nearest_even);
	tcase_add_test(tc, f32_to_bf16_nearest_even);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *ref_suite(void)
{
	Suite *s = suite_create("allreduce_ref");
	TCase *tc = tcase_create("ref");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, reference_every_world_odd_sizes, ALLREDUCE_MIN_RANKS,
			    ALLREDUCE_MAX_RANKS + 1);
	tcase_add_test(tc, reference_large);
	tcase_add_test(tc, reference_summation_order);
	tcase_add_test(tc, reference_overflow_and_specials);
	tcase_add_test(tc, reference_nan_canonical_and_specials);
	tcase_add_test(tc, reference_bad_args);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_suite());
	int failed;

	srunner_add_suite(sr, convert_suite());
	srunner_add_suite(sr, ref_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
