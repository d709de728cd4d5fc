/* SPDX-License-Identifier: MIT */
/*
 * channel_int.h - one process's end of a group's rings: it publishes into
 * its own ring (single producer) and reads every other ring (one consumer
 * per rank). Used by members (lib/member.c) and by the daemon, which sends
 * through the control ring (index ranks).
 */
#ifndef IPCFS_CHANNEL_INT_H
#define IPCFS_CHANNEL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "arena_int.h"
#include <sched.h>

#include "cpu_fit_int.h"
#include "membership_int.h"
#include "pace_int.h"
#include "segment_int.h"
#include "wait_int.h"

struct chan {
	struct seg_map seg;
	unsigned me;      /* ring and rank index; seg_layout(&seg)->ranks for the control sender */
	uint64_t mybit;   /* bit in dest masks; 0 for the control sender */
	uint64_t valid;   /* bits of the group's ranks */
	uint64_t txpos;   /* next position to publish in my ring */
	bool reserved;    /* slot txpos is claimed (seq = BUSY) */
	bool space_ok;    /* slot txpos is known to be free (checked ahead) */
	bool res_block;   /* the reservation is the arena block res */
	struct arena_res res;
	struct arena_res arena_last; /* our previous arena block (not reused next) */
	unsigned rr;      /* next ring that IPCFS_ANY looks at first */
	/* Do the live ranks compete for CPUs (cached)? One cache per
	 * direction: a sending and a receiving thread may wait at once. */
	struct cpu_fit fit[2]; /* [0]: receive-side waits, [1]: send-side */
	bool asym;        /* registered for membarrier: publish with plain stores */
	/* Sender: the last released[me] read from each reader. It only
	 * grows, so a cached value is a safe lower bound and the reader's
	 * line is read again only when the cache does not free a slot. */
	uint64_t seen[IPCFS_MAX_RANKS];
	/* Receiver, per ring: next position to read, views held, and a
	 * bitmap (one bit per slot) of the positions held, to find the
	 * lowest one when views are released out of order. */
	uint64_t cur[IPCFS_MAX_RANKS + 1];
	uint32_t held[IPCFS_MAX_RANKS + 1];
	uint64_t *heldmap; /* (ranks + 1) * map_words words */
	unsigned map_words;
	/* Receiver, per ring: when its sender's next message is due, learnt
	 * from the messages that ended idle waits (adaptive waiting). */
	struct pace pace[IPCFS_MAX_RANKS + 1];
	/* Receiver, per rank relayed by a bridge (seg_rank.relay): whether
	 * its messages flow, so that we spin for the next (pace_int.h). */
	struct flow flow[IPCFS_MAX_RANKS];
	uint64_t nap_late; /* how late our timed naps wake (wait_until) */
	int (*interrupt)(void *arg); /* ipcfs_set_interrupt, or NULL */
	void *interrupt_arg;
	/* Set by ipcfs_interrupt() (any thread), taken by the receive it
	 * ends with -EINTR. */
	_Atomic bool interrupted;
};

/* Kinds defined so far (IPCFS_KIND_*), and the flag of a slot whose
 * payload is a struct arena_ref to the message's block. */
enum { KIND_MAX = IPCFS_KIND_TYPED };
#define KIND_ARENA (1u << 31)
/* A view's priv[0]: the position in its ring, the ring above this bit. */
#define PRIV_RING_SHIFT 56

/* A waiter of this channel (wait_until, wait.c): spin by yielding when the
 * group's live ranks cannot each have a CPU of their own (cpu_fit_int.h). */
static inline struct waiter chan_waiter(struct chan *c, struct seg_rank *me, bool tx)
{
	struct waiter w = {
		.waiting = tx ? &me->tx_waiting : &me->rx_waiting,
		.bell = tx ? &me->tx_bell : &me->rx_bell,
		.yield = cpu_fit_compete(&c->fit[tx], &c->seg),
		.spin_us = seg_layout(&c->seg)->spin_us,
		.spins = tx ? &me->tx_spins : &me->rx_spins,
		.sleeps = tx ? &me->tx_sleeps : &me->rx_sleeps,
		.timeouts = tx ? &me->tx_timeouts : &me->rx_timeouts,
		.interrupt = c->interrupt,
		.interrupt_arg = c->interrupt_arg,
	};
	return w;
}

/* Set up @c for ring @me of the mapped segment (taken over by @c: released
 * by chan_fini); the read cursors start at the rank's released positions.
 * -ENOMEM. */
int chan_init(struct chan *c, const struct seg_map *seg, unsigned me);
void chan_fini(struct chan *c);

int chan_reserve(struct chan *c, size_t len, void **buf, int timeout_ms);
/* Give back what a reservation holds in the arena (before leaving). */
void chan_unreserve(struct chan *c);
int chan_commit(struct chan *c, uint64_t dest, size_t len, uint32_t kind);
int chan_recv(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms);
/* chan_recv() spinning for @spin_us before it sleeps, not the group's
 * spin_us (the bridge's proxies spin longer while messages flow). */
int chan_recv_spin(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms, uint32_t spin_us);
int chan_release(struct chan *c, struct ipcfs_msg *msg);
/* End a receive of @c waiting in another thread with -EINTR (or the next
 * one, when none waits). */
void chan_interrupt(struct chan *c);
/* The destination mask a held view @msg was published with. */
int chan_msg_dest(const struct chan *c, const struct ipcfs_msg *msg, uint64_t *dest);
int chan_wait_ranks(struct chan *c, uint64_t mask, int timeout_ms);
/* Whether a receive of @c yields its CPU in each spin round because the
 * live ranks compete for CPUs (cpu_fit_int.h), rather than pausing. Call
 * from the receiving thread. */
bool chan_cpus_compete(struct chan *c);

#endif
