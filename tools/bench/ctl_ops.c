/* SPDX-License-Identifier: MIT */
/*
 * ctl_ops.c - latency of control operations through a mounted ipcfsd:
 * mkdir+rmdir of a group, join+leave written to ctl, a read of stat, and a
 * bcast written to ctl (with one member receiving). One JSON line per
 * operation to --out (or stdout), like the other benchmarks.
 *
 *   ctl_ops MOUNT [--iters N] [--out FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "ipcfs.h"

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		bench_die("write '%s' to %s: %s", text, path, strerror(errno));
	close(fd);
}

static void slurp(const char *path)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
		bench_die("read %s: %s", path, strerror(errno));
	close(fd);
}

static void report(FILE *out, const char *op, struct bench_samples *s)
{
	struct bench_stats st;
	bench_samples_stats(s, &st);
	fprintf(out, "{\"bench\":\"ctl\",\"op\":\"%s\",\"iters\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,"
		     "\"mean_us\":%.2f}\n", op, st.n, st.p50_us, st.p99_us, st.mean_us);
	fflush(out);
	s->n = 0;
}

int main(int argc, char **argv)
{
	const char *mnt = NULL, *outpath = NULL;
	long iters = 2000;
	char g[PATH_MAX], ctl[PATH_MAX + 8], stat_path[PATH_MAX + 8], tmp[PATH_MAX];
	struct bench_samples s;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outpath = argv[++i];
		else if (!mnt)
			mnt = argv[i];
		else
			bench_die("usage: ctl_ops MOUNT [--iters N] [--out FILE]");
	}
	if (!mnt || iters < 1)
		bench_die("usage: ctl_ops MOUNT [--iters N] [--out FILE]");
	FILE *out = outpath ? fopen(outpath, "a") : stdout;
	if (!out)
		bench_die("%s: %s", outpath, strerror(errno));
	bench_samples_init(&s, (size_t)iters);

	/* mkdir + rmdir: a group's segment is created (sized, pre-faulted)
	 * and destroyed each time. */
	for (long i = 0; i < iters; i++) {
		snprintf(tmp, sizeof(tmp), "%s/groups/bench%ld", mnt, i % 4);
		uint64_t t0 = bench_now_ns();
		if (mkdir(tmp, 0770) || rmdir(tmp))
			bench_die("mkdir/rmdir %s: %s", tmp, strerror(errno));
		bench_samples_add(&s, bench_now_ns() - t0);
	}
	report(out, "mkdir+rmdir", &s);

	snprintf(g, sizeof(g), "%s/groups/benchctl", mnt);
	if (mkdir(g, 0770))
		bench_die("mkdir %s: %s", g, strerror(errno));
	snprintf(ctl, sizeof(ctl), "%s/ctl", g);
	snprintf(stat_path, sizeof(stat_path), "%s/stat", g);

	/* join + leave of rank 1 by this process, through ctl. */
	for (long i = 0; i < iters; i++) {
		uint64_t t0 = bench_now_ns();
		put(ctl, "join 1\n");
		put(ctl, "leave 1\n");
		bench_samples_add(&s, bench_now_ns() - t0);
	}
	report(out, "join+leave", &s);

	/* A member on rank 0 receives what the shell broadcasts. */
	struct ipcfs_member *m;
	int rc = ipcfs_join(g, 0, &m);
	if (rc < 0)
		bench_die("join %s: %s", g, strerror(-rc));
	for (long i = 0; i < iters; i++) {
		uint64_t t0 = bench_now_ns();
		slurp(stat_path);
		bench_samples_add(&s, bench_now_ns() - t0);
	}
	report(out, "read stat", &s);
	for (long i = 0; i < iters; i++) {
		struct ipcfs_msg msg;
		uint64_t t0 = bench_now_ns();
		put(ctl, "bcast hello\n");
		bench_samples_add(&s, bench_now_ns() - t0);
		if ((rc = ipcfs_recv(m, IPCFS_SRC_CTL, &msg, 1000)))
			bench_die("recv: %s", strerror(-rc));
		ipcfs_release(m, &msg);
	}
	report(out, "bcast", &s);
	ipcfs_leave(m);
	rmdir(g);
	bench_samples_free(&s);
	return 0;
}
