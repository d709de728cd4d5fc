/* SPDX-License-Identifier: MIT */
/*
 * membership_int.h - who owns each rank of a segment: claim, go live, mark
 * gone, reap the ranks whose process is gone, wake the sleepers after a
 * change. Above the arena (marking a rank gone sweeps its blocks), below
 * the channel. Shared by libipcfs and the daemon; not installed.
 */
#ifndef IPCFS_MEMBERSHIP_INT_H
#define IPCFS_MEMBERSHIP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "segment_int.h"

/* Whether the process owning rank @idx is gone (dead, zombie or pid
 * reused): by its pid in our PID namespace, by its liveness lock from
 * another (see membership.c). */
bool seg_owner_gone(const struct seg_map *m, unsigned idx);

/* Hold rank @idx's liveness lock for its current owner if nobody does (a
 * rank the daemon adopts that a previous daemon claimed for a shell). */
void seg_rank_lock_adopt(const struct seg_map *m, unsigned idx);

/*
 * If rank @idx is live, mark it dead (or left, when @how is
 * IPCFS_STATE_LEFT), drop it from the live mask, sweep its arena blocks
 * and wake every sleeper so that senders stalled on it and readers waiting
 * for it re-check. Returns true if this call changed the state. A sweep
 * that met the arena's lock kept past @m's patience leaves the departure
 * unfinished: membership_finish does it later.
 */
bool seg_mark_gone(struct seg_map *m, unsigned idx, int how);
/* The same, only if the rank is still owned by process @pid. */
bool seg_mark_gone_pid(struct seg_map *m, unsigned idx, pid_t pid, int how);

/*
 * Take rank @r (<= ranks; ranks is the control sender) for process @pid: compare-and-swap its owner word
 * from free/left/dead, or from live when that process is gone. -EBUSY if a
 * live process holds it. Then seg_go_live() makes the rank visible.
 */
int seg_claim(struct seg_map *m, unsigned r, pid_t pid);

/* Finish a claim: record the start of reading in every ring (released), set
 * the rank in the joined and live masks, wake waiters. */
void seg_go_live(struct seg_map *m, unsigned r, pid_t pid);

/* Wake every sleeping rank of the group (after a membership change). */
void seg_wake_all(struct seg_map *m);

/*
 * The one reaper: every rank of @mask (cut to the group) that is live but
 * whose process is gone is marked dead (seg_mark_gone: its blocks swept,
 * sleepers woken). Waiters call it about every WAIT_LIVENESS_NS. Returns
 * the ranks it marked.
 */
uint64_t membership_reap(struct seg_map *m, uint64_t mask);

/* Finish every departure (leave or death) whose marker died after the
 * owner word said gone, or whose sweep met the arena's lock kept: out of
 * the live mask, blocks swept (membership_reap calls it; so does the
 * daemon's scan). A sweep here waits SEG_LOCK_WAIT_SERVICE_NS at most, and
 * after one that gives up the rest wait for the next call. */
void membership_finish(struct seg_map *m);
/* The first rank (its index; the control sender's is the group's ranks)
 * whose departure is unfinished, or -1. */
int membership_unfinished(const struct seg_map *m);

/* ---- reading membership (the daemon reads shared memory only so) ---- */

/* Rank @idx's owner word and claim, each read once. */
struct seg_owner {
	int state;          /* IPCFS_STATE_* */
	pid_t pid;          /* the claiming process (as seen where it claimed) */
	uint64_t starttime; /* its start time (proc_starttime), 0: unknown */
};
void seg_owner_read(const struct seg_map *m, unsigned idx, struct seg_owner *o);

/* The ranks that ever joined, and those live now, cut to the group. */
uint64_t seg_joined_mask(const struct seg_map *m);
uint64_t seg_live_mask(const struct seg_map *m);

/* Since when (CLOCK_MONOTONIC ns) rank @idx's current send has waited for
 * ring space, 0 if it is not waiting; and how often a process joined it. */
uint64_t seg_stall_since(const struct seg_map *m, unsigned idx);
uint64_t seg_joins(const struct seg_map *m, unsigned idx);

/*
 * Retire a segment about to be replaced: claim for @pid every rank that
 * no live process holds (not gone live: no joined or live bit), so that a
 * member that opened the segment just before cannot claim one (EBUSY: it
 * joins again and finds the new segment). All or nothing: false, nothing
 * changed, if a live process holds a rank. @saved (ranks words): what was
 * taken, for seg_unretire_ranks() if the replacement fails.
 */
bool seg_retire_ranks(struct seg_map *m, pid_t pid, uint64_t *saved);
void seg_unretire_ranks(struct seg_map *m, pid_t pid, const uint64_t *saved);

#endif /* IPCFS_MEMBERSHIP_INT_H */
