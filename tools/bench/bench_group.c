/* SPDX-License-Identifier: MIT */
/*
 * bench_group.c - what the libipcfs contenders share (see bench_group.h).
 */
#include "bench_group.h"

#include "bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void bench_group_mkdtemp(struct bench_group *g, const char *tmpl)
{
	snprintf(g->tmp, sizeof(g->tmp), "%s", tmpl);
	if (!mkdtemp(g->tmp))
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(g->dir, sizeof(g->dir), "%s/g", g->tmp);
}

void bench_group_cleanup(struct bench_group *g, struct ipcfs_member *m)
{
	ipcfs_leave(m);
	ipcfs_group_destroy(g->dir);
	rmdir(g->tmp);
}

struct ipcfs_member *bench_group_join(const char *dir, int rank, const char *who)
{
	struct ipcfs_member *m;
	int rc = ipcfs_join(dir, rank, &m);

	if (rc < 0) {
		if (who)
			bench_die("%s: join: %s", who, strerror(-rc));
		bench_die("join: %s", strerror(-rc));
	}
	return m;
}

void bench_group_wait_readers(struct ipcfs_member *m)
{
	int rc = ipcfs_wait_ranks(m, IPCFS_ALL, 30000);

	if (rc)
		bench_die("readers did not join: %s", strerror(-rc));
}

void *bench_group_shared_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	return p;
}

struct ipcfs_member *bench_group_reader_run(const char *dir, int rank, size_t size,
					    uint64_t total, const char *who)
{
	struct ipcfs_member *m = bench_group_join(dir, rank, who);
	struct ipcfs_msg msg;
	void *buf;
	int rc;

	for (uint64_t it = 1; it <= total; it++) {
		rc = ipcfs_recv(m, 0, &msg, -1);
		if (rc)
			bench_die("%s: recv: %s", who, strerror(-rc));
		if (msg.len != size)
			bench_die("%s: got %zu bytes, want %zu", who, msg.len, size);
		bench_check(msg.data, msg.len, it, who);
		rc = ipcfs_release(m, &msg);
		if (rc)
			bench_die("%s: release: %s", who, strerror(-rc));
		rc = ipcfs_reserve(m, sizeof(it), &buf, -1);
		if (!rc) {
			memcpy(buf, &it, sizeof(it));
			rc = ipcfs_commit(m, IPCFS_RANK_BIT(0), sizeof(it));
		}
		if (rc)
			bench_die("%s: ack: %s", who, strerror(-rc));
	}
	return m;
}

void bench_group_send_filled(struct ipcfs_member *m, size_t size, uint64_t it)
{
	void *buf;
	int rc = ipcfs_reserve(m, size, &buf, -1);

	if (rc)
		bench_die("reserve: %s", strerror(-rc));
	bench_fill(buf, size, it);
	rc = ipcfs_commit(m, IPCFS_ALL, size);
	if (rc)
		bench_die("commit: %s", strerror(-rc));
}
