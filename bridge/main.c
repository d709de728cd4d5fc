/* SPDX-License-Identifier: MIT */
/*
 * main.c - ipcfs-bridge GROUPDIR: read the group's nodes, node and ranks
 * files, join every rank of the other nodes as a proxy, run the proxy,
 * inbound and network threads until SIGTERM or SIGINT, leave.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.h"
#include "member_int.h"
#include "segment_int.h"

static struct bridge B;

uint64_t bridge_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bridge_kick(struct bridge *b)
{
	uint64_t one = 1;
	if (write(b->kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the loop wakes anyway. */
	}
}

void bridge_log(struct bridge *b, const char *fmt, ...)
{
	va_list ap;
	const char *me = b->self >= 0 ? b->cl.node[b->self].name : "?";

	va_start(ap, fmt);
	fprintf(stderr, "ipcfs-bridge[%s]: ", me);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The content of GROUPDIR/@name (at most @size - 1 bytes), or -errno. */
static int read_file(const char *dir, const char *name, char *buf, size_t size, size_t *len)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	for (ssize_t r = 1; r > 0 && n < size - 1; n += (size_t)r) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		if (r == 0)
			break;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int configure(struct bridge *b)
{
	char text[FSD_NODES_TEXT_MAX + 1], why[160];
	size_t len;
	int rc;

	if ((rc = read_file(b->dir, "ranks", text, sizeof(text), &len))) {
		fprintf(stderr, "ipcfs-bridge: %s/ranks: %s\n", b->dir, strerror(-rc));
		return rc;
	}
	b->ranks = (unsigned)strtoul(text, NULL, 10);
	/* A plain group directory has no such file: the default. */
	b->silent_ns = 3000 * 1000000ull;
	if (!read_file(b->dir, "node_timeout_ms", text, sizeof(text), &len) && strtoul(text, NULL, 10))
		b->silent_ns = strtoull(text, NULL, 10) * 1000000ull;
	if ((rc = read_file(b->dir, "nodes", text, sizeof(text), &len)) ||
	    (rc = fsd_cluster_parse_nodes(text, len, b->ranks, &b->cl, why, sizeof(why)))) {
		fprintf(stderr, "ipcfs-bridge: %s/nodes: %s\n", b->dir, rc == -ENOENT ? strerror(-rc) : why);
		return rc;
	}
	if ((rc = read_file(b->dir, "node", text, sizeof(text), &len)) ||
	    (rc = fsd_cluster_parse_self(text, len, &b->cl, b->cl.self, why, sizeof(why)))) {
		fprintf(stderr, "ipcfs-bridge: %s/node: %s\n", b->dir, rc == -ENOENT ? strerror(-rc) : why);
		return rc;
	}
	if (!b->cl.n || !b->cl.self[0]) {
		fprintf(stderr, "ipcfs-bridge: %s: nodes and node must both be set\n", b->dir);
		return -EINVAL;
	}
	b->self = fsd_cluster_find(&b->cl, b->cl.self);
	b->local = b->cl.node[b->self].ranks;
	b->remote = ~b->local & (b->ranks == 64 ? ~0ull : IPCFS_RANK_BIT(b->ranks) - 1);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&B.stop, true);
}

static int start(struct bridge *b)
{
	static struct seg_map seg;
	char path[4096];
	int rc;

	/* The proxies join as the other nodes say their ranks are live;
	 * what ours are, heartbeats say from this mapping. */
	if ((rc = member_segment_path(b->dir, path, sizeof(path))) ||
	    (rc = seg_map_path(path, 0, &seg))) {
		bridge_log(b, "cannot map the group's segment: %s", strerror(-rc));
		return rc;
	}
	b->seg = &seg;
	bridge_instate_open(b, path);
	/* A quarter of the ring may wait in a proxy's release queue. */
	b->release_batch = seg_layout(&seg)->slots / 4 ? seg_layout(&seg)->slots / 4 : 1;
	b->slot_payload = seg_layout(&seg)->slot_bytes;
	for (unsigned n = 0; n < b->cl.n; n++) {
		if ((int)n == b->self)
			continue;
		b->peer[n].b = b;
		b->peer[n].node = n;
		if (pthread_create(&b->peer[n].thread, NULL, bridge_peer_main, &b->peer[n]))
			return -EAGAIN;
	}
	for (uint64_t m = b->remote; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		if (pthread_create(&b->proxy[r], NULL, bridge_proxy_main, &b->rq[r]))
			return -EAGAIN;
	}
	return 0;
}

static void stop(struct bridge *b)
{
	atomic_store(&b->stop, true);
	for (uint64_t m = b->remote; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		if (b->proxy[r]) {
			pthread_mutex_lock(&b->px[r].mu);
			if (b->m[r])
				ipcfs_interrupt(b->m[r]);
			pthread_cond_broadcast(&b->px[r].cv);
			pthread_mutex_unlock(&b->px[r].mu);
			pthread_join(b->proxy[r], NULL);
		}
	}
	for (unsigned n = 0; n < b->cl.n; n++) {
		struct peer *p = &b->peer[n];
		if (!p->thread)
			continue;
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
		bridge_peer_drop_all(b, n);
	}
	bridge_net_close();
	bridge_out_fini(b);
	for (uint64_t m = b->remote; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		if (b->m[r])
			ipcfs_leave(b->m[r]);
		free(b->rq[r].v);
	}
	if (b->seg)
		seg_unmap(b->seg);
}

/* -r FD: a pipe to write counters to (ipcfsd passes its own); made
 * non-blocking (a line is dropped rather than wait for the daemon) and
 * close-on-exec. */
static int report_fd(const char *arg)
{
	char *end;
	long fd = strtol(arg, &end, 10);
	struct stat st;

	if (*end || end == arg || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "ipcfs-bridge: -r %s: not an open pipe\n", arg);
		return -1;
	}
	int fl = fcntl((int)fd, F_GETFL);
	if (fl < 0 || fcntl((int)fd, F_SETFL, fl | O_NONBLOCK) || fcntl((int)fd, F_SETFD, FD_CLOEXEC)) {
		fprintf(stderr, "ipcfs-bridge: -r %s: %s\n", arg, strerror(errno));
		return -1;
	}
	return (int)fd;
}

int main(int argc, char **argv)
{
	struct bridge *b = &B;
	int rc, opt;

	if (argc > 1 && !strcmp(argv[1], "keygen"))
		return bridge_keygen(argc - 1, argv + 1);
	b->report_fd = -1;
	while ((opt = getopt(argc, argv, "vp:r:h")) != -1) {
		if (opt == 'v') {
			b->verbose++;
		} else if (opt == 'r') {
			if ((b->report_fd = report_fd(optarg)) < 0)
				return 2;
		} else if (opt == 'p') {
			/* Started by ipcfsd: end with it. A daemon that died
			 * starts a new bridge when it comes back, which could
			 * not join the ranks this one would keep. */
			pid_t parent = (pid_t)strtol(optarg, NULL, 10);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				return 1;
		} else {
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	snprintf(b->dir, sizeof(b->dir), "%s", argv[optind]);
	if (getenv("IPCFS_BRIDGE_VERBOSE"))
		b->verbose++;
	b->self = -1;
	bridge_self = b;
	if ((rc = configure(b)))
		return 1;
	if (getrandom(&b->epoch, sizeof(b->epoch), 0) != sizeof(b->epoch))
		b->epoch = bridge_now_ns() ^ (uint64_t)getpid() << 40;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->ack_mu, NULL);
	for (unsigned i = 0; i < IPCFS_MAX_RANKS; i++) {
		pthread_mutex_init(&b->rq[i].mu, NULL);
		pthread_mutex_init(&b->px[i].mu, NULL);
		pthread_cond_init(&b->px[i].cv, NULL);
	}
	for (unsigned n = 0; n < FSD_NODES_MAX; n++) {
		pthread_mutex_init(&b->peer[n].mu, NULL);
		pthread_cond_init(&b->peer[n].cv, NULL);
	}
	b->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = b->kick_fd < 0 ? -errno : bridge_net_open(b);
	if (!rc)
		rc = start(b);
	if (!rc) {
		bridge_log(b, "bridging %s: local ranks %#llx, remote %#llx", b->dir,
			   (unsigned long long)b->local, (unsigned long long)b->remote);
		rc = bridge_net_run(b);
	}
	stop(b);
	close(b->kick_fd);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: ipcfs-bridge [-v] [-p PARENT] [-r FD] GROUPDIR\n"
			"  carry the messages of the group in GROUPDIR (its nodes and node files\n"
			"  set) between this machine and the other nodes, until SIGTERM or SIGINT\n");
	return 2;
}
