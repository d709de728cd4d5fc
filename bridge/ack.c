/* SPDX-License-Identifier: MIT */
/*
 * ack.c - the acks this bridge owes other nodes: one per stream (their
 * rank, us), the last wire number delivered in order.
 *
 * An ack rides on the next data message to that node when there is one
 * soon (a reply, the other direction of a ping-pong), and goes alone when
 * none came within ACK_DELAY_NS, when ACK_EVERY messages of the stream are
 * unacked (the sender's views hold its ring slots until then), or at once
 * for a duplicate (the sender is resending: our ack was lost). A separate
 * ack costs both machines a round of thread wake-ups (network, ZeroMQ
 * I/O, the proxy that releases); on a machine with few CPUs that is as
 * much as the message itself.
 */
#include <stdlib.h>

#include "bridge.h"

#define ACK_DELAY_NS (500 * 1000ull)
#define ACK_EVERY 4

void bridge_post_ack(struct bridge *b, unsigned node, unsigned src, uint64_t w, bool dup,
		     bool from_net)
{
	struct owed *o = &b->owed[node][src];
	bool first;

	pthread_mutex_lock(&b->ack_mu);
	first = !(b->owed_mask[node] & IPCFS_RANK_BIT(src));
	if (first) {
		b->owed_mask[node] |= IPCFS_RANK_BIT(src);
		o->since_ns = bridge_now_ns();
		o->count = 0;
	}
	o->w = w;
	o->count = dup ? ACK_EVERY : o->count + 1;
	pthread_mutex_unlock(&b->ack_mu);
	/* The network thread's wait is cut to when the first is due. */
	if (!from_net && (first || dup))
		bridge_kick(b);
}

bool bridge_ack_take(struct bridge *b, unsigned node, unsigned *src, uint64_t *w)
{
	bool got = false;

	pthread_mutex_lock(&b->ack_mu);
	if (b->owed_mask[node]) {
		*src = (unsigned)__builtin_ctzll(b->owed_mask[node]);
		*w = b->owed[node][*src].w;
		b->owed_mask[node] &= b->owed_mask[node] - 1;
		got = true;
	}
	pthread_mutex_unlock(&b->ack_mu);
	return got;
}

uint64_t bridge_acks_due(struct bridge *b, uint64_t now,
			 void (*send)(struct bridge *, unsigned node, unsigned src, uint64_t w))
{
	uint64_t next = UINT64_MAX;

	pthread_mutex_lock(&b->ack_mu);
	for (unsigned n = 0; n < b->cl.n; n++) {
		for (uint64_t m = b->owed_mask[n]; m; m &= m - 1) {
			unsigned src = (unsigned)__builtin_ctzll(m);
			struct owed *o = &b->owed[n][src];
			uint64_t due = o->since_ns + ACK_DELAY_NS;
			if (o->count >= ACK_EVERY || now >= due) {
				send(b, n, src, o->w);
				b->owed_mask[n] &= ~IPCFS_RANK_BIT(src);
			} else if (due - now < next) {
				next = due - now;
			}
		}
	}
	pthread_mutex_unlock(&b->ack_mu);
	return next;
}
