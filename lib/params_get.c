/* SPDX-License-Identifier: MIT */
/*
 * params_get.c - ipcfs_group_params(): the parameters a member's group was
 * created with, so that a binding can name the limit a message ran into
 * (slot_bytes, arena_bytes) in its error.
 */
#include <errno.h>

#include "ipcfs.h"
#include "member_int.h"
#include "segment_int.h"

int ipcfs_group_params(const struct ipcfs_member *m, struct ipcfs_params *p)
{
	if (!m || !p)
		return -EINVAL;
	/* member_seg() only hands out the member's own validated copy of the
	 * header fields: nothing here writes through it. */
	seg_params(member_seg((struct ipcfs_member *)m), p);
	return 0;
}
