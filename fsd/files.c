/* SPDX-License-Identifier: MIT */
/*
 * files.c - the files generated at read time: version, stat, metrics,
 * members, shm, attribute values, error_log and GPU records. Each is rendered whole
 * into a buffer when a reader reads offset 0 (tree.c keeps it per open file
 * for the reads that follow), so a reader never sees half of two versions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"
#include "ipcfs/rank_counters.h"
#include "text.h"
#include "wait_int.h"

/* Counters of rank index @i less the reset-stat baseline. */
static void rank_counters(const struct fsd_group *g, unsigned i, struct ipcfs_rank_stat *st)
{
	fsd_stats_rank(&g->stats, &g->seg, i, st);
}

static void render_members(const struct fsd_group *g, struct text *t)
{
	uint64_t joined = fsd_group_joined_mask(g);

	for (unsigned r = 0; r < seg_layout(&g->seg)->ranks; r++) {
		struct ipcfs_rank_stat st;
		if (!(joined & IPCFS_RANK_BIT(r)))
			continue;
		rank_counters(g, r, &st);
		text_add(t, "%u pid=%d state=%s joins=%llu", r, (int)st.pid,
			 ipcfs_state_name(st.state),
			 (unsigned long long)fsd_stats_joins(&g->seg, r));
#define X(f, kind, metric, help) text_add(t, " " #f "=%llu", (unsigned long long)st.f);
		IPCFS_RANK_COUNTERS(X)
#undef X
		text_add(t, " stalled_ms=%llu", (unsigned long long)st.stalled_ms);
		int node = fsd_cluster_node_of(&g->cluster, r);
		if (node >= 0)
			text_add(t, " node=%s", g->cluster.node[node].name);
		text_add(t, "\n");
	}
}

/* Bytes (headers included) and blocks of the arena not free now. */
static uint64_t arena_used(const struct fsd_group *g)
{
	struct arena_stat a;

	fsd_stats_arena(&g->seg, &a);
	return a.used_bytes;
}

static uint64_t arena_blocks(const struct fsd_group *g)
{
	struct arena_stat a;

	fsd_stats_arena(&g->seg, &a);
	return a.blocks;
}

static void render_group_stat(const struct fsd_group *g, struct text *t)
{
	struct ipcfs_rank_stat sum = { 0 }, st;
	uint64_t joined = fsd_group_joined_mask(g);
	uint64_t stalled = 0;

	for (unsigned i = 0; i <= seg_layout(&g->seg)->ranks; i++) {
		rank_counters(g, i, &st);
#define X(f, kind, metric, help) sum.f += st.f;
		IPCFS_RANK_COUNTERS(X)
#undef X
		if (st.stalled_ms >= seg_layout(&g->seg)->timeout_ms)
			stalled++;
	}
	text_add(t, "ranks %u\nlive_members %u\njoined_members %u\n", seg_layout(&g->seg)->ranks,
		 fsd_group_live(g), (unsigned)__builtin_popcountll(joined));
#define KV(k, v) text_add(t, "%s %llu\n", k, (unsigned long long)(v))
#define X(f, kind, metric, help) KV(#f, sum.f);
	IPCFS_RANK_COUNTERS(X)
#undef X
	KV("stalled_ranks", stalled);
	KV("bcasts", fsd_stats_bcasts(&g->stats));
	KV("bcast_errors", g->stats.bcast_errors);
	KV("segment_bytes", g->seg.size);
	KV("arena_bytes", seg_layout(&g->seg)->arena_bytes);
	KV("arena_used_bytes", arena_used(g));
	KV("arena_blocks", arena_blocks(g));
#undef KV
	fsd_bridge_stat(g, t);
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
		 members, (unsigned long long)atomic_load_explicit(&d->commands, memory_order_relaxed),
		 (unsigned long long)atomic_load_explicit(&d->errors, memory_order_relaxed),
		 (unsigned long long)((wait_now_ns() - d->start_ns) / 1000000000u));
}

/* ---- metrics: the Prometheus text exposition format -------------------
 *
 * Every family is one # HELP and one # TYPE line followed by all its
 * samples, so the groups are read first (each under its lock, one at a
 * time) into snapshots, then written family by family. The names are
 * documented in ipcfs(7); the values are those of stat and members
 * (reset-stat applies, and Prometheus sees it as a counter reset).
 */
struct metrics_group {
	char name[FSD_NAME_MAX + 1];
	unsigned ranks, live, joined_n, stalled;
	uint64_t joined;                                 /* mask; ctl always shown */
	uint64_t bcasts, bcast_errors, seg_bytes, arena_bytes, arena_used, arena_blocks;
	struct ipcfs_rank_stat st[IPCFS_MAX_RANKS + 1];  /* index ranks: ctl */
	uint64_t joins[IPCFS_MAX_RANKS + 1];
};

static void metrics_snapshot(struct fsd_group *g, struct metrics_group *s)
{
	snprintf(s->name, sizeof(s->name), "%s", g->name);
	s->ranks = seg_layout(&g->seg)->ranks;
	s->live = fsd_group_live(g);
	s->joined = fsd_group_joined_mask(g);
	s->joined_n = (unsigned)__builtin_popcountll(s->joined);
	s->bcasts = fsd_stats_bcasts(&g->stats);
	s->bcast_errors = g->stats.bcast_errors;
	s->seg_bytes = g->seg.size;
	s->arena_bytes = seg_layout(&g->seg)->arena_bytes;
	s->arena_used = arena_used(g);
	s->arena_blocks = arena_blocks(g);
	for (unsigned i = 0; i <= s->ranks; i++) {
		rank_counters(g, i, &s->st[i]);
		s->joins[i] = i < s->ranks ? fsd_stats_joins(&g->seg, i) : 0;
		if (s->st[i].stalled_ms >= seg_layout(&g->seg)->timeout_ms)
			s->stalled++;
	}
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per-rank families: the counters of rank_counters.h, then these three,
 * which are not summed. */
#define X(f, kind, metric, help) RM_##f,
enum rank_metric { IPCFS_RANK_COUNTERS(X) RM_LIVE, RM_JOINS, RM_STALLED, RM_COUNT };
#undef X

static const struct {
	const char *name, *type, *help;
} rank_families[] = {
#define X(f, kind, metric, help) [RM_##f] = { metric, #kind, help },
	IPCFS_RANK_COUNTERS(X)
#undef X
	[RM_LIVE] = { "ipcfs_rank_live", "gauge", "1 if the rank is live (joined, process alive), else 0." },
	[RM_JOINS] = { "ipcfs_rank_joins_total", "counter", "Times a process joined as this rank." },
	[RM_STALLED] = { "ipcfs_rank_stalled_seconds", "gauge", "How long the rank's current send has waited, 0 if none." },
};

static void rank_sample(struct text *t, enum rank_metric m, const struct metrics_group *s,
			unsigned i)
{
	const struct ipcfs_rank_stat *st = &s->st[i];
	char rank[16];
	uint64_t v = 0;

	if (i == s->ranks)
		snprintf(rank, sizeof(rank), "ctl");
	else
		snprintf(rank, sizeof(rank), "%u", i);
	switch (m) {
#define X(f, kind, metric, help) case RM_##f: v = st->f; break;
	IPCFS_RANK_COUNTERS(X)
#undef X
	case RM_LIVE: v = st->state == IPCFS_STATE_LIVE; break;
	case RM_JOINS: v = s->joins[i]; break;
	case RM_STALLED:
		text_add(t, "%s{group=\"%s\",rank=\"%s\"} %llu.%03llu\n", rank_families[m].name,
			 s->name, rank, (unsigned long long)(st->stalled_ms / 1000),
			 (unsigned long long)(st->stalled_ms % 1000));
		return;
	case RM_COUNT:
		return;
	}
	text_add(t, "%s{group=\"%s\",rank=\"%s\"} %llu\n", rank_families[m].name, s->name, rank,
		 (unsigned long long)v);
}

/* Per-group families: name, type, help and the value of a snapshot. */
enum group_metric {
	GM_RANKS, GM_LIVE, GM_JOINED, GM_STALLED, GM_BCASTS, GM_BCAST_ERRORS, GM_SEG, GM_ARENA,
	GM_ARENA_USED, GM_ARENA_BLOCKS, GM_COUNT
};

static const struct {
	const char *name, *type, *help;
} group_families[] = {
	[GM_RANKS] = { "ipcfs_group_ranks", "gauge", "Ranks of the group (its ranks attribute)." },
	[GM_LIVE] = { "ipcfs_group_live_members", "gauge", "Ranks of the group live now." },
	[GM_JOINED] = { "ipcfs_group_joined_members", "gauge", "Ranks of the group that ever joined." },
	[GM_STALLED] = { "ipcfs_group_stalled_ranks", "gauge", "Senders blocked longer than timeout_ms now." },
	[GM_BCASTS] = { "ipcfs_group_bcasts_total", "counter", "Messages published with the bcast command." },
	[GM_BCAST_ERRORS] = { "ipcfs_group_bcast_errors_total", "counter", "bcast commands that failed." },
	[GM_SEG] = { "ipcfs_group_segment_bytes", "gauge", "Size of the group's shared-memory segment." },
	[GM_ARENA] = { "ipcfs_group_arena_bytes", "gauge", "Size of the group's large-payload arena." },
	[GM_ARENA_USED] = { "ipcfs_group_arena_used_bytes", "gauge", "Arena bytes in blocks not free now, headers included." },
	[GM_ARENA_BLOCKS] = { "ipcfs_group_arena_blocks", "gauge", "Arena blocks not free now." },
};

static uint64_t group_value(enum group_metric m, const struct metrics_group *s)
{
	switch (m) {
	case GM_RANKS: return s->ranks;
	case GM_LIVE: return s->live;
	case GM_JOINED: return s->joined_n;
	case GM_STALLED: return s->stalled;
	case GM_BCASTS: return s->bcasts;
	case GM_BCAST_ERRORS: return s->bcast_errors;
	case GM_SEG: return s->seg_bytes;
	case GM_ARENA: return s->arena_bytes;
	case GM_ARENA_USED: return s->arena_used;
	case GM_ARENA_BLOCKS: return s->arena_blocks;
	default: return 0;
	}
}

static int render_metrics(struct fsd *d, struct text *t)
{
	unsigned n, members = 0, ns = 0;
	struct fsd_group **v = fsd_groups_get(d, &n);
	struct metrics_group *s = NULL;

	if (v && n) {
		s = calloc(n, sizeof(*s));
		if (!s) {
			fsd_groups_put(d, v, n);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; v && i < n; i++) {
		pthread_mutex_lock(&v[i]->lock);
		if (!v[i]->removed) {
			metrics_snapshot(v[i], &s[ns]);
			members += s[ns].live;
			ns++;
		}
		pthread_mutex_unlock(&v[i]->lock);
	}
	if (v)
		fsd_groups_put(d, v, n);

	family(t, "ipcfs_build_info", "gauge", "Version of ipcfsd and of the shared-memory ABI (value 1).");
	text_add(t, "ipcfs_build_info{version=\"%d.%d.%d\",abi=\"%d\"} 1\n", IPCFS_VERSION_MAJOR,
		 IPCFS_VERSION_MINOR, IPCFS_VERSION_PATCH, IPCFS_ABI);
	family(t, "ipcfs_groups", "gauge", "Groups that exist.");
	text_add(t, "ipcfs_groups %u\n", ns);
	family(t, "ipcfs_members", "gauge", "Live members of all groups.");
	text_add(t, "ipcfs_members %u\n", members);
	family(t, "ipcfs_commands_total", "counter", "Writes to ctl and attribute files.");
	text_add(t, "ipcfs_commands_total %llu\n", (unsigned long long)atomic_load_explicit(&d->commands, memory_order_relaxed));
	family(t, "ipcfs_errors_total", "counter", "Failed operations (each has an error_log line).");
	text_add(t, "ipcfs_errors_total %llu\n", (unsigned long long)atomic_load_explicit(&d->errors, memory_order_relaxed));
	uint64_t up = wait_now_ns() - d->start_ns;
	family(t, "ipcfs_uptime_seconds", "gauge", "Seconds since the daemon started.");
	text_add(t, "ipcfs_uptime_seconds %llu.%03llu\n", (unsigned long long)(up / 1000000000u),
		 (unsigned long long)(up / 1000000u % 1000u));

	for (int m = 0; m < GM_COUNT; m++) {
		if (!ns)
			break;
		family(t, group_families[m].name, group_families[m].type, group_families[m].help);
		for (unsigned i = 0; i < ns; i++)
			text_add(t, "%s{group=\"%s\"} %llu\n", group_families[m].name, s[i].name,
				 (unsigned long long)group_value((enum group_metric)m, &s[i]));
	}
	for (size_t m = 0; m < sizeof(rank_families) / sizeof(rank_families[0]); m++) {
		bool any = false;
		for (unsigned i = 0; i < ns; i++) {
			for (unsigned r = 0; r <= s[i].ranks; r++) {
				if (r < s[i].ranks && !(s[i].joined & IPCFS_RANK_BIT(r)))
					continue;
				if (!any)
					family(t, rank_families[m].name, rank_families[m].type,
					       rank_families[m].help);
				any = true;
				rank_sample(t, (enum rank_metric)m, &s[i], r);
			}
		}
	}
	free(s);
	return 0;
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
	case FSD_N_NODES:
		for (unsigned i = 0; i < g->cluster.n; i++) {
			char line[FSD_NODE_NAME_MAX + FSD_NODE_ADDR_MAX + 200];
			fsd_cluster_format_node(&g->cluster.node[i], line, sizeof(line));
			text_add(t, "%s", line);
		}
		return 0;
	case FSD_N_NODE:
		if (g->cluster.self[0])
			text_add(t, "%s\n", g->cluster.self);
		return 0;
	case FSD_N_BRIDGE:
		fsd_bridge_collect(g);
		fsd_bridge_render(g, t);
		return 0;
	case FSD_N_KEYS:
		if (g->cluster.keys[0])
			text_add(t, "%s\n", g->cluster.keys);
		return 0;
	case FSD_N_MEMBERS:
		render_members(g, t);
		return 0;
	case FSD_N_GSTAT:
		fsd_bridge_collect(g);
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
		struct fsd_gpu_name *gn = fsd_gpu_find_id(&g->gpu, n->nid);
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
	case FSD_N_ROOT_METRICS:
		rc = render_metrics(d, &t);
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
