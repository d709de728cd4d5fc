/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - what users write: commands to a group's ctl, values to attribute
 * files, and commands to the daemon-wide ctl. Every function returns 0 or
 * a negative errno and, on error, the reason in @why; the caller (tree.c)
 * logs it in the right error_log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fsd.h"
#include "ipcfs/keys.h"

__attribute__((format(printf, 4, 5)))
static int fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return err;
}

/* The process that wrote: FUSE gives the writing thread's id. */
static pid_t writer_process(fuse_req_t req)
{
	return fsd_tgid_of(fuse_req_ctx(req)->pid);
}

/*
 * join R. libipcfs claims the rank itself and then announces it here: the
 * rank is then live with the writer's pid and we only watch it. A shell
 * (echo join 3 > ctl) claims nothing: we claim the rank for it.
 */
static int cmd_join(struct fsd *d, struct fsd_group *g, pid_t pid, unsigned r, char *why,
		    size_t whylen)
{
	pid_t owner;
	int rc;

	/* The writer's pid is ours; a member in another PID namespace wrote
	 * its own there into the owner word. */
	bool own = fsd_owner(g, r, &owner) == IPCFS_STATE_LIVE && fsd_writer_owns(g, r, pid, owner);
	if (!own) {
		rc = seg_claim(&g->seg, r, pid);
		if (rc == -EBUSY) {
			fsd_owner(g, r, &owner);
			return fail(rc, why, whylen, "join: rank %u is held by live pid %d", r,
				    (int)owner);
		}
		if (rc)
			return fail(rc, why, whylen, "join: cannot claim rank %u: %s", r, strerror(-rc));
		seg_go_live(&g->seg, r, pid);
	}
	if (!own)
		owner = pid;
	rc = fsd_watch_rank(d, g, r, owner, pid);
	if (rc) /* the writer is gone already: the scan marks it dead */
		fsd_log(LOG_WARNING, "%s: cannot watch pid %d of rank %u: %s", g->name, (int)pid, r,
			strerror(-rc));
	fsd_members_transition(g, r, IPCFS_STATE_LIVE, owner);
	return 0;
}

/* leave R: by the member's own process, the group's owner or root. */
static int cmd_leave(struct fsd_group *g, pid_t pid, uid_t uid, unsigned r, char *why,
		     size_t whylen)
{
	pid_t owner;
	int st = fsd_owner(g, r, &owner);

	if (st == IPCFS_STATE_FREE)
		return fail(-ENOENT, why, whylen, "leave: rank %u never joined", r);
	if (!fsd_writer_owns(g, r, pid, owner) && uid != 0 && uid != g->uid)
		return fail(-EPERM, why, whylen, "leave: rank %u belongs to pid %d", r, (int)owner);
	if (st == IPCFS_STATE_DEAD)
		return fail(-ENOENT, why, whylen, "leave: rank %u is dead", r);
	if (st == IPCFS_STATE_LIVE)
		seg_mark_gone_pid(&g->seg, r, owner, IPCFS_STATE_LEFT);
	fsd_unwatch_rank(g, r);
	fsd_members_transition(g, r, IPCFS_STATE_LEFT, owner);
	return 0;
}

/* bcast TEXT: one message from the control sender to every live rank.
 * Holds bcast_lock (one control sender), not the group lock: the reserve
 * may wait up to timeout_ms for the slowest reader. */
static int cmd_bcast(struct fsd_group *g, const char *text, size_t len, char *why, size_t whylen)
{
	void *slot;
	int rc;

	pthread_mutex_lock(&g->bcast_lock);
	pthread_mutex_lock(&g->lock);
	bool removed = g->removed;
	int timeout = (int)seg_layout(&g->seg)->timeout_ms;
	pthread_mutex_unlock(&g->lock);
	if (removed) {
		rc = fail(-ENOENT, why, whylen, "bcast: group destroyed");
		goto out;
	}
	/* Larger than a slot: the library puts it in the arena, or says
	 * EMSGSIZE when the group has none. */
	rc = chan_reserve(&g->ctl, len, &slot, timeout);
	if (rc == -EMSGSIZE) {
		fail(rc, why, whylen, "bcast: %zu bytes exceed slot_bytes %u and there is no arena",
		     len, seg_layout(&g->seg)->slot_bytes);
		goto out;
	}
	if (rc) {
		fail(rc, why, whylen, "bcast: no room within timeout_ms %d: %s", timeout,
		     strerror(-rc));
		goto out;
	}
	memcpy(slot, text, len);
	rc = chan_commit(&g->ctl, IPCFS_ALL, len, 0);
	if (rc)
		chan_unreserve(&g->ctl); /* an arena block must not stay taken */
	if (rc == -ENOTCONN)
		fail(rc, why, whylen, "bcast: no live member");
	else if (rc)
		fail(rc, why, whylen, "bcast: %s", strerror(-rc));
out:
	pthread_mutex_lock(&g->lock);
	fsd_stats_bcast_done(&g->stats, rc);
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_unlock(&g->bcast_lock);
	return rc;
}

/* The record @name/@rank becomes @hex (NULL: none). */
static int set_record(struct fsd_group *g, const char *name, unsigned rank, const char *hex)
{
	return hex ? fsd_gpu_store(&g->gpu, name, rank, hex, strlen(hex))
		   : fsd_gpu_remove(&g->gpu, name, rank);
}

/* register NAME RANK HEX, unregister NAME RANK: a record changes only if
 * the state file keeps the change (else it is undone, and the write
 * fails with the errno). Caller holds g->lock. */
static int cmd_record(struct fsd *d, struct fsd_group *g, const struct fsd_cmd *c, char *why,
		      size_t whylen)
{
	bool reg = c->kind == FSD_CMD_REGISTER;
	const char *word = reg ? "register" : "unregister";
	const struct fsd_gpu_name *n = fsd_gpu_find(&g->gpu, c->name, strlen(c->name));
	char *old = n && n->rec[c->rank] ? strdup(n->rec[c->rank]) : NULL;
	int rc;

	if (n && n->rec[c->rank] && !old)
		return fail(-ENOMEM, why, whylen, "%s: out of memory", word);
	rc = reg ? fsd_gpu_store(&g->gpu, c->name, c->rank, c->text, c->text_len)
		 : fsd_gpu_remove(&g->gpu, c->name, c->rank);
	if (rc == -ENOSPC)
		fail(rc, why, whylen, "register: more than %d buffer names", FSD_GPU_NAMES_MAX);
	else if (rc == -ENOENT)
		fail(rc, why, whylen, "unregister: no record %s/%u", c->name, c->rank);
	else if (rc)
		fail(rc, why, whylen, "%s: %s", word, strerror(-rc));
	else if ((rc = fsd_group_save(d, g))) {
		set_record(g, c->name, c->rank, old);
		fail(rc, why, whylen, "%s: cannot write the state file: %s", word, strerror(-rc));
	} else {
		fsd_event_post(g, "%sed name=%s rank=%u", word, c->name, c->rank);
	}
	free(old);
	return rc;
}

int fsd_group_ctl(struct fsd *d, struct fsd_group *g, fuse_req_t req, const char *buf, size_t len,
		  char *why, size_t whylen)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fsd_cmd c;
	pid_t pid = 0;
	int rc = fsd_parse_group_cmd(buf, len, &c, why, whylen);

	if (rc)
		return rc;
	if (c.kind == FSD_CMD_BCAST)
		return cmd_bcast(g, c.text, c.text_len, why, whylen);
	if (c.kind == FSD_CMD_JOIN || c.kind == FSD_CMD_LEAVE) {
		pid = writer_process(req);
		if (pid <= 0)
			return fail(-ESRCH, why, whylen, "cannot find the writing process %d",
				    (int)ctx->pid);
	}

	pthread_mutex_lock(&g->lock);
	if (g->removed) {
		rc = fail(-ENOENT, why, whylen, "group destroyed");
		goto out;
	}
	if ((c.kind == FSD_CMD_JOIN || c.kind == FSD_CMD_LEAVE || c.kind == FSD_CMD_REGISTER ||
	     c.kind == FSD_CMD_UNREGISTER) && c.rank >= seg_layout(&g->seg)->ranks) {
		rc = fail(-ERANGE, why, whylen, "rank %u out of range 0..%u", c.rank,
			  seg_layout(&g->seg)->ranks - 1);
		goto out;
	}
	switch (c.kind) {
	case FSD_CMD_JOIN:
		rc = cmd_join(d, g, pid, c.rank, why, whylen);
		break;
	case FSD_CMD_LEAVE:
		rc = cmd_leave(g, pid, ctx->uid, c.rank, why, whylen);
		break;
	case FSD_CMD_REGISTER:
	case FSD_CMD_UNREGISTER:
		rc = cmd_record(d, g, &c, why, whylen);
		break;
	case FSD_CMD_RESET_STAT: {
		struct fsd_stats before = g->stats;
		fsd_stats_reset(&g->stats, &g->seg);
		/* Kept in the state file: a restarted daemon counts from
		 * this reset too; if it cannot be kept, it is not made. */
		if ((rc = fsd_group_save(d, g))) {
			g->stats = before;
			fail(rc, why, whylen, "reset-stat: cannot write the state file: %s",
			     strerror(-rc));
		}
		break;
	}
	default:
		rc = fail(-EINVAL, why, whylen, "not a group command");
		break;
	}
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int fsd_group_attr_write(struct fsd *d, struct fsd_group *g, enum fsd_attr a, const char *buf,
			 size_t len, char *why, size_t whylen)
{
	struct fsd_attr_value v;
	int rc;

	if (len > FSD_WRITE_MAX)
		return fail(-EINVAL, why, whylen, "%s: value longer than %d bytes", fsd_attr_name(a),
			    FSD_WRITE_MAX);
	rc = fsd_parse_attr(a, buf, len, &v, why, whylen);
	if (!rc)
		rc = fsd_resolve_numa(&v, why, whylen);
	if (rc)
		return rc;
	/* bcast_lock: re-creating the segment must not pull it from under a
	 * bcast in progress; set_attr takes the group's lock itself, only
	 * for the short parts. */
	pthread_mutex_lock(&g->bcast_lock);
	rc = fsd_group_set_attr(d, g, &v, why, whylen);
	pthread_mutex_unlock(&g->bcast_lock);
	return rc;
}

int fsd_root_ctl(struct fsd *d, fuse_req_t req, const char *buf, size_t len, char *why,
		 size_t whylen)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fsd_attrs attrs;
	struct fsd_cmd c;
	int rc = fsd_parse_root_cmd(buf, len, &c, why, whylen);

	if (rc)
		return rc;
	if (c.kind == FSD_CMD_DESTROY)
		return fsd_group_destroy(d, c.name, ctx->uid, why, whylen);
	fsd_attrs_init(&attrs);
	for (unsigned i = 0; i < c.nattrs; i++) {
		rc = fsd_resolve_numa(&c.attrs[i], why, whylen);
		if (rc)
			return rc;
		fsd_attrs_set(&attrs, &c.attrs[i]);
	}
	return fsd_group_create(d, c.name, ctx->uid, ctx->gid, &attrs, why, whylen);
}

int fsd_group_cluster_write(struct fsd *d, struct fsd_group *g, bool self, const char *buf,
			    size_t len, char *why, size_t whylen)
{
	struct fsd_cluster next, before;
	int rc;

	pthread_mutex_lock(&g->lock);
	if (g->removed) {
		rc = fail(-ENOENT, why, whylen, "group destroyed");
		goto out;
	}
	next = before = g->cluster;
	rc = self ? fsd_cluster_parse_self(buf, len, &next, next.self, why, whylen)
		  : fsd_cluster_parse_nodes_partial(buf, len, g->attrs.p.ranks, &next, why, whylen);
	if (rc)
		goto out; /* 1: valid so far, ranks missing: nothing changes yet */
	/* Kept in the state file, or not made. */
	g->cluster = next;
	if ((rc = fsd_group_save(d, g))) {
		g->cluster = before;
		fail(rc, why, whylen, "cannot write the state file: %s", strerror(-rc));
	}
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int fsd_group_keys_write(struct fsd *d, struct fsd_group *g, const char *buf, size_t len,
			 char *why, size_t whylen)
{
	char path[FSD_KEYS_PATH_MAX + 1], before[FSD_KEYS_PATH_MAX + 1];
	struct fsd_cluster c;
	struct fsd_keys k;
	int rc;

	if ((rc = fsd_keys_parse_path(buf, len, path, why, whylen)))
		return rc;
	pthread_mutex_lock(&g->lock);
	c = g->cluster;
	uid_t owner = g->uid;
	pthread_mutex_unlock(&g->lock);
	/* The files are read without g->lock (a slow file system stalls this
	 * write, not the group); the bridge checks them again when it
	 * starts. Before nodes are set only the directory is checked. */
	if (path[0]) {
		rc = fsd_keys_load(path, owner, &c, c.self[0] ? fsd_cluster_find(&c, c.self) : -1, &k,
				   why, whylen);
		explicit_bzero(&k, sizeof(k));
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&g->lock);
	if (g->removed) {
		rc = fail(-ENOENT, why, whylen, "group destroyed");
		goto out;
	}
	memcpy(before, g->cluster.keys, sizeof(before));
	memcpy(g->cluster.keys, path, sizeof(path));
	if ((rc = fsd_group_save(d, g))) {
		memcpy(g->cluster.keys, before, sizeof(before));
		fail(rc, why, whylen, "cannot write the state file: %s", strerror(-rc));
	} else if (strcmp(before, path)) {
		/* A bridge started with other keys (or none) must not go on
		 * with them: it is started again with these. */
		fsd_bridge_restart(g);
	}
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}
