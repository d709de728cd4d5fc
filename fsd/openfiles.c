/* SPDX-License-Identifier: MIT */
/*
 * openfiles.c - open files of the tree: open, read, write, poll and
 * release, dispatched to files.c (content), ctl.c (commands) and events.c
 * (events files), and the list of open files freed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"

/* State of one open file. */
struct fsd_fh {
	struct fsd_fh *next, *prev;      /* d->fhs (d->fh_lock) */
	struct fsd_node node;
	struct fsd_group *g;             /* reference, for group files */
	struct fsd_event_reader *reader; /* events */
	pthread_mutex_t lock;            /* reads and writes through one fd */
	char *snap;                      /* content rendered at the last read of offset 0 */
	size_t snap_len;
	/* nodes: what this fd wrote so far while it leaves ranks on no node
	 * (a shell writes line by line); applied once whole. */
	char *pending;
	size_t pending_len;
	char pending_why[FSD_WHY_MAX];
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
	free(fh->pending);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

/* A write to nodes: the text so far through this fd (a write at offset 0
 * starts afresh), applied as soon as it is whole (cluster.h). */
static int write_nodes(struct fsd *d, struct fsd_fh *fh, const char *buf, size_t size, off_t off,
		       char *why, size_t whylen)
{
	size_t len = (off == 0 || !fh->pending ? 0 : fh->pending_len) + size;
	char *text = len > FSD_NODES_TEXT_MAX ? NULL : malloc(len ? len : 1);
	int rc;

	if (!text) {
		snprintf(why, whylen, "nodes: %s", len > FSD_NODES_TEXT_MAX ? "longer than the limit"
									: "out of memory");
		rc = len > FSD_NODES_TEXT_MAX ? -EINVAL : -ENOMEM;
	} else {
		if (len > size) /* pending is NULL when there is nothing before */
			memcpy(text, fh->pending, len - size);
		memcpy(text + len - size, buf, size);
		rc = fsd_group_cluster_write(d, fh->g, false, text, len, why, whylen);
	}
	free(fh->pending);
	fh->pending = NULL;
	if (rc == 1) {
		fh->pending = text;
		fh->pending_len = len;
		snprintf(fh->pending_why, sizeof(fh->pending_why), "%s", why);
		return 0;
	}
	free(text);
	return rc;
}

/* close(2) of a nodes file left incomplete fails (and says why); nothing
 * was applied. */
void fsd_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	char text[FSD_NODES_TEXT_MAX + 1], why[FSD_WHY_MAX + 48];
	size_t len = 0;
	(void)ino;

	pthread_mutex_lock(&fh->lock);
	if (fh->pending) {
		len = fh->pending_len < 200 ? fh->pending_len : 200;
		memcpy(text, fh->pending, len);
		snprintf(why, sizeof(why), "closed while incomplete, not applied: %s", fh->pending_why);
		free(fh->pending);
		fh->pending = NULL;
	}
	pthread_mutex_unlock(&fh->lock);
	if (len) {
		fsd_group_error(fsd_of(req), fh->g, "nodes", text, len, -EINVAL, why);
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_err(req, 0);
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

void fsd_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_node n;
	struct fsd_fh *fh;
	int acc = fi->flags & O_ACCMODE;

	if (!fsd_node_decode(ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	enum fsd_access a = fsd_node_access(n.kind);
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
			gone = !fsd_node_exists(fh->g, &n);
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

void fsd_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	(void)ino;

	fh_unlink(d, fh);
	fh_free(d, fh);
	fuse_reply_err(req, 0);
}

void fsd_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

void fsd_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fsd *d = fsd_of(req);
	struct fsd_fh *fh = (struct fsd_fh *)(uintptr_t)fi->fh;
	const char *where = fh->node.kind == FSD_N_ATTR ? fsd_attr_name((enum fsd_attr)fh->node.attr)
			  : fh->node.kind == FSD_N_NODES ? "nodes" : fh->node.kind == FSD_N_NODE ? "node"
			  : fh->node.kind == FSD_N_KEYS ? "keys" : "ctl";
	char why[FSD_WHY_MAX] = "";
	int rc;
	(void)ino;

	pthread_mutex_lock(&fh->lock);
	atomic_fetch_add_explicit(&d->commands, 1, memory_order_relaxed);
	/* One command per write(2) whatever the offset, as in sysfs and
	 * cgroupfs: `echo CMD >> ctl` from many shells writes at the size the
	 * kernel last saw, and a kept O_APPEND descriptor further on. (nodes
	 * alone gathers the lines of one open file: write_nodes.) */
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
	} else if (fh->node.kind == FSD_N_NODES) {
		rc = write_nodes(d, fh, buf, size, off, why, sizeof(why));
	} else if (fh->node.kind == FSD_N_NODE) {
		rc = fsd_group_cluster_write(d, fh->g, true, buf, size, why, sizeof(why));
	} else if (fh->node.kind == FSD_N_KEYS) {
		rc = fsd_group_keys_write(d, fh->g, buf, size, why, sizeof(why));
	} else {
		snprintf(why, sizeof(why), "not writable");
		rc = -EACCES;
	}
	pthread_mutex_unlock(&fh->lock);
	if (rc) {
		size_t shown = size < 200 ? size : 200;
		if (fh->g)
			fsd_group_error(d, fh->g, where, buf, shown, rc, why);
		else
			fsd_root_error(d, where, buf, shown, rc, why);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_write(req, size);
}

void fsd_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
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
