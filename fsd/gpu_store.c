/* SPDX-License-Identifier: MIT */
/*
 * gpu_store.c - the GPU records of one group: for each registered buffer
 * name, one hex record per rank (what `register NAME RANK HEX` wrote), shown
 * as gpu/NAME/RANK and kept in the state file. A plain data structure: the
 * caller holds the lock that protects the store (g->lock for a group's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

struct fsd_gpu_name *fsd_gpu_find(const struct fsd_gpu_store *s, const char *name, size_t len)
{
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++)
		if (s->names[i] && strlen(s->names[i]->name) == len &&
		    memcmp(s->names[i]->name, name, len) == 0)
			return s->names[i];
	return NULL;
}

struct fsd_gpu_name *fsd_gpu_find_id(const struct fsd_gpu_store *s, uint32_t nid)
{
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++)
		if (s->names[i] && s->names[i]->nid == nid)
			return s->names[i];
	return NULL;
}

int fsd_gpu_store(struct fsd_gpu_store *s, const char *name, unsigned rank, const char *hex,
		  size_t len)
{
	struct fsd_gpu_name *n = fsd_gpu_find(s, name, strlen(name));
	int freeslot = -1;

	if (rank >= IPCFS_MAX_RANKS)
		return -ERANGE;
	for (int i = 0; i < FSD_GPU_NAMES_MAX && freeslot < 0; i++)
		if (!s->names[i])
			freeslot = i;
	if (!n && freeslot < 0)
		return -ENOSPC;
	char *rec = strndup(hex, len);
	if (!rec)
		return -ENOMEM;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			free(rec);
			return -ENOMEM;
		}
		snprintf(n->name, sizeof(n->name), "%s", name);
		n->nid = ++s->next_nid;
		s->names[freeslot] = n;
	}
	if (n->rec[rank])
		free(n->rec[rank]);
	else
		n->nrec++;
	n->rec[rank] = rec;
	return 0;
}

int fsd_gpu_remove(struct fsd_gpu_store *s, const char *name, unsigned rank)
{
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++) {
		struct fsd_gpu_name *n = s->names[i];
		if (!n || strcmp(n->name, name) != 0)
			continue;
		if (rank >= IPCFS_MAX_RANKS || !n->rec[rank])
			return -ENOENT;
		free(n->rec[rank]);
		n->rec[rank] = NULL;
		if (--n->nrec == 0) { /* the directory gpu/NAME goes with its last record */
			free(n);
			s->names[i] = NULL;
		}
		return 0;
	}
	return -ENOENT;
}

void fsd_gpu_clear(struct fsd_gpu_store *s)
{
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++) {
		if (!s->names[i])
			continue;
		for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++)
			free(s->names[i]->rec[r]);
		free(s->names[i]);
		s->names[i] = NULL;
	}
}
