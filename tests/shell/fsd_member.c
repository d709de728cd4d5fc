/* SPDX-License-Identifier: MIT */
/*
 * fsd_member - a group member for the daemon's shell tests.
 *
 *   fsd_member [-n COUNT] [-w RANKS] [-s SRC] [-t MS] [-d DEST] [-b BYTES] [-e] [-c] DIR RANK MODE
 *
 * Joins the group in DIR as RANK (-1: any) through ipcfs_join, prints
 * "joined R", waits until the ranks in RANKS (comma list) are live, then:
 *   hold    waits for SIGTERM/SIGINT, leaves, exits 0
 *   send    sends COUNT messages "msg I" to all, prints "sent COUNT"
 *   recv    receives COUNT messages from SRC (default any), prints each
 *   stream  sends for ever (blocking): a sender to kill mid-stream
 *   drain   receives for ever from SRC; on an error prints
 *           "recv ERRNAME after N" and exits 3 (a dead sender: EPIPE)
 *   a2a     with -w RANKS: broadcasts COUNT messages to the other ranks
 *           of RANKS while a thread receives COUNT from each of them, in
 *           order; prints "a2a N from each of K" (every tenth message
 *           padded to BYTES), exits 1 on a wrong or missing message
 * -d sends to rank DEST only (default every live rank); -b pads each
 * message sent to BYTES (with NULs: readers print the text only), so that
 * above the group's slot_bytes it goes through the arena. -e: recv also
 * stops after a message "end". -c: recv prints "EPIPE" when SRC is gone,
 * waits for it to be live again and goes on.
 * Errors print "ERRNAME: what" and exit 2.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int die(const char *what, int rc)
{
	printf("%s: %s\n", strerrorname_np(-rc) ? strerrorname_np(-rc) : "E?", what);
	fflush(stdout);
	exit(2);
}

struct a2a {
	struct ipcfs_member *m;
	uint64_t peers;
	long count, timeout;
	char why[160];
};

/* The receiving half of a2a: COUNT messages "msg I" from each peer, I in
 * order per sender. */
static void *a2a_recv(void *arg)
{
	struct a2a *a = arg;
	long next[IPCFS_MAX_RANKS] = { 0 }, left = a->count * __builtin_popcountll(a->peers);

	while (left > 0) {
		struct ipcfs_msg msg;
		long i = -1;
		int rc = ipcfs_recv(a->m, IPCFS_ANY, &msg, (int)a->timeout);
		if (rc) {
			snprintf(a->why, sizeof(a->why), "recv: %s with %ld to come", strerrorname_np(-rc), left);
			return NULL;
		}
		bool ok = msg.src >= 0 && (a->peers & IPCFS_RANK_BIT(msg.src)) && msg.len >= 5 &&
			  sscanf((const char *)msg.data, "msg %ld", &i) == 1 && i == next[msg.src];
		if (!ok) {
			snprintf(a->why, sizeof(a->why), "from %d: %.20s, wanted msg %ld", msg.src,
				 (const char *)msg.data, msg.src >= 0 ? next[msg.src & 63] : -1);
			ipcfs_release(a->m, &msg);
			return NULL;
		}
		next[msg.src]++;
		left--;
		ipcfs_release(a->m, &msg);
	}
	return NULL;
}

static int all_to_all(struct ipcfs_member *m, uint64_t peers, long count, long timeout, long bytes)
{
	struct a2a a = { .m = m, .peers = peers, .count = count, .timeout = timeout };
	size_t size = bytes < 64 ? 64 : (size_t)bytes;
	char *msg = calloc(1, size);
	pthread_t t;
	int rc = 0;

	if (!msg || pthread_create(&t, NULL, a2a_recv, &a))
		die("a2a", -ENOMEM);
	for (long i = 0; i < count && !rc; i++) {
		int n = snprintf(msg, 64, "msg %ld", i) + 1;
		rc = ipcfs_send(m, peers, msg, i % 10 == 9 ? size : (size_t)n, (int)timeout);
		if (rc)
			snprintf(a.why, sizeof(a.why), "send %ld: %s", i, strerrorname_np(-rc));
	}
	pthread_join(t, NULL);
	free(msg);
	if (a.why[0]) {
		printf("a2a: %s\n", a.why);
		return 1;
	}
	printf("a2a %ld from each of %d\n", count, __builtin_popcountll(peers));
	return 0;
}

int main(int argc, char **argv)
{
	long count = 1, src = IPCFS_ANY, timeout = 5000, bytes = 64;
	bool until_end = false, go_on = false;
	uint64_t dest = IPCFS_ALL;
	uint64_t wait_mask = 0;
	struct ipcfs_member *m;
	int opt, rc;

	while ((opt = getopt(argc, argv, "n:w:s:t:d:b:ec")) != -1) {
		switch (opt) {
		case 'd': dest = IPCFS_RANK_BIT(strtol(optarg, NULL, 10) & 63); break;
		case 'b': bytes = strtol(optarg, NULL, 10); break;
		case 'e': until_end = true; break;
		case 'c': go_on = true; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 's': src = strtol(optarg, NULL, 10); break;
		case 't': timeout = strtol(optarg, NULL, 10); break;
		case 'w':
			for (char *p = optarg; *p;) {
				long r = strtol(p, &p, 10);
				if (r >= 0 && r < IPCFS_MAX_RANKS)
					wait_mask |= IPCFS_RANK_BIT(r);
				if (*p == ',')
					p++;
				else if (*p)
					return 2;
			}
			break;
		default: return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: fsd_member [-n COUNT] [-w RANKS] [-s SRC] [-t MS] [-d DEST] [-b BYTES] [-e] [-c] DIR RANK MODE\n");
		return 2;
	}
	const char *dir = argv[optind], *mode = argv[optind + 2];
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	rc = ipcfs_join(dir, atoi(argv[optind + 1]), &m);
	if (rc < 0)
		die("join", rc);
	printf("joined %d\n", rc);
	fflush(stdout);
	if (wait_mask && (rc = ipcfs_wait_ranks(m, wait_mask, (int)timeout)) < 0)
		die("wait_ranks", rc);

	if (strcmp(mode, "a2a") == 0) {
		rc = all_to_all(m, wait_mask & ~IPCFS_RANK_BIT(ipcfs_rank(m)), count, timeout, bytes);
		fflush(stdout);
		ipcfs_leave(m);
		return rc;
	} else if (strcmp(mode, "hold") == 0) {
		while (!stop)
			pause();
	} else if (strcmp(mode, "send") == 0 || strcmp(mode, "stream") == 0) {
		bool forever = mode[1] == 't';
		long i;
		/* Reachable from here until exit (die() may exit mid-loop). */
		static char *msg;
		msg = calloc(1, bytes < 64 ? 64 : (size_t)bytes);
		if (!msg)
			die("calloc", -ENOMEM);
		for (i = 0; (forever || i < count) && !stop; i++) {
			int n = snprintf(msg, 64, "msg %ld", i);
			rc = ipcfs_send(m, dest, msg, bytes > 64 ? (size_t)bytes : (size_t)n,
					forever ? -1 : (int)timeout);
			if (rc < 0)
				die("send", rc);
		}
		printf("sent %ld\n", i);
		free(msg);
	} else if (strcmp(mode, "recv") == 0 || strcmp(mode, "drain") == 0) {
		bool forever = mode[0] == 'd';
		long i;
		for (i = 0; (forever || i < count) && !stop; i++) {
			struct ipcfs_msg msg;
			rc = ipcfs_recv(m, (int)src, &msg, forever ? -1 : (int)timeout);
			if (rc == -EPIPE && go_on && src >= 0) {
				printf("EPIPE\n");
				fflush(stdout);
				rc = ipcfs_wait_ranks(m, IPCFS_RANK_BIT(src), (int)timeout);
				if (rc < 0)
					die("wait_ranks", rc);
				i--;
				continue;
			}
			if (rc < 0) {
				if (!forever)
					die("recv", rc);
				printf("recv %s after %ld\n", strerrorname_np(-rc), i);
				fflush(stdout);
				exit(3);
			}
			if (!forever) {
				printf("%d: %.*s\n", msg.src, (int)msg.len, (const char *)msg.data);
				if (go_on)
					fflush(stdout); /* a test watches the count */
			}
			bool end = until_end && msg.len == 3 && !memcmp(msg.data, "end", 3);
			ipcfs_release(m, &msg);
			if (end)
				break;
		}
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	fflush(stdout);
	ipcfs_leave(m);
	return 0;
}
