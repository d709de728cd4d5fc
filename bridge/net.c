/* SPDX-License-Identifier: MIT */
/*
 * net.c - the ZeroMQ side of the bridge. The network thread alone touches
 * the sockets: a ROUTER bound to this node's address receives the other
 * nodes' messages (and sends them acks); one DEALER per other node sends
 * them ours (and receives their acks). Their messages are delivered
 * locally by in.c. Their routing ids are rid.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
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
#define REPORT_NS (500 * 1000000ull)  /* counters to the daemon (-r) */
#define FLOW_ROUND_NS (20 * 1000ull)  /* polling: the whole round at least this often */

static void *zctx;
static void *router;
static void *dealer[FSD_NODES_MAX];
/* A DEALER is used by the network thread (acks, heartbeats, resends, its
 * replacement) and by the proxy threads, which send what they complete
 * themselves (one thread hand-off less per message): each use holds its
 * lock (ZeroMQ allows a socket to move between threads across a full
 * fence). Taken after b->lock, never before it. The network thread
 * polls the socket's ZMQ_FD, not the socket. */
static pthread_mutex_t dealer_mu[FSD_NODES_MAX];
static int dealer_fd[FSD_NODES_MAX];

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
 * holds b->lock and dealer_mu[e->node]). */
static void send_entry_locked(struct bridge *b, struct entry *e)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_DATA, .src = (uint16_t)e->src,
			      .epoch = b->epoch, .w = e->w, .q = e->q, .dest = e->dest,
			      .kind = e->kind, .len = e->len,
			      .base = b->st[e->src][e->node].acked_w };
	zmq_msg_t m;
	void *s = dealer[e->node];
	unsigned asrc;

	if (bridge_ack_take(b, e->node, &asrc, &h.ack_w)) {
		h.ack_src = (uint16_t)asrc;
		h.flags = WIRE_HAS_ACK;
	}
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

/* One ack alone, on the ROUTER (network thread), to the node's latest
 * connection (none yet: nothing came from it to ack). */
static void send_ack(struct bridge *b, unsigned node, unsigned src, uint64_t w)
{
	struct wire_hdr h = { .magic = WIRE_MAGIC, .type = WIRE_ACK, .src = (uint16_t)src,
			      .epoch = b->epoch, .w = w };
	const struct peer *p = &b->peer[node];

	/* Dropped when that connection is gone: its resend asks again. */
	if (p->rid_len && zmq_send(router, p->rid, p->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
		zmq_send(router, &h, sizeof(h), ZMQ_DONTWAIT);
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

/* [routing id][header] heartbeat: the node is there (its live ranks are
 * in dest, those marked dead in q). */
/* Queue the live ranks @live of @node (and @dead of them) as heartbeat
 * number @seq said them (UINT64_MAX: the node is down, whatever came). */
static void post_live(struct bridge *b, unsigned node, uint64_t live, uint64_t dead,
		      bool bounce, uint64_t seq)
{
	struct inmsg *im = calloc(1, sizeof(*im));
	if (!im)
		abort();
	im->h.type = WIRE_HB;
	im->h.dest = live;
	im->h.q = dead;
	im->h.flags = bounce ? HB_BOUNCE : 0;
	im->hb_seq = seq;
	bridge_peer_push(b, node, im);
}

static void on_heartbeat(struct bridge *b, int node, const struct wire_hdr *h)
{
	struct peer *p = &b->peer[node];
	uint64_t live = h->dest & b->cl.node[node].ranks, dead = h->q & b->cl.node[node].ranks;

	/* Another incarnation of its bridge: what the last one held and had
	 * not sent is lost, so its ranks' proxies here end as dead (readers
	 * get EPIPE after what arrived) and join again. */
	bool bounce = p->hb_epoch && p->hb_epoch != h->epoch;
	p->hb_epoch = h->epoch;
	p->hb_seq++;
	if (bounce)
		bridge_log(b, "node %s: its bridge restarted", b->cl.node[node].name);
	if (!p->up)
		bridge_log(b, "node %s is up", b->cl.node[node].name);
	/* Through the inbound queue: after the messages that came before. */
	/* Ranks that became live join at once: the news must not wait behind
	 * data stalled on a full ring (readers that wait for every rank before
	 * they read would never read). Leaves stay in order with the data
	 * (EPIPE after the last message). Never waiting for a proxy's lock:
	 * a retiring one holds it while it waits for us; the queued update
	 * does it then. */
	for (uint64_t m = live & ~p->live & ~dead; m; m &= m - 1) {
		struct proxy *px = &b->px[__builtin_ctzll(m)];
		if (pthread_mutex_trylock(&px->mu) == 0) {
			/* An older heartbeat still queued must not undo this
			 * join (apply_live): its readers would see EPIPE. */
			px->live_hb = p->hb_seq;
			px->want = true;
			pthread_cond_broadcast(&px->cv);
			pthread_mutex_unlock(&px->mu);
		}
	}
	bool again = atomic_exchange(&p->joined_by_msg, false);
	if (!p->up || live != p->live || dead != p->dead || bounce || again)
		post_live(b, (unsigned)node, live, dead, bounce, p->hb_seq);
	/* Relaxed: a proxy thread only polls it (bridge_node_up). */
	__atomic_store_n(&p->up, true, __ATOMIC_RELAXED);
	p->live = live;
	p->dead = dead;
}

/* Node @n acked stream (@src, @n) up to @w (alone or with its data). */
static void got_ack(struct bridge *b, unsigned n, unsigned src, uint64_t w)
{
	uint64_t sent, now = bridge_now_ns();
	struct peer *p = &b->peer[n];

	p->heard_ns = now;
	bridge_acked(b, n, src, w, &sent);
	if (sent && now > sent)
		p->rtt_ns = p->rtt_ns ? p->rtt_ns - p->rtt_ns / 8 + (now - sent) / 8 : now - sent;
}

/* [routing id][header][payload] from another node's DEALER (a heartbeat
 * has no payload). Whether it was data. */
static bool on_router(struct bridge *b)
{
	zmq_msg_t id, f, *payload = NULL;
	struct wire_hdr h;
	bool ok = false;

	zmq_msg_init(&id);
	if (zmq_msg_recv(&id, router, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&id);
		return false;
	}
	const char *rid = zmq_msg_data(&id);
	size_t l = zmq_msg_size(&id);
	int node = bridge_rid_node(b, rid, l);
	if (node < 0) {
		bridge_bad_rid(b, rid, l);
		zmq_msg_close(&id);
		drain(router);
		return false;
	}
	const char *name = b->cl.node[node].name;
	zmq_msg_init(&f);
	bool got = more(router) && zmq_msg_recv(&f, router, ZMQ_DONTWAIT) >= 0;
	/* With CURVE: not from @node's key, not from @node (nor a sign of
	 * its life, nor its connection). */
	if (got && !bridge_curve_sender_ok(b, &f, node)) {
		zmq_msg_close(&f);
		zmq_msg_close(&id);
		drain(router);
		return false;
	}
	bridge_note_rid(b, (unsigned)node, rid, l);
	zmq_msg_close(&id);
	b->peer[node].heard_ns = bridge_now_ns();
	if (got && !more(router) && read_hdr(b, &f, &h, WIRE_HB) == 0) {
		zmq_msg_close(&f);
		on_heartbeat(b, node, &h);
		return false;
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
		return false;
	}
	if (h.flags & WIRE_HAS_ACK)
		got_ack(b, (unsigned)node, h.ack_src, h.ack_w);
	struct inmsg *im = calloc(1, sizeof(*im));
	if (!im)
		abort();
	im->h = h;
	im->zmsg = payload;
	bridge_peer_take(b, (unsigned)node, im);
	return true;
}

void bridge_send_entry(struct bridge *b, struct entry *e)
{
	pthread_mutex_lock(&dealer_mu[e->node]);
	send_entry_locked(b, e);
	pthread_mutex_unlock(&dealer_mu[e->node]);
}

/* Whether node @n's DEALER has something to read (caller holds its lock). */
static bool readable_locked(unsigned n)
{
	int ev = 0;
	size_t l = sizeof(ev);
	return dealer[n] && zmq_getsockopt(dealer[n], ZMQ_EVENTS, &ev, &l) == 0 && (ev & ZMQ_POLLIN);
}

void bridge_poke_acks(struct bridge *b, unsigned node)
{
	/* Our sends may have taken the edge of ZMQ_FD that says an ack came:
	 * the network thread would not wake for it. */
	pthread_mutex_lock(&dealer_mu[node]);
	bool ack = readable_locked(node);
	pthread_mutex_unlock(&dealer_mu[node]);
	if (ack)
		bridge_kick(b);
}

/* The acks from node @n on its DEALER, up to 256 (then the loop comes
 * back): each read under its lock, handled without it. */
static void on_dealer(struct bridge *b, unsigned n)
{
	for (int i = 0; i < 256; i++) {
		zmq_msg_t f;
		struct wire_hdr h;
		bool ok = false;

		pthread_mutex_lock(&dealer_mu[n]);
		if (!readable_locked(n)) {
			pthread_mutex_unlock(&dealer_mu[n]);
			return;
		}
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, dealer[n], ZMQ_DONTWAIT) >= 0 && !more(dealer[n]))
			ok = read_hdr(b, &f, &h, WIRE_ACK) == 0;
		zmq_msg_close(&f);
		drain(dealer[n]);
		pthread_mutex_unlock(&dealer_mu[n]);
		if (ok)
			got_ack(b, n, h.src, h.w);
	}
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
	char id[BRIDGE_RID_MAX];
	size_t idl = bridge_new_rid(b, id);

	if (!idl)
		return -ENAMETOOLONG;
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
	if (zmq_setsockopt(dealer[n], ZMQ_ROUTING_ID, id, idl))
		return -errno;
	size_t l = sizeof(dealer_fd[n]);
	if (zmq_getsockopt(dealer[n], ZMQ_FD, &dealer_fd[n], &l) != 0)
		return -errno;
	int rc = bridge_curve_client(b, dealer[n], n);
	if (rc)
		return rc;
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
	/* No ZMQ_ROUTER_HANDOVER: every connection has an id of its own
	 * (above); one that claims an id already connected is ignored. */
	int rc = bridge_curve_open(b, zctx, router);
	if (rc)
		return rc;
	if (zmq_bind(router, me->addr) != 0) {
		bridge_log(b, "cannot listen on %s: %s", me->addr, zmq_strerror(errno));
		return -errno;
	}
	for (unsigned n = 0; n < b->cl.n; n++) {
		if ((int)n == b->self)
			continue;
		pthread_mutex_init(&dealer_mu[n], NULL);
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
		pthread_mutex_lock(&dealer_mu[n]);
		zmq_send(dealer[n], &h, sizeof(h), ZMQ_DONTWAIT);
		pthread_mutex_unlock(&dealer_mu[n]);
		if (p->up && now - p->heard_ns > b->silent_ns) {
			__atomic_store_n(&p->up, false, __ATOMIC_RELAXED);
			p->live = 0;
			p->dead = b->cl.node[n].ranks;
			bridge_log(b, "node %s silent for %llu ms: down, its ranks gone",
				   b->cl.node[n].name, (unsigned long long)((now - p->heard_ns) / 1000000));
			/* As if every rank there had died. */
			post_live(b, n, 0, p->dead, false, UINT64_MAX);
			/* A new socket (routing id) for when it answers again:
			 * its ROUTER ignores a connection with the id of one it
			 * still holds, and may hold ours half-open for ever
			 * (it sends nothing on it until we do), while ZeroMQ
			 * would reconnect this socket with the same id. */
			atomic_store(&b->reset[n], true);
		}
	}
}

/* One line to the daemon: a write(2) of its own, under PIPE_BUF, so it
 * lands whole or not at all. A full pipe (the daemon takes them every
 * 0.1 s) drops it: the next report, 0.5 s later, says it again. */
static void report_line(struct bridge *b, const char *line, int len)
{
	if (len <= 0 || len >= FSD_BRIDGE_LINE_MAX)
		return;
	if (write(b->report_fd, line, (size_t)len) < 0 && errno != EAGAIN && b->verbose)
		bridge_log(b, "cannot report counters: %s", strerror(errno));
}

/* Our counters per remote node, to the daemon through the pipe it gave
 * us (it shows them in bridge and stat). Not through the mount: opening
 * a file of it every 0.5 s made a hand unmount fail with EBUSY. */
static void report(struct bridge *b)
{
	char line[FSD_BRIDGE_LINE_MAX];

	if (b->report_fd < 0)
		return;
	for (unsigned n = 0; n < b->cl.n; n++) {
		struct peer *p = &b->peer[n];
		if (!dealer[n])
			continue;
		report_line(b, line, snprintf(line, sizeof(line),
				"%s up=%d tx_msgs=%llu tx_bytes=%llu rx_msgs=%llu rx_bytes=%llu "
				"acked=%llu rtt_us=%llu\n", b->cl.node[n].name, p->up,
				(unsigned long long)__atomic_load_n(&p->tx_msgs, __ATOMIC_RELAXED),
				(unsigned long long)__atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED),
				(unsigned long long)__atomic_load_n(&p->rx_msgs, __ATOMIC_RELAXED),
				(unsigned long long)__atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED),
				(unsigned long long)__atomic_load_n(&p->acked, __ATOMIC_RELAXED),
				(unsigned long long)(p->rtt_ns / 1000)));
	}
	report_line(b, line, bridge_curve_report(line, sizeof(line)));
}

int bridge_net_open(struct bridge *b)
{
	return open_sockets(b);
}

/* Replace the sockets retiring proxies asked to (poll items @it, their
 * nodes @who, from index 2 of @n): ZeroMQ drops what the old one queued;
 * the new one connects with a new routing id, which the other end takes
 * as ours once a message of it came (note_rid). */
static int reset_dealers(struct bridge *b, zmq_pollitem_t *it, const unsigned *who, unsigned n)
{
	for (unsigned k = 2; k < n; k++) {
		unsigned node = who[k];
		if (!atomic_exchange(&b->reset[node], false))
			continue;
		pthread_mutex_lock(&dealer_mu[node]);
		zmq_close(dealer[node]);
		int rc = open_dealer(b, node);
		pthread_mutex_unlock(&dealer_mu[node]);
		if (rc) {
			bridge_log(b, "cannot reconnect to node %s: %s", b->cl.node[node].name,
				   zmq_strerror(-rc));
			return rc;
		}
		if (b->verbose)
			bridge_log(b, "socket to node %s replaced", b->cl.node[node].name);
		it[k].fd = dealer_fd[node];
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
			it[n++] = (zmq_pollitem_t){ .fd = dealer_fd[i], .events = ZMQ_POLLIN };
		}
	}
	uint64_t last_resend = bridge_now_ns(), last_hb = 0, last_report = 0, next_ack = UINT64_MAX;
	uint64_t last_round = 0;
	struct flow fl = { 0 };
	while (!atomic_load(&b->stop)) {
		/* Milliseconds: an ack due sooner waits one. While messages
		 * flow, poll (bridge.h): the rest of the round, which takes
		 * the streams' lock, runs when something came, and at least
		 * every FLOW_ROUND_NS for the acks due. */
		bool polling = seg_layout(b->seg)->spin_us && bridge_now_ns() < fl.until;
		int got = zmq_poll(it, (int)n, polling ? 0 : next_ack < 100 * 1000000ull ? 1 : 100);
		if (got < 0 && errno != EINTR)
			break;
		if (got == 0 && polling && bridge_now_ns() - last_round < FLOW_ROUND_NS) {
			sched_yield();
			continue;
		}
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
			if (on_router(b))
				flow_note(&fl, bridge_now_ns());
		}
		/* Every round: a proxy's send may have taken the fd's edge
		 * (it kicks us then). */
		for (unsigned k = 2; k < n; k++)
			on_dealer(b, who[k]);
		bridge_flush(b, bridge_send_entry);
		uint64_t now = bridge_now_ns();
		last_round = now;
		next_ack = bridge_acks_due(b, now, send_ack);
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
					bridge_resend(b, i, now - RESEND_NS, bridge_send_entry);
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
	bridge_curve_close();
}
