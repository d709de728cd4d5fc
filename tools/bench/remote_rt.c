/* SPDX-License-Identifier: MIT */
/*
 * remote_rt.c - round trip of a message to ranks on this and on another
 * machine and a small ack back, through ipcfs (and its bridges) or through
 * raw ZeroMQ over TCP, for tools/bench/run_remote.sh.
 *
 *   remote_rt ipcfs-ping ITERS SIZES PHASE...
 *   remote_rt ipcfs-pong GROUPDIR RANK PEER
 *   remote_rt zmq-ping tcp://ADDR:PORT ITERS SIZES TARGET [PERIOD_US]
 *   remote_rt zmq-pong tcp://ADDR:PORT
 *
 * SIZES is a comma-separated list of byte counts. A PHASE is
 * SYSTEM:GROUPDIR:RANK:PEER=TARGET[,PEER=TARGET...][@PACE]: this process,
 * as RANK of the group at GROUPDIR, sends each message once to all the
 * PEERs (one broadcast when there are several) and takes one ack from
 * each; the time until a PEER's ack is that PEER's round trip, reported as
 * SYSTEM with TARGET ("local" or "remote"). Phases that name the same
 * GROUPDIR share one member (and must name the same RANK). For each size,
 * the phases run in turn (so that drift in the machine's load hits them
 * alike). With @PACE, the SYSTEM of an earlier phase, a round trip starts
 * only once per mean round trip (to the last ack) of that phase at this
 * size, the sender asleep in between: the same pace, so that a reader
 * that sleeps between messages pays its wake-up in both. With @NNNus, one
 * round trip starts every NNN microseconds (an engine's steps), for at
 * most a second per size; zmq-ping's PERIOD_US does the same.
 *
 * Workload, timing and output: remote_common.h (one JSON line per size,
 * phase and peer). The receiver checks the first and last bytes; a message
 * of 1 byte ends the pong.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ipcfs.h"
#include "remote_common.h"

#define MAX_PHASES 8
#define MAX_PEERS 8
#define MAX_SIZES 32

static void die(const char *what, int err)
{
	fprintf(stderr, "remote_rt: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: remote_rt ipcfs-ping ITERS SIZES SYSTEM:GROUPDIR:RANK:PEER=TARGET[,...][@PACE|@NNNus]... |\n"
			"       remote_rt ipcfs-pong GROUPDIR RANK PEER |\n"
			"       remote_rt zmq-ping tcp://ADDR:PORT ITERS SIZES TARGET [PERIOD_US] |\n"
			"       remote_rt zmq-pong tcp://ADDR:PORT\n"
			"(SIZES: comma-separated byte counts)\n");
	exit(2);
}

/* The comma-separated sizes of @arg into @sizes; returns how many. */
static int parse_sizes(char *arg, size_t *sizes)
{
	int n = 0;
	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		char *end;
		unsigned long long v = strtoull(tok, &end, 10);
		if (*end || v < 2 || v > (1ull << 30) || n == MAX_SIZES)
			usage();
		sizes[n++] = (size_t)v;
	}
	if (n == 0)
		usage();
	return n;
}

static long parse_iters(const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*end || v < 1)
		usage();
	return v;
}

/* ---- ipcfs ---------------------------------------------------------------- */

struct phase {
	const char *system;
	const char *dir;
	int rank;
	int npeers;
	int peer[MAX_PEERS];
	const char *target[MAX_PEERS];
	uint64_t mask;              /* IPCFS_RANK_BIT of every peer */
	struct ipcfs_member *m;     /* shared with earlier phases of the same dir */
	int owner;                  /* 1: this phase joined m (and leaves it) */
	double *t[MAX_PEERS];       /* per peer, the timed round trips */
	const char *pace;           /* SYSTEM of the phase giving the pace, or NULL */
	double fixed_pace;          /* @NNNus: that period, in us (else 0) */
	double round_us;            /* mean time to the last ack, at the last size */
};

/* SYSTEM:GROUPDIR:RANK:PEER=TARGET[,PEER=TARGET...] into *@p (@arg is
 * cut up in place). */
static void parse_phase(char *arg, struct phase *p)
{
	char *c1 = strchr(arg, ':'), *c3 = strrchr(arg, ':'), *c2;
	memset(p, 0, sizeof(*p));
	if (!c1 || c3 == c1)
		usage();
	*c1 = *c3 = '\0';
	if (!(c2 = strrchr(c1 + 1, ':')))
		usage();
	*c2 = '\0';
	p->system = arg;
	p->dir = c1 + 1;
	p->rank = atoi(c2 + 1);
	char *at = strchr(c3 + 1, '@');
	if (at) {
		char *end;
		*at = '\0';
		p->pace = at + 1;
		double us = strtod(p->pace, &end);
		if (end != p->pace && !strcmp(end, "us")) {
			if (us <= 0)
				usage();
			p->fixed_pace = us;
		}
	}
	for (char *tok = strtok(c3 + 1, ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		int r = atoi(tok);
		if (!eq || p->npeers == MAX_PEERS || r < 0 || r >= 64 || r == p->rank)
			usage();
		p->peer[p->npeers] = r;
		p->target[p->npeers++] = eq + 1;
		p->mask |= IPCFS_RANK_BIT(r);
	}
	if (p->npeers == 0)
		usage();
}

/* One round trip of phase @p: send @size bytes tagged @tag to every peer,
 * take one ack from each; @at[k] is the time from @t0 to peer k's ack. */
static void ipcfs_round(struct phase *p, size_t size, unsigned char tag, double t0, double *at)
{
	uint64_t acked = 0;
	void *buf;
	int rc = ipcfs_reserve(p->m, size, &buf, 30000);

	if (rc)
		die("reserve", rc);
	memset(buf, tag, size);
	if ((rc = ipcfs_commit(p->m, p->mask, size)))
		die("commit", rc);
	for (int got = 0; got < p->npeers; got++) {
		struct ipcfs_msg ack;
		int k = 0;
		if ((rc = ipcfs_recv(p->m, IPCFS_ANY, &ack, 30000)))
			die("recv ack", rc);
		double t = remote_now_us();
		while (k < p->npeers && p->peer[k] != ack.src)
			k++;
		if (k == p->npeers || (acked & IPCFS_RANK_BIT(ack.src)))
			die("an ack from a rank that owes none", EPROTO);
		acked |= IPCFS_RANK_BIT(ack.src);
		at[k] = t - t0;
		ipcfs_release(p->m, &ack);
	}
}

static void ipcfs_setup(struct phase *ph, int nph)
{
	for (int i = 0; i < nph; i++) {
		for (int j = 0; j < i && !ph[i].m; j++)
			if (!strcmp(ph[i].dir, ph[j].dir)) {
				if (ph[i].rank != ph[j].rank)
					usage();
				ph[i].m = ph[j].m;
			}
		if (!ph[i].m) {
			int rc = ipcfs_join(ph[i].dir, ph[i].rank, &ph[i].m);
			if (rc < 0)
				die("join", rc);
			ph[i].owner = 1;
		}
	}
	for (int i = 0; i < nph; i++) {
		int rc = ipcfs_wait_ranks(ph[i].m, ph[i].mask, 30000);
		if (rc)
			die("wait for the peers", rc);
	}
}

/* Phase @p at @size; @period_us > 0: one round trip per period. */
static void ipcfs_phase_size(struct phase *p, long iters, size_t size, double period_us)
{
	long n = remote_iters(iters, size), warm = iters / 10 + 1;

	if (p->fixed_pace) {
		n = remote_paced_iters(n, period_us);
		warm = n / 10 + 1;
	}
	double at[MAX_PEERS], cpu0 = 0, start, rounds = 0;
	struct remote_cpu cpu;

	for (int k = 0; k < p->npeers; k++)
		if (!(p->t[k] = malloc((size_t)n * sizeof(double))))
			die("malloc", ENOMEM);
	remote_cpu_open(&cpu);
	start = remote_now_us();
	for (long i = -warm; i < n; i++) {
		double t0, last = 0;
		if (i == 0)
			cpu0 = remote_cpu_read(&cpu);
		if (period_us > 0)
			remote_sleep_until_us(start + (double)(i + warm) * period_us);
		t0 = remote_now_us();
		ipcfs_round(p, size, (unsigned char)i, t0, at);
		if (i < 0)
			continue;
		for (int k = 0; k < p->npeers; k++) {
			p->t[k][i] = at[k];
			last = at[k] > last ? at[k] : last;
		}
		rounds += last;
	}
	double cpu_s = remote_cpu_read(&cpu) - cpu0;
	remote_cpu_close(&cpu);
	p->round_us = rounds / (double)n;
	for (int k = 0; k < p->npeers; k++) {
		remote_report(p->system, p->target[k], size, p->t[k], n, cpu_s);
		free(p->t[k]);
	}
}

/* The pace of phase @i at this size: a fixed period (@NNNus), or the mean
 * round of the phase it names (run before it at this size), 0 if none. */
static double phase_period(const struct phase *ph, int i)
{
	if (!ph[i].pace)
		return 0;
	if (ph[i].fixed_pace)
		return ph[i].fixed_pace;
	for (int j = 0; j < i; j++)
		if (!strcmp(ph[j].system, ph[i].pace))
			return ph[j].round_us;
	usage();
	return 0;
}

static int ipcfs_ping(int argc, char **argv)
{
	struct phase ph[MAX_PHASES];
	size_t sizes[MAX_SIZES];
	int nph = argc - 4, nsizes;
	long iters;

	if (nph < 1 || nph > MAX_PHASES)
		usage();
	iters = parse_iters(argv[2]);
	nsizes = parse_sizes(argv[3], sizes);
	for (int i = 0; i < nph; i++)
		parse_phase(argv[4 + i], &ph[i]);
	ipcfs_setup(ph, nph);
	for (int s = 0; s < nsizes; s++)
		for (int i = 0; i < nph; i++)
			ipcfs_phase_size(&ph[i], iters, sizes[s], phase_period(ph, i));
	/* The end: one 1-byte message to every peer of each member. */
	for (int i = 0; i < nph; i++) {
		uint64_t all = 0;
		if (!ph[i].owner)
			continue;
		for (int j = i; j < nph; j++)
			if (ph[j].m == ph[i].m)
				all |= ph[j].mask;
		ipcfs_send(ph[i].m, all, "x", 1, 30000);
	}
	for (int i = 0; i < nph; i++)
		if (ph[i].owner)
			ipcfs_leave(ph[i].m);
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
		if ((rc = ipcfs_recv(m, peer, &msg, 120000)))
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

static void zmq_round(void *s, unsigned char *buf, size_t size, unsigned char tag)
{
	char ack[8];
	/* As an engine does: the payload written, then sent (ZeroMQ copies it
	 * into its message). */
	memset(buf, tag, size);
	if (zmq_send(s, buf, size, 0) < 0 || zmq_recv(s, ack, sizeof(ack), 0) < 0)
		die("zmq", errno);
}

/* @period_us > 0: one round trip per period (remote_paced_iters). */
static int zmq_ping(const char *addr, long iters, char *sizes_arg, const char *target,
		    double period_us)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);
	size_t sizes[MAX_SIZES];
	int nsizes = parse_sizes(sizes_arg, sizes);

	if (zmq_connect(s, addr))
		die("zmq_connect", errno);
	for (int k = 0; k < nsizes; k++) {
		size_t size = sizes[k];
		long n = remote_paced_iters(remote_iters(iters, size), period_us);
		long warm = period_us > 0 ? n / 10 + 1 : iters / 10 + 1;
		double *t = malloc((size_t)n * sizeof(*t));
		unsigned char *buf = malloc(size);
		if (!t || !buf)
			die("malloc", ENOMEM);
		struct remote_cpu cpu;
		double cpu0;
		remote_cpu_open(&cpu);
		double start = remote_now_us();
		for (long i = 0; i < warm; i++) {
			if (period_us > 0)
				remote_sleep_until_us(start + (double)i * period_us);
			zmq_round(s, buf, size, (unsigned char)i);
		}
		cpu0 = remote_cpu_read(&cpu);
		for (long i = 0; i < n; i++) {
			if (period_us > 0)
				remote_sleep_until_us(start + (double)(i + warm) * period_us);
			double t0 = remote_now_us();
			zmq_round(s, buf, size, (unsigned char)i);
			t[i] = remote_now_us() - t0;
		}
		cpu0 = remote_cpu_read(&cpu) - cpu0;
		remote_cpu_close(&cpu);
		remote_report("zmq", target, size, t, n, cpu0);
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
	if (argc >= 5 && !strcmp(argv[1], "ipcfs-ping"))
		return ipcfs_ping(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "ipcfs-pong"))
		return ipcfs_pong(argv[2], atoi(argv[3]), atoi(argv[4]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "zmq-ping"))
		return zmq_ping(argv[2], parse_iters(argv[3]), argv[4], argv[5],
				argc == 7 ? (double)parse_iters(argv[6]) : 0);
	if (argc == 3 && !strcmp(argv[1], "zmq-pong"))
		return zmq_pong(argv[2]);
	usage();
}
