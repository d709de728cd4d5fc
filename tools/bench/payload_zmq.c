/* SPDX-License-Identifier: MIT */
/*
 * payload_zmq.c - large payloads over ZeroMQ ipc:// sockets with zero-copy
 * sends (see payload_common.h for the workload).
 *
 * Sockets: the sender's PUB, bound to ipc:///tmp/ipcfs-payload-zmq-PID.data,
 * one SUB per reader; every reader's PUSH to the sender's PULL, bound to
 * ipc:///tmp/ipcfs-payload-zmq-PID.ack. PUB/SUB is the ZeroMQ broadcast a
 * user reaches for: one zmq_msg_send() reaches every subscriber, the
 * message is shared by reference between their pipes (no copy in user
 * space), and each subscriber's connection write()s it to its own socket,
 * so the kernel copies it once per reader (and once more out to it).
 *
 * Zero copy on the send side: the sender owns a pool of K buffers, fills
 * buffer it % K and hands it over with zmq_msg_init_data(), whose free
 * callback (run by ZeroMQ's I/O thread once every subscriber's copy is
 * written) marks the buffer free again. Before refilling a buffer the
 * sender waits for that mark. A reader gets each message in a buffer
 * ZeroMQ allocates for it (large messages are read straight into it),
 * verifies it in place (zmq_msg_data) and pushes a 16-byte ack: its index
 * and the message number.
 *
 * Memory grows with K: the sender's pool is K buffers, and with K messages
 * in flight a reader's I/O thread reads ahead into new buffers while the
 * reader is still verifying an earlier one (up to the receive high-water
 * mark, 1000 messages by default).
 *
 * Slow joiners, the handshake before timing, the bye after it (each reader
 * then answers with its memory figures) and the socket files: see
 * bench_zmq.h.
 */
#include "payload_common.h"
#include "bench_zmq.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ack {
	uint64_t reader;
	uint64_t it;
};

static void reader(int r, const struct payload_args *a)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters);
	struct payload_mem mem;
	void *ctx, *sub, *push;
	zmq_msg_t msg;
	char who[32];

	snprintf(who, sizeof(who), "zmq reader %d", r);
	bench_zmq_reader_join(r, &ctx, &sub, &push, &msg, who);

	for (uint64_t it = 1; it <= total; it++) {
		struct ack ack = { (uint64_t)r, it };

		bench_zmq_recv_msg(sub, &msg, who);
		if (zmq_msg_size(&msg) != a->b.size)
			bench_die("%s: message %llu: %zu bytes, expected %zu", who,
				  (unsigned long long)it, zmq_msg_size(&msg), a->b.size);
		bench_check(zmq_msg_data(&msg), a->b.size, it, who);
		/* Done with it: give its buffer back now, not at the next
		 * receive. */
		zmq_msg_close(&msg);
		bench_zmq_check(zmq_msg_init(&msg), "zmq_msg_init", who);
		bench_zmq_send(push, &ack, sizeof(ack), who);
	}
	bench_zmq_reader_bye(sub, &msg, who);
	payload_mem_self(&mem);
	bench_zmq_send(push, &mem, sizeof(mem), who);
	zmq_close(sub);
	zmq_close(push);
	zmq_ctx_term(ctx);
}

/* The sender's buffers: busy from zmq_msg_init_data() until ZeroMQ's free
 * callback, which runs in its I/O thread. */
struct zbuf {
	unsigned char *data;
	_Atomic int busy;
};

static void zbuf_done(void *data, void *hint)
{
	struct zbuf *b = hint;

	(void)data;
	atomic_store_explicit(&b->busy, 0, memory_order_release);
}

static void take_ack(void *pull, struct payload_track *t)
{
	struct ack ack;

	bench_zmq_recv_exact(pull, &ack, sizeof(ack), "zmq sender");
	payload_track_ack(t, (int)ack.reader, ack.it);
}

int main(int argc, char **argv)
{
	struct payload_args a;
	struct bench_samples s;
	struct payload_track t;
	struct payload_mem sum = { 0, 0 }, mem;
	struct zbuf *pool;
	void *ctx, *pub, *pull;
	uint64_t total, t_start = 0, timed_ns;

	payload_parse_args(argc, argv, "zmq", &a);
	total = (uint64_t)(a.b.warmup + a.b.iters);
	bench_zmq_paths("ipcfs-payload-zmq");

	/* Fork before any ZeroMQ context (they do not survive a fork) and
	 * before the payload buffers (no reader inherits them). */
	for (int r = 0; r < a.b.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(r, &a);
			_exit(0);
		}
	}
	pool = calloc((size_t)a.inflight, sizeof(*pool));
	if (!pool)
		bench_die("out of memory");
	for (int i = 0; i < a.inflight; i++) {
		pool[i].data = malloc(a.b.size);
		if (!pool[i].data)
			bench_die("out of memory for %d buffers of %zu bytes", a.inflight,
				  a.b.size);
	}

	bench_zmq_sender_open(&ctx, &pub, &pull);
	bench_zmq_sender_handshake(pub, pull, a.b.readers); /* see bench_zmq.h */

	bench_samples_init(&s, (size_t)a.b.iters);
	payload_track_init(&t, &a, &s);
	for (uint64_t it = 1; it <= total; it++) {
		struct zbuf *b = &pool[it % (uint64_t)a.inflight];
		zmq_msg_t msg;
		uint64_t t0;

		while (payload_outstanding(&t) >= a.inflight)
			take_ack(pull, &t);
		t0 = bench_now_ns();
		if (it == (uint64_t)a.b.warmup + 1)
			t_start = t0;
		/* Every reader has its previous message from this buffer; the
		 * I/O thread lets go of it right after the last write. */
		while (atomic_load_explicit(&b->busy, memory_order_acquire))
			sched_yield();
		bench_fill(b->data, a.b.size, it);
		atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
		bench_zmq_check(zmq_msg_init_data(&msg, b->data, a.b.size, zbuf_done, b),
		       "zmq_msg_init_data", "zmq sender");
		payload_track_sent(&t, it, t0);
		while (zmq_msg_send(&msg, pub, 0) < 0) {
			if (zmq_errno() != EINTR)
				bench_die("zmq sender: zmq_msg_send: %s", zmq_strerror(zmq_errno()));
		}
	}
	while (t.completed < total)
		take_ack(pull, &t);
	timed_ns = bench_now_ns() - t_start;

	bench_zmq_send(pub, "B", 1, "zmq sender");
	payload_mem_self(&mem);
	payload_mem_add(&sum, &mem);
	for (int r = 0; r < a.b.readers; r++) {
		bench_zmq_recv_exact(pull, &mem, sizeof(mem), "zmq sender");
		payload_mem_add(&sum, &mem);
	}
	zmq_close(pub);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	bench_reap_children();
	payload_report_json(&a, "zmq", &s, timed_ns, 0, &sum);
	payload_track_free(&t);
	bench_samples_free(&s);
	for (int i = 0; i < a.inflight; i++)
		free(pool[i].data);
	free(pool);
	return 0;
}
