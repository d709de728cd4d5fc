/* SPDX-License-Identifier: MIT */
/*
 * bench_zmq.c - what the ZeroMQ contenders share (see bench_zmq.h).
 */
#include "bench_zmq.h"

#include "bench_common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char data_path[96], ack_path[96];
static char data_ep[112], ack_ep[112];

void bench_zmq_paths(const char *prefix)
{
	snprintf(data_path, sizeof(data_path), "/tmp/%s-%ld.data", prefix, (long)getpid());
	snprintf(ack_path, sizeof(ack_path), "/tmp/%s-%ld.ack", prefix, (long)getpid());
	snprintf(data_ep, sizeof(data_ep), "ipc://%s", data_path);
	snprintf(ack_ep, sizeof(ack_ep), "ipc://%s", ack_path);
}

void bench_zmq_unlink_paths(void)
{
	unlink(data_path);
	unlink(ack_path);
}

void bench_zmq_check(int rc, const char *what, const char *who)
{
	if (rc < 0)
		bench_die("%s: %s: %s", who, what, zmq_strerror(zmq_errno()));
}

void bench_zmq_send(void *sock, const void *buf, size_t len, const char *who)
{
	while (zmq_send(sock, buf, len, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_send: %s", who, zmq_strerror(zmq_errno()));
	}
}

void bench_zmq_recv_msg(void *sock, zmq_msg_t *msg, const char *who)
{
	while (zmq_msg_recv(msg, sock, 0) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_msg_recv: %s", who, zmq_strerror(zmq_errno()));
	}
}

void bench_zmq_recv_exact(void *sock, void *buf, size_t len, const char *who)
{
	int n;

	while ((n = zmq_recv(sock, buf, len, 0)) < 0) {
		if (zmq_errno() != EINTR)
			bench_die("%s: zmq_recv: %s", who, zmq_strerror(zmq_errno()));
	}
	if ((size_t)n != len)
		bench_die("%s: got a %d-byte message, expected %zu", who, n, len);
}

void *bench_zmq_ctx_new(const char *who)
{
	void *ctx = zmq_ctx_new();

	if (!ctx) {
		if (who)
			bench_die("%s: zmq_ctx_new: %s", who, zmq_strerror(zmq_errno()));
		bench_die("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
	}
	return ctx;
}

static void *new_socket(void *ctx, int type, const char *who)
{
	void *s = zmq_socket(ctx, type);
	int linger = 1000, ivl = 10;

	if (!s)
		bench_die("%s: zmq_socket: %s", who, zmq_strerror(zmq_errno()));
	bench_zmq_check(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), "ZMQ_LINGER",
			who);
	/* Readers may connect before the sender binds: retry every 10 ms. */
	bench_zmq_check(zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)),
			"ZMQ_RECONNECT_IVL", who);
	return s;
}

void bench_zmq_reader_join(int r, void **ctx, void **sub, void **push, zmq_msg_t *msg,
			   const char *who)
{
	unsigned char hello[2] = { 'h', (unsigned char)r };
	int said_hello = 0;

	*ctx = bench_zmq_ctx_new(who);
	*sub = new_socket(*ctx, ZMQ_SUB, who);
	*push = new_socket(*ctx, ZMQ_PUSH, who);
	bench_zmq_check(zmq_setsockopt(*sub, ZMQ_SUBSCRIBE, "", 0), "ZMQ_SUBSCRIBE", who);
	bench_zmq_check(zmq_connect(*sub, data_ep), "connect data", who);
	bench_zmq_check(zmq_connect(*push, ack_ep), "connect ack", who);
	bench_zmq_check(zmq_msg_init(msg), "zmq_msg_init", who);

	/* Handshake: answer the first hello, wait for the go. */
	for (;;) {
		const char *d;

		bench_zmq_recv_msg(*sub, msg, who);
		d = zmq_msg_data(msg);
		if (zmq_msg_size(msg) != 1 || (d[0] != 'H' && d[0] != 'G'))
			bench_die("%s: unexpected message during the handshake", who);
		if (d[0] == 'G')
			break;
		if (!said_hello) {
			bench_zmq_send(*push, hello, sizeof(hello), who);
			said_hello = 1;
		}
	}
}

void bench_zmq_reader_bye(void *sub, zmq_msg_t *msg, const char *who)
{
	/* Wait for the bye before reporting: PULL merges the readers' streams,
	 * so an early report could be taken for another reader's last ack. */
	bench_zmq_recv_msg(sub, msg, who);
	if (zmq_msg_size(msg) != 1 || *(const char *)zmq_msg_data(msg) != 'B')
		bench_die("%s: expected the bye message", who);
	zmq_msg_close(msg);
}

void bench_zmq_sender_open(void **ctx, void **pub, void **pull)
{
	atexit(bench_zmq_unlink_paths);
	*ctx = bench_zmq_ctx_new(NULL);
	*pub = new_socket(*ctx, ZMQ_PUB, "zmq sender");
	*pull = new_socket(*ctx, ZMQ_PULL, "zmq sender");
	bench_zmq_check(zmq_bind(*pub, data_ep), data_ep, "zmq sender");
	bench_zmq_check(zmq_bind(*pull, ack_ep), ack_ep, "zmq sender");
}

void bench_zmq_sender_handshake(void *pub, void *pull, int readers)
{
	uint64_t joined = 0, all, deadline;

	all = readers == 64 ? ~0ull : (1ull << readers) - 1;
	deadline = bench_now_ns() + BENCH_ZMQ_HANDSHAKE_MS * 1000000ull;
	while (joined != all) {
		zmq_pollitem_t pi = { .socket = pull, .events = ZMQ_POLLIN };
		unsigned char h[2];

		if (bench_now_ns() > deadline)
			bench_die("zmq sender: readers did not connect within %d ms",
				  BENCH_ZMQ_HANDSHAKE_MS);
		bench_zmq_send(pub, "H", 1, "zmq sender");
		if (zmq_poll(&pi, 1, 5) <= 0)
			continue; /* timeout or EINTR: hello again */
		bench_zmq_recv_exact(pull, h, sizeof(h), "zmq sender");
		if (h[0] != 'h' || h[1] >= readers)
			bench_die("zmq sender: bad hello ack");
		joined |= 1ull << h[1];
	}
	bench_zmq_send(pub, "G", 1, "zmq sender");
	bench_zmq_unlink_paths();
}
