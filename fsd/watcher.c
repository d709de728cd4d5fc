/* SPDX-License-Identifier: MIT */
/*
 * watcher.c - the daemon's one background thread: it waits on the epoll
 * set of every member's pidfd (liveness.c adds them), and every
 * FSD_SCAN_MS scans every group (fsd_scan_group).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fsd.h"
#include "wait_int.h"

#define STOP_TOKEN UINT64_MAX

/* A watched process exited: the token says which rank of which group
 * (liveness.c, watch_token). */
static void handle_exit(struct fsd *d, uint64_t token)
{
	struct fsd_group *g = fsd_group_get_id(d, (uint32_t)(token >> 32));
	unsigned r = (unsigned)(token >> 24) & 0xffu;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	fsd_members_exited(g, r, (uint32_t)token & 0xffffffu);
	pthread_mutex_unlock(&g->lock);
	fsd_group_put(d, g);
}

static void scan_all(struct fsd *d)
{
	unsigned n;
	struct fsd_group **v = fsd_groups_get(d, &n);

	if (!v)
		return;
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->lock);
		fsd_scan_group(d, v[i]);
		fsd_bridge_scan(d, v[i]);
		pthread_mutex_unlock(&v[i]->lock);
	}
	fsd_groups_put(d, v, n);
}

static void *watcher(void *arg)
{
	struct fsd *d = arg;
	uint64_t last = 0;

	for (;;) {
		struct epoll_event ev[32];
		int n = epoll_wait(d->epfd, ev, 32, FSD_SCAN_MS);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == STOP_TOKEN)
				return NULL;
			handle_exit(d, ev[i].data.u64);
		}
		uint64_t now = wait_now_ns();
		if (now - last >= (uint64_t)FSD_SCAN_MS * 1000000u) {
			scan_all(d);
			last = now;
		}
	}
}

int fsd_liveness_start(struct fsd *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TOKEN };
	int rc;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->stopfd = eventfd(0, EFD_CLOEXEC);
	if (d->epfd < 0 || d->stopfd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->stopfd, &ev) != 0)
		return -errno;
	fsd_members_epoll(d->epfd);
	rc = pthread_create(&d->watcher, NULL, watcher, d);
	if (rc)
		return -rc;
	d->watcher_running = true;
	return 0;
}

void fsd_liveness_stop(struct fsd *d)
{
	if (d->watcher_running) {
		uint64_t one = 1;
		if (write(d->stopfd, &one, sizeof(one)) == sizeof(one))
			pthread_join(d->watcher, NULL);
		d->watcher_running = false;
	}
	if (d->stopfd >= 0)
		close(d->stopfd);
	d->stopfd = -1;
	/* The epoll set stays open until exit: group_free() closes pidfds
	 * that are still in it. */
}
