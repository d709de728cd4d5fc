/* SPDX-License-Identifier: MIT */
/*
 * gpu_watch.c - waiting for the device without waiting for a dead peer.
 *
 * A kernel whose peer's process died spins until the barrier timeout
 * (minutes by default, so that ordinary skew never fires it), and
 * cudaDeviceSynchronize with it. While this rank waits for the device
 * (ipcfs_gpu_comm_check, destroy), a watchdog thread checks every 100 ms
 * that every peer's process is alive; when one is not, it writes the abort
 * word of this rank's signal block from the host (ECONNRESET), and the
 * spinning kernels leave at once and report it.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "gpu_comm_int.h"

struct watch {
	struct ipcfs_gpu_comm *c;
	int done;      /* atomic: set by the waiting thread when the device is idle */
};

static bool peer_dead(const struct ipcfs_gpu_comm *c)
{
	for (int p = 0; p < c->world; p++)
		if (p != c->rank && c->pids[p] && gpu_pid_dead(c->pids[p]))
			return true;
	return false;
}

static void *watchdog(void *arg)
{
	struct watch *w = arg;
	const struct timespec tick = { 0, 100 * 1000 * 1000 };

	/* Relaxed: done only ends the loop; nothing is read after it. */
	while (!__atomic_load_n(&w->done, __ATOMIC_RELAXED)) {
		if (peer_dead(w->c)) {
			k->signal_abort(w->c->sigs[w->c->rank], ECONNRESET);
			break;
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

int gpu_sync_watched(struct ipcfs_gpu_comm *c)
{
	struct watch w = { c, 0 };
	pthread_t t;
	bool watching;
	int rc;

	watching = c->peer_access && c->sigs[c->rank] &&
		   pthread_create(&t, NULL, watchdog, &w) == 0;
	rc = k->device_sync();
	if (watching) {
		__atomic_store_n(&w.done, 1, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
	}
	return rc;
}
