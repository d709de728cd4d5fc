/* SPDX-License-Identifier: MIT */
/*
 * demo.c - the processes of `make demo`.
 *
 *   ipcfs-demo reader DIR RANK COUNT   join DIR as RANK, print COUNT messages
 *   ipcfs-demo sender DIR RANK COUNT   wait for every rank, broadcast COUNT
 *   ipcfs-demo standalone [READERS]    no daemon: a group in a temporary
 *                                      directory, READERS readers (default 3)
 *                                      and one sender as processes, then the
 *                                      counters of every rank
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcfs.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "ipcfs-demo: %s: %s\n", what, strerror(-rc));
	return 1;
}

static int reader(const char *dir, int rank, int count)
{
	struct ipcfs_member *m;
	struct ipcfs_msg msg;
	int rc = ipcfs_join(dir, rank, &m);

	if (rc < 0)
		return fail("join", rc);
	for (int i = 0; i < count; i++) {
		rc = ipcfs_recv(m, IPCFS_ANY, &msg, 30000);
		if (rc)
			return fail("recv", rc);
		char from[16];
		if (msg.src == IPCFS_SRC_CTL)
			snprintf(from, sizeof(from), "ctl");
		else
			snprintf(from, sizeof(from), "rank %d", msg.src);
		printf("rank %d got %zu bytes from %s: %.*s\n", rank, msg.len, from, (int)msg.len,
		       (const char *)msg.data);
		fflush(stdout);
		ipcfs_release(m, &msg);
	}
	ipcfs_leave(m);
	return 0;
}

static int sender(const char *dir, int rank, int count)
{
	struct ipcfs_member *m;
	int rc = ipcfs_join(dir, rank, &m);

	if (rc < 0)
		return fail("join", rc);
	rc = ipcfs_wait_ranks(m, IPCFS_ALL, 30000);
	if (rc)
		return fail("waiting for the other ranks", rc);
	for (int i = 0; i < count; i++) {
		void *buf;
		/* Built in place: the text is written straight into the slot
		 * that the readers will read. */
		rc = ipcfs_reserve(m, 64, &buf, 30000);
		if (rc)
			return fail("reserve", rc);
		int n = snprintf(buf, 64, "message %d of %d from rank %d", i + 1, count, rank);
		rc = ipcfs_commit(m, IPCFS_ALL, (size_t)n);
		if (rc)
			return fail("commit", rc);
	}
	ipcfs_leave(m);
	return 0;
}

static void print_stats(const char *dir, int ranks)
{
	struct ipcfs_member *m;
	struct ipcfs_rank_stat st;

	/* Rejoin as a rank that left, just to read the counters. */
	if (ipcfs_join(dir, -1, &m) < 0)
		return;
	printf("counters (rank %d rejoined to read them):\n", ipcfs_rank(m));
	printf("%-5s %-5s %8s %8s %10s %8s %8s %8s\n", "rank", "state", "sent", "recv", "recv_bytes",
	       "spins", "sleeps", "wakeups");
	for (int r = 0; r < ranks; r++) {
		if (ipcfs_stat_rank(m, r, &st) || st.state == IPCFS_STATE_FREE)
			continue;
		printf("%-5d %-5s %8llu %8llu %10llu %8llu %8llu %8llu\n", r,
		       ipcfs_state_name(st.state), (unsigned long long)st.sent,
		       (unsigned long long)st.recv, (unsigned long long)st.recv_bytes,
		       (unsigned long long)st.spins, (unsigned long long)st.sleeps,
		       (unsigned long long)st.wakeups);
	}
	ipcfs_leave(m);
}

static int standalone(int readers)
{
	char tmpl[] = "/tmp/ipcfs-demo.XXXXXX", dir[PATH_MAX];
	struct ipcfs_params p;
	int count = 5, rc, failed = 0;
	pid_t pids[IPCFS_MAX_RANKS];

	if (readers < 1 || readers > 32)
		readers = 3;
	if (!mkdtemp(tmpl))
		return fail("mkdtemp", -errno);
	snprintf(dir, sizeof(dir), "%s/tp0", tmpl);
	ipcfs_params_init(&p);
	p.ranks = (uint32_t)readers + 1; /* readers and a sender */
	rc = ipcfs_group_create(dir, &p);
	if (rc)
		return fail("group create", rc);
	printf("group %s: %u ranks, %u slots of %u bytes\n", dir, p.ranks, p.slots, p.slot_bytes);
	fflush(stdout);
	for (int r = 0; r <= readers; r++) {
		pids[r] = fork();
		if (pids[r] == 0)
			_exit(r == 0 ? sender(dir, 0, count) : reader(dir, r, count));
	}
	for (int r = 0; r <= readers; r++) {
		int status;
		waitpid(pids[r], &status, 0);
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	print_stats(dir, (int)p.ranks);
	ipcfs_group_destroy(dir);
	rmdir(tmpl);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "reader"))
		return reader(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "sender"))
		return sender(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 2 && !strcmp(argv[1], "standalone"))
		return standalone(argc > 2 ? atoi(argv[2]) : 3);
	fprintf(stderr, "usage: ipcfs-demo reader|sender DIR RANK COUNT\n"
			"       ipcfs-demo standalone [READERS]\n");
	return 2;
}
