/* SPDX-License-Identifier: MIT */
/*
 * node.c - the nodes of the file tree: inode numbers, what each node is
 * and allows, its attributes, the children of a directory, and the
 * error_log a failed operation on it goes to. tree.c (directories) and
 * openfiles.c (files) build on it.
 *
 * Inode numbers are computed, not stored, so the daemon keeps no per-inode
 * state and forget is free:
 *   1..7                       the fixed top level (FUSE_ROOT_ID is 1)
 *   GID << 32 | 0              a group's directory (GID: unique per daemon run)
 *   GID << 32 | 1..31          its files (attribute a: 1 + a)
 *   GID << 32 | 32             gpu/
 *   GID << 32 | NID << 8 | 255 gpu/NAME/ (NID: unique per group)
 *   GID << 32 | NID << 8 | R   gpu/NAME/R
 * A destroyed group's numbers are never reused while the daemon runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsd.h"

enum { INO_ROOT = 1, INO_VERSION, INO_ROOT_CTL, INO_ROOT_STAT, INO_GROUPS, INO_ROOT_ERRLOG,
       INO_ROOT_METRICS };
enum { SUB_ATTR0 = 1, SUB_SHM = 16, SUB_CTL, SUB_MEMBERS, SUB_STAT, SUB_EVENTS, SUB_ERRLOG,
       SUB_NODES, SUB_NODE, SUB_BRIDGE, SUB_KEYS, SUB_GPU = 32, SUB_GPU_DIR = 255 };


static const struct top_entry {
	const char *name;
	uint64_t ino;
	enum fsd_kind kind;
} top_entries[] = {
	{ "version", INO_VERSION, FSD_N_VERSION },
	{ "ctl", INO_ROOT_CTL, FSD_N_ROOT_CTL },
	{ "stat", INO_ROOT_STAT, FSD_N_ROOT_STAT },
	{ "groups", INO_GROUPS, FSD_N_GROUPS },
	{ "error_log", INO_ROOT_ERRLOG, FSD_N_ROOT_ERRLOG },
	{ "metrics", INO_ROOT_METRICS, FSD_N_ROOT_METRICS },
};

static const struct group_entry {
	const char *name;
	unsigned sub;
	enum fsd_kind kind;
} group_entries[] = {
	{ "shm", SUB_SHM, FSD_N_SHM },
	{ "ctl", SUB_CTL, FSD_N_GCTL },
	{ "members", SUB_MEMBERS, FSD_N_MEMBERS },
	{ "stat", SUB_STAT, FSD_N_GSTAT },
	{ "events", SUB_EVENTS, FSD_N_EVENTS },
	{ "error_log", SUB_ERRLOG, FSD_N_GERRLOG },
	{ "gpu", SUB_GPU, FSD_N_GPU },
	{ "nodes", SUB_NODES, FSD_N_NODES },
	{ "node", SUB_NODE, FSD_N_NODE },
	{ "bridge", SUB_BRIDGE, FSD_N_BRIDGE },
	{ "keys", SUB_KEYS, FSD_N_KEYS },
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- inode numbers ------------------------------------------------------- */

static fuse_ino_t group_ino(uint32_t gid, uint32_t sub)
{
	return (fuse_ino_t)gid << 32 | sub;
}

bool fsd_node_decode(fuse_ino_t ino, struct fsd_node *n)
{
	memset(n, 0, sizeof(*n));
	if (ino < 1 << 16) {
		for (size_t i = 0; i < N_ELEMS(top_entries); i++)
			if (top_entries[i].ino == ino)
				n->kind = top_entries[i].kind;
		if (ino == INO_ROOT)
			n->kind = FSD_N_ROOT;
		return n->kind != FSD_N_NONE;
	}
	uint32_t sub = (uint32_t)ino;
	n->gid = (uint32_t)(ino >> 32);
	if (sub == 0) {
		n->kind = FSD_N_GROUP;
	} else if (sub >= SUB_ATTR0 && sub < SUB_ATTR0 + FSD_ATTR_COUNT) {
		n->kind = FSD_N_ATTR;
		n->attr = (int)(sub - SUB_ATTR0);
	} else if (sub >= 256) {
		n->nid = sub >> 8;
		n->rank = sub & 0xff;
		n->kind = n->rank == SUB_GPU_DIR ? FSD_N_GPU_NAME
			: n->rank < IPCFS_MAX_RANKS ? FSD_N_GPU_REC : FSD_N_NONE;
	} else {
		for (size_t i = 0; i < N_ELEMS(group_entries); i++)
			if (group_entries[i].sub == sub)
				n->kind = group_entries[i].kind;
	}
	return n->kind != FSD_N_NONE;
}

enum fsd_access fsd_node_access(enum fsd_kind k)
{
	switch (k) {
	case FSD_N_ROOT: case FSD_N_GROUPS: case FSD_N_GROUP: case FSD_N_GPU: case FSD_N_GPU_NAME:
		return ACC_DIR;
	case FSD_N_ATTR: case FSD_N_NODES: case FSD_N_NODE: case FSD_N_KEYS:
		return ACC_RW;
	case FSD_N_ROOT_CTL: case FSD_N_GCTL:
		return ACC_WO;
	default:
		return ACC_RO;
	}
}

/* Mode bits of a group node from the group's mode @m. */
static mode_t group_node_mode(enum fsd_kind k, uint32_t m)
{
	switch (fsd_node_access(k)) {
	case ACC_DIR:
		/* gpu/ is filled through ctl only: no w. */
		return S_IFDIR | (k == FSD_N_GROUP ? m : m & 0555);
	case ACC_RW: return S_IFREG | (m & 0666);
	case ACC_WO: return S_IFREG | (m & 0222);
	default: return S_IFREG | (m & 0444);
	}
}

/* Fill @st for node @n (found in group @g when a group node). */
static void node_stat(struct fsd *d, fuse_ino_t ino, const struct fsd_node *n,
		      const struct fsd_group *g, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_blksize = 4096;
	if (!g) {
		st->st_uid = d->uid;
		st->st_gid = d->gid;
		switch (n->kind) {
		case FSD_N_ROOT: st->st_mode = S_IFDIR | 0755; break;
		/* Anyone may create groups, and only remove their own (sticky,
		 * as /tmp); FUSE gives others access only with allow_other. */
		case FSD_N_GROUPS: st->st_mode = S_IFDIR | 01777; break;
		case FSD_N_ROOT_CTL: st->st_mode = S_IFREG | 0222; break;
		default: st->st_mode = S_IFREG | 0444; break;
		}
		st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = d->start_time;
		return;
	}
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_mode = group_node_mode(n->kind, g->attrs.mode);
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	uint64_t created = g->seg.hdr ? seg_layout(&g->seg)->created_ns : 0;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)(created / 1000000000u);
	if (n->kind == FSD_N_GPU_REC) {
		const struct fsd_gpu_name *gn = fsd_gpu_find_id(&g->gpu, n->nid);
		if (gn && gn->rec[n->rank])
			st->st_size = (off_t)strlen(gn->rec[n->rank]) + 1;
	}
}

/* Whether node @n exists now (caller holds g->lock for group nodes). */
bool fsd_node_exists(struct fsd_group *g, const struct fsd_node *n)
{
	if (!g)
		return true;
	if (g->removed)
		return false;
	if (n->kind == FSD_N_GPU_NAME || n->kind == FSD_N_GPU_REC) {
		struct fsd_gpu_name *gn = fsd_gpu_find_id(&g->gpu, n->nid);
		return gn && (n->kind == FSD_N_GPU_NAME || gn->rec[n->rank]);
	}
	return true;
}

static int stat_node(struct fsd *d, fuse_ino_t ino, const struct fsd_node *n, struct stat *st);

/* The size of a rendered file is that of its content now. Reads ignore
 * it (direct I/O), but a private mapping is filled through the page cache
 * up to it: with size 0 its first access would be SIGBUS. */
static void render_size(struct fsd *d, const struct fsd_node *n, struct stat *st)
{
	char *buf;
	size_t len;

	if (!S_ISREG(st->st_mode) || n->kind == FSD_N_EVENTS || n->kind == FSD_N_GPU_REC)
		return;
	enum fsd_access a = fsd_node_access(n->kind);
	if ((a == ACC_RO || a == ACC_RW) && fsd_file_render(d, n, &buf, &len) == 0) {
		st->st_size = (off_t)len;
		free(buf);
	}
}

/* Stat inode @ino: 0, or -ENOENT when it is gone. */
int fsd_node_stat(struct fsd *d, fuse_ino_t ino, struct stat *st)
{
	struct fsd_node n;
	int rc;

	if (!fsd_node_decode(ino, &n))
		return -ENOENT;
	rc = stat_node(d, ino, &n, st);
	if (!rc)
		render_size(d, &n, st);
	return rc;
}

static int stat_node(struct fsd *d, fuse_ino_t ino, const struct fsd_node *n, struct stat *st)
{
	int rc = 0;

	if (ino < 1 << 16) {
		node_stat(d, ino, n, NULL, st);
		return 0;
	}
	struct fsd_group *g = fsd_group_get_id(d, n->gid);
	if (!g)
		return -ENOENT;
	pthread_mutex_lock(&g->lock);
	if (fsd_node_exists(g, n))
		node_stat(d, ino, n, g, st);
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&g->lock);
	fsd_group_put(d, g);
	return rc;
}

/* Parse a decimal rank file name (canonical: no leading zeros). */
static int rank_name(const char *s, unsigned *r)
{
	unsigned v = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 2 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*r = v;
	return v < IPCFS_MAX_RANKS ? 0 : -1;
}

/* The inode of @name in directory @parent, or 0. */
fuse_ino_t fsd_node_child(struct fsd *d, fuse_ino_t parent, const char *name)
{
	struct fsd_node p;
	fuse_ino_t ino = 0;

	if (!fsd_node_decode(parent, &p))
		return 0;
	switch (p.kind) {
	case FSD_N_ROOT:
		for (size_t i = 0; i < N_ELEMS(top_entries); i++)
			if (strcmp(top_entries[i].name, name) == 0)
				return top_entries[i].ino;
		return 0;
	case FSD_N_GROUPS: {
		struct fsd_group *g = fsd_group_get(d, name);
		if (g) {
			ino = group_ino(g->id, 0);
			fsd_group_put(d, g);
		}
		return ino;
	}
	case FSD_N_GROUP: {
		int a = fsd_attr_lookup(name, strlen(name));
		if (a >= 0)
			return group_ino(p.gid, SUB_ATTR0 + (unsigned)a);
		for (size_t i = 0; i < N_ELEMS(group_entries); i++)
			if (strcmp(group_entries[i].name, name) == 0)
				return group_ino(p.gid, group_entries[i].sub);
		return 0;
	}
	case FSD_N_GPU:
	case FSD_N_GPU_NAME: {
		struct fsd_group *g = fsd_group_get_id(d, p.gid);
		unsigned r;
		if (!g)
			return 0;
		pthread_mutex_lock(&g->lock);
		if (p.kind == FSD_N_GPU) {
			struct fsd_gpu_name *gn = fsd_gpu_find(&g->gpu, name, strlen(name));
			if (gn)
				ino = group_ino(p.gid, gn->nid << 8 | SUB_GPU_DIR);
		} else {
			struct fsd_gpu_name *gn = fsd_gpu_find_id(&g->gpu, p.nid);
			if (gn && rank_name(name, &r) == 0 && gn->rec[r])
				ino = group_ino(p.gid, gn->nid << 8 | r);
		}
		pthread_mutex_unlock(&g->lock);
		fsd_group_put(d, g);
		return ino;
	}
	default:
		return 0;
	}
}

static void list_gpu(struct fsd *d, const struct fsd_node *n, fsd_list_fn add, void *arg);

int fsd_node_list(struct fsd *d, fuse_ino_t ino, fsd_list_fn add, void *arg)
{
	struct fsd_node n;

	if (!fsd_node_decode(ino, &n))
		return -ENOENT;
	switch (n.kind) {
	case FSD_N_ROOT:
		for (size_t i = 0; i < N_ELEMS(top_entries); i++)
			add(arg, top_entries[i].name, top_entries[i].ino,
			    top_entries[i].kind == FSD_N_GROUPS);
		return 0;
	case FSD_N_GROUPS: {
		unsigned cnt;
		struct fsd_group **v = fsd_groups_get(d, &cnt);
		for (unsigned i = 0; v && i < cnt; i++)
			add(arg, v[i]->name, group_ino(v[i]->id, 0), true);
		if (v)
			fsd_groups_put(d, v, cnt);
		return v ? 0 : -ENOMEM;
	}
	case FSD_N_GROUP:
		for (int a = 0; a < FSD_ATTR_COUNT; a++)
			add(arg, fsd_attr_name((enum fsd_attr)a),
			    group_ino(n.gid, SUB_ATTR0 + (unsigned)a), false);
		for (size_t i = 0; i < N_ELEMS(group_entries); i++)
			add(arg, group_entries[i].name, group_ino(n.gid, group_entries[i].sub),
			    group_entries[i].kind == FSD_N_GPU);
		return 0;
	case FSD_N_GPU:
	case FSD_N_GPU_NAME:
		list_gpu(d, &n, add, arg);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/* gpu/ (the names) or gpu/NAME/ (the ranks with a record). */
static void list_gpu(struct fsd *d, const struct fsd_node *n, fsd_list_fn add, void *arg)
{
	struct fsd_group *g = fsd_group_get_id(d, n->gid);

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++) {
		const struct fsd_gpu_name *gn = g->gpu.names[i];
		if (!gn)
			continue;
		if (n->kind == FSD_N_GPU) {
			add(arg, gn->name, group_ino(n->gid, gn->nid << 8 | SUB_GPU_DIR), true);
			continue;
		}
		for (unsigned r = 0; gn->nid == n->nid && r < IPCFS_MAX_RANKS; r++) {
			char name[8];
			if (!gn->rec[r])
				continue;
			snprintf(name, sizeof(name), "%u", r);
			add(arg, name, group_ino(n->gid, gn->nid << 8 | r), false);
		}
	}
	pthread_mutex_unlock(&g->lock);
	fsd_group_put(d, g);
}

/* Log a failed operation in the daemon-wide error_log. */
void fsd_root_error(struct fsd *d, const char *where, const char *input, size_t len, int err,
		       const char *why)
{
	atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	fsd_errlog_add(&d->errs, where, input, len, err, why);
	pthread_mutex_unlock(&d->lock);
}

void fsd_group_error(struct fsd *d, struct fsd_group *g, const char *where, const char *input,
			size_t len, int err, const char *why)
{
	atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
	pthread_mutex_lock(&g->lock);
	fsd_errlog_add(&g->errs, where, input, len, err, why);
	pthread_mutex_unlock(&g->lock);
}
