/* SPDX-License-Identifier: MIT */
/*
 * remote_rt.c - round trip of one message to a rank on another machine and
 * a small ack back, through ipcfs (and its bridge) or through raw ZeroMQ
 * over TCP, for tools/bench/run_remote.sh.
 *
 *   remote_rt ipcfs-ping GROUPDIR RANK PEER ITERS SIZE...
 *   remote_rt ipcfs-pong GROUPDIR RANK PEER
 *   remote_rt zmq-ping tcp://ADDR:PORT ITERS SIZE...
 *   remote_rt zmq-pong tcp://ADDR:PORT
 *
 * ping prints one line per size: "SIZE MEAN_US P50_US", ITERS round trips
 * after ITERS/10 + 1 warm-up ones (fewer for large sizes: ITERS scaled by
 * 64 KiB / SIZE, at least 5). The payload is written whole by the sender
 * and its first and last bytes checked by the receiver; the ack is 8
 * bytes; a message of 1 byte ends the pong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ipcfs.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "remote_rt: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static long iters_for(long iters, size_t size)
{
	long n = size > 65536 ? (long)((double)iters * 65536.0 / (double)size) : iters;
	return n < 5 ? 5 : n;
}

static void report(size_t size, double *t, long n)
{
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("%zu %.1f %.1f\n", size, sum / (double)n, t[n / 2]);
	fflush(stdout);
}

/* ---- ipcfs ---------------------------------------------------------------- */

static void ipcfs_one(struct ipcfs_member *m, int peer, size_t size, unsigned char tag)
{
	void *buf;
	struct ipcfs_msg ack;
	int rc = ipcfs_reserve(m, size, &buf, 30000);
	if (rc)
		die("reserve", rc);
	memset(buf, tag, size);
	if ((rc = ipcfs_commit(m, IPCFS_RANK_BIT(peer), size)))
		die("commit", rc);
	if ((rc = ipcfs_recv(m, peer, &ack, 30000)))
		die("recv ack", rc);
	ipcfs_release(m, &ack);
}

static int ipcfs_ping(const char *dir, int rank, int peer, long iters, char **sizes, int nsizes)
{
	struct ipcfs_member *m;
	int rc = ipcfs_join(dir, rank, &m);
	if (rc < 0)
		die("join", rc);
	if ((rc = ipcfs_wait_ranks(m, IPCFS_RANK_BIT(peer), 30000)))
		die("wait for the peer", rc);
	for (int s = 0; s < nsizes; s++) {
		size_t size = strtoull(sizes[s], NULL, 10);
		long n = iters_for(iters, size);
		double *t = malloc((size_t)n * sizeof(*t));
		for (long i = 0; i < n / 10 + 1; i++)
			ipcfs_one(m, peer, size, (unsigned char)i);
		for (long i = 0; i < n; i++) {
			double t0 = now_us();
			ipcfs_one(m, peer, size, (unsigned char)i);
			t[i] = now_us() - t0;
		}
		report(size, t, n);
		free(t);
	}
	ipcfs_send(m, IPCFS_RANK_BIT(peer), "x", 1, 30000);
	ipcfs_leave(m);
	return 0;
}

static int ipcfs_pong(const char *dir, int rank, int peer)
{
	struct ipcfs_member *m;
	int rc = ipcfs_join(dir, rank, &m);
	if (rc < 0)
		die("join", rc);
	for (;;) {
		struct ipcfs_msg msg;
		if ((rc = ipcfs_recv(m, peer, &msg, 60000)))
			die("recv", rc);
		const unsigned char *p = msg.data;
		size_t len = msg.len;
		if (len > 1 && p[0] != p[len - 1])
			die("payload check", EBADMSG);
		ipcfs_release(m, &msg);
		if (len == 1)
			break;
		if ((rc = ipcfs_send(m, IPCFS_RANK_BIT(peer), "ackackak", 8, 30000)))
			die("send ack", rc);
	}
	ipcfs_leave(m);
	return 0;
}

/* ---- raw ZeroMQ ------------------------------------------------------------- */

static int zmq_ping(const char *addr, long iters, char **sizes, int nsizes)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);
	char ack[8];

	if (zmq_connect(s, addr))
		die("zmq_connect", errno);
	for (int k = 0; k < nsizes; k++) {
		size_t size = strtoull(sizes[k], NULL, 10);
		long n = iters_for(iters, size);
		double *t = malloc((size_t)n * sizeof(*t));
		unsigned char *buf = malloc(size);
		for (long i = -(n / 10 + 1); i < n; i++) {
			double t0 = now_us();
			/* As an engine does: the payload written, then sent (ZeroMQ
			 * copies it into its message). */
			memset(buf, (unsigned char)i, size);
			if (zmq_send(s, buf, size, 0) < 0 || zmq_recv(s, ack, sizeof(ack), 0) < 0)
				die("zmq", errno);
			if (i >= 0)
				t[i] = now_us() - t0;
		}
		report(size, t, n);
		free(buf);
		free(t);
	}
	zmq_send(s, "x", 1, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

static int zmq_pong(const char *addr)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);

	if (zmq_bind(s, addr))
		die("zmq_bind", errno);
	for (;;) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0)
			die("zmq_msg_recv", errno);
		size_t len = zmq_msg_size(&m);
		const unsigned char *p = zmq_msg_data(&m);
		if (len > 1 && p[0] != p[len - 1])
			die("payload check", EBADMSG);
		zmq_msg_close(&m);
		if (len == 1)
			break;
		zmq_send(s, "ackackak", 8, 0);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "ipcfs-ping"))
		return ipcfs_ping(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argv + 6, argc - 6);
	if (argc == 5 && !strcmp(argv[1], "ipcfs-pong"))
		return ipcfs_pong(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "zmq-ping"))
		return zmq_ping(argv[2], atol(argv[3]), argv + 4, argc - 4);
	if (argc == 3 && !strcmp(argv[1], "zmq-pong"))
		return zmq_pong(argv[2]);
	fprintf(stderr, "usage: remote_rt ipcfs-ping GROUPDIR RANK PEER ITERS SIZE... |\n"
			"       remote_rt ipcfs-pong GROUPDIR RANK PEER |\n"
			"       remote_rt zmq-ping tcp://ADDR:PORT ITERS SIZE... | zmq-pong tcp://ADDR:PORT\n");
	return 2;
}
