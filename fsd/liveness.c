/* SPDX-License-Identifier: MIT */
/*
 * liveness.c - the members of a group as the daemon sees them, and their
 * processes.
 *
 * Each live rank's process is held by a pidfd in one epoll set; when one
 * exits (watcher.c hears it) its rank is marked dead in the segment
 * (seg_mark_gone drops it from the live mask and wakes every sleeper, so
 * senders stop waiting for it and its readers get -EPIPE). The scan of a
 * group (every FSD_SCAN_MS, watcher.c) adopts live ranks not watched yet
 * (members that joined while no daemon ran, or before a restart), notices
 * ranks that left or were marked dead by their peers, and reports senders
 * stalled longer than the group's timeout_ms.
 *
 * struct fsd_members is this file's: fsd_members_transition is the one
 * place where the daemon's view of a rank changes and where joined, left
 * and died are posted (ctl.c calls it for join and leave).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "proc_int.h"
#include "fsd.h"
#include "wait_int.h"

/* epoll token of a watch: the group id, the rank and the watch generation,
 * so an event that arrives after the watch changed is recognised as stale. */
static uint64_t watch_token(const struct fsd_group *g, unsigned r)
{
	return (uint64_t)g->id << 32 | (uint64_t)r << 24 | (g->members.watch[r].gen & 0xffffffu);
}

pid_t fsd_tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = -ESRCH;
	FILE *f;

	if (tid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		int v;
		if (sscanf(line, "Tgid: %d", &v) == 1) {
			tgid = v;
			break;
		}
	}
	fclose(f);
	return tgid;
}

static int pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : (int)fd;
}

/* The epoll set, shared by every group: set once by fsd_liveness_start. */
static int epoll_fd = -1;

void fsd_unwatch_rank(struct fsd_group *g, unsigned r)
{
	struct fsd_watch *w = &g->members.watch[r];

	if (w->pidfd >= 0)
		close(w->pidfd); /* also leaves the epoll set: the fd is not shared */
	w->pidfd = -1;
	w->pid = 0;
}

/* Whether rank @r's owner pid is a pid of our PID namespace. */
static bool owner_in_our_ns(const struct fsd_group *g, unsigned r)
{
	/* Relaxed: read after the owner word (acquire) by our callers; the
	 * claimer stored it before its CAS. */
	uint64_t ns = atomic_load_explicit(&seg_rank(&g->seg, r)->pidns, memory_order_relaxed);
	return proc_pid_visible(ns);
}

/* The innermost pid of process @pid (the last field of NSpid in its
 * status) and its PID namespace; -errno. */
static int ns_pid_of(pid_t pid, pid_t *inner, uint64_t *ns)
{
	char path[64], line[256];
	struct stat st;
	int rc = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &st) != 0)
		return -errno;
	*ns = st.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (rc && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		char *last = strrchr(line, '\t');
		rc = last && sscanf(last, "%d", inner) == 1 ? 0 : -EINVAL;
	}
	fclose(f);
	return rc;
}

bool fsd_writer_owns(const struct fsd_group *g, unsigned r, pid_t writer, pid_t owner)
{
	uint64_t ns;
	pid_t inner;

	/* Relaxed: as owner_in_our_ns. */
	uint64_t rank_ns = atomic_load_explicit(&seg_rank(&g->seg, r)->pidns, memory_order_relaxed);

	/* 0: a claimer that could not tell its namespace (no /proc). */
	if (writer == owner && (rank_ns == 0 || proc_pid_visible(rank_ns)))
		return true;
	return ns_pid_of(writer, &inner, &ns) == 0 && inner == owner && ns == rank_ns;
}

int fsd_watch_rank(struct fsd *d, struct fsd_group *g, unsigned r, pid_t pid, pid_t host)
{
	struct fsd_watch *w = &g->members.watch[r];
	(void)d;

	if (w->pid == pid && w->pidfd >= 0)
		return 0;
	fsd_unwatch_rank(g, r);
	if (!host && !owner_in_our_ns(g, r))
		return -EXDEV;
	int fd = pidfd_open(host ? host : pid);
	if (fd < 0)
		return fd;
	/* The pid may have been reused before we opened it: the process must
	 * be the one whose start time the rank recorded at its claim. */
	struct seg_owner o;
	seg_owner_read(&g->seg, r, &o);
	uint64_t want = o.starttime;
	uint64_t have = proc_starttime(host ? host : pid);
	if (have == 0 || (want && want != have)) {
		close(fd);
		return -ESRCH;
	}
	/* A rank a previous daemon claimed for a shell: its lock went with
	 * that daemon; hold it for the shell (no-op for a library member). */
	if (!host)
		seg_rank_lock_adopt(&g->seg, r);
	w->pid = pid;
	w->pidfd = fd;
	w->gen++;
	if (epoll_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = watch_token(g, r) };
		if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			int rc = -errno;
			fsd_unwatch_rank(g, r);
			return rc;
		}
	}
	return 0;
}

int fsd_owner(const struct fsd_group *g, unsigned r, pid_t *pid)
{
	struct seg_owner o;

	seg_owner_read(&g->seg, r, &o);
	if (pid)
		*pid = o.pid;
	return o.state;
}

void fsd_members_transition(struct fsd_group *g, unsigned r, int state, pid_t pid)
{
	struct fsd_members *m = &g->members;
	int was = m->seen_state[r];

	if (state == IPCFS_STATE_LIVE && (was != IPCFS_STATE_LIVE || m->seen_pid[r] != pid)) {
		fsd_event_post(g, "joined rank=%u pid=%d", r, (int)pid);
		fsd_log(LOG_INFO, "%s: rank %u joined (pid %d)", g->name, r, (int)pid);
	} else if (was == IPCFS_STATE_LIVE && state == IPCFS_STATE_LEFT) {
		fsd_event_post(g, "left rank=%u pid=%d", r, (int)pid);
		fsd_log(LOG_INFO, "%s: rank %u left (pid %d)", g->name, r, (int)pid);
	} else if (was == IPCFS_STATE_LIVE && state == IPCFS_STATE_DEAD) {
		fsd_event_post(g, "died rank=%u pid=%d", r, (int)pid);
		fsd_log(LOG_NOTICE, "%s: rank %u (pid %d) died", g->name, r, (int)pid);
	}
	m->seen_state[r] = state;
	m->seen_pid[r] = pid;
}

void fsd_members_adopt(struct fsd_group *g)
{
	for (unsigned r = 0; r < seg_layout(&g->seg)->ranks; r++)
		g->members.seen_state[r] = fsd_owner(g, r, &g->members.seen_pid[r]);
	memset(g->members.stall_seen, 0, sizeof(g->members.stall_seen));
}

/* Rank @r of @g is gone: mark it dead in the segment if it is still live
 * with @pid, and tell readers of events. */
static void rank_died(struct fsd_group *g, unsigned r, pid_t pid)
{
	pid_t owner;

	/* Only the process we watched: the rank may already belong to a new
	 * member that claimed it from the dead one (the next scan sees it). */
	seg_mark_gone_pid(&g->seg, r, pid, IPCFS_STATE_DEAD);
	fsd_unwatch_rank(g, r);
	if (fsd_owner(g, r, &owner) == IPCFS_STATE_DEAD && owner == pid)
		fsd_members_transition(g, r, IPCFS_STATE_DEAD, pid);
}

static void scan_stalls(struct fsd_group *g);

/* A departure still unfinished after our scan: its sweep met the arena's
 * lock kept by a live thread (ours gives up after SEG_LOCK_WAIT_SERVICE_NS
 * and tries again at every scan). Said once in error_log until it is done. */
static void report_unswept(struct fsd *d, struct fsd_group *g)
{
	int r = membership_unfinished(&g->seg);

	if (r >= 0 && !g->members.unswept) {
		struct arena_stat a;
		char why[FSD_WHY_MAX], who[16];

		fsd_stats_arena(&g->seg, &a);
		snprintf(who, sizeof(who), "rank %d", r);
		snprintf(why, sizeof(why),
			 "the arena blocks of a departed rank are not freed yet: thread %u keeps the "
			 "arena's lock (a stopped member, or a segment written over); freed once it lets go",
			 a.lock_tid);
		atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
		fsd_errlog_add(&g->errs, "sweep", who, strlen(who), -ETIMEDOUT, why);
	}
	g->members.unswept = r >= 0;
}

void fsd_scan_group(struct fsd *d, struct fsd_group *g)
{
	if (g->removed)
		return;
	for (unsigned r = 0; r < seg_layout(&g->seg)->ranks; r++) {
		pid_t pid;
		int st = fsd_owner(g, r, &pid);

		if (st == IPCFS_STATE_LIVE && (g->members.watch[r].pid != pid ||
					       g->members.watch[r].pidfd < 0)) {
			int rc = fsd_watch_rank(d, g, r, pid, 0);
			/* Joined and died while nobody watched; or, in another
			 * PID namespace, its liveness lock is gone. */
			if (rc == -ESRCH || (rc == -EXDEV && seg_owner_gone(&g->seg, r))) {
				fsd_members_transition(g, r, IPCFS_STATE_LIVE, pid);
				rank_died(g, r, pid);
				continue;
			}
		} else if (st != IPCFS_STATE_LIVE && g->members.watch[r].pid) {
			fsd_unwatch_rank(g, r);
		}
		fsd_members_transition(g, r, st, pid);
	}
	/* A member killed inside its own leave, or a marker killed half way:
	 * nobody else may be left to finish it. */
	membership_finish(&g->seg);
	report_unswept(d, g);
	scan_stalls(g);
}

/* Stalls: a sender waiting for ring space longer than timeout_ms, reported
 * once per stall. */
static void scan_stalls(struct fsd_group *g)
{
	uint64_t now = wait_now_ns(), limit = (uint64_t)seg_layout(&g->seg)->timeout_ms * 1000000u;
	for (unsigned i = 0; i <= seg_layout(&g->seg)->ranks; i++) {
		uint64_t since = seg_stall_since(&g->seg, i);
		if (!since || now <= since || now - since < limit || g->members.stall_seen[i] == since)
			continue;
		g->members.stall_seen[i] = since;
		if (i == seg_layout(&g->seg)->ranks)
			fsd_event_post(g, "stalled rank=ctl ms=%llu",
				       (unsigned long long)((now - since) / 1000000u));
		else
			fsd_event_post(g, "stalled rank=%u ms=%llu", i,
				       (unsigned long long)((now - since) / 1000000u));
	}
}

void fsd_members_exited(struct fsd_group *g, unsigned r, uint32_t gen)
{
	if (!g->removed && r < seg_layout(&g->seg)->ranks && g->members.watch[r].pidfd >= 0 &&
	    (g->members.watch[r].gen & 0xffffffu) == gen)
		rank_died(g, r, g->members.watch[r].pid);
}

void fsd_members_epoll(int fd)
{
	epoll_fd = fd;
}
