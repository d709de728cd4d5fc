/* SPDX-License-Identifier: MIT */
/*
 * seg_poke - write a word of a group's segment as a member that scribbles
 * on shared memory would, for the daemon's shell tests.
 *
 *   seg_poke SEGFILE lock TID   the arena's lock word names thread TID
 *                               (no rank); 0 frees it
 *
 * Prints "OK"; exits 1 on an error (its errno's name), 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena_int.h"
#include "segment_int.h"

int main(int argc, char **argv)
{
	struct seg_map m;
	char *end;

	if (argc != 4 || strcmp(argv[2], "lock") != 0) {
		fprintf(stderr, "usage: seg_poke SEGFILE lock TID\n");
		return 2;
	}
	unsigned long tid = strtoul(argv[3], &end, 10);
	if (*end || tid >= 1u << ARENA_LOCK_RANK_SHIFT) {
		fprintf(stderr, "seg_poke: TID wants 0..%u, not '%s'\n",
			(1u << ARENA_LOCK_RANK_SHIFT) - 1, argv[3]);
		return 2;
	}
	int rc = seg_map_path(argv[1], SEG_MAP_WRITE, &m);
	if (rc) {
		printf("%s\n", strerrorname_np(-rc));
		return 1;
	}
	/* Relaxed: a scribbler's store, ordered with nothing. */
	atomic_store_explicit(&arena_state(&m)->lock, (uint32_t)tid, memory_order_relaxed);
	seg_unmap(&m);
	printf("OK\n");
	return 0;
}
