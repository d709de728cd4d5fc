/* SPDX-License-Identifier: MIT */
/*
 * live_lock.c - the liveness locks of a segment's ranks (segment_int.h).
 *
 * A member holds an open-file-description lock (F_OFD_SETLK) on one byte
 * of the segment file, far past its end: LOCK_BASE + rank * LOCK_SPAN +
 * its incarnation (the rank's joins after its claim). The kernel drops it
 * when the last descriptor of that open file description is closed, so
 * when the process dies, whatever PID namespace it or the one asking
 * lives in; anyone with another open file description sees it with
 * F_OFD_GETLK. A pid is the judge only between processes of one PID
 * namespace (it is exact there, and a child forked without exec shares
 * the lock but not the pid); across namespaces the lock is. The claimer
 * takes the next incarnation's byte before its compare-and-swap, so a
 * rank is never live without its lock; concurrent claimers meet on that
 * byte (one gets EAGAIN) before they meet on the owner word
 * (membership.c). Below the arena (which judges its lock's holder by
 * them) and membership; beside the segment's mapping, whose descriptor
 * holds them.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "segment_int.h"

#define LOCK_BASE ((off_t)1 << 40)
#define LOCK_SPAN ((off_t)1 << 32)

static off_t lock_byte(unsigned idx, uint64_t gen)
{
	return LOCK_BASE + (off_t)idx * LOCK_SPAN + (off_t)(gen & 0xffffffffu);
}

/* One fcntl on our descriptor; *type gets what F_OFD_GETLK found. */
static int lock_op(const struct seg_map *m, int cmd, short type, off_t start, off_t len,
		   short *found)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (!m->has_fd)
		return -EBADF;
	if (fcntl(m->fd, cmd, &fl) != 0)
		return -errno;
	if (found)
		*found = fl.l_type;
	return 0;
}

int seg_live_lock_take(const struct seg_map *m, unsigned idx, uint64_t gen)
{
	return lock_op(m, F_OFD_SETLK, F_WRLCK, lock_byte(idx, gen), 1, NULL);
}

void seg_live_lock_drop(const struct seg_map *m, unsigned idx, uint64_t gen)
{
	lock_op(m, F_OFD_SETLK, F_UNLCK, lock_byte(idx, gen), 1, NULL);
}

int seg_live_lock_held(const struct seg_map *m, unsigned idx, uint64_t gen, unsigned n)
{
	short found = F_UNLCK;
	int rc = lock_op(m, F_OFD_GETLK, F_WRLCK, lock_byte(idx, gen), n, &found);

	return rc ? rc : found != F_UNLCK;
}
