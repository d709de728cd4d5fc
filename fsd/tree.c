/* SPDX-License-Identifier: MIT */
/*
 * tree.c - the file tree: inode numbers, lookup, getattr, readdir, mkdir,
 * rmdir, and the open/read/write/poll/release dispatch to files.c, ctl.c
 * and events.c.
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
 *
 * Every entry and attribute is returned with a zero cache timeout: group
 * lists, owners and modes change underneath, and this is a control plane.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsd.h"

enum { INO_ROOT = 1, INO_VERSION, INO_ROOT_CTL, INO_ROOT_STAT, INO_GROUPS, INO_ROOT_ERRLOG,
       INO_ROOT_METRICS };
enum { SUB_ATTR0 = 1, SUB_SHM = 16, SUB_CTL, SUB_MEMBERS, SUB_STAT, SUB_EVENTS, SUB_ERRLOG,
       SUB_GPU = 32, SUB_GPU_DIR = 255 };

/* What a node lets its users do: the mode bits derive from the group's
 * mode through these. */
enum access { ACC_DIR, ACC_RW, ACC_RO, ACC_WO };

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
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

uint64_t fsd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct fsd *fsd_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- inode numbers ------------------------------------------------------- */

static fuse_ino_t group_ino(uint32_t gid, uint32_t sub)
{
	return (fuse_ino_t)gid << 32 | sub;
}

static bool decode(fuse_ino_t ino, struct fsd_node *n)
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

static enum access node_access(enum fsd_kind k)
{
	switch (k) {
	case FSD_N_ROOT: case FSD_N_GROUPS: case FSD_N_GROUP: case FSD_N_GPU: case FSD_N_GPU_NAME:
		return ACC_DIR;
	case FSD_N_ATTR:
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
	switch (node_access(k)) {
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
	uint64_t created = g->seg.hdr ? g->seg.hdr->created_ns : 0;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)(created / 1000000000u);
	if (n->kind == FSD_N_GPU_REC) {
		const struct fsd_gpu_name *gn = fsd_gpu_find_id(&g->gpu, n->nid);
		if (gn && gn->rec[n->rank])
			st->st_size = (off_t)strlen(gn->rec[n->rank]) + 1;
	}
}

/* Whether node @n exists now (caller holds g->lock for group nodes). */
static bool node_exists(struct fsd_group *g, const struct fsd_node *n)
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
	enum access a = node_access(n->kind);
	if ((a == ACC_RO || a == ACC_RW) && fsd_file_render(d, n, &buf, &len) == 0) {
		st->st_size = (off_t)len;
		free(buf);
	}
}

/* Stat inode @ino: 0, or -ENOENT when it is gone. */
static int stat_ino(struct fsd *d, fuse_ino_t ino, struct stat *st)
{
	struct fsd_node n;
	int rc;

	if (!decode(ino, &n))
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
	if (node_exists(g, n))
		node_stat(d, ino, n, g, st);
	else
		rc = -ENOENT;
	pthread_mutex_unlock(&g->lock);
	fsd_group_put(d, g);
	return rc;
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = stat_ino(fsd_of(req), ino, &e.attr);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = ino;
	fuse_reply_entry(req, &e);
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
static fuse_ino_t child_ino(struct fsd *d, fuse_ino_t parent, const char *name)
{
	struct fsd_node p;
	fuse_ino_t ino = 0;

	if (!decode(parent, &p))
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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_ino_t ino = child_ino(fsd_of(req), parent, name);

	if (!ino) {
		/* A negative entry, not cached (timeout 0). */
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = stat_ino(fsd_of(req), ino, &st);
	(void)fi;

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

/* Only truncation to 0 (what `echo v > file` does before writing) is
 * accepted, and it changes nothing: values are replaced by writes. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fsd_node n;
	(void)fi;

	if (!decode(ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
		       FUSE_SET_ATTR_CTIME)) {
		fuse_reply_err(req, EPERM); /* chmod/chown: write the mode attribute */
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (attr->st_size != 0 || (node_access(n.kind) != ACC_RW && node_access(n.kind) != ACC_WO))) {
		fuse_reply_err(req, node_access(n.kind) == ACC_DIR ? EISDIR : EINVAL);
		return;
	}
	op_getattr(req, ino, NULL);
}

/* ---- directories ----------------------------------------------------------- */

struct dirbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino,
		       mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);

	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + need)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb) {
			b->oom = true;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
	fuse_add_direntry(req, b->buf + b->len, need, name, &st, (off_t)(b->len + need));
	b->len += need;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct dirbuf b = { 0 };
	struct fsd_node n;
	(void)fi;

	if (!decode(ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* The whole listing is built on every call and cut at @off (a byte
	 * offset into it): directories here are small. */
	dirbuf_add(req, &b, ".", ino, S_IFDIR);
	dirbuf_add(req, &b, "..", INO_ROOT, S_IFDIR);
	switch (n.kind) {
	case FSD_N_ROOT:
		for (size_t i = 0; i < N_ELEMS(top_entries); i++)
			dirbuf_add(req, &b, top_entries[i].name, top_entries[i].ino,
				   top_entries[i].kind == FSD_N_GROUPS ? S_IFDIR : S_IFREG);
		break;
	case FSD_N_GROUPS: {
		unsigned cnt;
		struct fsd_group **v = fsd_groups_get(d, &cnt);
		for (unsigned i = 0; v && i < cnt; i++)
			dirbuf_add(req, &b, v[i]->name, group_ino(v[i]->id, 0), S_IFDIR);
		if (v)
			fsd_groups_put(d, v, cnt);
		break;
	}
	case FSD_N_GROUP:
		for (int a = 0; a < FSD_ATTR_COUNT; a++)
			dirbuf_add(req, &b, fsd_attr_name((enum fsd_attr)a),
				   group_ino(n.gid, SUB_ATTR0 + (unsigned)a), S_IFREG);
		for (size_t i = 0; i < N_ELEMS(group_entries); i++)
			dirbuf_add(req, &b, group_entries[i].name, group_ino(n.gid, group_entries[i].sub),
				   group_entries[i].kind == FSD_N_GPU ? S_IFDIR : S_IFREG);
		break;
	case FSD_N_GPU:
	case FSD_N_GPU_NAME: {
		struct fsd_group *g = fsd_group_get_id(d, n.gid);
		if (!g)
			break;
		pthread_mutex_lock(&g->lock);
		for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++) {
			struct fsd_gpu_name *gn = g->gpu.names[i];
			if (!gn)
				continue;
			if (n.kind == FSD_N_GPU) {
				dirbuf_add(req, &b, gn->name, group_ino(n.gid, gn->nid << 8 | SUB_GPU_DIR),
					   S_IFDIR);
			} else if (gn->nid == n.nid) {
				for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++) {
					char name[8];
					if (!gn->rec[r])
						continue;
					snprintf(name, sizeof(name), "%u", r);
					dirbuf_add(req, &b, name, group_ino(n.gid, gn->nid << 8 | r), S_IFREG);
				}
			}
		}
		pthread_mutex_unlock(&g->lock);
		fsd_group_put(d, g);
		break;
	}
	default:
		free(b.buf);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (b.oom)
		fuse_reply_err(req, ENOMEM);
	else if ((size_t)off < b.len)
		fuse_reply_buf(req, b.buf + off, b.len - (size_t)off < size ? b.len - (size_t)off : size);
	else
		fuse_reply_buf(req, NULL, 0);
	free(b.buf);
}

/* Log a failed operation in the daemon-wide error_log. */
static void root_error(struct fsd *d, const char *where, const char *input, size_t len, int err,
		       const char *why)
{
	atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	fsd_errlog_add(&d->errs, where, input, len, err, why);
	pthread_mutex_unlock(&d->lock);
}

static void group_error(struct fsd *d, struct fsd_group *g, const char *where, const char *input,
			size_t len, int err, const char *why)
{
	atomic_fetch_add_explicit(&d->errors, 1, memory_order_relaxed);
	pthread_mutex_lock(&g->lock);
	fsd_errlog_add(&g->errs, where, input, len, err, why);
	pthread_mutex_unlock(&g->lock);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fsd *d = fsd_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char why[FSD_WHY_MAX] = "";
	struct fsd_node p;
	int rc;
	(void)mode; /* a group's mode is its mode attribute (default 0770) */

	if (!decode(parent, &p) || p.kind != FSD_N_GROUPS) {
		snprintf(why, sizeof(why), "directories are made only in groups/");
		rc = -EPERM;
	} else {
		rc = fsd_group_create(d, name, ctx->uid, ctx->gid, NULL, why, sizeof(why));
	}
	if (rc) {
		root_error(d, "mkdir", name, strlen(name), rc, why);
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, child_ino(d, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd *d = fsd_of(req);
	char why[FSD_WHY_MAX] = "";
	struct fsd_node p;
	int rc;

	if (!decode(parent, &p) || p.kind != FSD_N_GROUPS) {
		snprintf(why, sizeof(why), "only groups are removed (gpu records: unregister)");
		rc = -EPERM;
	} else {
		rc = fsd_group_destroy(d, name, fuse_req_ctx(req)->uid, why, sizeof(why));
	}
	if (rc) {
		/* Also in the group's own log, where its users look. */
		struct fsd_group *g = p.kind == FSD_N_GROUPS ? fsd_group_get(d, name) : NULL;
		if (g) {
			group_error(d, g, "rmdir", name, strlen(name), rc, why);
			fsd_group_put(d, g);
		}
		root_error(d, "rmdir", name, strlen(name), rc, why);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_err(req, 0);
}

/* The tree is fixed: no files are created, removed or renamed. */
static void refuse_create(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd *d = fsd_of(req);
	char why[FSD_WHY_MAX];
	struct fsd_node p;

	snprintf(why, sizeof(why), "no such file; the tree is fixed (mkdir groups/NAME makes a group)");
	if (decode(parent, &p) && p.gid) {
		struct fsd_group *g = fsd_group_get_id(d, p.gid);
		if (g) {
			group_error(d, g, "create", name, strlen(name), -ENOENT, why);
			fsd_group_put(d, g);
			fuse_reply_err(req, ENOENT);
			return;
		}
	}
	root_error(d, "create", name, strlen(name), -ENOENT, why);
	fuse_reply_err(req, ENOENT);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	refuse_create(req, parent, name);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	refuse_create(req, parent, name);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

/* No links of either kind: the tree is the daemon's, as unlink says. */
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EPERM);
}

/* ---- files ------------------------------------------------------------------- */

/* State of one open file. */
struct fsd_fh {
	struct fsd_fh *next, *prev;      /* d->fhs (d->fh_lock) */
	struct fsd_node node;
	struct fsd_group *g;             /* reference, for group files */
	struct fsd_event_reader *reader; /* events */
	pthread_mutex_t lock;            /* reads and writes through one fd */
	char *snap;                      /* content rendered at the last read of offset 0 */
	size_t snap_len;
};

/* Open files are listed so that those the kernel never releases (a release
 * lost when an unmount aborts the connection, files still open at a
 * SIGTERM) are freed at exit by fsd_tree_close. */
static void fh_link(struct fsd *d, struct fsd_fh *fh)
{
	pthread_mutex_lock(&d->fh_lock);
	fh->prev = NULL;
	fh->next = d->fhs;
	if (d->fhs)
		d->fhs->prev = fh;
	d->fhs = fh;
	pthread_mutex_unlock(&d->fh_lock);
}

static void fh_unlink(struct fsd *d, struct fsd_fh *fh)
{
	pthread_mutex_lock(&d->fh_lock);
	if (fh->prev)
		fh->prev->next = fh->next;
	else
		d->fhs = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	pthread_mutex_unlock(&d->fh_lock);
}

/* Free an open file no longer listed (its parked reads get answered). */
static void fh_free(struct fsd *d, struct fsd_fh *fh)
{
	if (fh->reader)
		fsd_events_release(fh->reader);
	fsd_group_put(d, fh->g);
	free(fh->snap);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

void fsd_tree_close(struct fsd *d)
{
	pthread_mutex_lock(&d->fh_lock);
	struct fsd_fh *fh = d->fhs;
	d->fhs = NULL;
	pthread_mutex_unlock(&d->fh_lock);
	while (fh) {
		struct fsd_fh *next = fh->next;
		fh_free(d, fh);
		fh = next;
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_node n;
	struct fsd_fh *fh;
	int acc = fi->flags & O_ACCMODE;

	if (!decode(ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	enum access a = node_access(n.kind);
	if (a == ACC_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* The mode bits say it, but root passes them: refuse what the file
	 * cannot do, for everyone. */
	if ((a == ACC_RO && acc != O_RDONLY) || (a == ACC_WO && acc != O_WRONLY)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fh->node = n;
	pthread_mutex_init(&fh->lock, NULL);
	if (n.gid) {
		fh->g = fsd_group_get_id(d, n.gid);
		bool gone = !fh->g;
		if (fh->g) {
			pthread_mutex_lock(&fh->g->lock);
			gone = !node_exists(fh->g, &n);
			pthread_mutex_unlock(&fh->g->lock);
		}
		if (!gone && n.kind == FSD_N_EVENTS) {
			fh->reader = fsd_events_open(d, fh->g);
			gone = !fh->reader;
		}
		if (gone) {
			fsd_group_put(d, fh->g);
			pthread_mutex_destroy(&fh->lock);
			free(fh);
			fuse_reply_err(req, ENOENT);
			return;
		}
	}
	/* Content is made at read time: no page cache, no sizes. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (n.kind == FSD_N_EVENTS)
		fi->nonseekable = 1;
	fi->fh = (uint64_t)(uintptr_t)fh;
	/* Listed before the reply: a release may follow it at once. */
	fh_link(d, fh);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* The opener was interrupted: no release will come. */
		fh_unlink(d, fh);
		fh_free(d, fh);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	(void)ino;

	fh_unlink(d, fh);
	fh_free(d, fh);
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	(void)ino;

	if (fh->node.kind == FSD_N_EVENTS) {
		fsd_events_read(req, fsd_of(req), fh->reader, size, (fi->flags & O_NONBLOCK) != 0);
		return;
	}
	pthread_mutex_lock(&fh->lock);
	/* Offset 0 renders afresh (cat, watch, a program that preads 0 again);
	 * the reads that follow continue the same snapshot. */
	if (off == 0 || !fh->snap) {
		char *buf;
		size_t len;
		int rc = fsd_file_render(fsd_of(req), &fh->node, &buf, &len);
		if (rc) {
			pthread_mutex_unlock(&fh->lock);
			fuse_reply_err(req, -rc);
			return;
		}
		free(fh->snap);
		fh->snap = buf;
		fh->snap_len = len;
	}
	/* Reply from a copy, after unlocking: once the reply is out, the
	 * reader may close the file and its release free @fh under us. */
	size_t n = (size_t)off >= fh->snap_len ? 0 : fh->snap_len - (size_t)off;
	if (n > size)
		n = size;
	char *out = n ? malloc(n) : NULL;
	if (out)
		memcpy(out, fh->snap + off, n);
	pthread_mutex_unlock(&fh->lock);
	if (n && !out)
		fuse_reply_err(req, ENOMEM);
	else
		fuse_reply_buf(req, out, n);
	free(out);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	const char *where = fh->node.kind == FSD_N_ATTR ? fsd_attr_name((enum fsd_attr)fh->node.attr)
			  : "ctl";
	char why[FSD_WHY_MAX] = "";
	int rc;
	(void)ino;

	pthread_mutex_lock(&fh->lock);
	atomic_fetch_add_explicit(&d->commands, 1, memory_order_relaxed);
	/* One command per write(2) whatever the offset, as in sysfs and
	 * cgroupfs: `echo CMD >> ctl` from many shells writes at the size the
	 * kernel last saw, and a kept O_APPEND descriptor further on. */
	(void)off;
	if (size > FSD_WRITE_MAX) {
		snprintf(why, sizeof(why), "write of %zu bytes: the limit is %d", size, FSD_WRITE_MAX);
		rc = -EINVAL;
	} else if (fh->node.kind == FSD_N_ROOT_CTL) {
		rc = fsd_root_ctl(d, req, buf, size, why, sizeof(why));
	} else if (fh->node.kind == FSD_N_GCTL) {
		rc = fsd_group_ctl(d, fh->g, req, buf, size, why, sizeof(why));
	} else if (fh->node.kind == FSD_N_ATTR) {
		rc = fsd_group_attr_write(d, fh->g, (enum fsd_attr)fh->node.attr, buf, size, why,
					  sizeof(why));
	} else {
		snprintf(why, sizeof(why), "not writable");
		rc = -EACCES;
	}
	pthread_mutex_unlock(&fh->lock);
	if (rc) {
		size_t shown = size < 200 ? size : 200;
		if (fh->g)
			group_error(d, fh->g, where, buf, shown, rc, why);
		else
			root_error(d, where, buf, shown, rc, why);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_write(req, size);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	(void)ino;

	if (fh->node.kind == FSD_N_EVENTS) {
		fsd_events_poll(req, fh->reader, ph);
		return;
	}
	/* Regular files are always ready. */
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

const struct fuse_lowlevel_ops fsd_ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.mknod = op_mknod,
	.create = op_create,
	.unlink = op_unlink,
	.rename = op_rename,
	.symlink = op_symlink,
	.link = op_link,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.poll = op_poll,
};
