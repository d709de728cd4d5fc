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
#include "channel_int.h"
#include "member_int.h"

struct bridge *bridge_self;

/* Hand view @v back to proxy @r's thread; wake it when @now, or when a
 * batch has gathered: it releases before each receive anyway, and a
 * wake-up per ack costs as much as the message on a busy machine. */
static void relq_push(struct bridge *b, unsigned r, const struct ipcfs_msg *v, unsigned gen,
		      bool now)
{
	struct relq *q = &b->rq[r];

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
	/* Under q->mu, which retire takes to clear b->m[r] before it leaves
	 * (frees) the member. Not the proxy's mu: retire holds that while
	 * it waits for ZeroMQ, whose thread runs us. */
	if (b->m[r] && (now || q->n >= b->release_batch))
		ipcfs_interrupt(b->m[r]);
	pthread_mutex_unlock(&q->mu);
}

void bridge_entry_put(struct entry *e)
{
	struct bridge *b = bridge_self;

	/* acq_rel: the last put sees what every holder did with it. */
	if (atomic_fetch_sub_explicit(&e->holds, 1, memory_order_acq_rel) != 1)
		return;
	/* An arena block is scarcer than a ring slot: back at once. */
	bool now = e->len > b->slot_payload;
	for (uint64_t m = e->dest; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		relq_push(b, r, &e->view[r], e->vgen[r], now);
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

/* Of @dest (a node's ranks), the proxies that will file message @q of
 * @src: joined, and their incarnation began reading before it (caller
 * holds b->lock). Any other would be waited for in vain. */
static uint64_t will_file(const struct bridge *b, unsigned src, uint64_t q, uint64_t dest)
{
	uint64_t will = 0;

	for (uint64_t m = dest & b->joined_px; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		if (q > b->start[r][src])
			will |= IPCFS_RANK_BIT(r);
	}
	return will;
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
		/* Sent already (this proxy joined in between): alone. */
		e->dest = msg->seq <= s->flushed_q ? IPCFS_RANK_BIT(r)
			: will_file(b, (unsigned)msg->src, msg->seq, dest & b->cl.node[node].ranks) |
			  IPCFS_RANK_BIT(r);
		e->len = msg->len;
		e->kind = msg->kind;
		atomic_init(&e->holds, 1);
		e->next = *pp;
		*pp = e;
	}
	/* One that joined just after the entry was made has it too. */
	e->dest |= IPCFS_RANK_BIT(r);
	/* Read through the view of a proxy that has it: the first to file,
	 * or the first after every one that had filed it left (retire). */
	if (!e->arrived)
		e->data = msg->data;
	e->view[r] = *msg;
	e->vgen[r] = b->px[r].gen;
	e->arrived |= IPCFS_RANK_BIT(r);
}

/* Proxy @r's view of @e goes (its leave unmaps what it points into): if
 * @e is read through it, read it through the first of the views @have
 * from now on, or through none (NULL: file_view sets it, or the entry is
 * empty). Whether it was. */
static bool drop_view(struct entry *e, unsigned r, uint64_t have)
{
	if (e->data != e->view[r].data)
		return false;
	e->data = have ? e->view[__builtin_ctzll(have)].data : NULL;
	return true;
}

/* Entries a retiring proxy waits for (holding one hold on each). */
struct waitlist {
	struct entry **e;
	size_t n, cap;
};

/* Take proxy @r's views out of the entries of @node on the wire (caller
 * holds b->lock): its leave releases them and unmaps its mapping of the
 * segment. An entry read through that mapping is read through another
 * proxy's view of the same slot from now on; one left with no view
 * becomes empty (header only, no destination): the remote node acks its
 * wire number without delivering. One whose frames ZeroMQ may still be
 * reading through our mapping goes on @wl. */
static void unfile_sent(struct bridge *b, unsigned r, unsigned node, struct waitlist *wl)
{
	for (unsigned src = 0; src < b->ranks; src++) {
		for (struct entry *e = b->st[src][node].inflight; e; e = e->next) {
			if (!(e->dest & IPCFS_RANK_BIT(r)))
				continue;
			e->dest &= ~IPCFS_RANK_BIT(r);
			if (!e->len || !drop_view(e, r, e->dest))
				continue;
			if (!e->dest)
				e->len = 0;
			/* Acquire: pairs with the release decrement in free_frame
			 * (net.c): a frame let go of has finished reading. */
			if (!atomic_load_explicit(&e->frames, memory_order_acquire))
				continue;
			if (wl->n == wl->cap) {
				wl->cap = wl->cap ? 2 * wl->cap : 16;
				wl->e = realloc(wl->e, wl->cap * sizeof(*wl->e));
				if (!wl->e)
					abort();
			}
			/* Relaxed: under b->lock, ours until we put it. */
			atomic_fetch_add_explicit(&e->holds, 1, memory_order_relaxed);
			wl->e[wl->n++] = e;
		}
	}
}

/* Until ZeroMQ has let go of every frame on @wl: a node that is down may
 * keep them queued for ever (and send them after it comes back, from a
 * slot reused meanwhile), so its socket is replaced, which drops them. */
static void await_frames(struct bridge *b, unsigned node, struct waitlist *wl)
{
	for (unsigned ms = 0; wl->n; ms++) {
		size_t busy = 0;
		for (size_t i = 0; i < wl->n; i++)
			/* Acquire: as in unfile_sent. */
			busy += atomic_load_explicit(&wl->e[i]->frames, memory_order_acquire) != 0;
		if (!busy)
			break;
		if (ms % 100 == 0 && (ms >= 1000 || !bridge_node_up(b, node))) {
			atomic_store(&b->reset[node], true);
			bridge_kick(b);
		}
		if (ms == 10000)
			bridge_log(b, "ZeroMQ still holds %zu frames to node %s after 10 s",
				   busy, b->cl.node[node].name);
		usleep(1000);
	}
	for (size_t i = 0; i < wl->n; i++)
		bridge_entry_put(wl->e[i]);
	free(wl->e);
}

/* Proxy @r leaves (its rank is gone on its node): the messages not yet
 * sent stop waiting for it, those sent keep their other views; what
 * ZeroMQ may still read of its views is let go of first. */
static void retire(struct bridge *b, unsigned r)
{
	int node = fsd_cluster_node_of(&b->cl, r);
	struct waitlist wl = { 0 };

	pthread_mutex_lock(&b->lock);
	b->joined_px &= ~IPCFS_RANK_BIT(r);
	for (unsigned src = 0; src < b->ranks; src++) {
		struct entry **pp = &b->st[src][node].pending, *e;
		while ((e = *pp)) {
			bool filed = e->arrived & IPCFS_RANK_BIT(r);
			e->dest &= ~IPCFS_RANK_BIT(r);
			e->arrived &= ~IPCFS_RANK_BIT(r);
			if (!e->dest) {
				*pp = e->next;
				free(e); /* never sent: no frame reads it */
				continue;
			}
			if (filed)
				drop_view(e, r, e->arrived);
			pp = &e->next;
		}
	}
	unfile_sent(b, r, (unsigned)node, &wl);
	pthread_mutex_unlock(&b->lock);
	await_frames(b, (unsigned)node, &wl);
	/* Releases what it holds, in the entries on the wire too (their
	 * views of this incarnation are no longer in their dest). */
	struct ipcfs_member *m = b->m[r];
	pthread_mutex_lock(&b->rq[r].mu);
	__atomic_store_n(&b->m[r], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->rq[r].mu);
	b->px[r].gen++;
	/* Its rank died there, or its node is down: dead here too (the
	 * daemon says died); a rank that left there leaves. */
	bool dead = b->px[r].dead;
	member_leave_as(m, dead ? IPCFS_STATE_DEAD : IPCFS_STATE_LEFT);
	bridge_log(b, "rank %u %s (on its node)", r, dead ? "dead" : "left");
	bridge_kick(b);
}

/* Proxy @r joined as @m: where it reads each ring from (its chan's first
 * positions, set when it went live). */
static void note_joined(struct bridge *b, unsigned r, struct ipcfs_member *m)
{
	const struct chan *c = member_chan(m);

	pthread_mutex_lock(&b->lock);
	for (unsigned s = 0; s < b->ranks; s++)
		b->start[r][s] = c->cur[s];
	b->joined_px |= IPCFS_RANK_BIT(r);
	pthread_mutex_unlock(&b->lock);
}

/* Join or leave as the proxy's state says; false while it is not joined. */
static bool settle(struct bridge *b, unsigned r)
{
	struct proxy *p = &b->px[r];
	bool joined;

	pthread_mutex_lock(&p->mu);
	if (p->bounce && b->m[r] && !p->busy) {
		p->dead = true;
		retire(b, r);
	}
	if (!b->m[r])
		p->bounce = false;
	if (b->m[r] && !p->want && !p->busy)
		retire(b, r);
	if (!b->m[r] && p->want && !atomic_load(&b->stop)) {
		struct ipcfs_member *m;
		int rc = ipcfs_join(b->dir, (int)r, &m);
		if (rc >= 0) {
			member_mark_relay(m);
			note_joined(b, r, m);
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

/* The messages of stream @s that every addressed proxy has, in order,
 * onto the wire (caller holds b->lock). */
static void flush_stream(struct bridge *b, struct stream *s,
			 void (*send)(struct bridge *, struct entry *))
{
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
		if (e->q > s->flushed_q)
			s->flushed_q = e->q;
		send(b, e);
	}
}

void *bridge_proxy_main(void *arg)
{
	struct relq *q = arg;
	struct bridge *b = bridge_self;
	unsigned r = (unsigned)(q - b->rq);

	struct flow fl = { 0 };

	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		struct ipcfs_msg msg;
		uint64_t dest;
		if (!settle(b, r))
			continue;
		release_due(b, r);
		uint32_t spin = flow_spin_us(&fl, bridge_now_ns(), seg_layout(b->seg)->spin_us);
		int rc = chan_recv_spin(member_chan(b->m[r]), IPCFS_ANY, &msg, 200, spin);
		if (!rc)
			flow_note(&fl, bridge_now_ns());
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
		/* The last proxy of the node to file it sends it: only its
		 * stream can have become ready. */
		unsigned node = (unsigned)fsd_cluster_node_of(&b->cl, r);
		pthread_mutex_lock(&b->lock);
		file_view(b, r, &msg, dest);
		flush_stream(b, &b->st[msg.src][node], bridge_send_entry);
		pthread_mutex_unlock(&b->lock);
		bridge_poke_acks(b, node);
	}
	if (b->m[r])
		release_due(b, r);
	return NULL;
}


void bridge_flush(struct bridge *b, void (*send)(struct bridge *, struct entry *))
{
	pthread_mutex_lock(&b->lock);
	for (unsigned src = 0; src < b->ranks; src++)
		for (unsigned n = 0; n < b->cl.n; n++)
			flush_stream(b, &b->st[src][n], send);
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
