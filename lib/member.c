/* SPDX-License-Identifier: MIT */
/*
 * member.c - groups in plain directories, joining and leaving as a rank,
 * and the public send/receive entry points.
 *
 * A group directory, mounted (ipcfsd) or plain, holds a file `shm` with the
 * absolute path of the segment. A mounted one also holds `ctl`: a member
 * announces its join and leave there, so the daemon can watch its process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_int.h"
#include "cuda_host_int.h"
#include "ipcfs/ctl_proto.h"
#include "member_int.h"
#include "util.h"
#include "wait_int.h"

struct ipcfs_member {
	struct chan chan;
	unsigned fork_gen;    /* fork_gen of the process that joined */
	bool cuda_registered; /* the arena is page-locked with CUDA */
	char ctl[PATH_MAX];   /* the group's ctl file, "" for a plain directory */
	char dir[PATH_MAX];   /* the group directory */
};

/*
 * A member belongs to the process that joined. A child made by fork(2)
 * inherits a copy of it, and using that copy would take its parent's
 * messages and slots behind its back (half the messages lost). Each
 * fork bumps fork_gen in the child (an atfork handler); a member whose
 * recorded generation differs is a parent's: -ECHILD. Only a load and a
 * compare on the fast path, where getpid() would be a system call.
 */
static _Atomic unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void fork_watch(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

/* -EINVAL for no member, -ECHILD for a parent's member after fork. */
static int mine(const struct ipcfs_member *m)
{
	if (!m)
		return -EINVAL;
	return m->fork_gen == atomic_load_explicit(&fork_gen, memory_order_relaxed) ? 0 : -ECHILD;
}

int member_segment_path(const char *dir, char *out, size_t size)
{
	char file[PATH_MAX];
	int rc;

	if (!dir)
		return -EINVAL;
	rc = util_path_join(file, sizeof(file), dir, "shm");
	if (!rc)
		rc = util_read_small(file, out, size);
	if (!rc && out[0] != '/')
		rc = -EBADMSG;
	return rc;
}

static const char *shm_dir(void)
{
	const char *d = getenv("IPCFS_SHM_DIR");
	return d && *d ? d : "/dev/shm";
}

int ipcfs_group_create(const char *dir, const struct ipcfs_params *p)
{
	char seg[PATH_MAX], file[PATH_MAX], tmp[PATH_MAX];
	struct ipcfs_params defaults;
	int rc, fd;

	if (!dir)
		return -EINVAL;
	if (!p) {
		ipcfs_params_init(&defaults);
		p = &defaults;
	}
	rc = ipcfs_params_check(p);
	if (rc)
		return rc;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if ((rc = util_path_join(file, sizeof(file), dir, "shm")) ||
	    (rc = util_path_join(tmp, sizeof(tmp), dir, ".shm.tmp")))
		return rc;
	if (access(file, F_OK) == 0)
		return -EEXIST;
	char huge[PATH_MAX];
	const char *segdir = shm_dir();
	if (p->hugepage_kb) {
		rc = seg_hugetlbfs_dir(p->hugepage_kb, huge, sizeof(huge));
		if (rc)
			return rc;
		segdir = huge;
	}

	/* A fresh random name: O_EXCL in seg_create catches the unlikely
	 * collision, and we draw again. */
	for (int tries = 0;; tries++) {
		uint64_t r;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = wait_now_ns() ^ ((uint64_t)getpid() << 32);
		if (snprintf(seg, sizeof(seg), "%s/ipcfs.%u.%016llx", segdir, (unsigned)getuid(),
			     (unsigned long long)r) >= (int)sizeof(seg))
			return -ENAMETOOLONG;
		rc = seg_create(seg, p, (uid_t)-1, (gid_t)-1);
		if (rc != -EEXIST || tries > 8)
			break;
	}
	if (rc)
		return rc;

	/* Write the name beside, then rename: a joiner never reads half. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	size_t len = strlen(seg);
	seg[len] = '\n';
	ssize_t n = write(fd, seg, len + 1);
	seg[len] = '\0';
	if (n != (ssize_t)len + 1)
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	if (!rc && link(tmp, file) != 0)
		rc = -errno; /* link, not rename: a racing creator gets EEXIST */
	unlink(tmp);
	if (!rc)
		return 0;
fail:
	unlink(seg);
	return rc;
}

int ipcfs_group_destroy(const char *dir)
{
	char seg[PATH_MAX], file[PATH_MAX];
	int rc = member_segment_path(dir, seg, sizeof(seg));

	if (rc)
		return rc == -ENOENT ? -ENOENT : rc;
	if (unlink(seg) != 0 && errno != ENOENT)
		return -errno;
	rc = util_path_join(file, sizeof(file), dir, "shm");
	if (rc)
		return rc;
	if (unlink(file) != 0)
		return -errno;
	rmdir(dir); /* only if empty; a non-empty directory is the caller's */
	return 0;
}

int ipcfs_join(const char *dir, int rank, struct ipcfs_member **out)
{
	char path[PATH_MAX], cmd[64];
	struct ipcfs_member *m;
	struct seg_map seg;
	pid_t pid = getpid();
	int rc;

	if (!dir || !out || rank < -1 || rank >= IPCFS_MAX_RANKS)
		return -EINVAL;
	pthread_once(&fork_once, fork_watch);
	rc = member_segment_path(dir, path, sizeof(path));
	if (rc)
		return rc;
	rc = seg_map_path(path, SEG_MAP_WRITE | SEG_MAP_POPULATE, &seg);
	if (rc)
		return rc;
	if (rank >= (int)seg_layout(&seg)->ranks) {
		rc = -EINVAL;
		goto fail_unmap;
	}
	if (rank >= 0) {
		rc = seg_claim(&seg, (unsigned)rank, pid);
	} else {
		rc = -EBUSY;
		for (unsigned r = 0; r < seg_layout(&seg)->ranks && rc; r++)
			if (!(rc = seg_claim(&seg, r, pid)))
				rank = (int)r;
	}
	if (rc)
		goto fail_unmap;
	seg.holder_id = (unsigned)rank + 1; /* who we are in the arena's lock */
	seg_go_live(&seg, (unsigned)rank, pid);

	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto fail_leave;
	}
	if (util_path_join(m->ctl, sizeof(m->ctl), dir, "ctl") == 0 && access(m->ctl, F_OK) == 0) {
		ctl_fmt_join(cmd, sizeof(cmd), rank);
		rc = ctl_send(m->ctl, cmd);
		if (rc) {
			free(m);
			goto fail_leave;
		}
	} else {
		m->ctl[0] = '\0';
	}
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	m->fork_gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	rc = chan_init(&m->chan, &seg, (unsigned)rank);
	if (rc) {
		free(m);
		goto fail_leave;
	}
	*out = m;
	return rank;

fail_leave:
	seg_mark_gone(&seg, (unsigned)rank, IPCFS_STATE_LEFT);
fail_unmap:
	seg_unmap(&seg);
	return rc;
}

int ipcfs_leave(struct ipcfs_member *m)
{
	return member_leave_as(m, IPCFS_STATE_LEFT);
}

int member_leave_as(struct ipcfs_member *m, int how)
{
	char cmd[64];
	int rc = mine(m);

	/* A parent's member in a child: the rank is the parent's to leave;
	 * the child only drops its copy of the mapping. */
	if (rc == -ECHILD) {
		seg_unmap(&m->chan.seg);
		free(m->chan.heldmap);
		free(m);
	}
	if (rc)
		return rc;
	chan_unreserve(&m->chan);
	if (m->cuda_registered)
		cuda_host_unregister((char *)m->chan.seg.base +
				     seg_layout(&m->chan.seg)->arena_off);
	seg_mark_gone(&m->chan.seg, m->chan.me, how);
	/* Dead: the daemon's scan finds the state and says so (died). */
	if (m->ctl[0] && how == IPCFS_STATE_LEFT) {
		/* The daemon only records it; the group is already left. */
		ctl_fmt_leave(cmd, sizeof(cmd), m->chan.me);
		ctl_send(m->ctl, cmd);
	}
	chan_fini(&m->chan);
	free(m);
	return 0;
}

int ipcfs_rank(const struct ipcfs_member *m)
{
	return m ? (int)m->chan.me : -EINVAL;
}

int ipcfs_size(const struct ipcfs_member *m)
{
	return m ? (int)seg_layout(&m->chan.seg)->ranks : -EINVAL;
}

int ipcfs_live(const struct ipcfs_member *m, uint64_t *mask)
{
	if (!m || !mask)
		return -EINVAL;
	*mask = atomic_load_explicit(&m->chan.seg.hdr->live, memory_order_acquire);
	return 0;
}

int ipcfs_wait_ranks(struct ipcfs_member *m, uint64_t mask, int timeout_ms)
{
	int rc = mine(m);
	return rc ? rc : chan_wait_ranks(&m->chan, mask, timeout_ms);
}

int ipcfs_set_interrupt(struct ipcfs_member *m, int (*fn)(void *arg), void *arg)
{
	int rc = mine(m);

	if (rc)
		return rc;
	m->chan.interrupt = fn;
	m->chan.interrupt_arg = fn ? arg : NULL;
	return 0;
}

int ipcfs_reserve(struct ipcfs_member *m, size_t len, void **buf, int timeout_ms)
{
	int rc = mine(m);
	return rc ? rc : chan_reserve(&m->chan, len, buf, timeout_ms);
}

int ipcfs_commit(struct ipcfs_member *m, uint64_t dest, size_t len)
{
	int rc = mine(m);
	return rc ? rc : chan_commit(&m->chan, dest, len, 0);
}

int ipcfs_arena_register_cuda(struct ipcfs_member *m)
{
	if (!m || !seg_layout(&m->chan.seg)->arena_bytes)
		return -EINVAL;
	if (m->cuda_registered)
		return 0;
	int rc = cuda_host_register((char *)m->chan.seg.base + seg_layout(&m->chan.seg)->arena_off,
				    seg_layout(&m->chan.seg)->arena_bytes);
	m->cuda_registered = rc == 0;
	return rc;
}

struct seg_map *member_seg(struct ipcfs_member *m)
{
	return &m->chan.seg;
}

struct chan *member_chan(struct ipcfs_member *m)
{
	return &m->chan;
}

void member_mark_relay(struct ipcfs_member *m)
{
	/* Relaxed: a hint (seg_rank.relay), ordered with nothing. */
	atomic_store_explicit(&seg_rank(&m->chan.seg, m->chan.me)->relay, 1, memory_order_relaxed);
}

const char *member_dir(const struct ipcfs_member *m)
{
	return m->dir;
}

int member_commit_kind(struct ipcfs_member *m, uint64_t dest, size_t len, uint32_t kind)
{
	int rc = mine(m);
	return rc ? rc : chan_commit(&m->chan, dest, len, kind);
}

int ipcfs_send(struct ipcfs_member *m, uint64_t dest, const void *data, size_t len,
	       int timeout_ms)
{
	void *buf;
	int rc = mine(m);

	if (rc)
		return rc;
	if (!data && len)
		return -EINVAL;
	rc = chan_reserve(&m->chan, len, &buf, timeout_ms);
	if (rc)
		return rc;
	if (len)
		memcpy(buf, data, len);
	return chan_commit(&m->chan, dest, len, 0);
}

int ipcfs_recv(struct ipcfs_member *m, int src, struct ipcfs_msg *msg, int timeout_ms)
{
	int rc = mine(m);
	return rc ? rc : chan_recv(&m->chan, src, msg, timeout_ms);
}

int ipcfs_release(struct ipcfs_member *m, struct ipcfs_msg *msg)
{
	int rc = mine(m);
	return rc ? rc : chan_release(&m->chan, msg);
}

int ipcfs_interrupt(struct ipcfs_member *m)
{
	if (!m)
		return -EINVAL;
	chan_interrupt(&m->chan);
	return 0;
}

int ipcfs_msg_dest(const struct ipcfs_member *m, const struct ipcfs_msg *msg, uint64_t *dest)
{
	return m ? chan_msg_dest(&m->chan, msg, dest) : -EINVAL;
}

int ipcfs_stat_rank(const struct ipcfs_member *m, int rank, struct ipcfs_rank_stat *st)
{
	if (!m || !st)
		return -EINVAL;
	if (rank == IPCFS_SRC_CTL)
		return seg_rank_stat(&m->chan.seg, seg_layout(&m->chan.seg)->ranks, st);
	if (rank < 0 || (unsigned)rank >= seg_layout(&m->chan.seg)->ranks)
		return -EINVAL;
	return seg_rank_stat(&m->chan.seg, (unsigned)rank, st);
}
