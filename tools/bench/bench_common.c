/* SPDX-License-Identifier: MIT */
/*
 * bench_common.c - helpers shared by the broadcast benchmark contenders.
 * See bench_common.h for the interface.
 */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_GOLDEN 0x9E3779B97F4A7C15ull

/* An unaligned, aliasing 64-bit word: payloads may sit anywhere (a ZeroMQ
 * message, a socket buffer); x86 and arm64 load these at full speed. */
typedef uint64_t bench_u64u __attribute__((aligned(1), may_alias));

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- pinning ---------------------------------------------------------- */

/* The CPUs of the run, read before --pin narrowed this process; the next
 * reader forked gets pin_cpu[pin_next++ % pin_n]. Only the parent
 * (sender) forks, so no locking. */
static int pin_cpu[CPU_SETSIZE], pin_n, pin_next, pinning;

static void pin_to(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		bench_die("sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
}

static void pin_setup(int pin)
{
	cpu_set_t set;

	pin_n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				pin_cpu[pin_n++] = c;
	if (pin_n == 0)
		pin_cpu[pin_n++] = 0;
	/* Under a launcher that binds (mpirun --bind-to core), the ranks
	 * are pinned already and must not all move to one CPU. */
	pinning = pin && !getenv("BENCH_PINNED_BY_LAUNCHER");
	if (pinning) {
		pin_to(pin_cpu[0]);
		pin_next = 1;
	}
}

/* ---- arguments -------------------------------------------------------- */

static void usage(FILE *f, const char *system)
{
	fprintf(f,
		"usage: bcast_%s [--size S] [--readers N] [--iters I] [--warmup W] [--out FILE]\n"
		"       [--pin] [--gap-us G]\n"
		"  --size S     payload bytes per iteration (default 64)\n"
		"  --readers N  readers, 1..63 (default 1)\n"
		"  --iters I    timed iterations (default 10000)\n"
		"  --warmup W   untimed iterations first (default 1000)\n"
		"  --out FILE   append the JSON result line to FILE (default stdout)\n"
		"  --pin        pin the sender and each reader to a CPU, round robin\n"
		"  --gap-us G   sleep G us before each iteration (paced; default 0)\n",
		system);
}

static long long parse_num(const char *opt, const char *s, long long lo, long long hi,
			   const char *system)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bcast_%s: %s wants an integer in %lld..%lld, not '%s'\n",
			system, opt, lo, hi, s);
		usage(stderr, system);
		exit(2);
	}
	return v;
}

void bench_parse_args(int argc, char **argv, const char *system, struct bench_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "readers", required_argument, NULL, 'n' },
		{ "iters", required_argument, NULL, 'i' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' },
		{ "pin", no_argument, NULL, 'p' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->size = 64;
	a->readers = 1;
	a->iters = 10000;
	a->warmup = 1000;
	a->out = NULL;
	a->pin = 0;
	a->gap_us = 0;
	while ((c = getopt_long(argc, argv, "s:n:i:w:o:pg:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->size = (size_t)parse_num("--size", optarg, 1, 1ll << 30, system);
			break;
		case 'n':
			a->readers = (int)parse_num("--readers", optarg, 1, 63, system);
			break;
		case 'i':
			a->iters = (long)parse_num("--iters", optarg, 1, 1ll << 30, system);
			break;
		case 'w':
			a->warmup = (long)parse_num("--warmup", optarg, 0, 1ll << 30, system);
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'p':
			a->pin = 1;
			break;
		case 'g':
			a->gap_us = (long)parse_num("--gap-us", optarg, 0, 10000000, system);
			break;
		case 'h':
			usage(stdout, system);
			exit(0);
		default:
			usage(stderr, system);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bcast_%s: unexpected argument '%s'\n", system, argv[optind]);
		usage(stderr, system);
		exit(2);
	}
	pin_setup(a->pin);
}

/* ---- payload ---------------------------------------------------------- */

/* j * BENCH_GOLDEN for the 8 words of a 64-byte block: the value of word
 * i + j is then (i * BENCH_GOLDEN + jk[j]) ^ iter, additions and xors only,
 * which SSE2/AVX2 do on 64-bit lanes (they have no 64-bit multiply). */
static const uint64_t jk[8] = {
	0 * BENCH_GOLDEN, 1 * BENCH_GOLDEN, 2 * BENCH_GOLDEN, 3 * BENCH_GOLDEN,
	4 * BENCH_GOLDEN, 5 * BENCH_GOLDEN, 6 * BENCH_GOLDEN, 7 * BENCH_GOLDEN,
};

static inline uint64_t word_at(size_t i, uint64_t iter)
{
	return ((uint64_t)i * BENCH_GOLDEN) ^ iter;
}

void bench_fill(void *buf, size_t size, uint64_t iter)
{
	unsigned char *p = buf;
	size_t nw = size / 8, i = 0;
	uint64_t base = 0; /* i * BENCH_GOLDEN */

	/* Blocks of 8 words: the inner loop has a constant trip count, so GCC
	 * at -O2 (very-cheap vectorizer cost model) turns it into vector
	 * stores. */
	for (; i + 8 <= nw; i += 8, base += 8 * BENCH_GOLDEN) {
		bench_u64u *w = (bench_u64u *)(p + i * 8);

		for (int j = 0; j < 8; j++)
			w[j] = (base + jk[j]) ^ iter;
	}
	for (; i < nw; i++)
		*(bench_u64u *)(p + i * 8) = word_at(i, iter);
	if (size % 8) {
		uint64_t last = word_at(nw, iter);

		memcpy(p + nw * 8, &last, size % 8);
	}
}

long bench_verify(const void *buf, size_t size, uint64_t iter)
{
	const unsigned char *p = buf;
	size_t nw = size / 8, i = 0;
	uint64_t base = 0;

	/* Same blocking as bench_fill: or-accumulate the differences of a
	 * block (vectorized), test once per 64 bytes. */
	for (; i + 8 <= nw; i += 8, base += 8 * BENCH_GOLDEN) {
		const bench_u64u *w = (const bench_u64u *)(p + i * 8);
		uint64_t diff = 0;

		for (int j = 0; j < 8; j++)
			diff |= w[j] ^ ((base + jk[j]) ^ iter);
		if (diff)
			break;
	}
	/* Exact scan from the first block that differed (or the tail). */
	for (; i < nw; i++) {
		if (*(const bench_u64u *)(p + i * 8) != word_at(i, iter))
			goto bytes;
	}
	if (size % 8) {
		uint64_t last = word_at(nw, iter);

		if (memcmp(p + nw * 8, &last, size % 8))
			goto bytes;
	}
	return -1;
bytes:
	for (size_t b = i * 8; b < size; b++) {
		uint64_t w = word_at(b / 8, iter);
		unsigned char e;

		memcpy(&e, (const unsigned char *)&w + b % 8, 1);
		if (p[b] != e)
			return (long)b;
	}
	return -1; /* not reached: a word differed */
}

void bench_check(const void *buf, size_t size, uint64_t iter, const char *who)
{
	long off = bench_verify(buf, size, iter);

	if (off >= 0) {
		uint64_t w = word_at((size_t)off / 8, iter);
		unsigned char e;

		memcpy(&e, (const unsigned char *)&w + off % 8, 1);
		bench_die("%s: PAYLOAD MISMATCH at iteration %llu, byte %ld of %zu: "
			  "expected 0x%02x, found 0x%02x",
			  who, (unsigned long long)iter, off, size, e,
			  ((const unsigned char *)buf)[off]);
	}
}

/* ---- time and samples ------------------------------------------------- */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_samples_init(struct bench_samples *s, size_t cap)
{
	s->n = 0;
	s->cap = cap;
	s->ns = calloc(cap ? cap : 1, sizeof(*s->ns));
	if (!s->ns)
		bench_die("out of memory for %zu samples", cap);
	/* calloc may hand out untouched zero pages: fault them in now. */
	memset(s->ns, 0xff, cap * sizeof(*s->ns));
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->ns);
	s->ns = NULL;
	s->n = s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p of them at or below. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void bench_samples_stats(struct bench_samples *s, struct bench_stats *st)
{
	long double sum = 0;

	memset(st, 0, sizeof(*st));
	if (!s->n)
		return;
	qsort(s->ns, s->n, sizeof(*s->ns), cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		sum += s->ns[i];
	st->n = s->n;
	st->p50_us = percentile(s->ns, s->n, 0.50) / 1e3;
	st->p99_us = percentile(s->ns, s->n, 0.99) / 1e3;
	st->mean_us = (double)(sum / s->n) / 1e3;
	st->min_us = s->ns[0] / 1e3;
	st->max_us = s->ns[s->n - 1] / 1e3;
}

/* ---- process and machine ---------------------------------------------- */

long bench_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

int bench_ncpus(void)
{
	cpu_set_t set;
	int n;

	if (pin_n > 0)
		return pin_n; /* read before --pin narrowed us */
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

void bench_pace(const struct bench_args *a)
{
	if (a->gap_us <= 0)
		return;
	struct timespec ts = { .tv_sec = a->gap_us / 1000000,
			       .tv_nsec = (a->gap_us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

double bench_cpu_seconds(void)
{
	struct rusage self, kids;

	if (getrusage(RUSAGE_SELF, &self) || getrusage(RUSAGE_CHILDREN, &kids))
		return 0;
	return tv_s(self.ru_utime) + tv_s(self.ru_stime) + tv_s(kids.ru_utime) +
	       tv_s(kids.ru_stime);
}

int bench_oversubscribed(int nprocs)
{
	return nprocs > bench_ncpus();
}

void bench_yield(void)
{
	sched_yield();
}

/* Async-signal-safe "bench: reader pid P exited with status S" or
 * "... killed by signal S". */
static void report_child(pid_t pid, int status)
{
	char msg[128], num[24];
	size_t len = 0;
	const char *parts[5];
	int np = 0;
	long v;

	parts[np++] = "bench: reader pid ";
	parts[np++] = NULL; /* pid */
	if (WIFEXITED(status)) {
		parts[np++] = " exited with status ";
		v = WEXITSTATUS(status);
	} else {
		parts[np++] = " killed by signal ";
		v = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
	}
	parts[np++] = NULL; /* v */
	parts[np++] = "; giving up\n";
	for (int k = 0; k < np; k++) {
		const char *s = parts[k];

		if (!s) {
			long x = k == 1 ? (long)pid : v;
			int d = (int)sizeof(num);
			int neg = x < 0;
			unsigned long u = neg ? 0ul - (unsigned long)x : (unsigned long)x;

			num[--d] = '\0';
			do {
				num[--d] = (char)('0' + u % 10);
				u /= 10;
			} while (u && d > 1);
			if (neg)
				num[--d] = '-';
			s = num + d;
		}
		while (*s && len < sizeof(msg))
			msg[len++] = *s++;
	}
	if (write(STDERR_FILENO, msg, len) < 0) {
		/* nothing more to do */
	}
}

static void on_sigchld(int sig)
{
	int saved = errno, status;
	pid_t pid;

	(void)sig;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue; /* a reader that finished its run */
		report_child(pid, status);
		_exit(1); /* the other readers die by PR_SET_PDEATHSIG */
	}
	errno = saved;
}

pid_t bench_fork_child(void)
{
	static int watching;
	pid_t parent = getpid(), pid;

	if (!watching) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigchld;
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGCHLD, &sa, NULL))
			bench_die("sigaction(SIGCHLD): %s", strerror(errno));
		watching = 1;
	}
	fflush(NULL); /* no buffered output written twice */
	int cpu = pin_cpu[pin_next % (pin_n ? pin_n : 1)];
	if (pinning)
		pin_next++;
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (pinning)
			pin_to(cpu);
		struct sigaction sa;

		/* The child does not watch grandchildren. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(1); /* the parent is already gone */
	}
	return pid;
}

void bench_reap_children(void)
{
	sigset_t set;
	int status, bad = 0;
	pid_t pid;

	/* From here on the watcher must not reap behind our back. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: all reaped (some by the watcher) */
		}
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			report_child(pid, status);
			bad = 1;
		}
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (bad)
		exit(1);
}

/* ---- output ----------------------------------------------------------- */

/* JSON string body: the system names are plain words, but escape anyway. */
static size_t json_str(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
		} else {
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
	return n;
}

void bench_report_json(const struct bench_args *a, const char *system,
		       struct bench_samples *s, long peak_rss_kib, double cpu_s)
{
	struct bench_stats st;
	char name[128], line[512];
	int len, fd;

	bench_samples_stats(s, &st);
	json_str(name, sizeof(name), system);
	len = snprintf(line, sizeof(line),
		       "{\"bench\":\"bcast\",\"system\":\"%s\",\"size\":%zu,\"readers\":%d,"
		       "\"iters\":%zu,\"pinned\":%d,\"gap_us\":%ld,\"p50_us\":%.3f,"
		       "\"p99_us\":%.3f,\"mean_us\":%.3f,\"min_us\":%.3f,\"peak_rss_kib\":%ld,"
		       "\"cpu_ms_per_1k\":%.3f}\n",
		       name, a->size, a->readers, st.n, a->pin, a->gap_us, st.p50_us, st.p99_us,
		       st.mean_us, st.min_us, peak_rss_kib,
		       cpu_s * 1e3 * 1000.0 / (double)(a->warmup + a->iters));
	if (len < 0 || (size_t)len >= sizeof(line))
		bench_die("JSON line too long");
	if (a->out) {
		fd = open(a->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			bench_die("open %s: %s", a->out, strerror(errno));
	} else {
		fflush(stdout);
		fd = STDOUT_FILENO;
	}
	if (write(fd, line, (size_t)len) != len)
		bench_die("write %s: %s", a->out ? a->out : "stdout", strerror(errno));
	if (fd != STDOUT_FILENO && close(fd))
		bench_die("close %s: %s", a->out, strerror(errno));
}

void bench_floor_reader(_Atomic uint64_t *seq, _Atomic uint64_t *ack,
			const unsigned char *payload, size_t size, uint64_t total, int r,
			int oversub)
{
	struct bench_spin sp;
	char who[32];

	snprintf(who, sizeof(who), "floor reader %d", r);
	bench_spin_init(&sp, oversub);
	for (uint64_t it = 1; it <= total; it++) {
		bench_spin_reset(&sp);
		/* acquire: pairs with the sender's release store of seq, so the
		 * payload it filled before that store is visible to our loads. */
		while (atomic_load_explicit(seq, memory_order_acquire) != it)
			bench_spin_once(&sp);
		bench_check(payload, size, it, who);
		/* release: our payload loads complete before the sender can see
		 * the ack and overwrite the payload for the next iteration. */
		atomic_store_explicit(ack, it, memory_order_release);
	}
}
