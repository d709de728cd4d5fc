/* SPDX-License-Identifier: MIT */
/*
 * allreduce_plan.c - which GPU all-reduce algorithm a call uses, and the
 * two-shot partition in elements. The partition itself (shared with the
 * kernels) is in ipcfs/plan.h.
 */
#include <errno.h>
#include <string.h>

#include "ipcfs/ctl_proto.h"
#include "ipcfs/plan.h"

int allreduce_plan_check(int world, size_t count, int dtype, size_t *bytes)
{
	size_t es = allreduce_plan_dtype_size(dtype);

	if (world < ALLREDUCE_MIN_RANKS || world > ALLREDUCE_MAX_RANKS || !es)
		return -EINVAL;
	if (count > SIZE_MAX / es)
		return -EINVAL;
	if (bytes)
		*bytes = count * es;
	if ((count * es) % ALLREDUCE_VEC_BYTES)
		return -EINVAL;
	return 0;
}

struct allreduce_range allreduce_plan_twoshot_elems(int world, size_t count,
						    int dtype, int rank)
{
	size_t per = allreduce_plan_vec_elems(dtype);
	struct allreduce_range g = { 0, 0 };

	if (!per || world < 1 || rank < 0 || rank >= world)
		return g;
	g = allreduce_plan_twoshot_range(count / per, world, rank);
	g.begin *= per;
	g.end *= per;
	return g;
}

void allreduce_plan_tuning_default(struct allreduce_plan_tuning *t)
{
	memset(t, 0, sizeof *t);
	for (int n = ALLREDUCE_MIN_RANKS; n <= ALLREDUCE_MAX_RANKS; n++)
		t->oneshot_max[n] = n == 2 ? ALLREDUCE_ONESHOT_MAX_2 :
				    n <= 4 ? ALLREDUCE_ONESHOT_MAX_LE4 :
					     ALLREDUCE_ONESHOT_MAX_LE8;
}

int allreduce_plan_tuning_set(struct allreduce_plan_tuning *t, int world,
			      size_t oneshot_max)
{
	if (world == 0) {
		for (int n = ALLREDUCE_MIN_RANKS; n <= ALLREDUCE_MAX_RANKS; n++)
			t->oneshot_max[n] = oneshot_max;
		return 0;
	}
	if (world < ALLREDUCE_MIN_RANKS || world > ALLREDUCE_MAX_RANKS)
		return -EINVAL;
	t->oneshot_max[world] = oneshot_max;
	return 0;
}

enum allreduce_algo allreduce_plan_choose(const struct allreduce_plan_tuning *t,
					  const struct allreduce_plan_env *env,
					  enum allreduce_algo req, size_t count,
					  int dtype, enum allreduce_reason *why)
{
	struct allreduce_plan_tuning def;
	enum allreduce_reason r;
	enum allreduce_algo a;
	size_t bytes = 0;

	if (!t) {
		allreduce_plan_tuning_default(&def);
		t = &def;
	}
	if (req == ALLREDUCE_ALGO_NCCL) {
		r = ALLREDUCE_WHY_FORCED;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (env->world < ALLREDUCE_MIN_RANKS ||
		   env->world > ALLREDUCE_MAX_RANKS || env->nodes > 1) {
		r = ALLREDUCE_WHY_WORLD;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (!allreduce_plan_dtype_size(dtype)) {
		r = ALLREDUCE_WHY_DTYPE;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (allreduce_plan_check(env->world, count, dtype, &bytes)) {
		r = ALLREDUCE_WHY_UNALIGNED;  /* or a size_t overflow */
		a = ALLREDUCE_ALGO_NCCL;
	} else if (!env->peer_access) {
		r = ALLREDUCE_WHY_NO_PEER;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (!env->buf_bytes) {
		r = ALLREDUCE_WHY_NO_BUFFER;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (bytes > env->buf_bytes) {
		r = ALLREDUCE_WHY_TOO_BIG;
		a = ALLREDUCE_ALGO_NCCL;
	} else if (req == ALLREDUCE_ALGO_ONESHOT || req == ALLREDUCE_ALGO_TWOSHOT) {
		r = ALLREDUCE_WHY_FORCED;
		a = req;
	} else if (bytes == 0) {
		r = ALLREDUCE_WHY_EMPTY;
		a = ALLREDUCE_ALGO_ONESHOT;
	} else if (bytes <= t->oneshot_max[env->world]) {
		r = ALLREDUCE_WHY_SMALL;
		a = ALLREDUCE_ALGO_ONESHOT;
	} else {
		r = ALLREDUCE_WHY_LARGE;
		a = ALLREDUCE_ALGO_TWOSHOT;
	}
	if (why)
		*why = r;
	return a;
}

/* The names are the protocol's (the algo attribute, ctl_proto.h), in the
 * order of enum allreduce_algo. */
_Static_assert(ALLREDUCE_NALGOS == CTL_ALGO_COUNT && ALLREDUCE_ALGO_AUTO == 0 &&
		       ALLREDUCE_ALGO_ONESHOT == 1 && ALLREDUCE_ALGO_TWOSHOT == 2 &&
		       ALLREDUCE_ALGO_NCCL == 3,
	       "enum allreduce_algo follows ctl_algo_names");

const char *allreduce_plan_algo_name(enum allreduce_algo a)
{
	return (unsigned)a < ALLREDUCE_NALGOS ? ctl_algo_names[a] : NULL;
}

int allreduce_plan_algo_parse(const char *s, enum allreduce_algo *out)
{
	size_t n;

	if (!s)
		return -EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	if (n && s[n - 1] == '\n')
		n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (int a = 0; a < ALLREDUCE_NALGOS; a++) {
		if (strlen(ctl_algo_names[a]) == n && !memcmp(ctl_algo_names[a], s, n)) {
			*out = (enum allreduce_algo)a;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const reason_names[ALLREDUCE_NREASONS] = {
	[ALLREDUCE_WHY_FORCED] = "forced",
	[ALLREDUCE_WHY_SMALL] = "small",
	[ALLREDUCE_WHY_LARGE] = "large",
	[ALLREDUCE_WHY_EMPTY] = "empty",
	[ALLREDUCE_WHY_WORLD] = "world size",
	[ALLREDUCE_WHY_DTYPE] = "dtype",
	[ALLREDUCE_WHY_UNALIGNED] = "size not a multiple of 16 bytes",
	[ALLREDUCE_WHY_TOO_BIG] = "larger than the registered buffer",
	[ALLREDUCE_WHY_NO_PEER] = "no peer access",
	[ALLREDUCE_WHY_NO_BUFFER] = "no registered buffer",
};

const char *allreduce_plan_reason_name(enum allreduce_reason r)
{
	return (unsigned)r < ALLREDUCE_NREASONS ? reason_names[r] : NULL;
}
