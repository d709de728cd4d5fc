/* SPDX-License-Identifier: MIT */
/*
 * bcast_unix.c - broadcast round trip over Unix domain stream sockets.
 *
 * One socketpair(AF_UNIX, SOCK_STREAM) per reader. Per iteration the sender
 * fills a private buffer and writes its S bytes to every reader's socket;
 * a reader reads exactly S bytes, verifies them and writes a 1-byte ack;
 * the sender reads the N acks. After the last iteration each reader sends
 * its peak RSS (a long) on the same socket. Blocking system calls: the
 * kernel does the waiting, so there is no spin loop to tune.
 */
#include "bench_common.h"
#include "bench_unix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void reader(int fd, int r, const void *arg)
{
	const struct bench_args *a = arg;
	uint64_t total = (uint64_t)(a->warmup + a->iters);
	unsigned char *buf = malloc(a->size);
	char who[32];
	long rss;

	snprintf(who, sizeof(who), "unix reader %d", r);
	if (!buf)
		bench_die("%s: out of memory", who);
	for (uint64_t it = 1; it <= total; it++) {
		bench_read_all(fd, buf, a->size, who);
		bench_check(buf, a->size, it, who);
		bench_write_all(fd, "a", 1, who);
	}
	rss = bench_peak_rss_kib();
	bench_write_all(fd, &rss, sizeof(rss), who);
	free(buf);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	unsigned char *buf;
	int *fds;
	long rss;

	bench_parse_args(argc, argv, "unix", &a);
	buf = malloc(a.size);
	if (!buf)
		bench_die("out of memory");
	memset(buf, 0, a.size);

	fds = bench_unix_fork_readers(a.readers, reader, &a);

	bench_samples_init(&s, (size_t)a.iters);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		bench_pace(&a);
		uint64_t t0 = bench_now_ns();
		char ack;

		bench_fill(buf, a.size, it);
		for (int r = 0; r < a.readers; r++)
			bench_write_all(fds[r], buf, a.size, "unix sender");
		for (int r = 0; r < a.readers; r++) {
			bench_read_all(fds[r], &ack, 1, "unix sender");
			if (ack != 'a')
				bench_die("unix sender: bad ack 0x%02x from reader %d",
					  (unsigned char)ack, r);
		}
		if (it > (uint64_t)a.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}

	rss = bench_peak_rss_kib();
	for (int r = 0; r < a.readers; r++) {
		long child;

		bench_read_all(fds[r], &child, sizeof(child), "unix sender");
		rss += child;
		close(fds[r]);
	}
	bench_reap_children();
	bench_report_json(&a, "unix", &s, rss, bench_cpu_seconds());
	bench_samples_free(&s);
	free(buf);
	free(fds);
	return 0;
}
