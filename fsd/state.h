/* SPDX-License-Identifier: MIT */
/*
 * state.h - what the daemon keeps of a group across restarts, as plain
 * data with no lock, no FUSE and no file system (unit-tested and fuzzed on
 * its own): the GPU records (gpu_store.c), the statistics the daemon keeps
 * itself (stats.c) and the state file that holds both (state.c).
 */
#ifndef IPCFS_FSD_STATE_H
#define IPCFS_FSD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcfs/cluster.h"
#include "ipcfs.h"
#include "parse_int.h"

#define FSD_GPU_NAMES_MAX 64    /* registered buffer names per group */

/* ---- gpu_store.c: the GPU records of a group ---------------------------- */

struct fsd_gpu_name {
	char name[FSD_NAME_MAX + 1];
	uint32_t nid;                    /* stable part of its inode numbers */
	char *rec[IPCFS_MAX_RANKS];      /* hex record per rank, NULL if none */
	unsigned nrec;
};

struct fsd_gpu_store {
	struct fsd_gpu_name *names[FSD_GPU_NAMES_MAX];
	uint32_t next_nid;
};

/* Store or replace a record: -ENOSPC beyond FSD_GPU_NAMES_MAX names,
 * -ERANGE for a rank beyond IPCFS_MAX_RANKS. Remove one: -ENOENT if none.
 * Clear: free every record. */
int fsd_gpu_store(struct fsd_gpu_store *s, const char *name, unsigned rank, const char *hex,
		  size_t len);
int fsd_gpu_remove(struct fsd_gpu_store *s, const char *name, unsigned rank);
void fsd_gpu_clear(struct fsd_gpu_store *s);
struct fsd_gpu_name *fsd_gpu_find(const struct fsd_gpu_store *s, const char *name, size_t len);
struct fsd_gpu_name *fsd_gpu_find_id(const struct fsd_gpu_store *s, uint32_t nid);

/* ---- stats.c: the statistics the daemon keeps ---------------------------- */

/* The counters of struct ipcfs_rank_stat that reset-stat starts from zero
 * again (the others are states and gauges): their names in the state file
 * and where they lie (the table is in state.c). */
struct fsd_counter {
	const char *name;
	size_t off;
};
extern const struct fsd_counter fsd_counters[];
extern const unsigned fsd_ncounters;

static inline uint64_t *fsd_counter(struct ipcfs_rank_stat *st, unsigned k)
{
	return (uint64_t *)((char *)st + fsd_counters[k].off);
}

struct fsd_stats {
	uint64_t bcasts, bcast_errors;  /* bcast commands that worked, failed */
	/* The reset-stat baseline (kept in the state file across restarts):
	 * the counters of each rank (index ranks: the control sender) and
	 * bcasts at the last reset-stat. */
	struct ipcfs_rank_stat base[IPCFS_MAX_RANKS + 1];
	uint64_t base_bcasts;
};

/* ---- state.c: the state file ----------------------------------------------- */

/* Everything a state file holds. */
struct fsd_state {
	uid_t uid;
	gid_t gid;
	struct fsd_attrs attrs;
	struct fsd_stats stats;         /* bcast_errors is not kept */
	struct fsd_gpu_store gpu;
	struct fsd_cluster cluster;     /* nodes and node */
};

/*
 * Parse a state file (@len bytes, any content) into @st (which the caller
 * clears with fsd_state_clear). The grammar, one "KEY VALUE" line each:
 *
 *   ipcfs-state 1                  first line
 *   uid N | gid N                  required, decimal
 *   ATTRIBUTE VALUE                as written to the attribute file
 *   numa_pci DDDD:BB:DD.F
 *   bcasts N | base_bcasts N
 *   base I NAME=N ...              reset-stat baseline of rank index I
 *   gpu NAME RANK HEX              a GPU record, as `register` takes it
 *   nodes NAME tcp://ADDR:PORT RANKS  one line of the nodes file (cluster.h),
 *                                  all of them checked together at the end
 *   node NAME                      the node file
 *   keys PATH                      the keys file (include/ipcfs/keys.h)
 *
 * -EBADMSG (reason in @why) without the first line, uid or gid. Any other
 * malformed or unknown line is skipped (a newer daemon's key, a damaged
 * line): *@skipped counts them and the first one's reason is in @why.
 */
int fsd_state_parse(const char *buf, size_t len, struct fsd_state *st, unsigned *skipped,
		    char *why, size_t whylen);
/* The state file of @st, in a malloc'd buffer of *@len bytes; NULL if out
 * of memory. fsd_state_parse reads it back to the same @st. */
char *fsd_state_format(const struct fsd_state *st, size_t *len);
void fsd_state_clear(struct fsd_state *st);

#endif
