/* SPDX-License-Identifier: MIT */
/*
 * bridge.h - ipcfs-bridge: one process per group and machine that carries
 * the group's messages between machines over ZeroMQ.
 *
 * In the local segment the bridge is every rank of the other nodes (a
 * proxy member each). Outbound, a proxy thread per remote rank receives
 * what local senders address to it and files it, still held, under the
 * stream (sender, node); once every addressed proxy of that node has it,
 * the message is sent once to that node, zero-copy from the ring or the
 * arena, with a per-stream wire number. It stays held until the node acks
 * it (after its local send returned): back-pressure reaches the sender
 * through its ring, and what was not acked is sent again (go-back-N).
 * Inbound, each message is sent locally through the proxy of its original
 * sender, in wire order, dropping duplicates: by the network thread when
 * that needs no waiting, else by a thread per remote node.
 *
 * Files: main.c (configuration, members, threads), out.c (streams,
 * releases), net.c (the ZeroMQ loop), in.c (the inbound side).
 */
#ifndef IPCFS_BRIDGE_H
#define IPCFS_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipcfs/cluster.h"
#include "ipcfs.h"
#include "pace_int.h"

#define WIRE_MAGIC 0x49504232u /* "IPB2" */
#define WIRE_HAS_ACK 1u          /* flags: DATA carries an ack (ack_src, ack_w) */
#define HB_BOUNCE 2u             /* flags of a heartbeat queued inbound: see proxy.bounce */
enum { WIRE_DATA = 1, WIRE_ACK = 2, WIRE_HB = 3 };

/* The header frame of every wire message (host byte order: both ends are
 * the same build on the same architecture, checked by the magic). */
struct wire_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t src;     /* original sender rank */
	uint64_t epoch;   /* sending bridge's incarnation */
	uint64_t w;       /* wire number in the stream (src, receiving node), from 1 */
	uint64_t base;    /* DATA: every w <= base was acked already */
	uint64_t q;       /* DATA: the sender's own sequence number;
	                     HB: the sending node's ranks marked dead */
	uint64_t dest;    /* DATA: the addressed ranks of the receiving node;
	                     HB: the sending node's live ranks */
	uint32_t kind;    /* DATA: IPCFS_KIND_* */
	uint16_t ack_src; /* DATA with WIRE_HAS_ACK: the receiving node acks */
	uint16_t flags;   /* ... its stream (ack_src, sending node) up to ack_w */
	uint64_t len;     /* DATA: payload bytes (the next frame) */
	uint64_t ack_w;
};

/* An ack owed to a node for the stream (its rank, us): ack.c, ack_mu. */
struct owed {
	uint64_t w;                   /* the last wire number delivered in order */
	uint64_t since_ns;            /* owed since */
	unsigned count;               /* messages since the last ack */
};

/* One message of a local sender to one remote node, held (one view per
 * addressed proxy) until that node acks it. */
struct entry {
	struct entry *next;
	unsigned src, node;
	uint64_t q, w, dest, arrived;
	const void *data;
	size_t len;
	uint32_t kind;
	uint64_t sent_ns;
	/* 1 for the ack awaited, plus one per frame ZeroMQ still reads:
	 * whoever drops it to 0 hands the views back (bridge_entry_put). */
	_Atomic int holds;
	/* Data frames of it that ZeroMQ has not let go of yet (it may still
	 * read e->data): a retiring proxy waits for them (out.c). */
	_Atomic int frames;
	struct ipcfs_msg view[IPCFS_MAX_RANKS];
	unsigned vgen[IPCFS_MAX_RANKS]; /* the proxy incarnation each view is of */
};

/* Stream (local sender, remote node), bridge->lock. */
struct stream {
	struct entry *pending;        /* by q: not every addressed proxy has it yet */
	struct entry *inflight, *tail; /* by w: sent, not acked */
	uint64_t next_w, acked_w;
	uint64_t flushed_q;           /* the highest q sent: a view of it or before
	                                 that comes later goes alone */
};

/* Views a proxy thread must release (filled by other threads), each with
 * the incarnation of the proxy it belongs to. */
struct relv {
	struct ipcfs_msg msg;
	unsigned gen;
};

struct relq {
	pthread_mutex_t mu;
	struct relv *v;
	size_t n, cap;
};

/*
 * A proxy's life: it is joined while its rank is live on its node (as
 * that node's heartbeats say, or as a message from it proves) and left
 * when not (the rank left or died there, or the node went silent), so
 * that local readers see remote ranks come and go as local ones: -EPIPE
 * after the last message of a gone sender. Only the proxy thread joins
 * and leaves (it alone receives through the member); the inbound thread
 * sends through it, counted in busy, never holding mu while it waits.
 */
struct proxy {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool want;                    /* mu: should be joined */
	unsigned busy;                /* mu: inbound sends in progress */
	unsigned gen;                 /* proxy thread: incarnations left so far */
	bool dead;                    /* mu: its rank died there (or the node is
	                                 down): leave as dead, not left */
	bool bounce;                  /* mu: leave as dead and join again: the
	                                 node's bridge restarted, what it had not
	                                 sent is lost (readers get EPIPE there) */
	uint64_t live_hb;             /* mu: the newest heartbeat (peer.hb_seq) that
	                                 made it join at once (on_heartbeat) */
};

/* What one inbound thread receives from the network thread. */
struct inmsg {
	struct inmsg *next;
	struct wire_hdr h;
	void *zmsg;                   /* zmq_msg_t *, the payload */
	/* A heartbeat's live ranks queued (h.type WIRE_HB, made by the
	 * network thread, never from the wire): its number (peer.hb_seq),
	 * UINT64_MAX for a node declared down. */
	uint64_t hb_seq;
};

/* What this node's bridge delivered of each stream (node, src), in a
 * file beside the segment (in.c): its next incarnation neither delivers
 * a message twice nor asks for one again. Written by the thread that
 * delivers for that node. */
struct instate_row {
	_Atomic uint64_t epoch;       /* of the sending bridge */
	_Atomic uint64_t last_w;      /* delivered in order up to */
	_Atomic uint64_t pend_w;      /* being delivered ... */
	_Atomic uint64_t pend_head;   /* ... when the proxy's ring head was */
};

struct instate {
	uint64_t magic;
	char name[FSD_NODES_MAX][FSD_NODE_NAME_MAX + 1]; /* whose rows these are */
	struct instate_row row[FSD_NODES_MAX][IPCFS_MAX_RANKS];
};

struct bridge;
struct seg_map;

/* A DEALER's routing id: NAME#ID, this node's name and an id of that
 * socket's own (net.c), at most this long. */
#define BRIDGE_RID_MAX (FSD_NODE_NAME_MAX + 1 + 32)

struct peer {
	struct bridge *b;
	unsigned node;
	pthread_t thread;
	pthread_mutex_t mu;           /* the queue */
	pthread_cond_t cv;
	struct inmsg *head, *tail;
	unsigned queued;              /* mu: pushed, not finished by the inbound thread */
	/* The thread delivering (network or inbound, one at a time): per
	 * remote sender, the incarnation and the last wire number delivered;
	 * whether our last incarnation may have delivered one more. */
	uint64_t epoch[IPCFS_MAX_RANKS], last_w[IPCFS_MAX_RANKS];
	bool check[IPCFS_MAX_RANKS];
	uint64_t hb_epoch;            /* network thread: its bridge's, from heartbeats */
	uint64_t hb_seq;              /* network thread: heartbeats heard from it */
	/* A message made a proxy of that node join, which its heartbeats did
	 * not say: the next one is applied even if its mask did not change
	 * (a rank that joined and left between two would keep its proxy). */
	_Atomic bool joined_by_msg;
	uint64_t rx_msgs, rx_bytes, tx_msgs, tx_bytes, acked; /* atomically */
	/* Network thread only. */
	uint64_t heard_ns;            /* last frame from that node */
	uint64_t live, dead;          /* its live and dead ranks, from its heartbeats */
	uint64_t rtt_ns;              /* send to ack, smoothed (1/8) */
	bool up;
	/* The routing id of its latest connection to our ROUTER that proved
	 * to be its own (net.c): the acks for it go there; rid_len 0: none. */
	char rid[BRIDGE_RID_MAX];
	size_t rid_len;
};

struct bridge {
	char dir[4096];
	struct fsd_cluster cl;
	int self;
	unsigned ranks;
	uint64_t local, remote;       /* masks */
	uint64_t epoch;
	struct ipcfs_member *m[IPCFS_MAX_RANKS]; /* proxies (remote ranks) */
	pthread_t proxy[IPCFS_MAX_RANKS];
	struct relq rq[IPCFS_MAX_RANKS];
	struct proxy px[IPCFS_MAX_RANKS];
	struct peer peer[FSD_NODES_MAX];
	pthread_mutex_t lock;         /* streams, and the two below */
	struct stream st[IPCFS_MAX_RANKS][FSD_NODES_MAX];
	/* The proxies joined, and where each one's incarnation began reading
	 * each sender's ring: a message is waited for from a proxy only if it
	 * will get it (joined, and sent after that). */
	uint64_t joined_px;
	uint64_t start[IPCFS_MAX_RANKS][IPCFS_MAX_RANKS];
	/* Acks owed (ack.c): posted by the network and inbound threads,
	 * taken by whoever sends data to that node next, or sent alone. */
	pthread_mutex_t ack_mu;
	uint64_t owed_mask[FSD_NODES_MAX];
	struct owed owed[FSD_NODES_MAX][IPCFS_MAX_RANKS];
	unsigned release_batch;       /* views handed back before a proxy is woken */
	size_t slot_payload;          /* larger messages are in the arena */
	int kick_fd;                  /* eventfd: sends or acks to do */
	int report_fd;                /* -r: counters to the daemon (a pipe); -1: none */
	struct seg_map *seg;          /* read-only mapping: the live ranks for heartbeats */
	struct instate *ist;          /* NULL if it could not be kept */
	_Atomic bool stop;
	/* Set by a retiring proxy: the network thread replaces its socket to
	 * that node, dropping the frames ZeroMQ still queues for it. */
	_Atomic bool reset[FSD_NODES_MAX];
	int verbose;
	uint64_t silent_ns;           /* node_timeout_ms: a node silent so long is down */
};

uint64_t bridge_now_ns(void);

/*
 * A bridge thread asleep between messages makes each one pay a wake-up
 * (tens of microseconds on a VM) on top of those ZeroMQ pays itself: two
 * more per direction than a raw socket (the proxy that takes the message
 * from the ring, the network thread that puts it into the other one). So
 * each spins while messages flow (struct flow, lib/pace_int.h): a proxy
 * hands the window to the library's wait (chan_recv_spin), which spins as
 * the ranks' waits do; the network thread polls ZeroMQ, yielding the CPU
 * every round. The ranks that receive what the bridge relays spin so too
 * (seg_rank.relay), so that the last hop costs no wake-up either.
 */

void bridge_kick(struct bridge *b);
__attribute__((format(printf, 2, 3))) void bridge_log(struct bridge *b, const char *fmt, ...);

/* out.c */
void *bridge_proxy_main(void *arg);   /* arg: &b->rq[r], rank from it */
/* The network thread: move every ready message to the wire (caller holds
 * nothing); @send is called for each under b->lock. */
void bridge_flush(struct bridge *b, void (*send)(struct bridge *, struct entry *));
/* Node @node acked stream (src) up to @w: the newest entry acked's send
 * time in *@sent_ns (0 if none). */
void bridge_acked(struct bridge *b, unsigned node, unsigned src, uint64_t w, uint64_t *sent_ns);
/* Entries of @node not acked, sent before @before_ns: resend them all
 * (under b->lock) in wire order. */
void bridge_resend(struct bridge *b, unsigned node, uint64_t before_ns,
		   void (*send)(struct bridge *, struct entry *));
/* Whether node @node is up (heard from within node_timeout_ms). */
bool bridge_node_up(struct bridge *b, unsigned node);
/* Drop a hold of @e; the last hands its views back. */
void bridge_entry_put(struct entry *e);
/* Release everything still held (at exit, proxy threads stopped). */
void bridge_out_fini(struct bridge *b);
extern struct bridge *bridge_self;

/* net.c */
/* Listen and connect (before joining anything: a node that cannot listen
 * changes nothing in the group), then run until b->stop. */
int bridge_net_open(struct bridge *b);
int bridge_net_run(struct bridge *b);
/* One message on the wire, read in place (caller holds b->lock). */
void bridge_send_entry(struct bridge *b, struct entry *e);
/* After a proxy thread's sends to @node: wake the network thread if an
 * ack is waiting there. */
void bridge_poke_acks(struct bridge *b, unsigned node);
void bridge_net_close(void);

/* rid.c: routing ids of the DEALERs, NAME#N.R. */
/* A new one into @id (BRIDGE_RID_MAX bytes); its length, 0 if too long. */
size_t bridge_new_rid(struct bridge *b, char *id);
/* The other node id @id (@l bytes) names; -1 if none or malformed. */
int bridge_rid_node(struct bridge *b, const char *id, size_t l);
/* Log (rate-limited, printable) a message's id that named no node. */
void bridge_bad_rid(struct bridge *b, const char *id, size_t l);
/* A message proved id @id is node @node's latest connection. */
void bridge_note_rid(struct bridge *b, unsigned node, const char *id, size_t l);

/* ack.c */
/* Stream (@src of @node, us) delivered up to @w (@dup: a duplicate came,
 * ack at once); @from_net: called by the network thread. */
void bridge_post_ack(struct bridge *b, unsigned node, unsigned src, uint64_t w, bool dup,
		     bool from_net);
/* An ack owed to @node, to ride on a message to it: false if none. */
bool bridge_ack_take(struct bridge *b, unsigned node, unsigned *src, uint64_t *w);
/* Send (@send) the acks that are due; ns until the next one is (or
 * UINT64_MAX). */
uint64_t bridge_acks_due(struct bridge *b, uint64_t now,
			 void (*send)(struct bridge *, unsigned node, unsigned src, uint64_t w));

/* in.c */
void *bridge_peer_main(void *arg);
/* Queue @im for the inbound thread of @node (in order with its data). */
void bridge_peer_push(struct bridge *b, unsigned node, struct inmsg *im);
/* A data message @im of @node, from the network thread: delivered now if
 * nothing makes it wait, else queued; @im is ours. */
void bridge_peer_take(struct bridge *b, unsigned node, struct inmsg *im);
/* Map the record of deliveries beside @segpath and take up where the last
 * incarnation stopped (before any thread runs). */
void bridge_instate_open(struct bridge *b, const char *segpath);
/* Free what is queued for @node (its thread stopped). */
void bridge_peer_drop_all(struct bridge *b, unsigned node);

/* curve.c: CURVE when the group's keys file is set (fsd/keys.h). */
/* Load and check the keys (none: 0, nothing changes), start the ZAP
 * handler and make @router a CURVE server, before it listens; -errno
 * (said on stderr) when keys are set but unusable. */
int bridge_curve_open(struct bridge *b, void *ctx, void *router);
/* Make @dealer a CURVE client of node @node (nothing without keys). */
int bridge_curve_client(struct bridge *b, void *dealer, unsigned node);
/* Whether header frame @frame (a zmq_msg_t *) of a message whose routing
 * id names @node came with @node's key (always without keys). */
bool bridge_curve_sender_ok(struct bridge *b, void *frame, int node);
/* "auth curve=1 refused=N\n" for the bridge file into @buf, its length
 * (0 without keys). */
int bridge_curve_report(char *buf, size_t size);
/* Whether the @n-th (from 1) of a kind of log line is logged: the first
 * few, then every thousandth (peers may send bad data at will). */
bool bridge_log_nth(uint64_t n);
/* After zmq_ctx_term: the ZAP thread has ended; join it. */
void bridge_curve_close(void);
/* ipcfs-bridge keygen DIR NAME (@argv[0] is "keygen"): exit status. */
int bridge_keygen(int argc, char **argv);

#endif
