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

#include "segment_int.h"

struct chan {
	struct seg_map seg;
	unsigned me;      /* ring and rank index; seg.ranks for the control sender */
	uint64_t mybit;   /* bit in dest masks; 0 for the control sender */
	uint64_t valid;   /* bits of the group's ranks */
	uint64_t txpos;   /* next position to publish in my ring */
	bool reserved;    /* slot txpos is claimed (seq = BUSY) */
	unsigned rr;      /* next ring that IPCFS_ANY looks at first */
	unsigned ncpu;    /* CPUs we may run on, for the oversubscription test */
	uint64_t cur[IPCFS_MAX_RANKS + 1]; /* next position to read, per ring */
};

/* Set up @c for ring @me of the mapped segment (taken over by @c); the read
 * cursors start at the rank's joinpos. */
void chan_init(struct chan *c, const struct seg_map *seg, unsigned me);

int chan_reserve(struct chan *c, size_t len, void **buf, int timeout_ms);
int chan_commit(struct chan *c, uint64_t dest, size_t len, uint32_t kind);
int chan_recv(struct chan *c, int src, struct ipcfs_msg *msg, int timeout_ms);
int chan_release(struct chan *c, struct ipcfs_msg *msg);
int chan_wait_ranks(struct chan *c, uint64_t mask, int timeout_ms);

#endif
