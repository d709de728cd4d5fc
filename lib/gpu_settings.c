/* SPDX-License-Identifier: MIT */
/*
 * gpu_settings.c - the settings every rank of a GPU communicator must
 * share: the group's algo attribute and the IPCFS_* environment.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs/cuda_abi.h"
#include "ipcfs/ctl_proto.h"
#include "gpu_int.h"
#include "util.h"

int gpu_parse_size(const char *s, uint64_t *out)
{
	/* The grammar of sizes everywhere (ctl_proto.h): 512K, 8MiB, ... as
	 * in the attribute files; a trailing newline (a file's) is allowed. */
	if (!s)
		return -EINVAL;
	size_t n = strlen(s);
	if (n && s[n - 1] == '\n')
		n--;
	return ctl_parse_size(s, n, out) ? -EINVAL : 0;
}

static int bad_setting(const char *what, const char *value)
{
	gpu_err_set("invalid %s: \"%s\"", what, value);
	return -EINVAL;
}

int gpu_settings_load(const char *dir, bool mounted, struct gpu_settings *s)
{
	char path[PATH_MAX], buf[64];
	const char *e;
	uint64_t v;

	memset(s, 0, sizeof(*s));
	s->algo = ALLREDUCE_ALGO_AUTO;
	s->nccl = true;
	s->nccl_above = GPU_NCCL_ABOVE_DEFAULT;
	allreduce_plan_tuning_default(&s->tuning);
	if (dir && !util_path_join(path, sizeof(path), dir, "algo") &&
	    util_read_small(path, buf, sizeof(buf)) == 0 &&
	    allreduce_plan_algo_parse(buf, &s->algo))
		return bad_setting("algo attribute", buf);
	if (!mounted && (e = getenv("IPCFS_ALGO")) && *e && allreduce_plan_algo_parse(e, &s->algo))
		return bad_setting("IPCFS_ALGO", e);
	if ((e = getenv("IPCFS_ONESHOT_MAX")) && *e) {
		if (gpu_parse_size(e, &v) || v > SIZE_MAX)
			return bad_setting("IPCFS_ONESHOT_MAX", e);
		allreduce_plan_tuning_set(&s->tuning, 0, (size_t)v);
	}
	if ((e = getenv("IPCFS_GPU_BLOCKS")) && *e) {
		if (gpu_parse_size(e, &v) || v < 1 || v > IPCFS_K_MAX_BLOCKS)
			return bad_setting("IPCFS_GPU_BLOCKS (1..64)", e);
		s->blocks = (unsigned)v;
	}
	if ((e = getenv("IPCFS_GPU_TIMEOUT_MS")) && *e) {
		if (gpu_parse_size(e, &v) || v < 1 || v > UINT64_MAX / 1000000)
			return bad_setting("IPCFS_GPU_TIMEOUT_MS", e);
		s->timeout_ns = v * 1000000;
	}
	if ((e = getenv("IPCFS_NCCL")) && !strcmp(e, "0"))
		s->nccl = false;
	if ((e = getenv("IPCFS_NCCL_ABOVE")) && *e) {
		if (gpu_parse_size(e, &v))
			return bad_setting("IPCFS_NCCL_ABOVE", e);
		s->nccl_above = v;
	}
	if ((e = getenv("IPCFS_GPU_TRAP")) && *e && strcmp(e, "0"))
		s->trap = true;
	return 0;
}
