/* SPDX-License-Identifier: MIT */
/*
 * remote_common.h - what the contenders of the remote benchmark
 * (remote_rt.c: ipcfs and raw ZeroMQ; remote_mpi.c: Open MPI over TCP)
 * share with each other and with remote_vllm.py, which does the same in
 * Python: iteration counts, the CPU of the simulated machines, the JSON
 * line. Header only (static functions): remote_rt is linked by
 * bridge/bridge.mk, remote_mpi by $(MPICC), and neither links
 * bench_common.o.
 *
 * Workload of every contender, per size: ITERS/10 + 1 untimed round trips,
 * then remote_iters(ITERS, size) timed ones; a round trip is: the sender
 * writes the whole payload (memset with the iteration's tag), sends it,
 * the receiver checks its first and last bytes and acks with 8 bytes (or
 * the system's smallest reduction), the sender waits for the ack.
 *
 * CPU: the run_remote.sh driver puts the two simulated machines' network
 * namespaces into IPCFS_BENCH_NETNS (their inode numbers, space
 * separated); struct remote_cpu sums the CPU time of every thread of
 * every process in them (daemons, bridges, ZeroMQ's I/O threads, mpirun
 * and orted included), from /proc/PID/task/TID/schedstat (nanoseconds),
 * read just before and just after the timed round trips of a size.
 * Without IPCFS_BENCH_NETNS it counts the caller's own namespace.
 */
#ifndef REMOTE_COMMON_H
#define REMOTE_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double remote_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Timed round trips for @size: @iters up to 64 KiB, then fewer in
 * proportion to the size (the same bytes moved), at least 20 (so that a
 * 16 MiB run still has a median and its CPU time is not one tick). */
static long remote_iters(long iters, size_t size)
{
	long n = size > 65536 ? (long)((double)iters * 65536.0 / (double)size) : iters;
	return n < 20 ? 20 : n;
}

/* Paced round trips (one per @period_us, the sender asleep in between, as
 * an engine's steps are): at most a second's worth of them. Inline, as
 * the next: the paced contenders use them, remote_mpi does not. */
static inline long remote_paced_iters(long n, double period_us)
{
	long most = (long)(1e6 / period_us);
	return period_us > 0 && n > most ? (most < 20 ? 20 : most) : n;
}

/* Sleep until @t_us on remote_now_us()'s clock. */
static inline void remote_sleep_until_us(double t_us)
{
	struct timespec ts = {.tv_sec = (time_t)(t_us / 1e6)};
	ts.tv_nsec = (long)((t_us - (double)ts.tv_sec * 1e6) * 1e3);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- CPU of the simulated machines ------------------------------------- */

#define REMOTE_MAX_NETNS 4
#define REMOTE_MAX_TASKS 2048

/* The schedstat files of the counted threads, open, so that a reading
 * (remote_cpu_read) is a few microseconds of pread and the window it
 * closes is the timed loop, not a walk of /proc (a busy-polling peer
 * would be charged for that walk). */
struct remote_cpu {
	int n;
	int fd[REMOTE_MAX_TASKS];
};

/* The namespaces to count, from IPCFS_BENCH_NETNS; returns how many. */
static int remote_netns(unsigned long long *ino)
{
	const char *env = getenv("IPCFS_BENCH_NETNS");
	struct stat st;
	int n = 0;

	while (env && *env && n < REMOTE_MAX_NETNS) {
		char *end;
		unsigned long long v = strtoull(env, &end, 10);
		if (end == env)
			break;
		ino[n++] = v;
		env = end;
	}
	if (n == 0 && stat("/proc/self/ns/net", &st) == 0)
		ino[n++] = (unsigned long long)st.st_ino;
	return n;
}

/* Open the schedstat of every thread of process @pid into @c. */
static void remote_cpu_add(struct remote_cpu *c, const char *pid)
{
	char path[128];
	struct dirent *t;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%.32s/task", pid);
	if (!(d = opendir(path)))
		return;
	while ((t = readdir(d)) && c->n < REMOTE_MAX_TASKS) {
		int fd;
		if (t->d_name[0] < '0' || t->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.32s/task/%.32s/schedstat", pid, t->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
			c->fd[c->n++] = fd;
	}
	closedir(d);
}

/* Find every thread of every process in the counted namespaces (call
 * outside the timed loop: threads started later are not counted). */
static void remote_cpu_open(struct remote_cpu *c)
{
	unsigned long long ino[REMOTE_MAX_NETNS];
	int nns = remote_netns(ino);
	struct dirent *p;
	DIR *d = opendir("/proc");

	c->n = 0;
	if (!d)
		return;
	while ((p = readdir(d))) {
		char path[128];
		struct stat st;
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.32s/ns/net", p->d_name);
		if (stat(path, &st))
			continue;
		for (int i = 0; i < nns; i++)
			if ((unsigned long long)st.st_ino == ino[i]) {
				remote_cpu_add(c, p->d_name);
				break;
			}
	}
	closedir(d);
}

/* CPU seconds so far of the threads of @c (a thread gone counts 0). */
static double remote_cpu_read(const struct remote_cpu *c)
{
	double ns = 0;

	for (int i = 0; i < c->n; i++) {
		char buf[96];
		ssize_t len = pread(c->fd[i], buf, sizeof(buf) - 1, 0);
		if (len > 0) {
			buf[len] = '\0';
			ns += (double)strtoull(buf, NULL, 10);
		}
	}
	return ns / 1e9;
}

static void remote_cpu_close(struct remote_cpu *c)
{
	for (int i = 0; i < c->n; i++)
		close(c->fd[i]);
	c->n = 0;
}

/* ---- results ------------------------------------------------------------ */

static int remote_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * One JSON line on stdout for @n round trips of @size bytes, times in @t
 * (microseconds; sorted here), @cpu_s the CPU seconds of the simulated
 * machines over them:
 * {"bench":"remote","system":S,"target":"local"|"remote","size":..,
 *  "iters":..,"p50_us":..,"p99_us":..,"mean_us":..,"cpu_ms_per_1k":..}
 * Percentiles are nearest-rank.
 */
static void remote_report(const char *system, const char *target, size_t size, double *t,
			  long n, double cpu_s)
{
	double sum = 0;
	long i99 = (long)((double)n * 0.99 + 0.999999) - 1;

	for (long i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), remote_cmp_double);
	if (i99 < 0)
		i99 = 0;
	printf("{\"bench\":\"remote\",\"system\":\"%s\",\"target\":\"%s\",\"size\":%zu,"
	       "\"iters\":%ld,\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
	       "\"cpu_ms_per_1k\":%.2f}\n",
	       system, target, size, n, t[(n - 1) / 2], t[i99], sum / (double)n,
	       cpu_s * 1e3 * 1000.0 / (double)n);
	fflush(stdout);
}

#endif /* REMOTE_COMMON_H */
