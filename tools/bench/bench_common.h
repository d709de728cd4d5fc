/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h - shared helpers of the broadcast round-trip benchmark
 * (tools/bench/bcast_*.c). These are tools, not part of libipcfs.
 *
 * Every contender runs the same workload:
 *
 *   for it in 1 .. warmup + iters:
 *       t0 = bench_now_ns()
 *       bench_fill(buf, size, it)             sender builds S bytes
 *       <send buf to the N readers>
 *       reader: bench_check(data, size, it, "who")   verify every byte
 *       reader: <ack with a tiny message>
 *       <sender waits for the N acks>
 *       if it > warmup: bench_samples_add(&s, bench_now_ns() - t0)
 *
 * then reports one JSON line with bench_report_json().
 *
 * Typical main():
 *
 *   struct bench_args a;
 *   bench_parse_args(argc, argv, "mysys", &a);     // exits on bad usage
 *   ... fork readers with bench_fork_child() ...
 *   struct bench_samples s;
 *   bench_samples_init(&s, a.iters);
 *   ... timed loop ...
 *   bench_reap_children();                       // exits if one failed
 *   bench_report_json(&a, "mysys", &s, rss_sum_kib);
 *
 * Waiting: when processes outnumber CPUs, a pure spin loop starves the
 * process it waits for. struct bench_spin spins with a pause instruction
 * and, when oversubscribed, yields the CPU after a short window.
 *
 * Errors: the helpers that can fail print a message to stderr and exit with
 * status 1 (bench_die); a benchmark has nothing sensible to do instead.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* wait_cpu_relax(), the spin hint libipcfs uses (lib/ is on the include
 * path of every build of the benchmark: CFLAGS has -Ilib). */
#include "wait_int.h"

/* Command line of every contender:
 *   --size S      payload bytes per iteration (default 64; 1 .. 1 GiB)
 *   --readers N   readers (default 1; 1 .. 63)
 *   --iters I     timed iterations (default 10000)
 *   --warmup W    untimed iterations first (default 1000; may be 0)
 *   --out FILE    append the JSON line to FILE (default: stdout)
 *   --pin         pin the sender to the first CPU it may run on and the
 *                 k-th reader forked to the (k mod n)-th (round robin), as
 *                 deployments do with taskset or mpirun --bind-to core
 *   --gap-us G    the sender sleeps G microseconds before each iteration
 *                 (a paced workload: a model step between broadcasts);
 *                 the sleep is not part of the measured round trip
 */
struct bench_args {
	size_t size;
	int readers;
	long iters;
	long warmup;
	const char *out; /* NULL: stdout */
	int pin;         /* --pin */
	long gap_us;     /* --gap-us, 0: lockstep */
};

/* Parse argv into *@a; prints usage and exits(2) on bad input, exits(0)
 * on --help. @system only names the program in messages. */
void bench_parse_args(int argc, char **argv, const char *system, struct bench_args *a);

/* Print "bench: " + the formatted message + newline to stderr, exit(1). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- payload ---------------------------------------------------------- */

/*
 * Fill @size bytes at @buf for iteration @iter: 64-bit word i (native byte
 * order) holds (i * 0x9E3779B97F4A7C15) ^ iter; a tail shorter than 8 bytes
 * holds the first bytes of the next word. @buf needs no alignment.
 */
void bench_fill(void *buf, size_t size, uint64_t iter);

/* Return -1 if the @size bytes at @buf are exactly what bench_fill(@iter)
 * writes, else the offset of the first differing byte. */
long bench_verify(const void *buf, size_t size, uint64_t iter);

/* bench_verify(); on a mismatch print @who, the iteration, the offset and
 * the expected and found bytes to stderr and exit(1). */
void bench_check(const void *buf, size_t size, uint64_t iter, const char *who);

/* ---- time and samples ------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* All per-iteration times of a run, in ns. */
struct bench_samples {
	uint64_t *ns;
	size_t n;   /* recorded */
	size_t cap; /* allocated; bench_samples_add() beyond it is ignored */
};

/* Allocate room for @cap samples (exits on ENOMEM). The array is touched
 * here, so page faults do not land in the timed loop. */
void bench_samples_init(struct bench_samples *s, size_t cap);
static inline void bench_samples_add(struct bench_samples *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->ns[s->n++] = ns;
}
void bench_samples_free(struct bench_samples *s);

/* Summary in microseconds; percentiles are nearest-rank. */
struct bench_stats {
	size_t n;
	double p50_us, p99_us, mean_us, min_us, max_us;
};

/* Compute *@st from @s (sorts s->ns in place). All zero when empty. */
void bench_samples_stats(struct bench_samples *s, struct bench_stats *st);

/* ---- process and machine ---------------------------------------------- */

/* Peak resident set of this process, KiB (VmHWM of /proc/self/status);
 * 0 if it cannot be read. */
long bench_peak_rss_kib(void);

/* CPUs this process could run on before --pin narrowed it (the run's
 * CPUs), at least 1. */
int bench_ncpus(void);

/* --gap-us: sleep the gap (nothing without one). Call before t0. */
void bench_pace(const struct bench_args *a);

/* CPU seconds (user + system) of this process and of its children that
 * were waited for (call after bench_reap_children). */
double bench_cpu_seconds(void);

/* 1 if @nprocs busy processes would outnumber the CPUs, else 0. */
int bench_oversubscribed(int nprocs);

/*
 * fork() a reader. In the child: it dies with SIGKILL if the parent dies
 * (PR_SET_PDEATHSIG), returns 0. In the parent: returns the pid; the first
 * call installs a SIGCHLD watcher (SA_RESTART) that, as soon as a child
 * exits with a non-zero status or by a signal, prints it and exits the
 * parent with status 1 (so a sender never waits for ever for a dead
 * reader's ack; the other children then die by their death signal).
 * Exits on fork failure.
 */
pid_t bench_fork_child(void);

/* Wait for every child forked by bench_fork_child(); exit(1) if one did not
 * exit with status 0. */
void bench_reap_children(void);

/* ---- waiting ---------------------------------------------------------- */

/* Spin-then-yield for busy waits: bench_spin_init() once per wait (or
 * bench_spin_reset()), bench_spin_once() per failed poll. */
struct bench_spin {
	unsigned n;     /* polls of the current wait */
	unsigned limit; /* polls before yielding the CPU */
};

/* @oversub from bench_oversubscribed(): yield after 64 polls if set, after
 * 2^20 polls (about a millisecond; only under foreign load) otherwise. */
static inline void bench_spin_init(struct bench_spin *sp, int oversub)
{
	sp->n = 0;
	sp->limit = oversub ? 64u : (1u << 20);
}

static inline void bench_spin_reset(struct bench_spin *sp)
{
	sp->n = 0;
}

void bench_yield(void);

static inline void bench_spin_once(struct bench_spin *sp)
{
	if (sp->n < sp->limit) {
		sp->n++;
		wait_cpu_relax();
	} else {
		bench_yield();
	}
}

/*
 * Reader @r of the floor contenders (bcast_floor, payload_floor), all of
 * its @total iterations: wait until *@seq is the iteration, verify the
 * @size bytes of @payload, store the iteration in *@ack.
 */
void bench_floor_reader(_Atomic uint64_t *seq, _Atomic uint64_t *ack,
			const unsigned char *payload, size_t size, uint64_t total, int r,
			int oversub);

/* ---- output ----------------------------------------------------------- */

/*
 * Append one line to a->out (or stdout):
 * {"bench":"bcast","system":SYS,"size":S,"readers":N,"iters":I,
 *  "pinned":0|1,"gap_us":G,"p50_us":..,"p99_us":..,"mean_us":..,
 *  "min_us":..,"peak_rss_kib":K,"cpu_ms_per_1k":C}
 * with one write(2) in O_APPEND mode. @peak_rss_kib is the sum of the
 * VmHWM of every process of the run; @cpu_s the CPU seconds of every
 * process of the run (warmup included), reported per 1000 iterations.
 * Computes the stats (sorts @s). Exits on error.
 */
void bench_report_json(const struct bench_args *a, const char *system,
		       struct bench_samples *s, long peak_rss_kib, double cpu_s);

#endif /* BENCH_COMMON_H */
