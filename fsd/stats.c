/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the statistics of a group as the daemon shows them: the
 * counters the members keep in the segment (read through the library's
 * accessors), less the reset-stat baseline the daemon keeps, and the bcast
 * counters of the daemon's own control sender. struct fsd_stats is
 * changed only here, under g->lock.
 */
#include <string.h>

#include "fsd.h"

static uint64_t minus(uint64_t v, uint64_t base)
{
	return v > base ? v - base : 0; /* a re-created segment starts from 0 */
}

void fsd_stats_rank(const struct fsd_stats *s, const struct seg_map *seg, unsigned i,
		    struct ipcfs_rank_stat *st)
{
	struct ipcfs_rank_stat b = s->base[i];

	seg_rank_stat(seg, i, st);
	for (unsigned k = 0; k < fsd_ncounters; k++)
		*fsd_counter(st, k) = minus(*fsd_counter(st, k), *fsd_counter(&b, k));
}

uint64_t fsd_stats_bcasts(const struct fsd_stats *s)
{
	return minus(s->bcasts, s->base_bcasts);
}

void fsd_stats_bcast_done(struct fsd_stats *s, int rc)
{
	if (rc)
		s->bcast_errors++;
	else
		s->bcasts++;
}

void fsd_stats_reset(struct fsd_stats *s, const struct seg_map *seg)
{
	for (unsigned i = 0; i <= seg_layout(seg)->ranks; i++)
		seg_rank_stat(seg, i, &s->base[i]);
	s->base_bcasts = s->bcasts;
}

void fsd_stats_new_segment(struct fsd_stats *s)
{
	memset(s->base, 0, sizeof(s->base));
}

uint64_t fsd_stats_joins(const struct seg_map *seg, unsigned r)
{
	return seg_joins(seg, r);
}

void fsd_stats_arena(const struct seg_map *seg, struct arena_stat *a)
{
	if (seg_layout(seg)->arena_bytes)
		arena_stat(seg, a);
	else
		memset(a, 0, sizeof(*a));
}
