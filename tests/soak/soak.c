/* SPDX-License-Identifier: MIT */
/*
 * soak - a soak of ipcfs through its mount, bounded by a duration.
 *
 *   soak [-v] [-d SECONDS] [-c CYCLES] [-s SLACK_MS] [-r RSS_SLACK_KB] [-l DAEMON_LOG]
 *        IPCFSD MNT STATEDIR
 *
 * Mounts its own ipcfsd on MNT (state in STATEDIR), then:
 *  1. CYCLES join/leave cycles on one group with nothing else running: the
 *     daemon's descriptors and resident memory after the first tenth and
 *     after the last must be flat (2 descriptors, RSS_SLACK_KB: 2 MiB);
 *  2. epochs until the duration is spent: 2-3 groups created (ctl create
 *     or mkdir and attribute writes) with random geometry and an arena,
 *     one member process per rank streaming messages of every size to
 *     every live rank, sets and single ranks (soak_member.c), while the
 *     conductor SIGKILLs random members, makes others leave early,
 *     respawns both as new incarnations, kills the daemon with SIGKILL and
 *     restarts it, and creates and removes extra groups. At the end of an
 *     epoch senders stop, readers drain, everyone leaves; each group's
 *     arena_used_bytes must come back to 0 and its rmdir must succeed;
 *     then the logs are checked (soak_check.c): exactly once, in order,
 *     to every reader that lived to the end, and no blocking call longer
 *     than its timeout plus SLACK_MS.
 * Prints one summary line (-v: a line per epoch too); exits 1 on any
 * violation, 2 on a setup error.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcfs.h"
#include "soak.h"
#include "soak_fsd.h"

#define SENT_BYTES ((size_t)SOAK_SENT_CAP * sizeof(struct soak_sent))
#define RECV_BYTES ((size_t)SOAK_RECV_CAP * sizeof(struct soak_recv))

static struct soak_shared *sh;
static char *logs;
static size_t logs_bytes;
static struct soak_fsd fsd;
static uint64_t rng;
static int verbose;
static unsigned long rss_slack_kb = 2048;

/* What the summary reports. */
static struct {
	unsigned kills, leaves, restarts, groups, epochs, joins_failed, violations;
	uint64_t cycles, checked, required, bytes, sent, calls, max_over_ns;
	struct soak_usage u0, u1;
} tot;

struct soak_sent *soak_sent_log(unsigned i)
{
	return (struct soak_sent *)(logs + (size_t)i * (SENT_BYTES + RECV_BYTES));
}

struct soak_recv *soak_recv_log(unsigned i)
{
	return (struct soak_recv *)(logs + (size_t)i * (SENT_BYTES + RECV_BYTES) + SENT_BYTES);
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t between(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;

	tot.violations++;
	printf("soak: VIOLATION ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void ensure_daemon(void)
{
	if (fsd.pid > 0)
		return;
	if (soak_fsd_start(&fsd) != 0) {
		printf("soak: cannot start %s on %s (see %s)\n", fsd.exe, fsd.mnt, fsd.log);
		exit(2);
	}
}

/* ---- phase 1: join/leave cycles, daemon descriptors and memory ---------- */

static void cycles(unsigned n)
{
	char dir[4200], ctl[4200];
	unsigned warm = n / 10, i;
	pid_t pid;
	int st;

	if (n == 0)
		return;
	snprintf(dir, sizeof(dir), "%s/groups/cycles", fsd.mnt);
	snprintf(ctl, sizeof(ctl), "%s/ctl", fsd.mnt);
	if (soak_write(ctl, "create cycles ranks=2 arena_bytes=1M") != 0) {
		printf("soak: cannot create the group of the join/leave cycles\n");
		exit(2);
	}
	for (unsigned part = 0; part < 2; part++) {
		unsigned todo = part == 0 ? warm : n - warm;
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			for (i = 0; i < todo; i++) {
				struct ipcfs_member *m;
				int rc = ipcfs_join(dir, -1, &m);
				if (rc < 0) {
					printf("soak: join/leave cycle %u: join: %s\n", i, strerror(-rc));
					_exit(1);
				}
				ipcfs_leave(m);
			}
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			violation("join/leave cycles failed");
			return;
		}
		tot.cycles += todo;
		soak_fsd_usage(&fsd, part == 0 ? &tot.u0 : &tot.u1);
	}
	if (rmdir(dir) != 0)
		violation("rmdir of the cycles group: %s", strerror(errno));
	if (tot.u1.fds > tot.u0.fds + 2 || tot.u1.rss_kb > tot.u0.rss_kb + rss_slack_kb)
		violation("daemon grew over %u join/leave cycles: fds %lu -> %lu, rss %lu -> %lu KiB",
			  n - warm, tot.u0.fds, tot.u1.fds, tot.u0.rss_kb, tot.u1.rss_kb);
}

/* ---- phase 2: epochs ------------------------------------------------------ */

struct grp {
	char name[64], dir[4200], stat[4300];
	unsigned ranks;
	int cur[IPCFS_MAX_RANKS];          /* incarnation on each rank, -1: none */
	uint64_t respawn_at[IPCFS_MAX_RANKS];
};

static struct grp grps[SOAK_MAX_GROUPS];
static unsigned ngrps, ninc;

static void spawn(unsigned g, unsigned r)
{
	struct soak_inc *in;
	unsigned i;
	pid_t pid;

	if (ninc >= SOAK_MAX_INCS)
		return; /* this epoch's incarnations are used up: the rank stays empty */
	i = ninc++;
	in = &sh->inc[i];
	in->group = (int)g;
	in->rank = (int)r;
	atomic_store_explicit(&in->state, INC_STARTING, memory_order_release);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("soak: fork: %s\n", strerror(errno));
		exit(2);
	}
	if (pid == 0)
		soak_member_main(sh, i, grps[g].dir);
	in->pid = pid;
	grps[g].cur[r] = (int)i;
}

static int inc_of_pid(pid_t pid)
{
	for (unsigned i = 0; i < ninc; i++)
		if (sh->inc[i].pid == pid)
			return (int)i;
	return -1;
}

/* Reap the members that ended; schedule a new incarnation of their rank
 * (while @respawn) after @delay_ms at most. */
static void reap_children(int respawn, unsigned delay_ms)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int i = inc_of_pid(pid);
		struct soak_inc *in;
		int s;

		if (i < 0)
			continue;
		in = &sh->inc[i];
		s = atomic_load_explicit(&in->state, memory_order_acquire);
		if (s == INC_JOIN_FAILED) {
			tot.joins_failed++;
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && s == INC_KILLED) {
			/* ours */
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
			   (s != INC_EXITED && s != INC_LEFT)) {
			atomic_store_explicit(&in->state, INC_CRASHED, memory_order_release);
			violation("group %d rank %d inc %d pid %d ended with status %#x in state %d",
				  in->group, in->rank, i, (int)pid, st, s);
		}
		in->pid = -in->pid; /* reaped; its number may come back */
		if (grps[in->group].cur[in->rank] == i) {
			grps[in->group].cur[in->rank] = -1;
			grps[in->group].respawn_at[in->rank] =
				respawn ? soak_now_ns() + between(0, delay_ms) * 1000000u : UINT64_MAX;
		}
	}
}

/* A random running member of any group in @state, -1 if none. */
static int pick_member(int state)
{
	int c[SOAK_MAX_INCS], n = 0;

	for (unsigned i = 0; i < ninc; i++)
		if (sh->inc[i].pid > 0 && atomic_load_explicit(&sh->inc[i].state, memory_order_acquire) == state)
			c[n++] = (int)i;
	return n ? c[rnd() % (uint64_t)n] : -1;
}

static void make_group(unsigned g)
{
	static const unsigned slot_bytes[] = { 256, 1024, 4096, 16384 };
	static const unsigned slots[] = { 4, 16, 64 };
	char ctl[4200], cmd[256], path[4300];
	struct grp *gr = &grps[g];
	unsigned sb = slot_bytes[rnd() % 4], sl = slots[rnd() % 3];
	unsigned arena_mb = (unsigned)between(4, 24);
	int rc;

	gr->ranks = (unsigned)between(2, 5);
	snprintf(gr->name, sizeof(gr->name), "e%u_%u", sh->epoch, g);
	snprintf(gr->dir, sizeof(gr->dir), "%s/groups/e%u_%u", fsd.mnt, sh->epoch, g);
	snprintf(gr->stat, sizeof(gr->stat), "%s/groups/e%u_%u/stat", fsd.mnt, sh->epoch, g);
	if (rnd() & 1) {
		snprintf(ctl, sizeof(ctl), "%s/ctl", fsd.mnt);
		snprintf(cmd, sizeof(cmd), "create %s ranks=%u slots=%u slot_bytes=%u arena_bytes=%uM timeout_ms=500",
			 gr->name, gr->ranks, sl, sb, arena_mb);
		rc = soak_write(ctl, cmd);
	} else {
		rc = mkdir(gr->dir, 0770) ? -errno : 0;
		const char *key[] = { "ranks", "slots", "slot_bytes", "arena_bytes" };
		unsigned val[] = { gr->ranks, sl, sb, arena_mb << 20 };
		for (unsigned k = 0; k < 4 && rc == 0; k++) {
			snprintf(path, sizeof(path), "%s/%s", gr->dir, key[k]);
			snprintf(cmd, sizeof(cmd), "%u\n", val[k]);
			rc = soak_write(path, cmd);
		}
	}
	if (rc) {
		printf("soak: cannot create group %s: %s\n", gr->name, strerror(-rc));
		exit(2);
	}
	tot.groups++;
	for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++) {
		gr->cur[r] = -1;
		gr->respawn_at[r] = r < gr->ranks ? 0 : UINT64_MAX;
	}
}

/* An extra group made and removed while the others run. */
static void churn_group(void)
{
	char dir[4200], path[4300];
	static unsigned n;

	snprintf(dir, sizeof(dir), "%s/groups/x%u", fsd.mnt, n++);
	if (mkdir(dir, 0770) != 0)
		return; /* the daemon may be down this instant */
	tot.groups++;
	snprintf(path, sizeof(path), "%s/ranks", dir);
	soak_write(path, "3\n");
	if (rmdir(dir) != 0)
		violation("rmdir of the unused group %s: %s", dir, strerror(errno));
}

static void kill_daemon(void)
{
	soak_fsd_kill(&fsd);
	tot.restarts++;
	soak_sleep_ms((unsigned)between(0, 300));
	ensure_daemon();
}

/* The running part of an epoch: traffic and chaos until @until. */
static void run(uint64_t until)
{
	uint64_t now = soak_now_ns(), ms = 1000000u;
	uint64_t next_kill = now + between(100, 800) * ms, next_leave = now + between(200, 1500) * ms;
	uint64_t next_dkill = now + between(1500, 6000) * ms, next_churn = now + between(300, 2000) * ms;
	int i;

	while ((now = soak_now_ns()) < until) {
		reap_children(1, 400);
		for (unsigned g = 0; g < ngrps; g++)
			for (unsigned r = 0; r < grps[g].ranks; r++)
				if (grps[g].cur[r] < 0 && grps[g].respawn_at[r] <= now)
					spawn(g, r);
		if (now >= next_kill) {
			next_kill = now + between(100, 800) * ms;
			if ((i = pick_member(INC_JOINED)) >= 0) {
				atomic_store_explicit(&sh->inc[i].state, INC_KILLED, memory_order_release);
				kill(sh->inc[i].pid, SIGKILL);
				tot.kills++;
			}
		}
		if (now >= next_leave) {
			next_leave = now + between(200, 1500) * ms;
			if ((i = pick_member(INC_JOINED)) >= 0) {
				atomic_store_explicit(&sh->inc[i].leave_now, 1, memory_order_release);
				tot.leaves++;
			}
		}
		if (now >= next_dkill) {
			next_dkill = now + between(1500, 6000) * ms;
			kill_daemon();
		}
		if (now >= next_churn) {
			next_churn = now + between(300, 2000) * ms;
			churn_group();
		}
		soak_sleep_ms(5);
	}
}

/* Wait up to @secs for every running member of the epoch to have @flag
 * set (or to have failed its join); a violation otherwise. */
static void await_flag(size_t off, const char *what, unsigned secs)
{
	uint64_t until = soak_now_ns() + (uint64_t)secs * 1000000000u;

	for (;;) {
		int missing = -1;
		reap_children(0, 0);
		for (unsigned i = 0; i < ninc && missing < 0; i++) {
			struct soak_inc *in = &sh->inc[i];
			_Atomic int *flag = (_Atomic int *)((char *)in + off);
			int s = atomic_load_explicit(&in->state, memory_order_acquire);
			if (in->pid > 0 && s != INC_JOIN_FAILED && s != INC_LEFT && s != INC_KILLED &&
			    !atomic_load_explicit(flag, memory_order_acquire))
				missing = (int)i;
		}
		if (missing < 0)
			return;
		if (soak_now_ns() > until) {
			violation("group %d rank %d (inc %d, pid %d) not %s after %u s",
				  sh->inc[missing].group, sh->inc[missing].rank, missing,
				  (int)sh->inc[missing].pid, what, secs);
			return;
		}
		soak_sleep_ms(5);
	}
}

static void set_phase(int ph)
{
	for (unsigned g = 0; g < ngrps; g++)
		atomic_store_explicit(&sh->phase[g], ph, memory_order_release);
}

/* After everyone left: arena back to 0, no live member, rmdir works. */
static void close_group(unsigned g)
{
	struct grp *gr = &grps[g];
	uint64_t until = soak_now_ns() + 10000000000ull;
	long long used = -1, live = -1;

	while (soak_now_ns() < until) {
		used = soak_stat_key(gr->stat, "arena_used_bytes");
		live = soak_stat_key(gr->stat, "live_members");
		if (used == 0 && live == 0)
			break;
		soak_sleep_ms(20);
	}
	if (used != 0 || live != 0)
		violation("group %s idle, every member gone: arena_used_bytes %lld live_members %lld",
			  gr->name, used, live);
	while (rmdir(gr->dir) != 0) {
		if (errno != EBUSY || soak_now_ns() > until) {
			violation("rmdir %s: %s", gr->dir, strerror(errno));
			break;
		}
		soak_sleep_ms(20);
	}
}

static void epoch(uint64_t until)
{
	uint64_t ch = 0, rq = 0;

	sh->epoch++;
	tot.epochs++;
	madvise(logs, logs_bytes, MADV_REMOVE);
	memset(sh->inc, 0, sizeof(sh->inc));
	ninc = 0;
	ngrps = (unsigned)between(2, 3);
	set_phase(PH_RUN);
	ensure_daemon();
	for (unsigned g = 0; g < ngrps; g++)
		make_group(g);
	run(until);
	uint64_t t[5];
	t[0] = soak_now_ns();
	set_phase(PH_STOP_SEND);
	await_flag(offsetof(struct soak_inc, send_done), "done sending", 20);
	t[1] = soak_now_ns();
	set_phase(PH_DRAIN);
	await_flag(offsetof(struct soak_inc, drained), "drained", 30);
	t[2] = soak_now_ns();
	set_phase(PH_LEAVE);
	for (uint64_t t = soak_now_ns() + 20000000000ull; soak_now_ns() < t;) {
		int left = 0;
		reap_children(0, 0);
		for (unsigned i = 0; i < ninc; i++)
			left += sh->inc[i].pid > 0;
		if (!left)
			break;
		soak_sleep_ms(5);
	}
	for (unsigned i = 0; i < ninc; i++)
		if (sh->inc[i].pid > 0) {
			violation("inc %u (pid %d) did not exit", i, (int)sh->inc[i].pid);
			kill(sh->inc[i].pid, SIGKILL);
			waitpid(sh->inc[i].pid, NULL, 0);
		}
	ensure_daemon();
	t[3] = soak_now_ns();
	for (unsigned g = 0; g < ngrps; g++) {
		close_group(g);
		tot.violations += soak_check_group(sh, ninc, (int)g, &ch, &rq);
	}
	t[4] = soak_now_ns();
	if (verbose)
		printf("soak: epoch %u: %u incarnations; stop %.2f s, drain %.2f s, leave %.2f s, close and check %.2f s\n",
		       sh->epoch, ninc, (t[1] - t[0]) / 1e9, (t[2] - t[1]) / 1e9, (t[3] - t[2]) / 1e9,
		       (t[4] - t[3]) / 1e9);
	tot.checked += ch;
	tot.required += rq;
	for (unsigned i = 0; i < ninc; i++) {
		struct soak_inc *in = &sh->inc[i];
		uint64_t over = atomic_load_explicit(&in->max_over_ns, memory_order_relaxed);
		tot.violations += atomic_load_explicit(&in->violations, memory_order_relaxed);
		tot.bytes += atomic_load_explicit(&in->recv_bytes, memory_order_relaxed);
		tot.sent += atomic_load_explicit(&in->sent_ok, memory_order_relaxed);
		tot.calls += atomic_load_explicit(&in->calls, memory_order_relaxed);
		tot.cycles += in->t_join_done != 0;
		if (over > tot.max_over_ns)
			tot.max_over_ns = over;
	}
}

int main(int argc, char **argv)
{
	unsigned duration = 60, ncycles = 10000, slack_ms = 2000;
	const char *log = "/dev/null";
	uint64_t t0, end;
	int opt;

	while ((opt = getopt(argc, argv, "d:c:s:l:r:v")) != -1) {
		switch (opt) {
		case 'r': rss_slack_kb = strtoul(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		case 'd': duration = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': ncycles = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': slack_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': log = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: soak [-v] [-d SECONDS] [-c CYCLES] [-s SLACK_MS] [-r RSS_SLACK_KB] [-l LOG] IPCFSD MNT STATEDIR\n");
		return 2;
	}
	fsd = (struct soak_fsd){ .exe = argv[optind], .mnt = argv[optind + 1],
				 .state = argv[optind + 2], .log = log };
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	logs_bytes = (size_t)SOAK_MAX_INCS * (SENT_BYTES + RECV_BYTES);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	logs = mmap(NULL, logs_bytes, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED || logs == MAP_FAILED) {
		printf("soak: mmap: %s\n", strerror(errno));
		return 2;
	}
	sh->slack_ns = (uint64_t)slack_ms * 1000000u;
	rng = soak_now_ns() ^ (uint64_t)getpid();
	t0 = soak_now_ns();
	end = t0 + (uint64_t)duration * 1000000000u;
	ensure_daemon();
	cycles(ncycles);
	printf("soak: %llu join/leave cycles in %.1f s: daemon fds %lu -> %lu, rss %lu -> %lu KiB\n",
	       (unsigned long long)tot.cycles, (soak_now_ns() - t0) / 1e9, tot.u0.fds, tot.u1.fds,
	       tot.u0.rss_kb, tot.u1.rss_kb);
	while (soak_now_ns() + 3000000000ull < end) {
		uint64_t until = soak_now_ns() + between(3000, 8000) * 1000000u;
		epoch(until < end ? until : end);
	}
	if (soak_fsd_stop(&fsd) != 0)
		violation("the daemon did not exit 0 at unmount");
	printf("soak: %.0f s, %u epochs, %u member kills, %u early leaves, %u daemon restarts, "
	       "%u groups created, %llu join/leave cycles, %llu messages sent, %llu deliveries checked "
	       "(%llu proven exactly once), %.2f GiB, max wait over timeout %.1f ms (%llu calls), "
	       "daemon fd %lu->%lu rss %lu->%lu KiB, %u violations\n",
	       (soak_now_ns() - t0) / 1e9, tot.epochs, tot.kills, tot.leaves, tot.restarts,
	       tot.groups, (unsigned long long)tot.cycles, (unsigned long long)tot.sent,
	       (unsigned long long)tot.checked, (unsigned long long)tot.required,
	       tot.bytes / 1073741824.0, tot.max_over_ns / 1e6, (unsigned long long)tot.calls,
	       tot.u0.fds, tot.u1.fds, tot.u0.rss_kb, tot.u1.rss_kb, tot.violations);
	return tot.violations ? 1 : 0;
}
