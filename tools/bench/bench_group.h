/* SPDX-License-Identifier: MIT */
/*
 * bench_group.h - what the libipcfs contenders (bcast_ipcfs.c,
 * payload_ipcfs.c) share: a group in a plain temporary directory (no
 * daemon), the readers' receive-verify-ack loop and the sender's in-place
 * send. Every failure exits through bench_die().
 */
#ifndef BENCH_GROUP_H
#define BENCH_GROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcfs.h"

/* Where a benchmark's group lives: the group directory @dir inside the
 * temporary directory @tmp. */
struct bench_group {
	char tmp[64];
	char dir[PATH_MAX];
};

/* mkdtemp() a directory from @tmpl ("/tmp/NAME.XXXXXX") and name the group
 * directory inside it; the caller then creates the group in g->dir. */
void bench_group_mkdtemp(struct bench_group *g, const char *tmpl);

/* Leave with @m, destroy the group and remove the temporary directory. */
void bench_group_cleanup(struct bench_group *g, struct ipcfs_member *m);

/* Join @dir as @rank; on failure the message names @who ("join: ..." when
 * @who is NULL). */
struct ipcfs_member *bench_group_join(const char *dir, int rank, const char *who);

/* Rank 0: wait (up to 30 s) until every rank has joined. */
void bench_group_wait_readers(struct ipcfs_member *m);

/* A page of memory shared with the children forked after it, where each
 * reader leaves its figures before it exits. */
void *bench_group_shared_page(void);

/*
 * A reader's run: join @dir as @rank, then for it = 1 .. @total receive a
 * message from rank 0, check that it has @size bytes and holds
 * bench_fill(it), release it and ack with the 8-byte message number to
 * rank 0. Returns the member (the caller reports, then ipcfs_leave()s).
 */
struct ipcfs_member *bench_group_reader_run(const char *dir, int rank, size_t size,
					    uint64_t total, const char *who);

/* Rank 0: reserve @size bytes, bench_fill() them for @it in place and
 * commit them to every rank. */
void bench_group_send_filled(struct ipcfs_member *m, size_t size, uint64_t it);

#endif /* BENCH_GROUP_H */
