/* SPDX-License-Identifier: MIT */
/*
 * in.c - the inbound side: what another node sends is delivered locally
 * through the proxy of its original sender, in wire order, once.
 *
 * The network thread delivers a message itself when nothing can make it
 * wait: nothing of that node queued before it, the sender's proxy joined,
 * ring or arena space at once. Otherwise (and for heartbeats, whose
 * proxy changes may wait for a retiring proxy) it queues it for the
 * node's inbound thread, which may wait; while that queue is not empty,
 * everything of the node goes through it, so that order holds. A
 * delivery by the network thread saves a thread hand-off (tens of
 * microseconds on a busy machine) on every small message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.h"
#include "fault_int.h"
#include "member_int.h"
#include "segment_int.h"

#define INSTATE_MAGIC 0x4950424953543031ull /* "IPBIST01" */

/* How long an inbound thread waits for space at a time (ms). */
#define SPACE_WAIT_MS 200

/* Send @im locally through member @m, the proxy of its sender, waiting
 * up to @wait_ms at a time for space (0: not at all); -EAGAIN if there
 * was none at once with @wait_ms 0, -ECANCELED if stopped, else 0. */
static int deliver_by(struct bridge *b, struct ipcfs_member *m, struct inmsg *im, int wait_ms)
{
	zmq_msg_t *z = im->zmsg;
	uint64_t live, dest;
	void *buf;
	int rc;

	for (;;) {
		ipcfs_live(m, &live);
		dest = im->h.dest & live;
		if (!dest)
			return 0; /* nobody addressed is here (any more) */
		rc = ipcfs_reserve(m, im->h.len, &buf, wait_ms);
		if (rc == 0)
			break;
		if (atomic_load(&b->stop))
			return -ECANCELED;
		if (rc != -ETIMEDOUT && rc != -EAGAIN) {
			bridge_log(b, "rank %u: cannot reserve %llu bytes: %s", im->h.src,
				   (unsigned long long)im->h.len, strerror(-rc));
			return 0;
		}
		if (!wait_ms)
			return -EAGAIN;
	}
	/* The one copy on this side: from ZeroMQ's buffer into the ring or
	 * the arena, where the readers read it in place. */
	if (im->h.len)
		memcpy(buf, zmq_msg_data(z), im->h.len);
	while ((rc = member_commit_kind(m, dest, im->h.len, im->h.kind)) == -ENOTCONN) {
		ipcfs_live(m, &live);
		if (!(dest &= live))
			break;
	}
	if (rc && dest)
		bridge_log(b, "rank %u: local send failed: %s", im->h.src, strerror(-rc));
	return 0;
}

/* Messages rank @src's proxy has published, through member @m. */
static uint64_t proxy_head(struct ipcfs_member *m, unsigned src)
{
	/* Acquire: pairs with the release store of the head in the commit. */
	return atomic_load_explicit(&seg_rank(member_seg(m), src)->head, memory_order_acquire);
}

/* Deliver through @m, recorded so that a death of ours at any point is
 * neither a loss nor a duplicate: the intent (wire number, the proxy's
 * head before) first, the delivery, then the new last. @check: our last
 * incarnation may have delivered this one (its intent is on record):
 * it did if the head moved past the head it recorded. */
static int deliver_recorded(struct bridge *b, struct peer *p, struct ipcfs_member *m,
			    struct inmsg *im, int wait_ms)
{
	unsigned s = im->h.src;
	struct instate_row *row = b->ist ? &b->ist->row[p->node][s] : NULL;
	int rc;

	if (row && p->check[s] &&
	    atomic_load_explicit(&row->pend_w, memory_order_relaxed) == im->h.w &&
	    proxy_head(m, s) > atomic_load_explicit(&row->pend_head, memory_order_relaxed)) {
		atomic_store_explicit(&row->last_w, im->h.w, memory_order_release);
		return 0;
	}
	if (row) {
		/* Release: on record before the commit's stores. */
		atomic_store_explicit(&row->epoch, im->h.epoch, memory_order_relaxed);
		atomic_store_explicit(&row->pend_head, proxy_head(m, s), memory_order_relaxed);
		atomic_store_explicit(&row->pend_w, im->h.w, memory_order_release);
	}
	rc = deliver_by(b, m, im, wait_ms);
	if (rc == 0) {
		FAULT_POINT("bridge_delivered");
		if (row)
			atomic_store_explicit(&row->last_w, im->h.w, memory_order_release);
	}
	return rc;
}

/* A message from @src proves it live on its node: its proxy joins if it
 * has not yet (the heartbeat saying so may come later). Then send. With
 * @now (the network thread): -EAGAIN instead of any wait. */
static int deliver(struct bridge *b, struct peer *pe, struct inmsg *im, bool now)
{
	struct proxy *p = &b->px[im->h.src];
	struct ipcfs_member *m;

	/* The network thread never waits for a proxy's lock: a retiring
	 * proxy holds it while it waits for the network thread. */
	if (now ? pthread_mutex_trylock(&p->mu) != 0 : pthread_mutex_lock(&p->mu) != 0)
		return -EAGAIN;
	if (now && (!b->m[im->h.src] || p->bounce)) {
		pthread_mutex_unlock(&p->mu);
		return -EAGAIN;
	}
	if (!p->want)
		atomic_store(&pe->joined_by_msg, true);
	p->want = true;
	pthread_cond_broadcast(&p->cv);
	if (b->verbose && !b->m[im->h.src])
		bridge_log(b, "rank %u sends (w %llu): its proxy joins", im->h.src,
			   (unsigned long long)im->h.w);
	/* Not through an incarnation about to end (a bounce): its end marks
	 * where what the restarted bridge lost would have been. */
	while ((!(m = b->m[im->h.src]) || p->bounce) && !atomic_load(&b->stop)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	if (m)
		p->busy++;
	pthread_mutex_unlock(&p->mu);
	if (!m)
		return -ECANCELED;
	int rc = deliver_recorded(b, pe, m, im, now ? 0 : SPACE_WAIT_MS);
	pthread_mutex_lock(&p->mu);
	p->busy--;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* The remote node's live ranks changed (@live; 0: the node went silent,
 * its ranks in @dead): proxies join and leave to match. */
static void apply_live(struct bridge *b, unsigned node, uint64_t live, uint64_t dead,
		       bool bounce, uint64_t seq)
{
	if (b->verbose)
		bridge_log(b, "node %s: live ranks %#llx", b->cl.node[node].name,
			   (unsigned long long)live);
	for (uint64_t m = b->cl.node[node].ranks; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		struct proxy *p = &b->px[r];
		pthread_mutex_lock(&p->mu);
		/* A newer heartbeat made it join at once (on_heartbeat): this
		 * older one, queued before, says nothing of it any more. */
		if (!(live & IPCFS_RANK_BIT(r)) && seq < p->live_hb) {
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		p->want = (live & IPCFS_RANK_BIT(r)) != 0;
		p->dead = (dead & IPCFS_RANK_BIT(r)) != 0;
		p->bounce |= bounce && b->m[r];
		pthread_cond_broadcast(&p->cv);
		if (b->m[r] && (!p->want || p->bounce))
			ipcfs_interrupt(b->m[r]);
		pthread_mutex_unlock(&p->mu);
	}
}

static void inmsg_free(struct inmsg *im)
{
	if (im->zmsg)
		zmq_msg_close(im->zmsg);
	free(im->zmsg);
	free(im);
}

/* A data message of @p's node, in the order received: delivered (or
 * dropped as a duplicate, or after a gap) and acked; with @now (the
 * network thread), -EAGAIN if that would wait, nothing done. */
static int inbound_one(struct bridge *b, struct peer *p, struct inmsg *im, bool now)
{
	struct wire_hdr *h = &im->h;
	unsigned s = h->src;
	/* Another incarnation of the sending bridge (or of us): what it
	 * says was acked already is not asked for again. */
	uint64_t last = h->epoch != p->epoch[s] ? h->base : p->last_w[s];

	if (h->w == last + 1) {
		int rc = deliver(b, p, im, now);
		if (rc == -EAGAIN)
			return rc;
		p->check[s] = false;
		p->epoch[s] = h->epoch;
		p->last_w[s] = last;
		if (rc)
			return 0; /* stopping: not delivered, not acked */
		p->last_w[s] = h->w;
		__atomic_fetch_add(&p->rx_msgs, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&p->rx_bytes, h->len, __ATOMIC_RELAXED);
	} else {
		p->epoch[s] = h->epoch;
		p->last_w[s] = last;
	}
	/* Duplicates are acked again, at once; after a gap, the last in
	 * order (the sender sends everything after it again). */
	bridge_post_ack(b, p->node, s, p->last_w[s], h->w != last + 1, now);
	return 0;
}

static void push_locked(struct peer *p, struct inmsg *im)
{
	if (p->tail)
		p->tail->next = im;
	else
		p->head = im;
	p->tail = im;
	p->queued++;
	pthread_cond_signal(&p->cv);
}

void bridge_peer_push(struct bridge *b, unsigned node, struct inmsg *im)
{
	struct peer *p = &b->peer[node];

	pthread_mutex_lock(&p->mu);
	push_locked(p, im);
	pthread_mutex_unlock(&p->mu);
}

void bridge_peer_take(struct bridge *b, unsigned node, struct inmsg *im)
{
	struct peer *p = &b->peer[node];

	pthread_mutex_lock(&p->mu);
	/* Under p->mu: the inbound thread's last item finished (and what it
	 * did to the stream state) happens before we look. */
	bool idle = p->queued == 0;
	pthread_mutex_unlock(&p->mu);
	if (idle && inbound_one(b, p, im, true) == 0) {
		inmsg_free(im);
		return;
	}
	/* Only the network thread queues data: nothing can have been queued
	 * between our look and this push. */
	bridge_peer_push(b, node, im);
}

void *bridge_peer_main(void *arg)
{
	struct peer *p = arg;
	struct bridge *b = p->b;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !atomic_load(&b->stop))
			pthread_cond_wait(&p->cv, &p->mu);
		struct inmsg *im = p->head;
		if (im && !(p->head = im->next))
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		if (!im)
			return NULL;
		if (im->h.type == WIRE_HB)
			apply_live(b, p->node, im->h.dest, im->h.q, im->h.flags & HB_BOUNCE, im->hb_seq);
		else
			inbound_one(b, p, im, false);
		inmsg_free(im);
		pthread_mutex_lock(&p->mu);
		p->queued--;
		pthread_mutex_unlock(&p->mu);
	}
}

void bridge_peer_drop_all(struct bridge *b, unsigned node)
{
	struct peer *p = &b->peer[node];

	for (struct inmsg *im = p->head, *next; im; im = next) {
		next = im->next;
		inmsg_free(im);
	}
	p->head = p->tail = NULL;
}

void bridge_instate_open(struct bridge *b, const char *segpath)
{
	char path[4200];
	struct instate *st;
	int fd;

	snprintf(path, sizeof(path), "%s%s", segpath, FSD_BRIDGE_STATE_SUFFIX);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(*st)) != 0) {
		bridge_log(b, "cannot keep what it delivered in %s (%s): a restart of this bridge "
			   "may deliver a message twice", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (st == MAP_FAILED)
		return;
	if (st->magic != INSTATE_MAGIC)
		memset(st, 0, sizeof(*st));
	st->magic = INSTATE_MAGIC;
	for (unsigned n = 0; n < b->cl.n; n++) {
		struct peer *p = &b->peer[n];
		/* Rows of another node (the nodes changed) start afresh. */
		if (strcmp(st->name[n], b->cl.node[n].name) != 0) {
			memset(st->row[n], 0, sizeof(st->row[n]));
			snprintf(st->name[n], sizeof(st->name[n]), "%s", b->cl.node[n].name);
			continue;
		}
		for (unsigned s = 0; s < IPCFS_MAX_RANKS; s++) {
			struct instate_row *row = &st->row[n][s];
			p->epoch[s] = atomic_load(&row->epoch);
			p->last_w[s] = atomic_load(&row->last_w);
			p->check[s] = atomic_load(&row->pend_w) == p->last_w[s] + 1;
		}
	}
	b->ist = st;
}
