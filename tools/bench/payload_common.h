/* SPDX-License-Identifier: MIT */
/*
 * payload_common.h - what the large-payload benchmark (tools/bench/payload_*.c)
 * adds to bench_common.h: its command line, in-flight bookkeeping, memory
 * figures and its JSON line. Header only (static functions), so a contender
 * links bench_common.o and nothing else.
 *
 * Workload (every contender but memcpy), for it = 1 .. warmup + iters:
 *
 *   sender:  wait until fewer than K messages are outstanding (not yet
 *            acked by every reader), reading acks;
 *            t0[it] = now; fill the S-byte payload for `it` (bench_fill;
 *            in place where the system allows it); send it to the N readers
 *   reader:  receive message `it`, bench_check() every byte, ack `it`
 *   sender:  when every reader has acked `it`: sample now - t0[it]
 *
 * With K = 1 (the default) a sample is the round trip "fill + broadcast +
 * all readers read + acks". With K > 1 it also counts queueing; the figure
 * of interest there is the memory, and the throughput over the whole timed
 * part (gbps_total).
 *
 * Memory: every process reports its VmHWM (peak resident set) and its
 * RssShmem at the end; the JSON line has their sums. Shared pages (an ipcfs
 * segment, Open MPI's shared-memory segments) count once in every process
 * that maps them, as VmHWM counts them; shm_kib says how much of the sum
 * they are. Contenders fork their readers before they allocate payload
 * buffers, so no child inherits (and counts) the parent's pages.
 */
#ifndef PAYLOAD_COMMON_H
#define PAYLOAD_COMMON_H

#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD_MAX_K 1024

/* Command line of every payload_* contender:
 *   --size S         payload bytes (default 16 MiB; 1 .. 1 GiB)
 *   --readers N      readers (default 1; 1 .. 63)
 *   --iters I        timed messages (default 10)
 *   --warmup W       untimed messages first (default 1)
 *   --inflight K     messages outstanding at most (default 1)
 *   --arena-msgs M   ipcfs only: size the arena for M messages (default K)
 *   --out FILE       append the JSON line to FILE (default stdout)
 */
struct payload_args {
	struct bench_args b; /* size, readers, iters, warmup, out */
	int inflight;
	int arena_msgs;      /* 0: K */
};

static void __attribute__((unused)) payload_usage(FILE *f, const char *system)
{
	fprintf(f,
		"usage: payload_%s [--size S] [--readers N] [--iters I] [--warmup W]\n"
		"                  [--inflight K] [--arena-msgs M] [--out FILE]\n"
		"  --size S        payload bytes (default 16777216)\n"
		"  --readers N     readers, 1..63 (default 1)\n"
		"  --iters I       timed messages (default 10)\n"
		"  --warmup W      untimed messages first (default 1)\n"
		"  --inflight K    messages outstanding at most, 1..%d (default 1)\n"
		"  --arena-msgs M  ipcfs: arena sized for M messages (default K)\n"
		"  --out FILE      append the JSON result line to FILE (default stdout)\n",
		system, PAYLOAD_MAX_K);
}

static long long __attribute__((unused))
payload_num(const char *opt, const char *s, long long lo, long long hi, const char *system)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "payload_%s: %s wants an integer in %lld..%lld, not '%s'\n",
			system, opt, lo, hi, s);
		payload_usage(stderr, system);
		exit(2);
	}
	return v;
}

static void __attribute__((unused))
payload_parse_args(int argc, char **argv, const char *system, struct payload_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "readers", required_argument, NULL, 'n' },
		{ "iters", required_argument, NULL, 'i' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "inflight", required_argument, NULL, 'k' },
		{ "arena-msgs", required_argument, NULL, 'm' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->b.size = 16u << 20;
	a->b.readers = 1;
	a->b.iters = 10;
	a->b.warmup = 1;
	a->inflight = 1;
	while ((c = getopt_long(argc, argv, "s:n:i:w:k:m:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->b.size = (size_t)payload_num("--size", optarg, 1, 1ll << 30, system);
			break;
		case 'n':
			a->b.readers = (int)payload_num("--readers", optarg, 1, 63, system);
			break;
		case 'i':
			a->b.iters = (long)payload_num("--iters", optarg, 1, 1ll << 30, system);
			break;
		case 'w':
			a->b.warmup = (long)payload_num("--warmup", optarg, 0, 1ll << 30, system);
			break;
		case 'k':
			a->inflight = (int)payload_num("--inflight", optarg, 1, PAYLOAD_MAX_K, system);
			break;
		case 'm':
			a->arena_msgs = (int)payload_num("--arena-msgs", optarg, 1, PAYLOAD_MAX_K,
							 system);
			break;
		case 'o':
			a->b.out = optarg;
			break;
		case 'h':
			payload_usage(stdout, system);
			exit(0);
		default:
			payload_usage(stderr, system);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "payload_%s: unexpected argument '%s'\n", system, argv[optind]);
		payload_usage(stderr, system);
		exit(2);
	}
}

/* ---- memory ------------------------------------------------------------ */

/* What a process reports about its memory, KiB. */
struct payload_mem {
	long hwm_kib; /* VmHWM: peak resident set */
	long shm_kib; /* RssShmem now: resident shared memory */
};

static void __attribute__((unused)) payload_mem_self(struct payload_mem *m)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	m->hwm_kib = m->shm_kib = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6))
			m->hwm_kib = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "RssShmem:", 9))
			m->shm_kib = strtol(line + 9, NULL, 10);
	}
	fclose(f);
}

static inline void payload_mem_add(struct payload_mem *sum, const struct payload_mem *m)
{
	sum->hwm_kib += m->hwm_kib;
	sum->shm_kib += m->shm_kib;
}

/* ---- in-flight bookkeeping (sender side) --------------------------------- */

/* Which messages every reader has acked. Readers ack in order, so message
 * `it` is complete once each reader's last ack is >= it. */
struct payload_track {
	int readers;
	int k;
	uint64_t *acked;    /* per reader: last message acked */
	uint64_t completed; /* every message <= this is acked by all */
	uint64_t sent;      /* last message sent */
	uint64_t *t0;       /* start time of message it, at [it % k] */
	uint64_t warmup;
	struct bench_samples *s;
};

static void __attribute__((unused))
payload_track_init(struct payload_track *t, const struct payload_args *a, struct bench_samples *s)
{
	t->readers = a->b.readers;
	t->k = a->inflight;
	t->acked = calloc((size_t)t->readers, sizeof(*t->acked));
	t->t0 = calloc((size_t)t->k, sizeof(*t->t0));
	if (!t->acked || !t->t0)
		bench_die("out of memory");
	t->completed = t->sent = 0;
	t->warmup = (uint64_t)a->b.warmup;
	t->s = s;
}

/* Messages sent but not acked by every reader. */
static inline int payload_outstanding(const struct payload_track *t)
{
	return (int)(t->sent - t->completed);
}

/* Record message @it as sent, having started at @t0. */
static inline void payload_track_sent(struct payload_track *t, uint64_t it, uint64_t t0)
{
	t->sent = it;
	t->t0[it % (uint64_t)t->k] = t0;
}

/* Reader @r acked message @it: exits on an ack out of order. */
static void __attribute__((unused))
payload_track_ack(struct payload_track *t, int r, uint64_t it)
{
	uint64_t now = bench_now_ns(), lo;

	if (r < 0 || r >= t->readers)
		bench_die("ack from unknown reader %d", r);
	if (it != t->acked[r] + 1 || it > t->sent)
		bench_die("reader %d acked message %llu after %llu (sent %llu)", r,
			  (unsigned long long)it, (unsigned long long)t->acked[r],
			  (unsigned long long)t->sent);
	t->acked[r] = it;
	lo = t->acked[0];
	for (int i = 1; i < t->readers; i++)
		if (t->acked[i] < lo)
			lo = t->acked[i];
	for (; t->completed < lo; t->completed++) {
		uint64_t done = t->completed + 1;

		if (done > t->warmup)
			bench_samples_add(t->s, now - t->t0[done % (uint64_t)t->k]);
	}
}

static void __attribute__((unused)) payload_track_free(struct payload_track *t)
{
	free(t->acked);
	free(t->t0);
}

/* ---- output ------------------------------------------------------------ */

/*
 * Append one line to a->b.out (or stdout):
 * {"bench":"payload","system":SYS,"size":S,"readers":N,"inflight":K,
 *  "arena_bytes":A,"iters":I,"p50_us":..,"p99_us":..,"mean_us":..,"min_us":..,
 *  "gbps_p50":..,"gbps_total":..,"peak_rss_kib":..,"shm_kib":..}
 * gbps_p50 = S / p50 (bytes per ns = GB/s); gbps_total = I * S / @timed_ns,
 * the time from the first timed message's start to the last one's ack.
 * @arena_bytes is 0 for contenders without one. Sorts @s.
 */
static void __attribute__((unused))
payload_report_json(const struct payload_args *a, const char *system, struct bench_samples *s,
		    uint64_t timed_ns, uint64_t arena_bytes, const struct payload_mem *mem)
{
	struct bench_stats st;
	char line[768];
	double p50_ns, total;
	int len, fd;

	bench_samples_stats(s, &st);
	p50_ns = st.p50_us * 1e3;
	total = timed_ns ? (double)st.n * (double)a->b.size / (double)timed_ns : 0;
	len = snprintf(line, sizeof(line),
		       "{\"bench\":\"payload\",\"system\":\"%s\",\"size\":%zu,\"readers\":%d,"
		       "\"inflight\":%d,\"arena_bytes\":%llu,\"iters\":%zu,\"p50_us\":%.3f,"
		       "\"p99_us\":%.3f,\"mean_us\":%.3f,\"min_us\":%.3f,\"gbps_p50\":%.3f,"
		       "\"gbps_total\":%.3f,\"peak_rss_kib\":%ld,\"shm_kib\":%ld}\n",
		       system, a->b.size, a->b.readers, a->inflight,
		       (unsigned long long)arena_bytes, st.n, st.p50_us, st.p99_us, st.mean_us,
		       st.min_us, p50_ns > 0 ? (double)a->b.size / p50_ns : 0, total,
		       mem->hwm_kib, mem->shm_kib);
	if (len < 0 || (size_t)len >= sizeof(line))
		bench_die("JSON line too long");
	if (a->b.out) {
		fd = open(a->b.out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			bench_die("open %s: %s", a->b.out, strerror(errno));
	} else {
		fflush(stdout);
		fd = STDOUT_FILENO;
	}
	if (write(fd, line, (size_t)len) != len)
		bench_die("write %s: %s", a->b.out ? a->b.out : "stdout", strerror(errno));
	if (fd != STDOUT_FILENO && close(fd))
		bench_die("close %s: %s", a->b.out, strerror(errno));
}

#endif /* PAYLOAD_COMMON_H */
