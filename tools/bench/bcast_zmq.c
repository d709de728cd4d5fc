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
 * Slow joiners: a PUB socket drops what it sends before a subscriber's
 * connection is up. Before timing, the sender publishes "H" (hello) every
 * few milliseconds until every reader has pushed back one "h"+index, then
 * publishes "G" (go); a reader ignores hellos until the go. PUB/SUB keeps
 * order per connection, so the go and the data that follow reach everyone.
 * After the last ack the sender publishes "B" (bye), and only then does
 * each reader push its peak RSS (a long).
 *
 * Once everyone is connected the two socket files are unlinked (the open
 * connections do not need them), so nothing is left in /tmp even when the
 * run dies later; an atexit handler covers the earlier exits.
 *
 * ZeroMQ waits in its own poll(2) calls, so there is no spin loop here. Its
 * functions return EINTR when the SIGCHLD watcher of bench_common runs;
 * the wrappers below retry.
 */
#include "bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define HANDSHAKE_MS 30000 /* readers must all connect within this */

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

static void zsend(void *sock, const void *buf, size_t len, const char *who)
{
	while (zmq_send(sock, buf, len, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_send: %s", who, zmq_strerror(zmq_errno()));
	}
}

/* Receive one message into *@msg (initialised by the caller). */
static void zrecv(void *sock, zmq_msg_t *msg, const char *who)
{
	while (zmq_msg_recv(msg, sock, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_msg_recv: %s", who, zmq_strerror(zmq_errno()));
	}
}

/* Receive a message of exactly @len bytes into @buf. */
static void zrecv_buf(void *sock, void *buf, size_t len, const char *who)
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
	/* Readers may connect before the sender binds: retry every 10 ms. */
	zcheck(zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)), "ZMQ_RECONNECT_IVL",
	       who);
	return s;
}

static void reader(int r, const struct bench_args *a)
{
	uint64_t total = (uint64_t)(a->warmup + a->iters);
	void *ctx, *sub, *push;
	unsigned char hello[2] = { 'h', (unsigned char)r };
	int said_hello = 0;
	zmq_msg_t msg;
	char who[32];
	long rss;

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

	/* Handshake: answer the first hello, wait for the go. */
	for (;;) {
		const char *d;

		zrecv(sub, &msg, who);
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
		zrecv(sub, &msg, who);
		if (zmq_msg_size(&msg) != a->size)
			bench_die("%s: iteration %llu: got %zu bytes, expected %zu", who,
				  (unsigned long long)it, zmq_msg_size(&msg), a->size);
		bench_check(zmq_msg_data(&msg), a->size, it, who);
		zsend(push, "a", 1, who);
	}
	/* Wait for the bye before reporting: PULL merges the readers' streams,
	 * so an early rss message could be taken for another reader's last
	 * ack. */
	zrecv(sub, &msg, who);
	if (zmq_msg_size(&msg) != 1 || *(const char *)zmq_msg_data(&msg) != 'B')
		bench_die("%s: expected the bye message", who);
	zmq_msg_close(&msg);
	rss = bench_peak_rss_kib();
	zsend(push, &rss, sizeof(rss), who);
	zmq_close(sub);
	zmq_close(push); /* lingers until the rss message is out */
	zmq_ctx_term(ctx);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_samples s;
	void *ctx, *pub, *pull;
	uint64_t joined = 0, all, deadline;
	unsigned char *buf;
	long rss;

	bench_parse_args(argc, argv, "zmq", &a);
	snprintf(data_path, sizeof(data_path), "/tmp/ipcfs-bench-zmq-%ld.data", (long)getpid());
	snprintf(ack_path, sizeof(ack_path), "/tmp/ipcfs-bench-zmq-%ld.ack", (long)getpid());
	snprintf(data_ep, sizeof(data_ep), "ipc://%s", data_path);
	snprintf(ack_ep, sizeof(ack_ep), "ipc://%s", ack_path);
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
	atexit(unlink_paths);

	ctx = zmq_ctx_new();
	if (!ctx)
		bench_die("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
	pub = zsocket(ctx, ZMQ_PUB, "zmq sender");
	pull = zsocket(ctx, ZMQ_PULL, "zmq sender");
	zcheck(zmq_bind(pub, data_ep), data_ep, "zmq sender");
	zcheck(zmq_bind(pull, ack_ep), ack_ep, "zmq sender");

	/* Handshake (see the top of the file). */
	all = a.readers == 64 ? ~0ull : (1ull << a.readers) - 1;
	deadline = bench_now_ns() + HANDSHAKE_MS * 1000000ull;
	while (joined != all) {
		zmq_pollitem_t pi = { .socket = pull, .events = ZMQ_POLLIN };
		unsigned char h[2];

		if (bench_now_ns() > deadline)
			bench_die("zmq sender: readers did not connect within %d ms", HANDSHAKE_MS);
		zsend(pub, "H", 1, "zmq sender");
		if (zmq_poll(&pi, 1, 5) <= 0)
			continue; /* timeout or EINTR: hello again */
		zrecv_buf(pull, h, sizeof(h), "zmq sender");
		if (h[0] != 'h' || h[1] >= a.readers)
			bench_die("zmq sender: bad hello ack");
		joined |= 1ull << h[1];
	}
	zsend(pub, "G", 1, "zmq sender");
	unlink_paths();

	bench_samples_init(&s, (size_t)a.iters);
	for (uint64_t it = 1; it <= (uint64_t)(a.warmup + a.iters); it++) {
		uint64_t t0 = bench_now_ns();

		bench_fill(buf, a.size, it);
		zsend(pub, buf, a.size, "zmq sender");
		for (int r = 0; r < a.readers; r++) {
			char ack;

			zrecv_buf(pull, &ack, 1, "zmq sender");
			if (ack != 'a')
				bench_die("zmq sender: bad ack 0x%02x", (unsigned char)ack);
		}
		if (it > (uint64_t)a.warmup)
			bench_samples_add(&s, bench_now_ns() - t0);
	}

	/* Every ack is in: ask the readers for their peak RSS. */
	zsend(pub, "B", 1, "zmq sender");
	rss = bench_peak_rss_kib();
	for (int r = 0; r < a.readers; r++) {
		long child;

		zrecv_buf(pull, &child, sizeof(child), "zmq sender");
		rss += child;
	}
	zmq_close(pub);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	bench_reap_children();
	bench_report_json(&a, "zmq", &s, rss);
	bench_samples_free(&s);
	free(buf);
	return 0;
}
