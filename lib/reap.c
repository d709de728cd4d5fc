/* SPDX-License-Identifier: MIT */
/*
 * reap.c - ipcfs_reap(): mark the live ranks whose process is gone as
 * dead, so that what they held (ring slots, arena blocks) comes back now.
 *
 * The library's own waits do this every LIVENESS_NS (100 ms) of one wait.
 * A binding that waits in shorter slices (to run signal handlers between
 * them, as the Python module does) never reaches that point within a
 * slice; it calls this between slices instead.
 */
#include <errno.h>
#include <stdatomic.h>

#include "ipcfs.h"
#include "member_int.h"
#include "segment_int.h"

int ipcfs_reap(struct ipcfs_member *m, uint64_t *gone)
{
	if (!m)
		return -EINVAL;
	struct seg_map *seg = member_seg(m);
	/* Acquire: pairs with the release of a join's live bit, so the owner
	 * word we then read is the joiner's (seg_owner_gone reads it with
	 * acquire itself). */
	uint64_t live = atomic_load_explicit(&seg->hdr->live, memory_order_acquire), marked = 0;
	int n = 0;

	for (; live; live &= live - 1) {
		unsigned r = (unsigned)__builtin_ctzll(live);
		if (r >= seg->ranks)
			break; /* a corrupt mask: ranks beyond the group are not ours to mark */
		if (seg_owner_gone(seg, r) && seg_mark_gone(seg, r, IPCFS_STATE_DEAD)) {
			marked |= IPCFS_RANK_BIT(r);
			n++;
		}
	}
	if (gone)
		*gone = marked;
	return n;
}
