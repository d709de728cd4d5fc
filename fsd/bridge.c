/* SPDX-License-Identifier: MIT */
/*
 * bridge.c - the ipcfs-bridge process of each group spanning machines
 * (struct fsd_bridge): started when the group's nodes and node are set,
 * restarted after it exits (backoff 0.5 s doubling to 30 s, back to 0.5 s
 * after a run of a minute), stopped with SIGTERM when they are cleared or
 * the daemon exits. Its counters per remote node, which it writes to a
 * pipe of ours (its fd 3), show in the group's bridge file and in stat.
 * With keys, it is started only while the key files pass their checks
 * (include/ipcfs/keys.h): never unauthenticated in their place.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsd.h"
#include "ipcfs/keys.h"
#include "text.h"
#include "wait_int.h"

#define BACKOFF_MIN_MS 500u
#define BACKOFF_MAX_MS 30000u
#define STABLE_NS (60 * 1000000000ull)

extern char **environ;

/* Where ipcfs-bridge is: $IPCFS_BRIDGE, else beside ipcfsd. */
static int bridge_path(char *out, size_t size)
{
	const char *env = getenv("IPCFS_BRIDGE");
	char self[PATH_MAX];

	if (env && *env)
		return snprintf(out, size, "%s", env) < (int)size ? 0 : -ENAMETOOLONG;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	return snprintf(out, size, "%s/ipcfs-bridge", self) < (int)size ? 0 : -ENAMETOOLONG;
}

static bool wanted(const struct fsd_group *g)
{
	return !g->removed && !g->bridge.held && g->cluster.n && g->cluster.self[0];
}

/* With keys: whether its key files pass (caller holds g->lock; small
 * local files). A failure goes to the group's error_log once per reason,
 * and the bridge is not started: it would refuse them as well. */
static int keys_usable(struct fsd_group *g)
{
	struct fsd_bridge *b = &g->bridge;
	char why[FSD_WHY_MAX] = "";
	struct fsd_keys k;

	if (!g->cluster.keys[0])
		return 0;
	int rc = fsd_keys_load(g->cluster.keys, g->uid, &g->cluster,
			       fsd_cluster_find(&g->cluster, g->cluster.self), &k, why, sizeof(why));
	explicit_bzero(&k, sizeof(k));
	if (rc && strcmp(why, b->keys_error))
		fsd_errlog_add(&g->errs, "keys", g->cluster.keys, strlen(g->cluster.keys), rc, why);
	snprintf(b->keys_error, sizeof(b->keys_error), "%s", rc ? why : "");
	return rc;
}

#define REPORT_FD 3
#define REPORT_FD_ARG "3"

/* The bridge's counter pipe: @pfd[0] ours, non-blocking (we only take
 * what is there); @pfd[1] its end, non-blocking too (it drops a line
 * rather than wait for us), above REPORT_FD so that the dup2 in start()
 * is a real one. */
static int report_pipe(int pfd[2])
{
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	if (pfd[1] <= REPORT_FD) {
		int fd = fcntl(pfd[1], F_DUPFD_CLOEXEC, REPORT_FD + 1);
		int err = errno;
		close(pfd[1]);
		pfd[1] = fd;
		if (fd < 0) {
			close(pfd[0]);
			return -err;
		}
	}
	return 0;
}

static void report_close(struct fsd_bridge *b)
{
	if (b->report_fd >= 0)
		close(b->report_fd);
	b->report_fd = -1;
	b->carry_len = 0;
}

/* Start it (caller holds g->lock): its stdout and stderr are ours (the
 * daemon's log when in the foreground), its fd 3 the write end of its
 * counter pipe, nothing else of ours is open. */
static void start(struct fsd *d, struct fsd_group *g, uint64_t now)
{
	struct fsd_bridge *b = &g->bridge;
	char path[PATH_MAX], dir[PATH_MAX + FSD_NAME_MAX + 16];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc = keys_usable(g);

	if (rc) {
		b->last_status = -rc << 8;
		b->next_ns = now + (uint64_t)b->backoff_ms * 1000000u;
		b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
				: b->backoff_ms ? b->backoff_ms * 2 : BACKOFF_MIN_MS;
		return;
	}
	rc = bridge_path(path, sizeof(path));

	char parent[16];
	snprintf(dir, sizeof(dir), "%s/groups/%s", d->mountpoint, g->name);
	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	char *argv[] = { path, "-p", parent, "-r", REPORT_FD_ARG, dir, NULL };
	int pfd[2] = { -1, -1 };
	if (!rc)
		rc = report_pipe(pfd);
	if (!rc) {
		/* Its end becomes fd 3 (a dup2 clears close-on-exec); nothing
		 * else of ours goes with it. */
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, pfd[1], REPORT_FD);
		posix_spawn_file_actions_addclosefrom_np(&fa, REPORT_FD + 1);
		rc = -posix_spawn(&pid, path, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[1]);
		if (rc)
			close(pfd[0]);
	}
	b->starts++;
	if (rc) {
		fsd_log(LOG_ERR, "%s: cannot start %s: %s", g->name, path, strerror(-rc));
		b->last_status = -rc << 8;
		b->next_ns = now + (uint64_t)b->backoff_ms * 1000000u;
		b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
		return;
	}
	b->pid = pid;
	b->report_fd = pfd[0];
	b->carry_len = 0;
	b->started_ns = now;
	memset(b->node, 0, sizeof(b->node));
	b->auth = false;
	b->auth_refused = 0;
	fsd_log(LOG_INFO, "%s: bridge started (pid %d) as node %s", g->name, (int)pid,
		g->cluster.self);
	fsd_event_post(g, "bridge started pid=%d", (int)pid);
}

/* It exited with @status: when to start it again. */
static void exited(struct fsd_group *g, int status, uint64_t now)
{
	struct fsd_bridge *b = &g->bridge;

	if (!b->backoff_ms || now - b->started_ns > STABLE_NS)
		b->backoff_ms = BACKOFF_MIN_MS;
	b->next_ns = now + (uint64_t)b->backoff_ms * 1000000u;
	b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
	b->last_status = status;
	if (b->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		fsd_log(LOG_INFO, "%s: bridge (pid %d) stopped", g->name, (int)b->pid);
	else if (WIFSIGNALED(status))
		fsd_log(LOG_WARNING, "%s: bridge (pid %d) killed by signal %d", g->name, (int)b->pid,
			WTERMSIG(status));
	else
		fsd_log(LOG_WARNING, "%s: bridge (pid %d) exited with %d", g->name, (int)b->pid,
			WEXITSTATUS(status));
	fsd_event_post(g, "bridge exited pid=%d status=%d", (int)b->pid, status);
	fsd_bridge_collect(g);
	report_close(b);
	b->pid = 0;
	b->stopping = false;
}

void fsd_bridge_scan(struct fsd *d, struct fsd_group *g)
{
	struct fsd_bridge *b = &g->bridge;
	uint64_t now = wait_now_ns();
	int status;

	fsd_bridge_collect(g);
	if (b->pid && waitpid(b->pid, &status, WNOHANG) == b->pid)
		exited(g, status, now);
	if (b->pid && !wanted(g) && !b->stopping) {
		kill(b->pid, SIGTERM);
		b->stopping = true;
	}
	if (!b->pid && wanted(g) && now >= b->next_ns)
		start(d, g, now);
	if (!wanted(g) && !b->pid)
		b->next_ns = 0, b->backoff_ms = 0;
}

void fsd_bridge_restart(struct fsd_group *g)
{
	struct fsd_bridge *b = &g->bridge;

	if (b->pid && !b->stopping) {
		kill(b->pid, SIGTERM);
		b->stopping = true;
	}
	/* New keys are tried at once, not after the backoff of the old. */
	b->next_ns = 0;
	b->backoff_ms = 0;
}

/* Whether the only live members of @g are ranks of other nodes (the
 * bridge's proxies; caller holds g->lock). */
static bool only_proxies_live(const struct fsd_group *g)
{
	int self = fsd_cluster_find(&g->cluster, g->cluster.self);

	return self >= 0 && !(seg_live_mask(&g->seg) & g->cluster.node[self].ranks);
}

void fsd_bridge_hold(struct fsd *d, struct fsd_group *g, uid_t uid)
{
	pid_t pid;

	pthread_mutex_lock(&g->lock);
	if ((uid == 0 || uid == g->uid) && g->bridge.pid && only_proxies_live(g)) {
		g->bridge.held = true;
		fsd_bridge_scan(d, g); /* not wanted now: SIGTERM */
	}
	pthread_mutex_unlock(&g->lock);
	/* Up to 3 s for its proxies to leave (through our ctl: no lock of
	 * ours held meanwhile), then SIGKILL: they are reaped as dead. */
	for (int t = 0; t <= 300; t++) {
		pthread_mutex_lock(&g->lock);
		if (g->bridge.held && g->bridge.pid && t == 300)
			kill(g->bridge.pid, SIGKILL);
		if (g->bridge.held)
			fsd_bridge_scan(d, g);
		pid = g->bridge.held ? g->bridge.pid : 0;
		pthread_mutex_unlock(&g->lock);
		if (!pid)
			return;
		usleep(10 * 1000);
	}
	/* Killed: the next scans reap it. */
}

void fsd_bridge_init(struct fsd_group *g)
{
	g->bridge.report_fd = -1;
}

void fsd_bridge_free(struct fsd_group *g)
{
	report_close(&g->bridge);
}

void fsd_bridge_release(struct fsd_group *g)
{
	g->bridge.held = false;
}

void fsd_bridge_stop(struct fsd_group *g)
{
	pthread_mutex_lock(&g->lock);
	pid_t pid = g->bridge.pid;
	if (pid)
		kill(pid, SIGTERM);
	/* Up to 3 s for it to leave its ranks, then SIGKILL. */
	for (int t = 0; pid && t < 300; t++) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (status)
				fsd_log(LOG_WARNING, "%s: bridge (pid %d) stopped with status %d",
					g->name, (int)pid, status);
			pid = 0;
			break;
		}
		usleep(10 * 1000);
	}
	if (pid) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	g->bridge.pid = 0;
	report_close(&g->bridge);
	pthread_mutex_unlock(&g->lock);
}

/* ---- what the bridge reports, and what the files show ------------------------ */

static const char *const stat_keys[] = { "up", "tx_msgs", "tx_bytes", "rx_msgs", "rx_bytes",
					 "acked", "rtt_us" };
#define NKEYS (sizeof(stat_keys) / sizeof(stat_keys[0]))

/* "auth curve=0|1 refused=N": whether it authenticates, and the
 * connections it refused (bad key, no CURVE), each new refusal a line in
 * the group's error_log (caller holds g->lock). */
static int report_auth(struct fsd_group *g, const char *s, size_t len, char *why, size_t whylen)
{
	struct fsd_bridge *b = &g->bridge;
	uint64_t curve, refused;
	char line[64];

	if (len >= sizeof(line))
		return snprintf(why, whylen, "bridge: auth line too long"), -EINVAL;
	memcpy(line, s, len);
	line[len] = '\0';
	int n = -1;
	if (sscanf(line, "auth curve=%1" SCNu64 " refused=%18" SCNu64 "%n", &curve, &refused, &n) != 2 ||
	    (size_t)n != len || curve > 1)
		return snprintf(why, whylen, "bridge: not auth curve=0|1 refused=N"), -EINVAL;
	if (refused > b->auth_refused) {
		char msg[FSD_WHY_MAX];
		snprintf(msg, sizeof(msg), "%llu connection(s) refused: not a node's key, or no CURVE "
			 "(ipcfs-bridge's log says from where)", (unsigned long long)(refused - b->auth_refused));
		fsd_errlog_add(&g->errs, "bridge", "", 0, -EACCES, msg);
	}
	b->auth = curve;
	b->auth_refused = refused;
	return 0;
}

/* "NODE key=N ..." per line: a remote node's counters. */
static int report_line(struct fsd_group *g, const char *s, size_t len, char *why, size_t whylen)
{
	const char *end = s + len, *sp = memchr(s, ' ', len);
	char name[FSD_NODE_NAME_MAX + 1];
	uint64_t v[NKEYS] = { 0 };

	if (len > 5 && !memcmp(s, "auth ", 5))
		return report_auth(g, s, len, why, whylen);

	if (!sp || (size_t)(sp - s) > FSD_NODE_NAME_MAX)
		return snprintf(why, whylen, "bridge: not NODE key=N ..."), -EINVAL;
	memcpy(name, s, (size_t)(sp - s));
	name[sp - s] = '\0';
	int n = fsd_cluster_find(&g->cluster, name);
	if (n < 0)
		return snprintf(why, whylen, "bridge: no node %s", name), -EINVAL;
	for (const char *w = sp + 1; w < end;) {
		const char *we = memchr(w, ' ', (size_t)(end - w)), *eq;
		if (!we)
			we = end;
		eq = memchr(w, '=', (size_t)(we - w));
		for (size_t k = 0; eq && k < NKEYS; k++)
			if (strlen(stat_keys[k]) == (size_t)(eq - w) && !memcmp(w, stat_keys[k], (size_t)(eq - w)) &&
			    fsd_parse_u64(eq + 1, (size_t)(we - eq - 1), &v[k]))
				return snprintf(why, whylen, "bridge: %s is not a number", stat_keys[k]), -EINVAL;
		w = we + 1;
	}
	struct fsd_node_stat *st = &g->bridge.node[n];
	st->up = v[0] != 0;
	st->tx_msgs = v[1];
	st->tx_bytes = v[2];
	st->rx_msgs = v[3];
	st->rx_bytes = v[4];
	st->acked = v[5];
	st->rtt_us = v[6];
	st->reported = true;
	return 0;
}

/* One line: what it says is kept; a malformed one is logged (the
 * bridge's bug, not the reader's) and the rest go on. */
static void report_take(struct fsd_group *g, const char *s, size_t len)
{
	char why[FSD_WHY_MAX];

	if (len && report_line(g, s, len, why, sizeof(why)))
		fsd_log(LOG_WARNING, "%s: bridge (pid %d): %s", g->name, (int)g->bridge.pid, why);
}

void fsd_bridge_collect(struct fsd_group *g)
{
	struct fsd_bridge *b = &g->bridge;
	char buf[4096 + FSD_BRIDGE_LINE_MAX];

	while (b->report_fd >= 0) {
		memcpy(buf, b->carry, b->carry_len);
		ssize_t n = read(b->report_fd, buf + b->carry_len, sizeof(buf) - b->carry_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* EOF: it exited (exited() closes); EAGAIN: all taken. */
			if (n < 0 && errno != EAGAIN)
				report_close(b);
			return;
		}
		size_t len = b->carry_len + (size_t)n, pos = 0;
		for (const char *nl; (nl = memchr(buf + pos, '\n', len - pos)); pos = (size_t)(nl - buf) + 1)
			report_take(g, buf + pos, (size_t)(nl - buf) - pos);
		/* A line the read cut: kept for the next; longer than a line
		 * can be, dropped (we read again from a line's start after it). */
		b->carry_len = len - pos <= sizeof(b->carry) ? len - pos : 0;
		memcpy(b->carry, buf + pos, b->carry_len);
	}
}

void fsd_bridge_render(const struct fsd_group *g, struct text *t)
{
	const struct fsd_bridge *b = &g->bridge;
	const char *state = b->pid ? (b->stopping ? "stopping" : "running")
			  : wanted(g) ? "restarting" : "off";

	text_add(t, "state %s\npid %d\nstarts %u\n", state, (int)b->pid, b->starts);
	if (b->starts && !b->pid)
		text_add(t, "last_exit %d\n", b->last_status);
	if (g->cluster.keys[0] && b->keys_error[0])
		text_add(t, "keys_error %s\n", b->keys_error);
	if (b->pid && b->auth)
		text_add(t, "auth curve refused=%llu\n", (unsigned long long)b->auth_refused);
	for (unsigned n = 0; n < g->cluster.n; n++) {
		const struct fsd_node_stat *s = &b->node[n];
		if (!s->reported)
			continue;
		text_add(t, "node %s up=%d tx_msgs=%llu tx_bytes=%llu rx_msgs=%llu rx_bytes=%llu "
			 "acked=%llu rtt_us=%llu\n", g->cluster.node[n].name, s->up,
			 (unsigned long long)s->tx_msgs, (unsigned long long)s->tx_bytes,
			 (unsigned long long)s->rx_msgs, (unsigned long long)s->rx_bytes,
			 (unsigned long long)s->acked, (unsigned long long)s->rtt_us);
	}
}

void fsd_bridge_stat(const struct fsd_group *g, struct text *t)
{
	for (unsigned n = 0; n < g->cluster.n; n++) {
		const struct fsd_node_stat *s = &g->bridge.node[n];
		const char *nm = g->cluster.node[n].name;
		if (!s->reported)
			continue;
		text_add(t, "node.%s.up %d\nnode.%s.tx_msgs %llu\nnode.%s.tx_bytes %llu\n"
			 "node.%s.rx_msgs %llu\nnode.%s.rx_bytes %llu\nnode.%s.rtt_us %llu\n", nm, s->up,
			 nm, (unsigned long long)s->tx_msgs, nm, (unsigned long long)s->tx_bytes, nm,
			 (unsigned long long)s->rx_msgs, nm, (unsigned long long)s->rx_bytes, nm,
			 (unsigned long long)s->rtt_us);
	}
}
