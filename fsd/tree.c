/* SPDX-License-Identifier: MIT */
/*
 * tree.c - the directories of the file tree: lookup, getattr, setattr,
 * readdir, mkdir and rmdir, the operations refused everywhere, and the
 * table of FUSE operations (files: openfiles.c; nodes: node.c).
 *
 * Every entry and attribute is returned with a zero cache timeout: group
 * lists, owners and modes change underneath, and this is a control plane.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsd.h"

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = fsd_node_stat(fsd_of(req), ino, &e.attr);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = ino;
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_ino_t ino = fsd_node_child(fsd_of(req), parent, name);

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
	int rc = fsd_node_stat(fsd_of(req), ino, &st);
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

	if (!fsd_node_decode(ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
		       FUSE_SET_ATTR_CTIME)) {
		fuse_reply_err(req, EPERM); /* chmod/chown: write the mode attribute */
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (attr->st_size != 0 || (fsd_node_access(n.kind) != ACC_RW && fsd_node_access(n.kind) != ACC_WO))) {
		fuse_reply_err(req, fsd_node_access(n.kind) == ACC_DIR ? EISDIR : EINVAL);
		return;
	}
	op_getattr(req, ino, NULL);
}

/* ---- directories ----------------------------------------------------------- */

struct dirbuf {
	fuse_req_t req;
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
static void dirbuf_entry(void *arg, const char *name, fuse_ino_t ino, bool dir)
{
	struct dirbuf *b = arg;

	dirbuf_add(b->req, b, name, ino, dir ? S_IFDIR : S_IFREG);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf b = { .req = req };
	(void)fi;

	/* The whole listing is built on every call and cut at @off (a byte
	 * offset into it): directories here are small. */
	dirbuf_add(req, &b, ".", ino, S_IFDIR);
	dirbuf_add(req, &b, "..", FUSE_ROOT_ID, S_IFDIR);
	int rc = fsd_node_list(fsd_of(req), ino, dirbuf_entry, &b);
	if (rc || b.oom)
		fuse_reply_err(req, rc ? -rc : ENOMEM);
	else if ((size_t)off < b.len)
		fuse_reply_buf(req, b.buf + off, b.len - (size_t)off < size ? b.len - (size_t)off : size);
	else
		fuse_reply_buf(req, NULL, 0);
	free(b.buf);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fsd *d = fsd_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char why[FSD_WHY_MAX] = "";
	struct fsd_node p;
	int rc;
	(void)mode; /* a group's mode is its mode attribute (default 0770) */

	if (!fsd_node_decode(parent, &p) || p.kind != FSD_N_GROUPS) {
		snprintf(why, sizeof(why), "directories are made only in groups/");
		rc = -EPERM;
	} else {
		rc = fsd_group_create(d, name, ctx->uid, ctx->gid, NULL, why, sizeof(why));
	}
	if (rc) {
		fsd_root_error(d, "mkdir", name, strlen(name), rc, why);
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, fsd_node_child(d, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd *d = fsd_of(req);
	char why[FSD_WHY_MAX] = "";
	struct fsd_node p;
	int rc;

	if (!fsd_node_decode(parent, &p) || p.kind != FSD_N_GROUPS) {
		snprintf(why, sizeof(why), "only groups are removed (gpu records: unregister)");
		rc = -EPERM;
	} else {
		rc = fsd_group_destroy(d, name, fuse_req_ctx(req)->uid, why, sizeof(why));
	}
	if (rc) {
		/* Also in the group's own log, where its users look. */
		struct fsd_group *g = p.kind == FSD_N_GROUPS ? fsd_group_get(d, name) : NULL;
		if (g) {
			fsd_group_error(d, g, "rmdir", name, strlen(name), rc, why);
			fsd_group_put(d, g);
		}
		fsd_root_error(d, "rmdir", name, strlen(name), rc, why);
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
	if (fsd_node_decode(parent, &p) && p.gid) {
		struct fsd_group *g = fsd_group_get_id(d, p.gid);
		if (g) {
			fsd_group_error(d, g, "create", name, strlen(name), -ENOENT, why);
			fsd_group_put(d, g);
			fuse_reply_err(req, ENOENT);
			return;
		}
	}
	fsd_root_error(d, "create", name, strlen(name), -ENOENT, why);
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
	.open = fsd_op_open,
	.release = fsd_op_release,
	.flush = fsd_op_flush,
	.read = fsd_op_read,
	.write = fsd_op_write,
	.poll = fsd_op_poll,
};
