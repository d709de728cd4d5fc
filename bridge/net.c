/* SPDX-License-Identifier: MIT */
/*
 * net.c - the ZeroMQ side of the bridge. The network thread alone touches
 * the sockets: a ROUTER bound to this node's address receives the other
 * nodes' messages (and sends them acks); one DEALER per other node, whose
 * routing id is this node's name, sends them ours (and receives their
 * acks). An inbound thread per other node sends its messages locally.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.h"
#include "member_int.h"
#include "membership_int.h"
#include "segment_int.h"

#define RESEND_NS (1000 * 1000000ull) /* not acked within: sent again */
#define HB_NS (200 * 1000000ull)      /* heartbeat period */
#define REPORT_NS (500 * 1000000ull)  /* counters to the group's bridge file */

static void *zctx;
static void *router;
static void *dealer[FSD_NODES_MAX];

static void free_frame(void *data, void *hint)
{
	struct entry *e = hint;

	(void)data;
	/* Release: pairs with the acquire loads of a retiring proxy (out.c):
	 * ZeroMQ's reads of the payload happen before its leave. */
	atomic_fetch_sub_explicit(&e->frames, 1, memory_order_release);
	bridge_entry_put(e);
}

/* One message on the wire, its payload read by ZeroMQ in place (caller
 * holds b->lock). */
static void send_entry(struct bridge *b, struct entry *e)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_DATA, .src = (uint16_t)e->src,
			      .epoch = b->epoch, .w = e->w, .q = e->q, .dest = e->dest,
			      .kind = e->kind, .len = e->len,
			      .base = b->st[e->src][e->node].acked_w };
	zmq_msg_t m;
	void *s = dealer[e->node];

	e->sent_ns = bridge_now_ns();
	if (zmq_send(s, &h, sizeof(h), ZMQ_SNDMORE | ZMQ_DONTWAIT) != sizeof(h))
		return; /* sent again after RESEND_NS */
	if (e->len) {
		/* Release: pairs with the acq_rel put in free_frame, which runs
		 * in ZeroMQ's thread: what the proxies filed in @e (under
		 * b->lock, which we hold) happens before it reads @e. */
		atomic_fetch_add_explicit(&e->holds, 1, memory_order_release);
		/* Relaxed: read under b->lock (held) or after free_frame's
		 * release decrement. */
		atomic_fetch_add_explicit(&e->frames, 1, memory_order_relaxed);
		zmq_msg_init_data(&m, (void *)e->data, e->len, free_frame, e);
	} else {
		zmq_msg_init(&m);
	}
	if (zmq_msg_send(&m, s, ZMQ_DONTWAIT) < 0)
		zmq_msg_close(&m); /* drops the hold it took */
	__atomic_fetch_add(&b->peer[e->node].tx_msgs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&b->peer[e->node].tx_bytes, e->len, __ATOMIC_RELAXED);
}

void bridge_post_ack(struct bridge *b, unsigned node, unsigned src, uint64_t w)
{
	pthread_mutex_lock(&b->ack_mu);
	if (b->nacks == b->cap_acks) {
		size_t cap = b->cap_acks ? 2 * b->cap_acks : 64;
		struct wire_hdr *na = realloc(b->acks, cap * sizeof(*na));
		unsigned *nn = na ? realloc(b->ack_node, cap * sizeof(*nn)) : NULL;
		if (!na || !nn)
			abort();
		b->acks = na;
		b->ack_node = nn;
		b->cap_acks = cap;
	}
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_ACK, .src = (uint16_t)src,
			      .epoch = b->epoch, .w = w };
	b->acks[b->nacks] = h;
	b->ack_node[b->nacks++] = node;
	pthread_mutex_unlock(&b->ack_mu);
	bridge_kick(b);
}

static void send_acks(struct bridge *b)
{
	pthread_mutex_lock(&b->ack_mu);
	for (size_t i = 0; i < b->nacks; i++) {
		const char *id = b->cl.node[b->ack_node[i]].name;
		/* Dropped when the node is not connected: its resend asks again. */
		if (zmq_send(router, id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
			zmq_send(router, &b->acks[i], sizeof(b->acks[i]), ZMQ_DONTWAIT);
	}
	b->nacks = 0;
	pthread_mutex_unlock(&b->ack_mu);
}

static bool more(void *s)
{
	int m = 0;
	size_t l = sizeof(m);
	return zmq_getsockopt(s, ZMQ_RCVMORE, &m, &l) == 0 && m;
}

/* Read the rest of a multipart message away. */
static void drain(void *s)
{
	while (more(s)) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		zmq_msg_recv(&m, s, ZMQ_DONTWAIT);
		zmq_msg_close(&m);
	}
}

/* Checked copy of a header frame: 0, or -EBADMSG. */
static int read_hdr(struct bridge *b, zmq_msg_t *f, struct wire_hdr *h, int type)
{
	if (zmq_msg_size(f) != sizeof(*h))
		return -EBADMSG;
	memcpy(h, zmq_msg_data(f), sizeof(*h));
	if (h->magic != WIRE_MAGIC || h->type != type || h->src >= b->ranks)
		return -EBADMSG;
	return 0;
}

/* [node name][header] heartbeat: the node is there (its live ranks are
 * in dest, those marked dead in q). */
static void post_live(struct bridge *b, unsigned node, uint64_t live, uint64_t dead)
{
	struct inmsg *im = calloc(1, sizeof(*im));
	if (!im)
		abort();
	im->h.type = WIRE_HB;
	im->h.dest = live;
	im->h.q = dead;
	bridge_peer_push(b, node, im);
}

static void on_heartbeat(struct bridge *b, int node, const struct wire_hdr *h)
{
	struct peer *p = &b->peer[node];
	uint64_t live = h->dest & b->cl.node[node].ranks, dead = h->q & b->cl.node[node].ranks;

	if (!p->up)
		bridge_log(b, "node %s is up", b->cl.node[node].name);
	/* Through the inbound queue: after the messages that came before. */
	if (!p->up || live != p->live || dead != p->dead)
		post_live(b, (unsigned)node, live, dead);
	/* Relaxed: a proxy thread only polls it (bridge_node_up). */
	__atomic_store_n(&p->up, true, __ATOMIC_RELAXED);
	p->live = live;
	p->dead = dead;
}

void bridge_peer_push(struct bridge *b, unsigned node, struct inmsg *im)
{
	struct peer *p = &b->peer[node];

	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = im;
	else
		p->head = im;
	p->tail = im;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* [node name][header][payload] from another node's DEALER (a heartbeat
 * has no payload). */
static void on_router(struct bridge *b)
{
	zmq_msg_t id, f, *payload = NULL;
	struct wire_hdr h;
	char name[FSD_NODE_NAME_MAX + 1];
	int node = -1;
	bool ok = false;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, router, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&id);
		return;
	}
	size_t l = zmq_msg_size(&id);
	if (l <= FSD_NODE_NAME_MAX) {
		memcpy(name, zmq_msg_data(&id), l);
		name[l] = '\0';
		node = fsd_cluster_find(&b->cl, name);
	}
	zmq_msg_close(&id);
	if (node < 0 || node == b->self) {
		drain(router);
		return;
	}
	b->peer[node].heard_ns = bridge_now_ns();
	zmq_msg_init(&f);
	bool got = more(router) && zmq_msg_recv(&f, router, ZMQ_DONTWAIT) >= 0;
	if (got && !more(router) && read_hdr(b, &f, &h, WIRE_HB) == 0) {
		zmq_msg_close(&f);
		on_heartbeat(b, node, &h);
		return;
	}
	ok = got && read_hdr(b, &f, &h, WIRE_DATA) == 0 &&
	     (IPCFS_RANK_BIT(h.src) & b->cl.node[node].ranks) && !(h.dest & ~b->local) &&
	     h.kind <= IPCFS_KIND_TYPED && more(router);
	zmq_msg_close(&f);
	payload = ok ? malloc(sizeof(*payload)) : NULL;
	if (payload) {
		zmq_msg_init(payload);
		ok = zmq_msg_recv(payload, router, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(payload) == h.len &&
		     !more(router);
		if (!ok) {
			zmq_msg_close(payload);
			free(payload);
		}
	}
	drain(router);
	if (!ok || !payload) {
		bridge_log(b, "dropped a malformed message from node %s", name);
		return;
	}
	struct inmsg *im = calloc(1, sizeof(*im));
	if (!im)
		abort();
	im->h = h;
	im->zmsg = payload;
	bridge_peer_push(b, (unsigned)node, im);
}

/* An ack from node @n on its DEALER. */
static void on_dealer(struct bridge *b, unsigned n)
{
	zmq_msg_t f;
	struct wire_hdr h;

	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, dealer[n], ZMQ_DONTWAIT) >= 0 && !more(dealer[n]) &&
	    read_hdr(b, &f, &h, WIRE_ACK) == 0) {
		uint64_t sent, now = bridge_now_ns();
		struct peer *p = &b->peer[n];
		p->heard_ns = now;
		bridge_acked(b, n, h.src, h.w, &sent);
		if (sent && now > sent)
			p->rtt_ns = p->rtt_ns ? p->rtt_ns - p->rtt_ns / 8 + (now - sent) / 8 : now - sent;
	}
	zmq_msg_close(&f);
	drain(dealer[n]);
}

static int set_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

bool bridge_node_up(struct bridge *b, unsigned node)
{
	return __atomic_load_n(&b->peer[node].up, __ATOMIC_RELAXED);
}

/* The socket that sends to node @n (its acks come back on it). */
static int open_dealer(struct bridge *b, unsigned n)
{
	const struct fsd_node_conf *me = &b->cl.node[b->self];

	dealer[n] = zmq_socket(zctx, ZMQ_DEALER);
	if (!dealer[n])
		return -errno;
	set_int(dealer[n], ZMQ_SNDHWM, 0);
	set_int(dealer[n], ZMQ_RCVHWM, 0);
	set_int(dealer[n], ZMQ_LINGER, 0);
	set_int(dealer[n], ZMQ_RECONNECT_IVL, 100);
	set_int(dealer[n], ZMQ_RECONNECT_IVL_MAX, 1000);
	/* A connection begun during a partition: retried every second, not
	 * after the kernel's SYN backoff (up to a minute). */
	set_int(dealer[n], ZMQ_CONNECT_TIMEOUT, 1000);
	zmq_setsockopt(dealer[n], ZMQ_ROUTING_ID, me->name, strlen(me->name));
	return zmq_connect(dealer[n], b->cl.node[n].addr) ? -errno : 0;
}

static int open_sockets(struct bridge *b)
{
	const struct fsd_node_conf *me = &b->cl.node[b->self];

	zctx = zmq_ctx_new();
	router = zctx ? zmq_socket(zctx, ZMQ_ROUTER) : NULL;
	if (!router)
		return -errno;
	/* Memory is bounded by the rings: every message on the wire is held
	 * in them until acked, so ZeroMQ's own limits would only drop. */
	set_int(router, ZMQ_SNDHWM, 0);
	set_int(router, ZMQ_RCVHWM, 0);
	set_int(router, ZMQ_LINGER, 0);
	/* A node whose socket to us was replaced (its old connection may
	 * still look alive here, after a partition) connects again with the
	 * same routing id: the new connection takes over. */
	set_int(router, ZMQ_ROUTER_HANDOVER, 1);
	if (zmq_bind(router, me->addr) != 0) {
		bridge_log(b, "cannot listen on %s: %s", me->addr, zmq_strerror(errno));
		return -errno;
	}
	for (unsigned n = 0; n < b->cl.n; n++) {
		if ((int)n == b->self)
			continue;
		int rc = open_dealer(b, n);
		if (rc)
			return rc;
	}
	return 0;
}

/* Tell every other node we are here and which of our ranks are live;
 * note the nodes not heard from for SILENT_NS. */
static void heartbeat(struct bridge *b, uint64_t now)
{
	/* Acquire: pairs with the joins' and leaves' updates of live. */
	uint64_t live = atomic_load_explicit(&b->seg->hdr->live, memory_order_acquire), dead = 0;
	/* After live: a rank out of it was marked gone first. */
	for (uint64_t m = b->local & ~live; m; m &= m - 1) {
		struct seg_owner o;
		seg_owner_read(b->seg, (unsigned)__builtin_ctzll(m), &o);
		if (o.state == IPCFS_STATE_DEAD)
			dead |= m & -m;
	}
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_HB, .epoch = b->epoch,
			      .dest = live & b->local, .q = dead };
	for (unsigned n = 0; n < b->cl.n; n++) {
		struct peer *p = &b->peer[n];
		if (!dealer[n])
			continue;
		zmq_send(dealer[n], &h, sizeof(h), ZMQ_DONTWAIT);
		if (p->up && now - p->heard_ns > b->silent_ns) {
			__atomic_store_n(&p->up, false, __ATOMIC_RELAXED);
			p->live = 0;
			p->dead = b->cl.node[n].ranks;
			bridge_log(b, "node %s silent for %llu ms: down, its ranks gone",
				   b->cl.node[n].name, (unsigned long long)((now - p->heard_ns) / 1000000));
			/* As if every rank there had died. */
			post_live(b, n, 0, p->dead);
		}
	}
}

/* Our counters per remote node, into the group's bridge file (the daemon
 * shows them in bridge and stat; it takes them from its child only). */
static void report(struct bridge *b)
{
	char buf[FSD_NODES_MAX * 200], path[sizeof(b->dir) + 8];
	size_t o = 0;

	for (unsigned n = 0; n < b->cl.n; n++) {
		struct peer *p = &b->peer[n];
		if (!dealer[n])
			continue;
		int k = snprintf(buf + o, sizeof(buf) - o,
				 "%s up=%d tx_msgs=%llu tx_bytes=%llu rx_msgs=%llu rx_bytes=%llu "
				 "acked=%llu rtt_us=%llu\n", b->cl.node[n].name, p->up,
				 (unsigned long long)__atomic_load_n(&p->tx_msgs, __ATOMIC_RELAXED),
				 (unsigned long long)__atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED),
				 (unsigned long long)__atomic_load_n(&p->rx_msgs, __ATOMIC_RELAXED),
				 (unsigned long long)__atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED),
				 (unsigned long long)__atomic_load_n(&p->acked, __ATOMIC_RELAXED),
				 (unsigned long long)(p->rtt_ns / 1000));
		if (k > 0 && (size_t)k < sizeof(buf) - o)
			o += (size_t)k;
	}
	snprintf(path, sizeof(path), "%s/bridge", b->dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, buf, o) < 0 && b->verbose)
		bridge_log(b, "cannot report counters: %s", strerror(errno));
	close(fd);
}

int bridge_net_open(struct bridge *b)
{
	return open_sockets(b);
}

/* Replace the sockets retiring proxies asked to (poll items @it, their
 * nodes @who, from index 2 of @n): ZeroMQ drops what the old one queued,
 * and a new connection hands over at the other end. */
static int reset_dealers(struct bridge *b, zmq_pollitem_t *it, const unsigned *who, unsigned n)
{
	for (unsigned k = 2; k < n; k++) {
		unsigned node = who[k];
		if (!atomic_exchange(&b->reset[node], false))
			continue;
		zmq_close(dealer[node]);
		int rc = open_dealer(b, node);
		if (rc) {
			bridge_log(b, "cannot reconnect to node %s: %s", b->cl.node[node].name,
				   zmq_strerror(-rc));
			return rc;
		}
		if (b->verbose)
			bridge_log(b, "socket to node %s replaced", b->cl.node[node].name);
		it[k].socket = dealer[node];
		it[k].revents = 0;
	}
	return 0;
}

int bridge_net_run(struct bridge *b)
{
	zmq_pollitem_t it[FSD_NODES_MAX + 2];
	unsigned who[FSD_NODES_MAX + 2], n = 0;

	it[n++] = (zmq_pollitem_t){ .socket = router, .events = ZMQ_POLLIN };
	it[n++] = (zmq_pollitem_t){ .fd = b->kick_fd, .events = ZMQ_POLLIN };
	for (unsigned i = 0; i < b->cl.n; i++) {
		if (dealer[i]) {
			who[n] = i;
			it[n++] = (zmq_pollitem_t){ .socket = dealer[i], .events = ZMQ_POLLIN };
		}
	}
	uint64_t last_resend = bridge_now_ns(), last_hb = 0, last_report = 0;
	while (!atomic_load(&b->stop)) {
		if (zmq_poll(it, (int)n, 100) < 0 && errno != EINTR)
			break;
		if (it[1].revents & ZMQ_POLLIN) {
			uint64_t v;
			if (read(b->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
		}
		if (reset_dealers(b, it, who, n))
			return -EIO;
		/* A message read makes the socket's fd edge-triggered: read all. */
		for (int i = 0; i < 256 && (it[0].revents & ZMQ_POLLIN); i++) {
			int ev = 0;
			size_t l = sizeof(ev);
			zmq_getsockopt(router, ZMQ_EVENTS, &ev, &l);
			if (!(ev & ZMQ_POLLIN))
				break;
			on_router(b);
		}
		for (unsigned k = 2; k < n; k++) {
			for (int i = 0; i < 256 && (it[k].revents & ZMQ_POLLIN); i++) {
				int ev = 0;
				size_t l = sizeof(ev);
				zmq_getsockopt(dealer[who[k]], ZMQ_EVENTS, &ev, &l);
				if (!(ev & ZMQ_POLLIN))
					break;
				on_dealer(b, who[k]);
			}
		}
		bridge_flush(b, send_entry);
		send_acks(b);
		uint64_t now = bridge_now_ns();
		if (now - last_hb >= HB_NS) {
			last_hb = now;
			heartbeat(b, now);
		}
		if (now - last_report >= REPORT_NS) {
			last_report = now;
			report(b);
		}
		if (now - last_resend > RESEND_NS / 4) {
			last_resend = now;
			for (unsigned i = 0; i < b->cl.n; i++)
				if (dealer[i])
					bridge_resend(b, i, now - RESEND_NS, send_entry);
		}
	}
	return 0;
}

void bridge_net_close(void)
{
	for (unsigned n = 0; n < FSD_NODES_MAX; n++)
		if (dealer[n])
			zmq_close(dealer[n]);
	if (router)
		zmq_close(router);
	/* Frames not sent are dropped here: their holds come back. */
	if (zctx)
		zmq_ctx_term(zctx);
}

/* ---- inbound -------------------------------------------------------------- */

/* Send @im locally through the proxy of its sender; false if stopped. */
static bool deliver_by(struct bridge *b, struct ipcfs_member *m, struct inmsg *im);

/* A message from @src proves it live on its node: its proxy joins if it
 * has not yet (the heartbeat saying so may come later). Then send. */
static bool deliver(struct bridge *b, struct inmsg *im)
{
	struct proxy *p = &b->px[im->h.src];
	struct ipcfs_member *m;
	bool ok = true;

	pthread_mutex_lock(&p->mu);
	p->want = true;
	pthread_cond_broadcast(&p->cv);
	if (b->verbose && !b->m[im->h.src])
		bridge_log(b, "rank %u sends (w %llu): its proxy joins", im->h.src,
			   (unsigned long long)im->h.w);
	while (!(m = b->m[im->h.src]) && !atomic_load(&b->stop)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	if (m)
		p->busy++;
	pthread_mutex_unlock(&p->mu);
	if (!m)
		return false;
	ok = deliver_by(b, m, im);
	pthread_mutex_lock(&p->mu);
	p->busy--;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/* The remote node's live ranks changed (@live; 0: the node went silent,
 * its ranks in @dead): proxies join and leave to match. */
static void apply_live(struct bridge *b, unsigned node, uint64_t live, uint64_t dead)
{
	if (b->verbose)
		bridge_log(b, "node %s: live ranks %#llx", b->cl.node[node].name,
			   (unsigned long long)live);
	for (uint64_t m = b->cl.node[node].ranks; m; m &= m - 1) {
		unsigned r = (unsigned)__builtin_ctzll(m);
		struct proxy *p = &b->px[r];
		pthread_mutex_lock(&p->mu);
		p->want = (live & IPCFS_RANK_BIT(r)) != 0;
		p->dead = (dead & IPCFS_RANK_BIT(r)) != 0;
		pthread_cond_broadcast(&p->cv);
		if (b->m[r] && !p->want)
			ipcfs_interrupt(b->m[r]);
		pthread_mutex_unlock(&p->mu);
	}
}

static bool deliver_by(struct bridge *b, struct ipcfs_member *m, struct inmsg *im)
{
	zmq_msg_t *z = im->zmsg;
	uint64_t live, dest = im->h.dest;
	void *buf;
	int rc;

	for (;;) {
		ipcfs_live(m, &live);
		dest = im->h.dest & live;
		if (!dest)
			return true; /* nobody addressed is here (any more) */
		rc = ipcfs_reserve(m, im->h.len, &buf, 200);
		if (rc == 0)
			break;
		if (atomic_load(&b->stop))
			return false;
		if (rc != -ETIMEDOUT && rc != -EAGAIN) {
			bridge_log(b, "rank %u: cannot reserve %llu bytes: %s", im->h.src,
				   (unsigned long long)im->h.len, strerror(-rc));
			return true;
		}
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
	return true;
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
		if (im->h.type == WIRE_HB) {
			apply_live(b, p->node, im->h.dest, im->h.q);
			free(im);
			continue;
		}
		struct wire_hdr *h = &im->h;
		unsigned s = h->src;
		/* Another incarnation of the sending bridge (or of us): what it
		 * says was acked already is not asked for again. */
		if (h->epoch != p->epoch[s]) {
			p->epoch[s] = h->epoch;
			p->last_w[s] = h->base;
		}
		if (h->w == p->last_w[s] + 1) {
			if (!deliver(b, im))
				h->w = 0; /* stopping: not delivered, not acked */
			else
				p->last_w[s] = h->w;
			__atomic_fetch_add(&p->rx_msgs, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&p->rx_bytes, h->len, __ATOMIC_RELAXED);
		}
		/* Duplicates are acked again; after a gap, the last in order
		 * (the sender sends everything after it again). */
		if (h->w)
			bridge_post_ack(b, p->node, s, p->last_w[s]);
		zmq_msg_close(im->zmsg);
		free(im->zmsg);
		free(im);
	}
}
