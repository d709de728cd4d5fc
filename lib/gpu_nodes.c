/* SPDX-License-Identifier: MIT */
/*
 * gpu_nodes.c - how many machines a group's ranks span, for the GPU
 * communicator: CUDA IPC handles mean nothing on another machine, so a
 * group on several nodes uses NCCL for every call (gpu_span.c).
 *
 * The source is the group's `nodes` file on the mount (fsd/cluster.h
 * defines it; the daemon has checked what it shows and prints it in
 * canonical form). Only the rank lists matter here. The text is still read
 * as untrusted bytes: a malformed line or ranks not held exactly once is
 * -EBADMSG, never a guess.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gpu_int.h"
#include "util.h"

/* A decimal number of 1..3 digits at *@p (< @end): -1 if none. */
static int number(const char **p, const char *end)
{
	int v = 0, n = 0;

	while (*p < end && **p >= '0' && **p <= '9') {
		if (++n > 3)
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return n ? v : -1;
}

/* "0-1,4" (@len bytes) into *@mask: 0, or -EBADMSG (malformed, a rank
 * twice or >= @world). */
static int rank_list(const char *s, size_t len, int world, uint64_t *mask)
{
	const char *p = s, *end = s + len;

	*mask = 0;
	while (p < end) {
		int a = number(&p, end), b = a;
		if (a >= 0 && p < end && *p == '-') {
			p++;
			b = number(&p, end);
		}
		if (a < 0 || b < a || b >= world || (p < end && *p++ != ','))
			return -EBADMSG;
		if (p == end && p[-1] == ',')
			return -EBADMSG;
		for (int r = a; r <= b; r++) {
			if (*mask & (1ull << r))
				return -EBADMSG;
			*mask |= 1ull << r;
		}
	}
	return *mask ? 0 : -EBADMSG;
}

/* The @n-th word of [@s, @s + @len) (spaces or tabs between): false if none. */
static bool word(const char *s, size_t len, int n, const char **w, size_t *wlen)
{
	size_t i = 0;

	for (int k = 0;; k++) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			return false;
		*w = s + i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		*wlen = (size_t)(s + i - *w);
		if (k == n)
			return true;
	}
}

int gpu_nodes_parse(const char *text, size_t len, int world, int *nodes)
{
	uint64_t all = world >= 64 ? ~0ull : (1ull << world) - 1, seen = 0, mask;
	const char *w;
	size_t pos = 0, wl;
	int n = 0;

	if (world < 1 || world > IPCFS_MAX_RANKS || memchr(text, '\0', len))
		return -EBADMSG;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;

		pos += l + 1;
		if (!word(s, l, 0, &w, &wl) || w[0] == '#')
			continue;
		/* NAME tcp://ADDR:PORT RANKS, nothing after */
		if (!word(s, l, 2, &w, &wl) || word(s, l, 3, &w, &wl))
			return -EBADMSG;
		word(s, l, 2, &w, &wl);
		if (rank_list(w, wl, world, &mask) || (mask & seen))
			return -EBADMSG;
		seen |= mask;
		n++;
	}
	if (n && seen != all)
		return -EBADMSG;
	*nodes = n ? n : 1;
	return 0;
}

int gpu_nodes_read(const struct gpu_rdv *v, int world, int *nodes)
{
	char path[PATH_MAX], text[8192];
	int rc;

	*nodes = 1;
	if (!v->mounted)
		return 0;
	if ((rc = util_path_join(path, sizeof(path), v->dir, "nodes")))
		return rc;
	rc = util_read_small(path, text, sizeof(text));
	if (rc == -ENOENT)
		return 0;  /* a daemon from before groups spanned machines */
	if (rc)
		return rc == -ENAMETOOLONG ? -EBADMSG : rc;
	return gpu_nodes_parse(text, strlen(text), world, nodes);
}
