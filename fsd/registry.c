/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the groups: their list and references, creating and
 * destroying them, their state files, and adopting them again after a
 * restart (segments: segfile.c; the state file's grammar: state.c).
 *
 * Beside each segment STATEDIR/NAME.seg lies STATEDIR/NAME.state, a small
 * text file ("key value" lines) with what the segment header does not hold:
 * owner, mode, hugepages, algo, the counters the daemon keeps, the
 * reset-stat baseline and the GPU records. It is rewritten whole (temporary
 * file, then rename) when any of them changes, and at exit. A restarted
 * daemon maps every segment it finds a state file for; the members
 * themselves are found again from the segment's owner words (liveness.c).
 * The state directory is locked (flock) so that two daemons never manage
 * the same groups.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "ipcfs/cluster.h"
#include "fsd.h"

uint64_t fsd_group_joined_mask(const struct fsd_group *g)
{
	return seg_joined_mask(&g->seg);
}

bool fsd_group_joined(const struct fsd_group *g)
{
	return fsd_group_joined_mask(g) != 0;
}

unsigned fsd_group_live(const struct fsd_group *g)
{
	return (unsigned)__builtin_popcountll(seg_live_mask(&g->seg));
}

/* ---- references ---------------------------------------------------------- */

static void group_free(struct fsd_group *g)
{
	for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++)
		fsd_unwatch_rank(g, r);
	fsd_gpu_clear(&g->gpu);
	fsd_bridge_free(g);
	fsd_seg_release(g);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->bcast_lock);
	free(g);
}

struct fsd_group *fsd_group_get(struct fsd *d, const char *name)
{
	struct fsd_group *g;

	pthread_mutex_lock(&d->lock);
	for (g = d->groups; g; g = g->next)
		if (strcmp(g->name, name) == 0) {
			g->refs++;
			break;
		}
	pthread_mutex_unlock(&d->lock);
	return g;
}

struct fsd_group *fsd_group_get_id(struct fsd *d, uint32_t id)
{
	struct fsd_group *g;

	pthread_mutex_lock(&d->lock);
	for (g = d->groups; g; g = g->next)
		if (g->id == id) {
			g->refs++;
			break;
		}
	pthread_mutex_unlock(&d->lock);
	return g;
}

void fsd_group_put(struct fsd *d, struct fsd_group *g)
{
	bool last;

	if (!g)
		return;
	pthread_mutex_lock(&d->lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&d->lock);
	if (last)
		group_free(g);
}

struct fsd_group **fsd_groups_get(struct fsd *d, unsigned *n)
{
	struct fsd_group **v;
	unsigned i = 0;

	pthread_mutex_lock(&d->lock);
	v = calloc(d->ngroups ? d->ngroups : 1, sizeof(*v));
	if (v)
		for (struct fsd_group *g = d->groups; g; g = g->next) {
			g->refs++;
			v[i++] = g;
		}
	pthread_mutex_unlock(&d->lock);
	*n = i;
	return v;
}

void fsd_groups_put(struct fsd *d, struct fsd_group **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fsd_group_put(d, v[i]);
	free(v);
}

/* ---- state files ------------------------------------------------------------- */

/* The parts of @g its state file holds, borrowed (nothing to free). */
static void state_of(const struct fsd_group *g, struct fsd_state *st)
{
	st->uid = g->uid;
	st->gid = g->gid;
	st->attrs = g->attrs;
	st->stats = g->stats;
	st->gpu = g->gpu;
	st->cluster = g->cluster;
}

static int save_state(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *attrs);

int fsd_group_save(struct fsd *d, struct fsd_group *g)
{
	return save_state(d, g, &g->attrs);
}

/* Write the state file of @g as it is, but with @attrs (and, if they
 * change the segment, the baseline of a fresh segment). */
static int save_state(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *attrs)
{
	char tmp[sizeof(g->state_path) + 4];
	struct fsd_state *st = malloc(sizeof(*st));
	char *buf = NULL;
	size_t len = 0;
	int fd = -ENOMEM, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", g->state_path);
	if (st) {
		state_of(g, st);
		if (attrs != &g->attrs && memcmp(&attrs->p, &g->attrs.p, sizeof(attrs->p)))
			fsd_stats_new_segment(&st->stats);
		st->attrs = *attrs;
		buf = fsd_state_format(st, &len);
		free(st);
	}
	/* Only the daemon reads it: it holds the GPU records of every group. */
	if (buf)
		fd = fsd_open_new(d->state_fd, tmp, O_WRONLY, 0600);
	for (size_t off = 0; fd >= 0 && off < len && !rc;) {
		ssize_t n = write(fd, buf + off, len - off);
		rc = n < 0 ? -errno : 0;
		off += n > 0 ? (size_t)n : 0;
	}
	/* All of it on the disk before the rename (ENOSPC shows here at the
	 * latest); a restart reads either the old or the new file, whole. */
	if (fd >= 0 && !rc && fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = -errno;
	if (fd < 0)
		rc = fd;
	if (!rc && renameat(d->state_fd, tmp, d->state_fd, g->state_path) != 0)
		rc = -errno;
	if (rc) {
		fsd_log(LOG_ERR, "%s: cannot write its state: %s", g->name, strerror(-rc));
		unlinkat(d->state_fd, tmp, 0);
	}
	free(buf);
	return rc;
}

/* Read a state file into @g: its owner, attributes, statistics and GPU
 * records. */
static int load_state(struct fsd *d, struct fsd_group *g)
{
	char why[FSD_WHY_MAX] = "";
	struct fsd_state *st = calloc(1, sizeof(*st));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	unsigned skipped;
	int rc = 0, fd = fsd_open_file(d->state_fd, g->state_path, O_RDONLY);

	if (fd < 0 || !st) {
		free(st);
		if (fd >= 0)
			close(fd);
		return fd < 0 ? fd : -ENOMEM;
	}
	for (ssize_t n = 1; n > 0 && !rc; len += (size_t)n) {
		if (len == cap) {
			char *nb = cap < (1u << 24) ? realloc(buf, cap = cap * 2 + 4096) : NULL;
			if (!nb) {
				rc = cap >= (1u << 24) ? -EFBIG : -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
	}
	close(fd);
	if (!rc)
		rc = fsd_state_parse(buf ? buf : "", len, st, &skipped, why, sizeof(why));
	free(buf);
	if (rc) {
		fsd_log(LOG_ERR, "%s/%s: %s", d->statedir, g->state_path, why[0] ? why : strerror(-rc));
	} else {
		if (skipped)
			fsd_log(LOG_WARNING, "%s/%s: %u lines skipped, the first: %s", d->statedir,
				g->state_path, skipped, why);
		g->uid = st->uid;
		g->gid = st->gid;
		g->attrs = st->attrs;
		g->stats = st->stats;
		g->gpu = st->gpu; /* taken over: not cleared */
		g->cluster = st->cluster;
	}
	free(st);
	return rc;
}

static struct fsd_group *group_alloc(const char *name)
{
	struct fsd_group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	snprintf(g->name, sizeof(g->name), "%s", name);
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->bcast_lock, NULL);
	for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++)
		g->members.watch[r].pidfd = -1;
	fsd_bridge_init(g);
	g->refs = 1;
	snprintf(g->state_path, sizeof(g->state_path), "%s.state", name);
	return g;
}

/* Insert (caller holds d->lock). */
static void group_link(struct fsd *d, struct fsd_group *g)
{
	g->id = ++d->next_id;
	g->next = d->groups;
	d->groups = g;
	d->ngroups++;
}

/* Adopt the group whose state file is @name.state. */
static void adopt_group(struct fsd *d, const char *name)
{
	char why[FSD_WHY_MAX] = "";
	struct fsd_group *g = group_alloc(name);
	int rc;

	if (!g)
		return;
	rc = load_state(d, g);
	if (rc) {
		fsd_log(LOG_ERR, "%s/%s: %s, group skipped", d->statedir, g->state_path,
			rc == -ELOOP ? "a symbolic link, not a state file"
				     : rc == -EBADF ? "not a regular file" : strerror(-rc));
		goto fail;
	}
	/* With huge pages the segment lives elsewhere than the default. */
	rc = fsd_seg_adopt(d, g);
	if (rc == -EPROTO)
		/* Made by another version of ipcfs (after an upgrade): this
		 * daemon and its members cannot read it, while the group's
		 * attributes, owner and records are in the state file. A
		 * fresh segment replaces it, as if it had gone away; members
		 * of the old version keep the old one until they rejoin. */
		fsd_log(LOG_WARNING, "%s: its segment %s is of another ipcfs version (not ABI %d): "
			"replaced by a fresh one; members of that version must rejoin with this one",
			name, g->seg_path, IPCFS_ABI);
	if (rc == -ENOENT || rc == -EPROTO) {
		/* The segment went away (e.g. /dev/shm was cleaned): a fresh
		 * one, nobody can have been joined to it; its counters start
		 * from 0, and so does the baseline. */
		rc = fsd_seg_make(d, g, &g->attrs, &g->seg, why, sizeof(why));
		fsd_stats_new_segment(&g->stats);
	} else if (!rc) {
		/* The segment is what members use: its layout wins. */
		uint32_t mode = g->attrs.p.mode;
		seg_params(&g->seg, &g->attrs.p);
		g->attrs.p.mode = mode;
	}
	if (!rc)
		rc = fsd_seg_claim_ctl(d, g, &g->attrs);
	if (rc) {
		fsd_log(LOG_ERR, "%s: cannot adopt the segment: %s %s", name, strerror(-rc), why);
		goto fail;
	}
	fsd_members_adopt(g);
	pthread_mutex_lock(&d->lock);
	group_link(d, g);
	pthread_mutex_unlock(&d->lock);
	fsd_log(LOG_INFO, "adopted group %s (%u live members)", name, fsd_group_live(g));
	return;
fail:
	group_free(g);
}

int fsd_registry_open(struct fsd *d)
{
	char why[FSD_WHY_MAX] = "";
	int rc = fsd_statedir_open(d, why, sizeof(why));

	if (rc) {
		fsd_log(LOG_ERR, "refusing the state directory: %s", why);
		return rc;
	}
	/* Kept from one daemon to the next: never created through a link,
	 * and a plain file. */
	d->lock_fd = openat(d->state_fd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d->lock_fd < 0 && errno == ELOOP) {
		fsd_log(LOG_ERR, "%s/.lock is a symbolic link: remove it", d->statedir);
		return -ELOOP;
	}
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		fsd_log(LOG_ERR, "%s/.lock: %s", d->statedir,
			rc == -EWOULDBLOCK ? "another ipcfsd manages this state directory"
					   : strerror(-rc));
		return rc;
	}

	int dfd = openat(d->state_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		if (n <= 6 || strcmp(e->d_name + n - 6, ".state") != 0)
			continue;
		char name[FSD_NAME_MAX + 1];
		if (n - 6 > FSD_NAME_MAX || fsd_parse_name(e->d_name, n - 6, NULL, 0))
			continue;
		memcpy(name, e->d_name, n - 6);
		name[n - 6] = '\0';
		adopt_group(d, name);
	}
	closedir(dir);
	return 0;
}

void fsd_registry_close(struct fsd *d)
{
	pthread_mutex_lock(&d->lock);
	struct fsd_group *g = d->groups;
	d->groups = NULL;
	d->ngroups = 0;
	pthread_mutex_unlock(&d->lock);
	while (g) {
		struct fsd_group *next = g->next;
		/* The segment and state stay for the next daemon; the state is
		 * written once more for the counters it holds (bcasts are not
		 * written at each bcast). */
		pthread_mutex_lock(&g->lock);
		fsd_group_save(d, g);
		pthread_mutex_unlock(&g->lock);
		fsd_group_put(d, g);
		g = next;
	}
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
	if (d->state_fd >= 0)
		close(d->state_fd);
	d->state_fd = -1;
}

/* ---- create, destroy, change -------------------------------------------------- */

static int group_create_locked(struct fsd *d, const char *name, uid_t uid, gid_t gid,
			       const struct fsd_attrs *attrs, char *why, size_t whylen);

int fsd_group_create(struct fsd *d, const char *name, uid_t uid, gid_t gid,
		     const struct fsd_attrs *attrs, char *why, size_t whylen)
{
	int rc = fsd_parse_name(name, strlen(name), why, whylen);

	if (rc)
		return rc;
	/* One creation at a time: two mkdir of one name must not both build
	 * (and rename over each other) the segment NAME.seg. */
	pthread_mutex_lock(&d->create_lock);
	rc = group_create_locked(d, name, uid, gid, attrs, why, whylen);
	pthread_mutex_unlock(&d->create_lock);
	return rc;
}

static int group_create_locked(struct fsd *d, const char *name, uid_t uid, gid_t gid,
			       const struct fsd_attrs *attrs, char *why, size_t whylen)
{
	struct fsd_group *g;
	int rc;

	if ((g = fsd_group_get(d, name))) {
		fsd_group_put(d, g);
		snprintf(why, whylen, "group %s exists", name);
		return -EEXIST;
	}
	g = group_alloc(name);
	if (!g)
		return -ENOMEM;
	g->uid = uid;
	g->gid = gid;
	if (attrs)
		g->attrs = *attrs;
	else
		fsd_attrs_init(&g->attrs);
	rc = fsd_attrs_check(&g->attrs, why, whylen);
	if (!rc)
		rc = fsd_seg_make(d, g, &g->attrs, &g->seg, why, whylen);
	if (!rc)
		rc = fsd_seg_claim_ctl(d, g, &g->attrs);
	if (rc) {
		if (g->seg.base)
			fsd_seg_remove(d, g);
		group_free(g);
		return rc;
	}

	pthread_mutex_lock(&d->lock);
	rc = d->ngroups >= FSD_GROUPS_MAX ? -ENOSPC : 0;
	pthread_mutex_unlock(&d->lock);
	if (rc) {
		snprintf(why, whylen, "too many groups (%d)", FSD_GROUPS_MAX);
	} else {
		/* A group the next daemon could not find must not exist: its
		 * state file is written before anyone can see it (create_lock
		 * keeps ngroups from growing meanwhile). */
		pthread_mutex_lock(&g->lock);
		rc = fsd_group_save(d, g);
		pthread_mutex_unlock(&g->lock);
		if (rc)
			snprintf(why, whylen, "cannot write the state file %s/%s: %s", d->statedir,
				 g->state_path, strerror(-rc));
	}
	if (rc) {
		fsd_seg_remove(d, g);
		group_free(g);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	group_link(d, g);
	pthread_mutex_unlock(&d->lock);
	fsd_log(LOG_INFO, "created group %s (uid %u)", name, (unsigned)uid);
	return 0;
}

static int group_destroy_locked(struct fsd *d, const char *name, uid_t uid, char *why,
				size_t whylen);

int fsd_group_destroy(struct fsd *d, const char *name, uid_t uid, char *why, size_t whylen)
{
	struct fsd_group *g = fsd_group_get(d, name);

	/* A group spanning nodes whose only live members are its bridge's
	 * proxies can be removed: the bridge is stopped first. Before
	 * create_lock: that takes up to 3 s, and every mkdir and rmdir of
	 * the daemon waits on that lock. */
	if (g) {
		fsd_bridge_hold(d, g, uid);
		fsd_group_put(d, g);
	}
	/* Under create_lock: a mkdir of the same name waits until the old
	 * files are gone and the name is free. */
	pthread_mutex_lock(&d->create_lock);
	int rc = group_destroy_locked(d, name, uid, why, whylen);
	pthread_mutex_unlock(&d->create_lock);
	return rc;
}

static int group_destroy_locked(struct fsd *d, const char *name, uid_t uid, char *why,
				size_t whylen)
{
	struct fsd_group *g = fsd_group_get(d, name);
	int rc = 0;

	if (!g) {
		snprintf(why, whylen, "no group %s", name);
		return -ENOENT;
	}
	pthread_mutex_lock(&g->bcast_lock);
	pthread_mutex_lock(&g->lock);
	if (uid != 0 && uid != g->uid) {
		snprintf(why, whylen, "group %s belongs to uid %u", name, (unsigned)g->uid);
		rc = -EPERM;
	} else {
		/* Notice members that died a moment ago before refusing. */
		fsd_scan_group(d, g);
		unsigned live = fsd_group_live(g);
		if (live) {
			snprintf(why, whylen, "group %s has %u live members", name, live);
			rc = -EBUSY;
		}
	}
	if (rc)
		fsd_bridge_release(g);
	if (!rc) {
		g->removed = true;
		for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++)
			fsd_unwatch_rank(g, r);
		fsd_seg_remove(d, g);
		unlinkat(d->state_fd, g->state_path, 0);
		/* Blocked events readers see the group gone. */
		fsd_events_removed(g);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_unlock(&g->bcast_lock);

	if (!rc) {
		pthread_mutex_lock(&d->lock);
		for (struct fsd_group **p = &d->groups; *p; p = &(*p)->next)
			if (*p == g) {
				*p = g->next;
				d->ngroups--;
				g->refs--; /* the list's reference; ours is still held */
				break;
			}
		pthread_mutex_unlock(&d->lock);
		fsd_log(LOG_INFO, "destroyed group %s", name);
	}
	fsd_group_put(d, g);
	return rc;
}

/* Whether @v may change @g's attributes now, and what they become (caller
 * holds lock). */
static int attr_next(struct fsd_group *g, const struct fsd_attr_value *v, struct fsd_attrs *next,
		     char *why, size_t whylen)
{
	if (g->removed) {
		snprintf(why, whylen, "group %s was destroyed", g->name);
		return -ENOENT;
	}
	if (fsd_group_joined(g)) {
		snprintf(why, whylen, "%s: a member has joined; attributes are frozen",
			 fsd_attr_name(v->attr));
		return -EBUSY;
	}
	/* The nodes hold every rank exactly once: ranks may not leave them. */
	if (v->attr == FSD_ATTR_RANKS && g->cluster.n) {
		int rc = fsd_cluster_check_ranks(&g->cluster, (unsigned)v->u, why, whylen);
		if (rc)
			return rc;
	}
	*next = g->attrs;
	fsd_attrs_set(next, v);
	return fsd_attrs_check(next, why, whylen);
}

/* Make @next @g's attributes (caller holds lock, attr_next passed):
 * with @fresh, the segment built for them, replacing the old one (used up
 * either way). */
static int attr_commit(struct fsd *d, struct fsd_group *g, const struct fsd_attr_value *v,
		       const struct fsd_attrs *next, struct fsd_seg_new *fresh, char *why,
		       size_t whylen)
{
	int rc;

	/* The state file first: a value it cannot keep is not taken. A crash
	 * before the segment is replaced leaves the old segment, whose
	 * layout wins when the group is adopted. */
	if ((rc = save_state(d, g, next))) {
		snprintf(why, whylen, "%s: cannot write the state file: %s", fsd_attr_name(v->attr),
			 strerror(-rc));
		if (fresh)
			fsd_seg_discard(fresh);
		return rc;
	}
	if (fresh)
		rc = fsd_seg_replace(d, g, next, fresh, why, whylen);
	else if (v->attr == FSD_ATTR_MODE && (rc = fsd_seg_chmod(d, g, next->p.mode)))
		snprintf(why, whylen, "cannot chmod the segment: %s", strerror(-rc));
	if (rc) {
		fsd_group_save(d, g); /* back to what is in force */
		return rc;
	}
	g->attrs = *next;
	g->attrs_gen++;
	return 0;
}

int fsd_group_set_attr(struct fsd *d, struct fsd_group *g, const struct fsd_attr_value *v,
		       char *why, size_t whylen)
{
	struct fsd_attrs next;
	struct fsd_seg_new fresh;
	int rc;

	pthread_mutex_lock(&g->lock);
	rc = attr_next(g, v, &next, why, whylen);
	if (rc || !fsd_attr_in_segment(v->attr)) {
		if (!rc)
			rc = attr_commit(d, g, v, &next, NULL, why, whylen);
		pthread_mutex_unlock(&g->lock);
		return rc;
	}
	uint64_t gen = g->attrs_gen;
	uid_t uid = g->uid;
	gid_t gid = g->gid;
	pthread_mutex_unlock(&g->lock);

	/* Build the new segment without the group's lock: pre-faulting a large
	 * arena takes long, and every reader of the group's files (stat,
	 * members) and the liveness scan take that lock. Our caller's
	 * bcast_lock keeps out every other change of the segment and the
	 * attributes meanwhile (attribute writes, bcast, destroy); members
	 * may still join the old segment, which the check below sees. */
	rc = fsd_seg_build(d, g->name, uid, gid, &next, &fresh, why, whylen);
	if (rc)
		return rc;

	pthread_mutex_lock(&g->lock);
	/* What attr_next decided on may have changed meanwhile: decide again,
	 * on the attributes now in force. A member that joined the old
	 * segment freezes them (-EBUSY); one that joins from here on is
	 * refused by fsd_seg_replace's retirement of the old ranks and joins
	 * the new segment. */
	struct fsd_attrs again;
	rc = attr_next(g, v, &again, why, whylen);
	if (!rc && g->attrs_gen != gen) {
		snprintf(why, whylen, "%s: the attributes changed meanwhile; write it again",
			 fsd_attr_name(v->attr));
		rc = -EBUSY;
	}
	if (rc)
		fsd_seg_discard(&fresh);
	else
		rc = attr_commit(d, g, v, &next, &fresh, why, whylen);
	pthread_mutex_unlock(&g->lock);
	return rc;
}
