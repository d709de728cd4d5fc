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
 * Slow joiners: a PUB socket drops what it sends before a subscriber is
 * connected. Before timing, the sender publishes "H" every few ms until
 * every reader has pushed back "h" + its index, then publishes "G"; readers
 * skip hellos until the go. After the last ack the sender publishes "B",
 * and each reader answers with its memory figures. The socket files are
 * unlinked once everyone is connected (and at exit).
 */
#include "payload_common.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define HANDSHAKE_MS 30000

struct ack {
	uint64_t reader;
	uint64_t it;
};

static char data_path[96], ack_path[96];
static char data_ep[112], ack_ep[112];

static void unlink_paths(void)
{
	unlink(data_path);
	unlink(ack_path);
}

static void zcheck(int rc, const char *what, const char *who)
{
	if (rc < 0)
		bench_die("%s: %s: %s", who, what, zmq_strerror(zmq_errno()));
}

/* zmq_send() of a small buffer (copied), retrying on EINTR. */
static void zsend(void *sock, const void *buf, size_t len, const char *who)
{
	while (zmq_send(sock, buf, len, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_send: %s", who, zmq_strerror(zmq_errno()));
	}
}

static void zrecv_msg(void *sock, zmq_msg_t *msg, const char *who)
{
	while (zmq_msg_recv(msg, sock, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_msg_recv: %s", who, zmq_strerror(zmq_errno()));
	}
}

/* Receive a message of exactly @len bytes into @buf. */
static void zrecv_exact(void *sock, void *buf, size_t len, const char *who)
{
	int n;

	while ((n = zmq_recv(sock, buf, len, 0)) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_recv: %s", who, zmq_strerror(zmq_errno()));
	}
	if ((size_t)n != len)
		bench_die("%s: got a %d-byte message, expected %zu", who, n, len);
}

static void *zsocket(void *ctx, int type, const char *who)
{
	void *s = zmq_socket(ctx, type);
	int linger = 1000, ivl = 10;

	if (!s)
		bench_die("%s: zmq_socket: %s", who, zmq_strerror(zmq_errno()));
	zcheck(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), "ZMQ_LINGER", who);
	zcheck(zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)), "ZMQ_RECONNECT_IVL",
	       who);
	return s;
}

static void reader(int r, const struct payload_args *a)
{
	uint64_t total = (uint64_t)(a->b.warmup + a->b.iters);
	unsigned char hello[2] = { 'h', (unsigned char)r };
	struct payload_mem mem;
	void *ctx, *sub, *push;
	int said_hello = 0;
	zmq_msg_t msg;
	char who[32];

	snprintf(who, sizeof(who), "zmq reader %d", r);
	ctx = zmq_ctx_new();
	if (!ctx)
		bench_die("%s: zmq_ctx_new: %s", who, zmq_strerror(zmq_errno()));
	sub = zsocket(ctx, ZMQ_SUB, who);
	push = zsocket(ctx, ZMQ_PUSH, who);
	zcheck(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), "ZMQ_SUBSCRIBE", who);
	zcheck(zmq_connect(sub, data_ep), "connect data", who);
	zcheck(zmq_connect(push, ack_ep), "connect ack", who);
	zcheck(zmq_msg_init(&msg), "zmq_msg_init", who);

	for (;;) {
		const char *d;

		zrecv_msg(sub, &msg, who);
		d = zmq_msg_data(&msg);
		if (zmq_msg_size(&msg) != 1 || (d[0] != 'H' && d[0] != 'G'))
			bench_die("%s: unexpected message during the handshake", who);
		if (d[0] == 'G')
			break;
		if (!said_hello) {
			zsend(push, hello, sizeof(hello), who);
			said_hello = 1;
		}
	}

	for (uint64_t it = 1; it <= total; it++) {
		struct ack ack = { (uint64_t)r, it };

		zrecv_msg(sub, &msg, who);
		if (zmq_msg_size(&msg) != a->b.size)
			bench_die("%s: message %llu: %zu bytes, expected %zu", who,
				  (unsigned long long)it, zmq_msg_size(&msg), a->b.size);
		bench_check(zmq_msg_data(&msg), a->b.size, it, who);
		/* Done with it: give its buffer back now, not at the next
		 * receive. */
		zmq_msg_close(&msg);
		zcheck(zmq_msg_init(&msg), "zmq_msg_init", who);
		zsend(push, &ack, sizeof(ack), who);
	}
	zrecv_msg(sub, &msg, who);
	if (zmq_msg_size(&msg) != 1 || *(const char *)zmq_msg_data(&msg) != 'B')
		bench_die("%s: expected the bye message", who);
	zmq_msg_close(&msg);
	payload_mem_self(&mem);
	zsend(push, &mem, sizeof(mem), who);
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

	zrecv_exact(pull, &ack, sizeof(ack), "zmq sender");
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
	uint64_t joined = 0, all, deadline, total, t_start = 0, timed_ns;

	payload_parse_args(argc, argv, "zmq", &a);
	total = (uint64_t)(a.b.warmup + a.b.iters);
	snprintf(data_path, sizeof(data_path), "/tmp/ipcfs-payload-zmq-%ld.data", (long)getpid());
	snprintf(ack_path, sizeof(ack_path), "/tmp/ipcfs-payload-zmq-%ld.ack", (long)getpid());
	snprintf(data_ep, sizeof(data_ep), "ipc://%s", data_path);
	snprintf(ack_ep, sizeof(ack_ep), "ipc://%s", ack_path);

	/* Fork before any ZeroMQ context (they do not survive a fork) and
	 * before the payload buffers (no reader inherits them). */
	for (int r = 0; r < a.b.readers; r++) {
		if (bench_fork_child() == 0) {
			reader(r, &a);
			_exit(0);
		}
	}
	atexit(unlink_paths);
	pool = calloc((size_t)a.inflight, sizeof(*pool));
	if (!pool)
		bench_die("out of memory");
	for (int i = 0; i < a.inflight; i++) {
		pool[i].data = malloc(a.b.size);
		if (!pool[i].data)
			bench_die("out of memory for %d buffers of %zu bytes", a.inflight,
				  a.b.size);
	}

	ctx = zmq_ctx_new();
	if (!ctx)
		bench_die("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
	pub = zsocket(ctx, ZMQ_PUB, "zmq sender");
	pull = zsocket(ctx, ZMQ_PULL, "zmq sender");
	zcheck(zmq_bind(pub, data_ep), data_ep, "zmq sender");
	zcheck(zmq_bind(pull, ack_ep), ack_ep, "zmq sender");

	all = (1ull << a.b.readers) - 1;
	deadline = bench_now_ns() + HANDSHAKE_MS * 1000000ull;
	while (joined != all) {
		zmq_pollitem_t pi = { .socket = pull, .events = ZMQ_POLLIN };
		unsigned char h[2];

		if (bench_now_ns() > deadline)
			bench_die("zmq sender: readers did not connect within %d ms", HANDSHAKE_MS);
		zsend(pub, "H", 1, "zmq sender");
		if (zmq_poll(&pi, 1, 5) <= 0)
			continue;
		zrecv_exact(pull, h, sizeof(h), "zmq sender");
		if (h[0] != 'h' || h[1] >= a.b.readers)
			bench_die("zmq sender: bad hello ack");
		joined |= 1ull << h[1];
	}
	zsend(pub, "G", 1, "zmq sender");
	unlink_paths();

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
		zcheck(zmq_msg_init_data(&msg, b->data, a.b.size, zbuf_done, b),
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

	zsend(pub, "B", 1, "zmq sender");
	payload_mem_self(&mem);
	payload_mem_add(&sum, &mem);
	for (int r = 0; r < a.b.readers; r++) {
		zrecv_exact(pull, &mem, sizeof(mem), "zmq sender");
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
