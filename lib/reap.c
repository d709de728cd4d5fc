/* SPDX-License-Identifier: MIT */
/*
 * reap.c - ipcfs_reap(): mark the live ranks whose process is gone as
 * dead, so that what they held (ring slots, arena blocks) comes back now.
 *
 * The library's own waits do this every WAIT_LIVENESS_NS (100 ms) of one wait.
 * A binding that waits in shorter slices (to run signal handlers between
 * them, as the Python module does) never reaches that point within a
 * slice; it calls this between slices instead.
 */
#include <errno.h>
#include <stdatomic.h>

#include "ipcfs.h"
#include "member_int.h"
#include "membership_int.h"

int ipcfs_reap(struct ipcfs_member *m, uint64_t *gone)
{
	if (!m)
		return -EINVAL;
	struct seg_map *seg = member_seg(m);
	/* Acquire: pairs with the release of a join's live bit, so the owner
	 * word the reaper then reads is the joiner's. */
	uint64_t live = atomic_load_explicit(&seg->hdr->live, memory_order_acquire);
	uint64_t marked = membership_reap(seg, live);

	if (gone)
		*gone = marked;
	return __builtin_popcountll(marked);
}
