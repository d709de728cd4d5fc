/* SPDX-License-Identifier: MIT */
/*
 * out.c - the outbound side: proxy threads file what local senders
 * address to remote ranks under its stream (sender, node), the network
 * thread sends a message once every addressed proxy of that node has it,
 * and acks hand the views back to the proxy threads, which release them.
 *
 * Order: a proxy receives the messages of one sender in the sender's
 * order, and a message goes out only when it heads its stream's pending
 * list (by the sender's sequence q) and every proxy it addresses has it.
 * A message for rank r sent before an earlier one for r would need the
 * earlier one to be missing from the list while r's proxy already has the
 * later one: impossible, r's proxy filed the earlier one first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"

struct bridge *bridge_self;

static void relq_push(struct relq *q, const struct ipcfs_msg *v, unsigned gen)
{
	pthread_mutex_lock(&q->mu);
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		struct relv *nv = realloc(q->v, cap * sizeof(*nv));
		if (!nv)
			abort(); /* bounded by the ring: a few KiB */
		q->v = nv;
		q->cap = cap;
	}
	q->v[q->n].msg = *v;
	q->v[q->n++].gen = gen;
	pthread_mutex_unlock(&q->mu);
}

void bridge_entry_put(struct entry *e)
{
	struct bridge *b = bridge_self;

	/* acq_rel: the last put sees what every holder did with it. */
	if (atomic_fetch_sub_explicit(&e->holds, 1, memory_order_acq_rel) != 1)
		return;
	for (uint64_t m = e->dest; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		relq_push(&b->rq[r], &e->view[r], e->vgen[r]);
		/* Under the proxy's lock: it leaves (frees m) holding it. */
		pthread_mutex_lock(&b->px[r].mu);
		if (b->m[r])
			ipcfs_interrupt(b->m[r]);
		pthread_mutex_unlock(&b->px[r].mu);
	}
	free(e);
}

/* The proxy thread releases what acks handed back. */
static void release_due(struct bridge *b, unsigned r)
{
	struct relq *q = &b->rq[r];
	struct relv *v;
	size_t n;

	pthread_mutex_lock(&q->mu);
	v = q->v;
	n = q->n;
	q->v = NULL;
	q->n = q->cap = 0;
	pthread_mutex_unlock(&q->mu);
	/* Views of a proxy incarnation that left were released by its leave. */
	for (size_t i = 0; i < n; i++)
		if (b->m[r] && v[i].gen == b->px[r].gen)
			ipcfs_release(b->m[r], &v[i].msg);
	free(v);
}

/* File view @msg of proxy @r (caller holds b->lock). */
static void file_view(struct bridge *b, unsigned r, const struct ipcfs_msg *msg, uint64_t dest)
{
	int node = fsd_cluster_node_of(&b->cl, r);
	struct stream *s = &b->st[msg->src][node];
	struct entry **pp = &s->pending, *e;

	while (*pp && (*pp)->q < msg->seq)
		pp = &(*pp)->next;
	e = *pp;
	if (!e || e->q != msg->seq) {
		e = calloc(1, sizeof(*e));
		if (!e)
			abort();
		e->src = (unsigned)msg->src;
		e->node = (unsigned)node;
		e->q = msg->seq;
		e->dest = dest & b->cl.node[node].ranks;
		e->data = msg->data;
		e->len = msg->len;
		e->kind = msg->kind;
		atomic_init(&e->holds, 1);
		e->next = *pp;
		*pp = e;
	}
	e->view[r] = *msg;
	e->vgen[r] = b->px[r].gen;
	e->arrived |= IPCFS_RANK_BIT(r);
}

/* Proxy @r leaves (its rank is gone on its node): the messages not yet
 * sent stop waiting for it, those sent keep their other views. */
static void retire(struct bridge *b, unsigned r)
{
	int node = fsd_cluster_node_of(&b->cl, r);

	pthread_mutex_lock(&b->lock);
	for (unsigned src = 0; src < b->ranks; src++) {
		struct entry **pp = &b->st[src][node].pending, *e;
		while ((e = *pp)) {
			e->dest &= ~IPCFS_RANK_BIT(r);
			e->arrived &= ~IPCFS_RANK_BIT(r);
			if (!e->dest) {
				*pp = e->next;
				free(e); /* never sent: no frame reads it */
				continue;
			}
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&b->lock);
	/* Releases what it holds, in the entries on the wire too (their
	 * views of this incarnation are skipped when acked). */
	struct ipcfs_member *m = b->m[r];
	__atomic_store_n(&b->m[r], NULL, __ATOMIC_RELEASE);
	b->px[r].gen++;
	ipcfs_leave(m);
	bridge_log(b, "rank %u left (gone on its node)", r);
	bridge_kick(b);
}

/* Join or leave as the proxy's state says; false while it is not joined. */
static bool settle(struct bridge *b, unsigned r)
{
	struct proxy *p = &b->px[r];
	bool joined;

	pthread_mutex_lock(&p->mu);
	if (b->m[r] && !p->want && !p->busy)
		retire(b, r);
	if (!b->m[r] && p->want && !atomic_load(&b->stop)) {
		struct ipcfs_member *m;
		int rc = ipcfs_join(b->dir, (int)r, &m);
		if (rc >= 0) {
			__atomic_store_n(&b->m[r], m, __ATOMIC_RELEASE);
			bridge_log(b, "rank %u joined (live on its node)", r);
		} else {
			bridge_log(b, "cannot join rank %u as its proxy: %s", r, strerror(-rc));
		}
		pthread_cond_broadcast(&p->cv);
	}
	joined = b->m[r] != NULL;
	if (!joined) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000)
			ts.tv_sec++, ts.tv_nsec -= 1000000000;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return joined;
}

void *bridge_proxy_main(void *arg)
{
	struct relq *q = arg;
	struct bridge *b = bridge_self;
	unsigned r = (unsigned)(q - b->rq);

	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		struct ipcfs_msg msg;
		uint64_t dest;
		if (!settle(b, r))
			continue;
		release_due(b, r);
		int rc = ipcfs_recv(b->m[r], IPCFS_ANY, &msg, 200);
		if (rc == -EPIPE) {
			usleep(50 * 1000); /* every local sender gone: wait for new ones */
			continue;
		}
		if (rc)
			continue; /* -EINTR (releases due, a change), timeouts, a corrupt slot */
		/* The daemon's bcasts reach each machine's ranks from its own
		 * daemon; a view whose dest is unreadable is not forwarded. */
		if (msg.src == IPCFS_SRC_CTL || ipcfs_msg_dest(b->m[r], &msg, &dest)) {
			ipcfs_release(b->m[r], &msg);
			continue;
		}
		pthread_mutex_lock(&b->lock);
		file_view(b, r, &msg, dest);
		pthread_mutex_unlock(&b->lock);
		bridge_kick(b);
	}
	if (b->m[r])
		release_due(b, r);
	return NULL;
}

void bridge_flush(struct bridge *b, void (*send)(struct bridge *, struct entry *))
{
	pthread_mutex_lock(&b->lock);
	for (unsigned src = 0; src < b->ranks; src++) {
		for (unsigned n = 0; n < b->cl.n; n++) {
			struct stream *s = &b->st[src][n];
			struct entry *e;
			while ((e = s->pending) && e->arrived == e->dest) {
				s->pending = e->next;
				e->next = NULL;
				e->w = ++s->next_w;
				if (s->tail)
					s->tail->next = e;
				else
					s->inflight = e;
				s->tail = e;
				send(b, e);
			}
		}
	}
	pthread_mutex_unlock(&b->lock);
}

void bridge_acked(struct bridge *b, unsigned node, unsigned src, uint64_t w, uint64_t *sent_ns)
{
	struct entry *done = NULL, *e;

	*sent_ns = 0;
	if (src >= b->ranks || node >= b->cl.n)
		return;
	pthread_mutex_lock(&b->lock);
	struct stream *s = &b->st[src][node];
	while ((e = s->inflight) && e->w <= w) {
		s->inflight = e->next;
		if (!s->inflight)
			s->tail = NULL;
		e->next = done;
		done = e;
		*sent_ns = e->sent_ns;
		__atomic_fetch_add(&b->peer[node].acked, 1, __ATOMIC_RELAXED);
	}
	if (w > s->acked_w && w <= s->next_w)
		s->acked_w = w;
	pthread_mutex_unlock(&b->lock);
	while ((e = done)) {
		done = e->next;
		bridge_entry_put(e);
	}
}

void bridge_resend(struct bridge *b, unsigned node, uint64_t before_ns,
		   void (*send)(struct bridge *, struct entry *))
{
	pthread_mutex_lock(&b->lock);
	for (unsigned src = 0; src < b->ranks; src++) {
		struct stream *s = &b->st[src][node];
		if (!s->inflight || s->inflight->sent_ns > before_ns)
			continue;
		for (struct entry *e = s->inflight; e; e = e->next)
			send(b, e);
	}
	pthread_mutex_unlock(&b->lock);
}

void bridge_out_fini(struct bridge *b)
{
	for (unsigned src = 0; src < b->ranks; src++) {
		for (unsigned n = 0; n < b->cl.n; n++) {
			struct stream *s = &b->st[src][n];
			struct entry *lists[2] = { s->pending, s->inflight }, *e;
			for (int i = 0; i < 2; i++) {
				/* ZeroMQ is closed (no frame reads them) and the
				 * proxies leave next, which releases their views. */
				while ((e = lists[i])) {
					lists[i] = e->next;
					free(e);
				}
			}
			memset(s, 0, sizeof(*s));
		}
	}
}
