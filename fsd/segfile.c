/* SPDX-License-Identifier: MIT */
/*
 * segfile.c - a group's segment: where its file lives, creating,
 * adopting, re-creating and removing it, never through a link, and its
 * one mapping with the daemon's control sender on it. The file is built
 * under a temporary name and renamed, so `shm` never names a half-made
 * file; a segment is replaced only once no member can still join the old
 * one (retire_ranks).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsd.h"
#include "util.h"

static int path_in(char *out, size_t size, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(out, size, "%s/%s%s", dir, name, ext);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Each mapping has one owner: g->seg is the group's (unmapped here), and
 * the control channel maps the segment a second time for itself
 * (chan_fini unmaps that one). */
void fsd_seg_release(struct fsd_group *g)
{
	if (g->ctl_ready)
		chan_fini(&g->ctl);
	g->ctl_ready = false;
	seg_unmap(&g->seg);
}

static void seg_loc_close(struct fsd_seg_loc *l)
{
	if (l->own && l->dirfd >= 0)
		close(l->dirfd);
	l->dirfd = -1;
}

/* Where the segment of group @name with attributes @a lives: beside the
 * state files, or with huge pages on a hugetlbfs mount of that page size
 * (named after the state directory too, so that two daemons never share
 * a file). -ENODEV: no such mount. */
static int seg_loc_for(const struct fsd *d, const char *name, const struct fsd_attrs *a,
		       struct fsd_seg_loc *l)
{
	char dir[PATH_MAX];
	/* A short id of the state directory: two daemons never share a file. */
	uint32_t h = (uint32_t)util_fnv1a64(d->statedir, strlen(d->statedir));
	int rc;

	l->dirfd = -1;
	l->own = false;
	if (!a->p.hugepage_kb) {
		l->dirfd = d->state_fd;
		snprintf(l->name, sizeof(l->name), "%s.seg", name);
		return path_in(l->path, sizeof(l->path), d->statedir, name, ".seg");
	}
	rc = seg_hugetlbfs_dir(a->p.hugepage_kb, dir, sizeof(dir));
	if (rc)
		return rc;
	snprintf(l->name, sizeof(l->name), "ipcfs-%08x-%s.seg", h, name);
	if ((rc = path_in(l->path, sizeof(l->path), dir, l->name, "")))
		return rc;
	/* A mount point the administrator made (/proc/mounts). */
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	l->own = true;
	return l->dirfd < 0 ? -errno : 0;
}

/* Become the control sender of g->seg, the segment of @a: own ring
 * `ranks` (a previous daemon's claim is taken over once its process is
 * gone) through a mapping of the channel's own. */
int fsd_seg_claim_ctl(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *a)
{
	unsigned r = seg_layout(&g->seg)->ranks;
	struct seg_map own;
	struct fsd_seg_loc l;
	int rc = seg_loc_for(d, g->name, a, &l);
	int fd = rc ? rc : fsd_open_file(l.dirfd, l.name, O_RDWR);

	seg_loc_close(&l);
	if (fd < 0)
		return fd;
	rc = seg_map_fd(fd, SEG_MAP_WRITE | SEG_MAP_SERVICE, &own);
	close(fd);
	if (!rc && own.size != g->seg.size) /* not the file g->seg maps */
		rc = -ESTALE;
	if (!rc && !(rc = seg_claim(&g->seg, r, getpid()))) {
		/* Who the daemon is in the arena's lock, through either mapping. */
		g->seg.holder_id = own.holder_id = r + 1;
		seg_go_live(&g->seg, r, getpid());
		if ((rc = chan_init(&g->ctl, &own, r)))
			seg_mark_gone(&g->seg, r, IPCFS_STATE_LEFT);
	}
	if (rc)
		seg_unmap(&own);
	g->ctl_ready = !rc;
	return rc;
}

/* Remove the segment of @g (located by its current attributes). */
void fsd_seg_remove(struct fsd *d, struct fsd_group *g)
{
	struct fsd_seg_loc l;

	if (seg_loc_for(d, g->name, &g->attrs, &l) == 0) {
		char bridge[sizeof(l.name) + sizeof(FSD_BRIDGE_STATE_SUFFIX)];
		unlinkat(l.dirfd, l.name, 0);
		snprintf(bridge, sizeof(bridge), "%s%s", l.name, FSD_BRIDGE_STATE_SUFFIX);
		unlinkat(l.dirfd, bridge, 0);
	}
	seg_loc_close(&l);
}

/* Change the mode of @g's segment, never through a link. */
int fsd_seg_chmod(struct fsd *d, struct fsd_group *g, mode_t mode)
{
	struct fsd_seg_loc l;
	int rc = seg_loc_for(d, g->name, &g->attrs, &l);
	int fd = rc ? rc : fsd_open_file(l.dirfd, l.name, O_RDONLY);

	seg_loc_close(&l);
	if (fd < 0)
		return fd;
	rc = fchmod(fd, mode) != 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Map the existing segment of @g without following a link. */
int fsd_seg_adopt(struct fsd *d, struct fsd_group *g)
{
	struct fsd_seg_loc l;
	int rc = seg_loc_for(d, g->name, &g->attrs, &l), fd;

	if (rc) {
		seg_loc_close(&l);
		return -ENOENT;
	}
	snprintf(g->seg_path, sizeof(g->seg_path), "%s", l.path);
	fd = fsd_open_file(l.dirfd, l.name, O_RDWR);
	seg_loc_close(&l);
	if (fd < 0)
		return fd;
	rc = seg_map_fd(fd, SEG_MAP_WRITE | SEG_MAP_SERVICE, &g->seg);
	close(fd);
	return rc;
}

/* Create the file of @n (a temporary name beside @n->loc.name) for @a,
 * owned by @uid/@gid, and map it. */
static int build_at(struct fsd_seg_new *n, const struct fsd_attrs *a, uid_t uid, gid_t gid,
		    char *why, size_t whylen)
{
	struct fsd_seg_loc *l = &n->loc;
	int rc, fd;

	snprintf(n->tmp, sizeof(n->tmp), "%s.new", l->name);
	/* A leftover of a crash during creation, or a planted name. */
	unlinkat(l->dirfd, n->tmp, 0);
	rc = seg_create_at(l->dirfd, n->tmp, &a->p, uid, gid);
	if (rc) {
		if (rc == -ENOMEM && a->p.hugepage_kb)
			snprintf(why, whylen,
				 "hugepages: not enough %u KiB huge pages reserved (see vm.nr_hugepages)",
				 a->p.hugepage_kb);
		else
			snprintf(why, whylen, "cannot create the segment: %s", strerror(-rc));
		return rc;
	}
	fd = fsd_open_file(l->dirfd, n->tmp, O_RDWR);
	rc = fd < 0 ? fd : seg_map_fd(fd, SEG_MAP_WRITE | SEG_MAP_SERVICE, &n->map);
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(why, whylen, "cannot map the new segment: %s", strerror(-rc));
		unlinkat(l->dirfd, n->tmp, 0);
	}
	return rc;
}

int fsd_seg_build(struct fsd *d, const char *name, uid_t uid, gid_t gid,
		  const struct fsd_attrs *a, struct fsd_seg_new *n, char *why, size_t whylen)
{
	int rc = seg_loc_for(d, name, a, &n->loc);

	memset(&n->map, 0, sizeof(n->map));
	n->tmp[0] = '\0';
	if (rc == -ENODEV)
		snprintf(why, whylen, "hugepages: no hugetlbfs mounted with %u KiB pages",
			 a->p.hugepage_kb);
	if (!rc)
		rc = build_at(n, a, uid, gid, why, whylen);
	if (rc)
		seg_loc_close(&n->loc);
	return rc;
}

void fsd_seg_discard(struct fsd_seg_new *n)
{
	seg_unmap(&n->map);
	if (n->loc.dirfd >= 0 && n->tmp[0])
		unlinkat(n->loc.dirfd, n->tmp, 0);
	seg_loc_close(&n->loc);
}

/* Give the built segment @n its name (over the file there, which members
 * then no longer find), and make it the one @g's `shm` names; its mapping
 * moves to @out. Discards @n on failure. */
static int seg_install(struct fsd *d, struct fsd_group *g, struct fsd_seg_new *n,
		       struct seg_map *out, char *why, size_t whylen)
{
	if (renameat(n->loc.dirfd, n->tmp, n->loc.dirfd, n->loc.name) != 0) {
		int rc = -errno;
		snprintf(why, whylen, "cannot install the segment: %s", strerror(-rc));
		fsd_seg_discard(n);
		return rc;
	}
	seg_loc_close(&n->loc);
	*out = n->map;
	if (strcmp(n->loc.path, g->seg_path)) {
		/* Moved (huge pages switched on or off): the old file goes;
		 * nobody has joined, or attributes could not change. */
		if (g->seg_path[0])
			fsd_seg_remove(d, g);
		snprintf(g->seg_path, sizeof(g->seg_path), "%s", n->loc.path);
	}
	return 0;
}

/* Create the segment for @a (at seg_loc_for(@a), which becomes
 * g->seg_path): built under a temporary name and renamed, so that `shm`
 * never names a half-made file. Maps it into @out. */
int fsd_seg_make(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *a,
		 struct seg_map *out, char *why, size_t whylen)
{
	struct fsd_seg_new n;
	int rc = fsd_seg_build(d, g->name, g->uid, g->gid, a, &n, why, whylen);

	return rc ? rc : seg_install(d, g, &n, out, why, whylen);
}

int fsd_resolve_numa(struct fsd_attr_value *v, char *why, size_t whylen)
{
	char path[128];

	if (v->attr != FSD_ATTR_NUMA_NODE)
		return 0;
	if (v->pci[0]) {
		char buf[32];
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", v->pci);
		FILE *f = fopen(path, "re");
		if (!f) {
			snprintf(why, whylen, "numa_node: no PCI device %s", v->pci);
			return -ENOENT;
		}
		int node = -1;
		if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%d", &node) != 1)
			node = -1;
		fclose(f);
		/* A device on a machine without NUMA reports -1: no binding. */
		v->i = node < 0 ? -1 : node;
	}
	if (v->i >= 0) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", (int)v->i);
		if (access(path, F_OK) != 0) {
			snprintf(why, whylen, "numa_node: no NUMA node %d on this machine", (int)v->i);
			return -ENOENT;
		}
	}
	return 0;
}

/*
 * Replace @g's segment by @fresh, built for @next (caller holds bcast_lock
 * and lock, nobody joined), once no member can join the old one: every
 * member rank that no live process holds is claimed for the daemon itself
 * first (seg_retire_ranks), so that a member that opened the old file
 * through `shm` just before gets EBUSY and joins again, finding the new
 * one. -EBUSY, nothing changed, if a joiner claimed a rank first: the
 * attributes are then frozen as for a joined member. @fresh is used up
 * either way.
 */
int fsd_seg_replace(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *next,
		    struct fsd_seg_new *fresh, char *why, size_t whylen)
{
	uint64_t saved[IPCFS_MAX_RANKS];
	struct seg_map m;
	int rc;

	if (!seg_retire_ranks(&g->seg, getpid(), saved)) {
		fsd_seg_discard(fresh);
		snprintf(why, whylen, "a member is joining; attributes are frozen");
		return -EBUSY;
	}
	rc = seg_install(d, g, fresh, &m, why, whylen);
	if (rc) {
		seg_unretire_ranks(&g->seg, getpid(), saved);
		return rc;
	}
	fsd_seg_release(g);
	g->seg = m;
	rc = fsd_seg_claim_ctl(d, g, next);
	if (rc) { /* a fresh segment: its control ring is free */
		snprintf(why, whylen, "cannot claim the control ring");
		return rc;
	}
	fsd_stats_new_segment(&g->stats);
	fsd_members_adopt(g);
	return 0;
}
