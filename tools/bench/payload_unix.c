/* SPDX-License-Identifier: MIT */
/*
 * payload_unix.c - large payloads over Unix domain stream sockets (see
 * payload_common.h for the workload).
 *
 * One socketpair(AF_UNIX, SOCK_STREAM) per reader, default buffer sizes.
 * The sender fills one private buffer and write()s its S bytes to every
 * reader in turn (the kernel copies them: once into the socket, once out
 * to the reader); a reader read()s exactly S bytes into its own buffer,
 * verifies them and writes an 8-byte ack (the message number). The sender
 * reads acks only when K messages are outstanding.
 *
 * Memory does not grow with K: once write() returns the kernel holds the
 * data, and a socket holds at most its buffer (about 200 KiB), so a
 * blocking write is the back pressure and the sender reuses its buffer.
 * At the end every reader sends its memory figures on its socket.
 */
#include "payload_common.h"
#include "bench_unix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void reader(int fd, int r, const void *arg)
{
	const struct payload_args *a = arg;
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters);
	unsigned char *buf = malloc(a->b.size);
	struct payload_mem mem;
	char who[32];

	snprintf(who, sizeof(who), "unix reader %d", r);
	if (!buf)
		bench_die("%s: out of memory", who);
	for (uint64_t it = 1; it <= total; it++) {
		bench_read_all(fd, buf, a->b.size, who);
		bench_check(buf, a->b.size, it, who);
		bench_write_all(fd, &it, sizeof(it), who);
	}
	payload_mem_self(&mem);
	bench_write_all(fd, &mem, sizeof(mem), who);
	free(buf);
}

/* Read acks until message @it is acked by every reader. */
static void wait_acked(const int *fds, struct payload_track *t, uint64_t it)
{
	for (int r = 0; r < t->readers; r++) {
		while (t->acked[r] < it) {
			uint64_t v;

			bench_read_all(fds[r], &v, sizeof(v), "unix sender");
			payload_track_ack(t, r, v);
		}
	}
}

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct payload_track t;
	struct payload_mem sum = { 0, 0 }, mem;
	uint64_t total, t_start = 0, timed_ns;
	unsigned char *buf;
	int *fds;

	payload_parse_args(argc, argv, "unix", &a);
	total = (uint64_t)(a.b.warmup + a.b.iters);

	/* Fork before the payload buffer exists: no reader inherits it. */
	fds = bench_unix_fork_readers(a.b.readers, reader, &a);
	buf = malloc(a.b.size);
	if (!buf)
		bench_die("out of memory");

	bench_samples_init(&s, (size_t)a.b.iters);
	payload_track_init(&t, &a, &s);
	for (uint64_t it = 1; it <= total; it++) {
		uint64_t t0;

		if (payload_outstanding(&t) >= a.inflight)
			wait_acked(fds, &t, it - (uint64_t)a.inflight);
		t0 = bench_now_ns();
		if (it == (uint64_t)a.b.warmup + 1)
			t_start = t0;
		bench_fill(buf, a.b.size, it);
		payload_track_sent(&t, it, t0);
		for (int r = 0; r < a.b.readers; r++)
			bench_write_all(fds[r], buf, a.b.size, "unix sender");
	}
	wait_acked(fds, &t, total);
	timed_ns = bench_now_ns() - t_start;

	payload_mem_self(&mem);
	payload_mem_add(&sum, &mem);
	for (int r = 0; r < a.b.readers; r++) {
		bench_read_all(fds[r], &mem, sizeof(mem), "unix sender");
		payload_mem_add(&sum, &mem);
		close(fds[r]);
	}
	bench_reap_children();
	payload_report_json(&a, "unix", &s, timed_ns, 0, &sum);
	payload_track_free(&t);
	bench_samples_free(&s);
	free(buf);
	free(fds);
	return 0;
}
