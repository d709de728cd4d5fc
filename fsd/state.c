/* SPDX-License-Identifier: MIT */
/*
 * state.c - the state file of a group: its grammar (state.h), parsed and
 * formatted as pure functions on byte buffers. registry.c reads and
 * writes the files; nothing here touches the file system.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs/rank_counters.h"
#include "ipcfs/keys.h"
#include "state.h"
#include "text.h"

#define HEADER "ipcfs-state 1"

/* The counters of the reset-stat baseline, by their names in the file. */
#define COUNTER(f) { #f, offsetof(struct ipcfs_rank_stat, f) }
/* The counters of the one table (ipcfs/rank_counters.h) that only grow:
 * those reset-stat keeps a baseline of (a gauge such as lag has none). */
#define KIND_counter(f) COUNTER(f),
#define KIND_gauge(f)
#define X(f, kind, metric, help) KIND_##kind(f)
const struct fsd_counter fsd_counters[] = { IPCFS_RANK_COUNTERS(X) };
#undef X
#undef KIND_gauge
#undef KIND_counter
#undef COUNTER
const unsigned fsd_ncounters = sizeof(fsd_counters) / sizeof(fsd_counters[0]);

static void format_base(struct text *t, const struct fsd_stats *s)
{
	if (s->base_bcasts)
		text_add(t, "base_bcasts %llu\n", (unsigned long long)s->base_bcasts);
	for (unsigned i = 0; i <= IPCFS_MAX_RANKS; i++) {
		struct ipcfs_rank_stat b = s->base[i];
		bool any = false;
		for (unsigned k = 0; k < fsd_ncounters && !any; k++)
			any = *fsd_counter(&b, k) != 0;
		if (!any)
			continue;
		text_add(t, "base %u", i);
		for (unsigned k = 0; k < fsd_ncounters; k++)
			text_add(t, " %s=%llu", fsd_counters[k].name, (unsigned long long)*fsd_counter(&b, k));
		text_add(t, "\n");
	}
}

char *fsd_state_format(const struct fsd_state *st, size_t *len)
{
	struct text t = { 0 };
	char val[64];

	text_add(&t, HEADER "\nuid %u\ngid %u\n", (unsigned)st->uid, (unsigned)st->gid);
	for (int a = 0; a < FSD_ATTR_COUNT; a++) {
		fsd_attr_format(&st->attrs, (enum fsd_attr)a, val, sizeof(val));
		text_add(&t, "%s %s", fsd_attr_name((enum fsd_attr)a), val);
	}
	if (st->attrs.numa_pci[0])
		text_add(&t, "numa_pci %s\n", st->attrs.numa_pci);
	text_add(&t, "bcasts %llu\n", (unsigned long long)st->stats.bcasts);
	format_base(&t, &st->stats);
	for (unsigned i = 0; i < st->cluster.n; i++) {
		char line[FSD_NODE_NAME_MAX + FSD_NODE_ADDR_MAX + 200];
		fsd_cluster_format_node(&st->cluster.node[i], line, sizeof(line));
		text_add(&t, "nodes %s", line);
	}
	if (st->cluster.self[0])
		text_add(&t, "node %s\n", st->cluster.self);
	if (st->cluster.keys[0])
		text_add(&t, "keys %s\n", st->cluster.keys);
	for (unsigned i = 0; i < FSD_GPU_NAMES_MAX; i++) {
		const struct fsd_gpu_name *n = st->gpu.names[i];
		for (unsigned r = 0; n && r < IPCFS_MAX_RANKS; r++)
			if (n->rec[r])
				text_add(&t, "gpu %s %u %s\n", n->name, r, n->rec[r]);
	}
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* ---- parsing -------------------------------------------------------------- */

/* The words of a line: split at single spaces. */
struct line {
	const char *s;
	size_t len, pos;
};

static bool word(struct line *l, const char **w, size_t *wlen)
{
	if (l->pos >= l->len)
		return false;
	const char *start = l->s + l->pos;
	const char *sp = memchr(start, ' ', l->len - l->pos);
	*w = start;
	*wlen = sp ? (size_t)(sp - start) : l->len - l->pos;
	l->pos += *wlen + (sp ? 1 : 0);
	return true;
}

static bool is(const char *w, size_t wlen, const char *lit)
{
	return strlen(lit) == wlen && memcmp(w, lit, wlen) == 0;
}

/* A decimal number up to @max as the one remaining word of @l. */
static int number(struct line *l, uint64_t max, uint64_t *out)
{
	const char *w;
	size_t wlen;

	if (!word(l, &w, &wlen) || l->pos < l->len || fsd_parse_u64(w, wlen, out) || *out > max)
		return -EINVAL;
	return 0;
}

/* "base I NAME=N ...": names not known (a newer daemon's) are skipped. */
static int parse_base(struct line *l, struct fsd_stats *s)
{
	struct ipcfs_rank_stat b = { 0 };
	const char *w;
	size_t wlen;
	uint64_t i, v;

	if (!word(l, &w, &wlen) || fsd_parse_u64(w, wlen, &i) || i > IPCFS_MAX_RANKS)
		return -EINVAL;
	while (word(l, &w, &wlen)) {
		const char *eq = memchr(w, '=', wlen);
		if (!eq || eq == w || fsd_parse_u64(eq + 1, wlen - (size_t)(eq + 1 - w), &v))
			return -EINVAL;
		for (unsigned k = 0; k < fsd_ncounters; k++)
			if (is(w, (size_t)(eq - w), fsd_counters[k].name))
				*fsd_counter(&b, k) = v;
	}
	s->base[i] = b;
	return 0;
}

/* "gpu NAME RANK HEX", checked as `register` checks it. */
static int parse_gpu(struct line *l, struct fsd_gpu_store *g, char *why, size_t whylen)
{
	const char *name, *rank, *hex;
	size_t nlen, rlen, hlen;
	char nm[FSD_NAME_MAX + 1];
	uint64_t r;
	int rc;

	if (!word(l, &name, &nlen) || !word(l, &rank, &rlen) || !word(l, &hex, &hlen) ||
	    l->pos < l->len)
		return -EINVAL;
	if ((rc = fsd_parse_name(name, nlen, why, whylen)) || (rc = fsd_parse_hex(hex, hlen, why, whylen)))
		return rc;
	if (fsd_parse_u64(rank, rlen, &r) || r >= IPCFS_MAX_RANKS || nlen > FSD_NAME_MAX)
		return -EINVAL;
	memcpy(nm, name, nlen);
	nm[nlen] = '\0';
	return fsd_gpu_store(g, nm, (unsigned)r, hex, hlen);
}

/* The nodes and node lines, gathered to be checked together at the end
 * (the ranks they must cover may come later in the file). */
struct cluster_lines {
	struct text nodes;
	char self[FSD_NODE_NAME_MAX + 1];
	unsigned self_line, first_line;
};

/* One line after the header: 0, 1 for uid and 2 for gid (required), or
 * -errno with the reason in @why. */
static int parse_line(struct line *l, struct fsd_state *st, struct cluster_lines *cl,
		      unsigned lineno, char *why, size_t whylen)
{
	const char *key;
	size_t klen;
	uint64_t v;
	int a, rc;

	if (!word(l, &key, &klen))
		return -EINVAL;
	if (is(key, klen, "uid") || is(key, klen, "gid")) {
		if (number(l, UINT32_MAX - 1, &v))
			return -EINVAL;
		if (key[0] == 'u')
			st->uid = (uid_t)v;
		else
			st->gid = (gid_t)v;
		return key[0] == 'u' ? 1 : 2;
	}
	if ((a = fsd_attr_lookup(key, klen)) >= 0) {
		struct fsd_attr_value val;
		rc = fsd_parse_attr((enum fsd_attr)a, l->s + l->pos, l->len - l->pos, &val, why, whylen);
		if (!rc)
			fsd_attrs_set(&st->attrs, &val);
		return rc;
	}
	if (is(key, klen, "numa_pci"))
		return fsd_parse_pci(l->s + l->pos, l->len - l->pos, st->attrs.numa_pci, why, whylen);
	if (is(key, klen, "bcasts"))
		return number(l, UINT64_MAX, &st->stats.bcasts);
	if (is(key, klen, "base_bcasts"))
		return number(l, UINT64_MAX, &st->stats.base_bcasts);
	if (is(key, klen, "base"))
		return parse_base(l, &st->stats);
	if (is(key, klen, "gpu"))
		return parse_gpu(l, &st->gpu, why, whylen);
	if (is(key, klen, "nodes")) {
		if (!cl->first_line)
			cl->first_line = lineno;
		text_add(&cl->nodes, "%.*s\n", (int)(l->len - l->pos), l->s + l->pos);
		return 0;
	}
	if (is(key, klen, "node")) {
		struct fsd_cluster none = { 0 };
		int rc = fsd_cluster_parse_self(l->s + l->pos, l->len - l->pos, &none, cl->self,
						why, whylen);
		cl->self_line = rc ? 0 : lineno;
		return rc;
	}
	if (is(key, klen, "keys"))
		return fsd_keys_parse_path(l->s + l->pos, l->len - l->pos, st->cluster.keys, why, whylen);
	snprintf(why, whylen, "unknown key");
	return -EINVAL;
}

/* The nodes lines, checked together as a write of the nodes file is, then
 * the node line against them: what fails is skipped whole (and counted). */
static void parse_cluster(struct fsd_state *st, struct cluster_lines *cl, unsigned *skipped,
			  char *why, size_t whylen)
{
	char cwhy[FSD_WHY_MAX] = "out of memory";
	int rc = 0;

	if (cl->first_line) {
		rc = cl->nodes.oom ? -ENOMEM
				   : fsd_cluster_parse_nodes(cl->nodes.buf, cl->nodes.len,
							     st->attrs.p.ranks, &st->cluster, cwhy,
							     sizeof(cwhy));
		if (rc && (*skipped)++ == 0)
			snprintf(why, whylen, "line %u skipped: %s", cl->first_line, cwhy);
	}
	free(cl->nodes.buf);
	if (!cl->self_line)
		return;
	if (st->cluster.n && fsd_cluster_find(&st->cluster, cl->self) < 0) {
		if ((*skipped)++ == 0)
			snprintf(why, whylen, "line %u skipped: node %s is not one of the nodes",
				 cl->self_line, cl->self);
		return;
	}
	memcpy(st->cluster.self, cl->self, sizeof(cl->self));
}

int fsd_state_parse(const char *buf, size_t len, struct fsd_state *st, unsigned *skipped,
		    char *why, size_t whylen)
{
	unsigned have = 0, lineno = 0;
	struct cluster_lines cl = { 0 };
	size_t pos = 0;

	memset(st, 0, sizeof(*st));
	fsd_attrs_init(&st->attrs);
	*skipped = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		struct line l = { buf + pos, nl ? (size_t)(nl - buf) - pos : len - pos, 0 };
		char lwhy[FSD_WHY_MAX] = "malformed";
		pos += l.len + 1;
		lineno++;
		if (lineno == 1) {
			if (!is(l.s, l.len, HEADER)) {
				snprintf(why, whylen, "not a state file (first line is not \"" HEADER "\")");
				return -EBADMSG;
			}
			continue;
		}
		if (memchr(l.s, '\0', l.len)) {
			snprintf(lwhy, sizeof(lwhy), "NUL byte");
			l.len = 0;
		}
		int rc = l.len ? parse_line(&l, st, &cl, lineno, lwhy, sizeof(lwhy)) : -EINVAL;
		if (rc > 0)
			have |= (unsigned)rc;
		else if (rc < 0 && (*skipped)++ == 0)
			snprintf(why, whylen, "line %u skipped: %s", lineno, lwhy);
	}
	parse_cluster(st, &cl, skipped, why, whylen);
	if (lineno == 0 || have != 3) {
		snprintf(why, whylen, "%s", lineno == 0 ? "empty state file" : "no uid or gid line");
		fsd_state_clear(st);
		return -EBADMSG;
	}
	return 0;
}

void fsd_state_clear(struct fsd_state *st)
{
	fsd_gpu_clear(&st->gpu);
}
