/* SPDX-License-Identifier: MIT */
/*
 * segment.c - create, map and validate a group's shared-memory segment;
 * read its counters. Membership (who owns a rank) is lib/membership.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* Only for arena_format(), at creation: the one call this layer makes
 * upwards, before any member can map the file. */
#include "arena_int.h"
#include "fault_int.h"
#include "ipcfs/ctl_proto.h"
#include "segment_int.h"
#include "wait_int.h"

/* The limits, from the protocol's one list (ctl_proto.h); a segment
 * larger than SEG_BYTES_MAX is refused with -ERANGE. */
#define SLOT_BYTES_MAX CTL_SLOT_BYTES_MAX
#define SLOTS_MAX CTL_SLOTS_MAX
#define SPIN_US_MAX CTL_SPIN_US_MAX
#define SEG_BYTES_MAX CTL_SEG_BYTES_MAX

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

void ipcfs_params_init(struct ipcfs_params *p)
{
	memset(p, 0, sizeof(*p));
	p->ranks = 8;
	p->slots = 64;
	p->slot_bytes = 4096;
	p->spin_us = 50;
	p->timeout_ms = 1000;
	p->numa_node = -1;
	p->mode = 0660;
	p->arena_bytes = 0;
}

int ipcfs_params_check(const struct ipcfs_params *p)
{
	if (!p)
		return -EINVAL;
	if (p->ranks < 1 || p->ranks > IPCFS_MAX_RANKS)
		return -EINVAL;
	if (p->slots < 2 || p->slots > SLOTS_MAX || (p->slots & (p->slots - 1)))
		return -EINVAL;
	if (p->slot_bytes < SEG_LINE || p->slot_bytes > SLOT_BYTES_MAX || p->slot_bytes % SEG_LINE)
		return -EINVAL;
	if (p->spin_us > SPIN_US_MAX || p->timeout_ms == 0 || p->timeout_ms > CTL_TIMEOUT_MS_MAX)
		return -EINVAL;
	if (p->numa_node < -1 || p->mode > 07777)
		return -EINVAL;
	if (p->arena_bytes % SEG_PAGE)
		return -EINVAL;
	if (p->hugepage_kb != 0 && p->hugepage_kb != 2048 && p->hugepage_kb != 1048576)
		return -EINVAL;
	if (seg_layout_size(p) == 0)
		return -ERANGE;
	return 0;
}

/* The layout of @p: every offset, computed in one place for create and
 * validate (created_ns left 0). False on overflow or a segment beyond
 * SEG_BYTES_MAX. */
static bool layout_of(const struct ipcfs_params *p, struct seg_layout *l)
{
	uint64_t stride = SEG_LINE + (uint64_t)p->slot_bytes;
	uint64_t nrings = (uint64_t)p->ranks + 1;

	*l = (struct seg_layout){ .ranks = p->ranks, .slots = p->slots,
				  .slot_bytes = p->slot_bytes, .slot_stride = (uint32_t)stride,
				  .spin_us = p->spin_us, .timeout_ms = p->timeout_ms,
				  .numa_node = p->numa_node, .mode = p->mode,
				  .hugepage_kb = p->hugepage_kb, .arena_bytes = p->arena_bytes };
	l->rank_stride = round_up(sizeof(struct seg_rank), SEG_LINE);
	l->rank_off = SEG_PAGE;
	l->ring_off = round_up(l->rank_off + nrings * l->rank_stride, SEG_PAGE);
	l->ring_bytes = stride * p->slots; /* <= 2^16 * (2^24 + 64): no overflow */
	if (l->ring_bytes > SEG_BYTES_MAX / nrings)
		return false;
	l->arena_off = round_up(l->ring_off + nrings * l->ring_bytes, SEG_PAGE);
	if (p->arena_bytes > SEG_BYTES_MAX || l->arena_off + p->arena_bytes > SEG_BYTES_MAX)
		return false;
	l->total_bytes = l->arena_off + p->arena_bytes;
	/* A file on hugetlbfs is sized in whole huge pages. */
	if (p->hugepage_kb)
		l->total_bytes = round_up(l->total_bytes, (uint64_t)p->hugepage_kb * 1024);
	return true;
}

/* The parameters @l was made with: what layout_of took from them. */
static void layout_params(const struct seg_layout *l, struct ipcfs_params *p)
{
	ipcfs_params_init(p);
	p->ranks = l->ranks;
	p->slots = l->slots;
	p->slot_bytes = l->slot_bytes;
	p->spin_us = l->spin_us;
	p->timeout_ms = l->timeout_ms;
	p->numa_node = l->numa_node;
	p->mode = l->mode;
	p->hugepage_kb = l->hugepage_kb;
	p->arena_bytes = l->arena_bytes;
}

uint64_t seg_layout_size(const struct ipcfs_params *p)
{
	struct seg_layout l;

	return layout_of(p, &l) ? l.total_bytes : 0;
}

/* Bind [base, base+len) to @node: pages faulted later come from it. On a
 * shared tmpfs mapping the policy is recorded on the file itself, so it also
 * governs pages that fallocate() or other processes bring in. */
static int bind_node(void *base, size_t len, int node)
{
	unsigned long mask[16] = { 0 };
	char path[64];

	if ((unsigned)node >= sizeof(mask) * 8)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
	if (access(path, F_OK) != 0)
		return -EINVAL;
	mask[node / (8 * sizeof(long))] |= 1ul << (node % (8 * sizeof(long)));
	if (mbind(base, len, MPOL_BIND, mask, sizeof(mask) * 8, MPOL_MF_STRICT) != 0)
		return -errno;
	return 0;
}

/* Allocate every page now, so that no member takes a page fault (or an
 * ENOSPC signal) on the fast path later. */
static int prefault(int fd, char *base, size_t len)
{
	int rc = posix_fallocate(fd, 0, (off_t)len);

	if (rc == ENOSPC || rc == EFBIG)
		return -ENOSPC;
	if (rc == ENOMEM)
		return -ENOMEM;
	if (rc != 0) {
		/* File systems without fallocate: write every page. */
		long pg = sysconf(_SC_PAGESIZE);
		for (size_t off = 0; off < len; off += (size_t)pg)
			((volatile char *)base)[off] = 0;
	}
	return 0;
}

/* The file @fd is on hugetlbfs of @kb pages, and enough of them are free
 * for @bytes: -EINVAL (not such a file system) or -ENOMEM (not enough
 * reserved: see vm.nr_hugepages). */
static int huge_ready(int fd, uint32_t kb, uint64_t bytes)
{
	struct statfs sf;
	char path[96], buf[32];
	unsigned long long free_pages = 0;

	if (fstatfs(fd, &sf) != 0)
		return -errno;
	if ((unsigned long)sf.f_type != HUGETLBFS_MAGIC || (uint64_t)sf.f_bsize != (uint64_t)kb * 1024)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%ukB/free_hugepages", kb);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f >= 0) {
		ssize_t n = read(f, buf, sizeof(buf) - 1);
		close(f);
		if (n > 0) {
			buf[n] = '\0';
			free_pages = strtoull(buf, NULL, 10);
		}
	}
	return free_pages * kb * 1024 < bytes ? -ENOMEM : 0;
}

int seg_hugetlbfs_dir(uint32_t kb, char *out, size_t size)
{
	const char *env = getenv("IPCFS_HUGETLBFS");
	struct statfs sf;
	char line[1024];
	int rc = -ENODEV;

	if (env && *env) {
		if (statfs(env, &sf) == 0 && (unsigned long)sf.f_type == HUGETLBFS_MAGIC &&
		    (uint64_t)sf.f_bsize == (uint64_t)kb * 1024 && strlen(env) < size) {
			strcpy(out, env);
			return 0;
		}
		return -ENODEV;
	}
	FILE *f = fopen("/proc/mounts", "re");
	if (!f)
		return -ENODEV;
	while (rc && fgets(line, sizeof(line), f)) {
		char dev[256], dir[512], type[64];
		if (sscanf(line, "%255s %511s %63s", dev, dir, type) != 3 || strcmp(type, "hugetlbfs"))
			continue;
		/* The page size of the mount is its block size. */
		if (statfs(dir, &sf) == 0 && (uint64_t)sf.f_bsize == (uint64_t)kb * 1024 &&
		    strlen(dir) < size) {
			strcpy(out, dir);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

int seg_create(const char *path, const struct ipcfs_params *p, uid_t uid, gid_t gid)
{
	return seg_create_at(AT_FDCWD, path, p, uid, gid);
}

/* Write the header and format what lies behind it of the mapped file
 * @base, laid out as @l; the magic last. */
static int format(void *base, const struct seg_layout *l)
{
	struct seg_hdr *h = base;
	struct seg_map sm = { .base = base, .size = l->total_bytes, .hdr = h, .checked = *l,
			       .lock_wait_ns = SEG_LOCK_WAIT_NS };
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	h->abi = IPCFS_ABI;
	h->hdr_bytes = sizeof(*h);
	h->layout = *l;
	h->layout.created_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	rc = arena_format(&sm);
	if (rc)
		return rc;
	/* Release: a process that sees the magic sees the whole header. */
	__atomic_store_n(&h->magic, SEG_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int seg_create_at(int dirfd, const char *path, const struct ipcfs_params *p, uid_t uid, gid_t gid)
{
	struct seg_layout l;
	uint64_t total;
	void *base;
	int fd, rc;

	rc = ipcfs_params_check(p);
	if (rc)
		return rc;
	if (!layout_of(p, &l))
		return -ERANGE;
	total = l.total_bytes;
	if ((uint64_t)(size_t)total != total)
		return -ERANGE;

	fd = openat(dirfd, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (p->hugepage_kb && (rc = huge_ready(fd, p->hugepage_kb, total)))
		goto fail;
	/* fchmod after create: the mode must not depend on the umask. */
	if (fchmod(fd, p->mode) != 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) != 0) ||
	    ftruncate(fd, (off_t)total) != 0) {
		rc = -errno;
		goto fail;
	}
	base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	if (p->numa_node >= 0)
		rc = bind_node(base, total, p->numa_node);
	if (!rc)
		rc = prefault(fd, base, total);
	/* Tests hold a creation here: the long part is done, nothing is
	 * published yet. */
	FAULT_POINT("seg_prefaulted");
	if (!rc)
		rc = format(base, &l);
	munmap(base, total);
	if (rc)
		goto fail;
	close(fd);
	return 0;
fail:
	unlinkat(dirfd, path, 0);
	close(fd);
	return rc;
}

/* Copy the header's layout once out of shared memory, check the copy
 * against the layout recomputed from the parameters it names, and keep
 * only the checked copy: whatever a corrupt (or concurrently scribbled)
 * header says, the pointers we derive stay inside the mapping. */
static int validate(struct seg_map *m)
{
	const struct seg_hdr *h = m->hdr;
	struct seg_layout got, want;
	struct ipcfs_params p;
	uint32_t abi, hdr_bytes;

	if (m->size < SEG_PAGE)
		return -EBADMSG;
	/* Acquire: pairs with the release store of the magic in format(). */
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != SEG_MAGIC)
		return -EBADMSG;
	/* Each read once: only these copies are checked and used. */
	abi = __atomic_load_n(&h->abi, __ATOMIC_RELAXED);
	hdr_bytes = __atomic_load_n(&h->hdr_bytes, __ATOMIC_RELAXED);
	if (abi != IPCFS_ABI)
		return -EPROTO;
	memcpy(&got, (const void *)&h->layout, sizeof(got));
	layout_params(&got, &p);
	if (hdr_bytes != sizeof(*h) || ipcfs_params_check(&p) || !layout_of(&p, &want))
		return -EBADMSG;
	want.created_ns = got.created_ns;
	if (memcmp(&want, &got, sizeof(got)) != 0 || got.total_bytes != m->size)
		return -EBADMSG;
	m->checked = got;
	return 0;
}

int seg_map_fd(int fd, unsigned flags, struct seg_map *out)
{
	struct stat st;
	int prot = PROT_READ | (flags & SEG_MAP_WRITE ? PROT_WRITE : 0);
	int rc;

	memset(out, 0, sizeof(*out));
	out->lock_wait_ns = flags & SEG_MAP_SERVICE ? SEG_LOCK_WAIT_SERVICE_NS : SEG_LOCK_WAIT_NS;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)SEG_PAGE)
		return -EBADMSG;
	out->size = (size_t)st.st_size;
	out->base = mmap(NULL, out->size, prot,
			 MAP_SHARED | (flags & SEG_MAP_POPULATE ? MAP_POPULATE : 0), fd, 0);
	if (out->base == MAP_FAILED) {
		rc = -errno;
		out->base = NULL;
		return rc;
	}
	out->hdr = out->base;
	rc = validate(out);
	/* A descriptor of our own, never inherited by a program we exec:
	 * its open file description carries our ranks' liveness locks. */
	if (!rc) {
		out->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		out->has_fd = out->fd >= 0;
		if (!out->has_fd)
			rc = -errno;
	}
	if (rc)
		seg_unmap(out);
	return rc;
}

int seg_map_path(const char *path, unsigned flags, struct seg_map *out)
{
	int fd = open(path, (flags & SEG_MAP_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = seg_map_fd(fd, flags, out);
	close(fd);
	return rc;
}

void seg_unmap(struct seg_map *m)
{
	/* Closing it drops every lock it held: our ranks read as gone. */
	if (m->has_fd)
		close(m->fd);
	m->has_fd = false;
	if (m->base)
		munmap(m->base, m->size);
	m->base = NULL;
	m->hdr = NULL;
}

void seg_params(const struct seg_map *m, struct ipcfs_params *p)
{
	layout_params(seg_layout(m), p);
}

/* Messages addressed to rank @idx and not yet released, over all rings. */
static uint64_t rank_lag(const struct seg_map *m, unsigned idx)
{
	struct seg_rank *me = seg_rank(m, idx);
	uint64_t bit = IPCFS_RANK_BIT(idx), lag = 0;

	for (unsigned s = 0; s <= seg_layout(m)->ranks; s++) {
		uint64_t from = atomic_load_explicit(&me->released[s], memory_order_relaxed);
		for (uint64_t i = 0; i < seg_layout(m)->slots; i++) {
			struct seg_slot *sl = seg_slot(m, s, i);
			/* Acquire: the dest read next belongs to (at least) the
			 * message this seq published. A racing sender makes the
			 * count approximate, never wrong by more than a slot. */
			uint64_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
			if (seq == 0 || (seq & SEG_SEQ_BUSY) || seq - 1 < from)
				continue;
			if (atomic_load_explicit(&sl->dest, memory_order_relaxed) & bit)
				lag++;
		}
	}
	return lag;
}

int seg_rank_stat(const struct seg_map *m, unsigned idx, struct ipcfs_rank_stat *st)
{
	struct seg_rank *r;
	uint64_t w, since;

	if (idx > seg_layout(m)->ranks)
		return -EINVAL;
	r = seg_rank(m, idx);
	memset(st, 0, sizeof(*st));
	w = atomic_load_explicit(&r->owner, memory_order_acquire);
	st->rank = idx == seg_layout(m)->ranks ? IPCFS_SRC_CTL : (int)idx;
	st->state = SEG_OWNER_STATE(w);
	st->pid = SEG_OWNER_PID(w);
#define LD(f) atomic_load_explicit(&r->f, memory_order_relaxed)
	st->sent = LD(sent);
	st->sent_bytes = LD(sent_bytes);
	st->recv = LD(recv);
	st->recv_bytes = LD(recv_bytes);
	st->waits = LD(waits);
	st->spins = LD(tx_spins) + LD(rx_spins);
	st->sleeps = LD(tx_sleeps) + LD(rx_sleeps);
	st->wakeups = LD(wakeups) + LD(rx_wakeups);
	st->stalls = LD(stalls);
	st->timeouts = LD(tx_timeouts) + LD(rx_timeouts);
	st->allreduce_oneshot = LD(ar_oneshot);
	st->allreduce_twoshot = LD(ar_twoshot);
	st->allreduce_nccl = LD(ar_nccl);
	st->allreduce_bytes = LD(ar_bytes);
	st->allreduce_errors = LD(ar_errors);
	since = LD(stall_since_ns);
#undef LD
	if (since) {
		uint64_t now = wait_now_ns();
		st->stalled_ms = now > since ? (now - since) / 1000000u : 0;
	}
	if (idx < seg_layout(m)->ranks)
		st->lag = rank_lag(m, idx);
	return 0;
}

const char *ipcfs_state_name(int state)
{
	switch (state) {
	case IPCFS_STATE_FREE:
		return "free";
	case IPCFS_STATE_LIVE:
		return "live";
	case IPCFS_STATE_LEFT:
		return "left";
	case IPCFS_STATE_DEAD:
		return "dead";
	default:
		return "unknown";
	}
}
