/* SPDX-License-Identifier: MIT */
/*
 * files.c - the files generated at read time: version, stat, members,
 * shm, attribute values, error_log and GPU records. Each is rendered whole
 * into a buffer when a reader reads offset 0 (tree.c keeps it per open file
 * for the reads that follow), so a reader never sees half of two versions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"
#include "wait_int.h"

/* A growing text buffer. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = t->buf ? vsnprintf(t->buf + t->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		if (n >= 0 && cap < t->len + (size_t)n + 1)
			cap = t->len + (size_t)n + 1;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->oom = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

static uint64_t minus(uint64_t v, uint64_t base)
{
	return v > base ? v - base : 0; /* a re-created segment starts from 0 */
}

/* Counters of rank index @i less the reset-stat baseline. */
static void rank_counters(const struct fsd_group *g, unsigned i, struct ipcfs_rank_stat *st)
{
	const struct ipcfs_rank_stat *b = &g->base[i];

	seg_rank_stat(&g->seg, i, st);
	st->sent = minus(st->sent, b->sent);
	st->sent_bytes = minus(st->sent_bytes, b->sent_bytes);
	st->recv = minus(st->recv, b->recv);
	st->recv_bytes = minus(st->recv_bytes, b->recv_bytes);
	st->waits = minus(st->waits, b->waits);
	st->spins = minus(st->spins, b->spins);
	st->sleeps = minus(st->sleeps, b->sleeps);
	st->wakeups = minus(st->wakeups, b->wakeups);
	st->stalls = minus(st->stalls, b->stalls);
	st->timeouts = minus(st->timeouts, b->timeouts);
}

static void render_members(const struct fsd_group *g, struct text *t)
{
	uint64_t joined = atomic_load_explicit(&g->seg.hdr->joined, memory_order_acquire);

	for (unsigned r = 0; r < g->seg.ranks; r++) {
		struct ipcfs_rank_stat st;
		if (!(joined & IPCFS_RANK_BIT(r)))
			continue;
		rank_counters(g, r, &st);
		text_add(t, "%u pid=%d state=%s joins=%llu sent=%llu sent_bytes=%llu recv=%llu "
			 "recv_bytes=%llu lag=%llu stalls=%llu timeouts=%llu stalled_ms=%llu\n",
			 r, (int)st.pid, ipcfs_state_name(st.state),
			 (unsigned long long)atomic_load(&seg_rank(&g->seg, r)->joins),
			 (unsigned long long)st.sent, (unsigned long long)st.sent_bytes,
			 (unsigned long long)st.recv, (unsigned long long)st.recv_bytes,
			 (unsigned long long)st.lag, (unsigned long long)st.stalls,
			 (unsigned long long)st.timeouts, (unsigned long long)st.stalled_ms);
	}
}

static void render_group_stat(const struct fsd_group *g, struct text *t)
{
	struct ipcfs_rank_stat sum = { 0 }, st;
	uint64_t joined = atomic_load_explicit(&g->seg.hdr->joined, memory_order_acquire);
	uint64_t stalled = 0;

	for (unsigned i = 0; i <= g->seg.ranks; i++) {
		rank_counters(g, i, &st);
		sum.sent += st.sent;
		sum.sent_bytes += st.sent_bytes;
		sum.recv += st.recv;
		sum.recv_bytes += st.recv_bytes;
		sum.waits += st.waits;
		sum.spins += st.spins;
		sum.sleeps += st.sleeps;
		sum.wakeups += st.wakeups;
		sum.stalls += st.stalls;
		sum.timeouts += st.timeouts;
		sum.lag += st.lag;
		if (st.stalled_ms >= g->seg.timeout_ms)
			stalled++;
	}
	text_add(t, "ranks %u\nlive_members %u\njoined_members %u\n", g->seg.ranks,
		 fsd_group_live(g), (unsigned)__builtin_popcountll(joined));
#define KV(k, v) text_add(t, "%s %llu\n", k, (unsigned long long)(v))
	KV("sent", sum.sent);
	KV("sent_bytes", sum.sent_bytes);
	KV("recv", sum.recv);
	KV("recv_bytes", sum.recv_bytes);
	KV("waits", sum.waits);
	KV("spins", sum.spins);
	KV("sleeps", sum.sleeps);
	KV("wakeups", sum.wakeups);
	KV("stalls", sum.stalls);
	KV("timeouts", sum.timeouts);
	KV("lag", sum.lag);
	KV("stalled_ranks", stalled);
	KV("bcasts", minus(g->bcasts, g->base_bcasts));
	KV("bcast_errors", g->bcast_errors);
	KV("segment_bytes", g->seg.size);
#undef KV
}

static void render_root_stat(struct fsd *d, struct text *t)
{
	unsigned n, members = 0;
	struct fsd_group **v = fsd_groups_get(d, &n);

	for (unsigned i = 0; v && i < n; i++) {
		pthread_mutex_lock(&v[i]->lock);
		members += fsd_group_live(v[i]);
		pthread_mutex_unlock(&v[i]->lock);
	}
	if (v)
		fsd_groups_put(d, v, n);
	text_add(t, "groups %u\nmembers %u\ncommands %llu\nerrors %llu\nuptime_s %llu\n", n,
		 members, (unsigned long long)atomic_load(&d->commands),
		 (unsigned long long)atomic_load(&d->errors),
		 (unsigned long long)((fsd_now_ns() - d->start_ns) / 1000000000u));
}

/* Render a node of group @g (caller holds g->lock). */
static int render_group_node(struct fsd_group *g, const struct fsd_node *n, struct text *t)
{
	char val[64];
	size_t len;
	char *s;

	switch (n->kind) {
	case FSD_N_ATTR:
		fsd_attr_format(&g->attrs, (enum fsd_attr)n->attr, val, sizeof(val));
		text_add(t, "%s", val);
		return 0;
	case FSD_N_SHM:
		text_add(t, "%s\n", g->seg_path);
		return 0;
	case FSD_N_MEMBERS:
		render_members(g, t);
		return 0;
	case FSD_N_GSTAT:
		render_group_stat(g, t);
		return 0;
	case FSD_N_GERRLOG:
		s = fsd_errlog_dump(&g->errs, &len);
		if (!s)
			return -ENOMEM;
		text_add(t, "%s", s);
		free(s);
		return 0;
	case FSD_N_GPU_REC: {
		struct fsd_gpu_name *gn = fsd_gpu_find_id(g, n->nid);
		if (!gn || n->rank >= IPCFS_MAX_RANKS || !gn->rec[n->rank])
			return -ENOENT;
		text_add(t, "%s\n", gn->rec[n->rank]);
		return 0;
	}
	default:
		return -EISDIR;
	}
}

int fsd_file_render(struct fsd *d, const struct fsd_node *n, char **out, size_t *len)
{
	struct text t = { 0 };
	int rc = 0;

	switch (n->kind) {
	case FSD_N_VERSION:
		text_add(&t, "ipcfs %d.%d.%d abi %d\n", IPCFS_VERSION_MAJOR, IPCFS_VERSION_MINOR,
			 IPCFS_VERSION_PATCH, IPCFS_ABI);
		break;
	case FSD_N_ROOT_STAT:
		render_root_stat(d, &t);
		break;
	case FSD_N_ROOT_ERRLOG: {
		size_t l;
		pthread_mutex_lock(&d->lock);
		char *s = fsd_errlog_dump(&d->errs, &l);
		pthread_mutex_unlock(&d->lock);
		if (!s)
			return -ENOMEM;
		text_add(&t, "%s", s);
		free(s);
		break;
	}
	default: {
		struct fsd_group *g = fsd_group_get_id(d, n->gid);
		if (!g)
			return -ENOENT;
		pthread_mutex_lock(&g->lock);
		rc = g->removed ? -ENOENT : render_group_node(g, n, &t);
		pthread_mutex_unlock(&g->lock);
		fsd_group_put(d, g);
		break;
	}
	}
	if (!rc && t.oom)
		rc = -ENOMEM;
	if (rc) {
		free(t.buf);
		return rc;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
