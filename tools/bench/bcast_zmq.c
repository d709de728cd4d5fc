/* SPDX-License-Identifier: MIT */
/*
 * bcast_zmq.c - broadcast round trip over ZeroMQ ipc:// sockets.
 *
 * Data: the sender's PUB socket, bound to ipc:///tmp/ipcfs-bench-zmq-PID.data,
 * to one SUB socket per reader. Acks: every reader's PUSH socket to the
 * sender's PULL socket, bound to ipc:///tmp/ipcfs-bench-zmq-PID.ack.
 *
 * Per iteration the sender fills a private buffer and zmq_send()s it (ZeroMQ
 * copies it into a message); a reader receives the message, verifies it in
 * place (zmq_msg_data) and pushes a 1-byte ack; the sender receives N acks.
 *
 * Slow joiners, the handshake before timing, the bye after it and the
 * socket files: see bench_zmq.h. After the bye each reader pushes its peak
 * RSS (a long).
 *
 * ZeroMQ waits in its own poll(2) calls, so there is no spin loop here; the
 * bench_zmq wrappers retry on EINTR (the SIGCHLD watcher of bench_common).
 */
#include "bench_common.h"
#include "bench_zmq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void reader(int r, const struct bench_args *a)
{
	uint64_t total = (uint64_t)(a->warmup + a->iters);
	void *ctx, *sub, *push;
	zmq_msg_t msg;
	char who[32];
	long rss;

	snprintf(who, sizeof(who), "zmq reader %d", r);
	bench_zmq_reader_join(r, &ctx, &sub, &push, &msg, who);

	for (uint64_t it = 1; it <= total; it++) {
		bench_zmq_recv_msg(sub, &msg, who);
		if (zmq_msg_size(&msg) != a->size)
			bench_die("%s: iteration %llu: got %zu bytes, expected %zu", who,
				  (unsigned long long)it, zmq_msg_size(&msg), a->size);
		bench_check(zmq_msg_data(&msg), a->size, it, who);
		bench_zmq_send(push, "a", 1, who);
	}
	bench_zmq_reader_bye(sub, &msg, who);
	rss = bench_peak_rss_kib();
	bench_zmq_send(push, &rss, sizeof(rss), who);
	zmq_close(sub);
	zmq_close(push); /* lingers until the rss message is out */
	zmq_ctx_term(ctx);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	void *ctx, *pub, *pull;
	unsigned char *buf;
	long rss;

	bench_parse_args(argc, argv, "zmq", &a);
	bench_zmq_paths("ipcfs-bench-zmq");
	buf = malloc(a.size);
	if (!buf)
		bench_die("out of memory");
	memset(buf, 0, a.size);

	/* Fork before any ZeroMQ context exists: contexts do not survive a
	 * fork. */
	for (int r = 0; r < a.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(r, &a);
			_exit(0);
		}
	}
	bench_zmq_sender_open(&ctx, &pub, &pull);
	bench_zmq_sender_handshake(pub, pull, a.readers); /* see bench_zmq.h */

	bench_samples_init(&s, (size_t)a.iters);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		bench_pace(&a);
		uint64_t t0 = bench_now_ns();

		bench_fill(buf, a.size, it);
		bench_zmq_send(pub, buf, a.size, "zmq sender");
		for (int r = 0; r < a.readers; r++) {
			char ack;

			bench_zmq_recv_exact(pull, &ack, 1, "zmq sender");
			if (ack != 'a')
				bench_die("zmq sender: bad ack 0x%02x", (unsigned char)ack);
		}
		if (it > (uint64_t)a.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}

	/* Every ack is in: ask the readers for their peak RSS. */
	bench_zmq_send(pub, "B", 1, "zmq sender");
	rss = bench_peak_rss_kib();
	for (int r = 0; r < a.readers; r++) {
		long child;

		bench_zmq_recv_exact(pull, &child, sizeof(child), "zmq sender");
		rss += child;
	}
	zmq_close(pub);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	bench_reap_children();
	bench_report_json(&a, "zmq", &s, rss, bench_cpu_seconds());
	bench_samples_free(&s);
	free(buf);
	return 0;
}
