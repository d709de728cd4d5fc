/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the `nodes` and `node` files of a group spanning machines:
 * strict parsers and the canonical formatting (include/ipcfs/cluster.h). Input is
 * untrusted bytes from write(2) or the state file: no NUL terminator is
 * assumed and every failure says why, naming the line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ipcfs/cluster.h"
#include "util.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* NULL if @s (@len bytes) is a valid node name, else what is wrong. */
static const char *name_problem(const char *s, size_t len)
{
	if (len == 0)
		return "empty node name";
	if (len > FSD_NODE_NAME_MAX)
		return "node name longer than 32 characters";
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return "node name . or ..";
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return "node name has a character outside [A-Za-z0-9_.-]";
	return NULL;
}

/* A decimal number of at most @digits digits, no sign: -1 if none. */
static long decimal(const char **p, const char *end, int digits)
{
	long v = 0;
	int n = 0;

	while (*p < end && **p >= '0' && **p <= '9' && n < digits) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || (*p < end && **p >= '0' && **p <= '9'))
		return -1;
	return v;
}

/* "tcp://A.B.C.D:PORT" into @n. */
static int parse_addr(const char *s, size_t len, struct fsd_node_conf *n, char *why, size_t whylen)
{
	const char *p = s, *end = s + len;
	uint32_t ip = 0;

	if (len < 6 || memcmp(s, "tcp://", 6) != 0)
		return util_why_set(-EINVAL, why, whylen, "address does not start with tcp://");
	p += 6;
	for (int i = 0; i < 4; i++) {
		long b = decimal(&p, end, 3);
		if (b < 0 || b > 255)
			return util_why_set(-EINVAL, why, whylen, "address is not tcp://A.B.C.D:PORT (IPv4)");
		ip = ip << 8 | (uint32_t)b;
		if (i < 3 && (p >= end || *p++ != '.'))
			return util_why_set(-EINVAL, why, whylen, "address is not tcp://A.B.C.D:PORT (IPv4)");
	}
	if (p >= end || *p++ != ':')
		return util_why_set(-EINVAL, why, whylen, "address has no :PORT");
	long port = decimal(&p, end, 6);
	if (port < 0 || p != end)
		return util_why_set(-EINVAL, why, whylen, "address port is not a decimal number");
	if (port < 1 || port > 65535)
		return util_why_set(-ERANGE, why, whylen, "address port %ld out of range 1..65535", port);
	if (ip == 0 || ip == 0xffffffffu)
		return util_why_set(-EINVAL, why, whylen, "address 0.0.0.0 or broadcast: name the interface's address");
	n->ip = ip;
	n->port = (uint16_t)port;
	snprintf(n->addr, sizeof(n->addr), "tcp://%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255, (unsigned)port);
	return 0;
}

/* "0-1,4" into a mask of ranks below @ranks. */
static int parse_ranks(const char *s, size_t len, unsigned ranks, uint64_t *mask, char *why,
		       size_t whylen)
{
	const char *p = s, *end = s + len;
	uint64_t m = 0;

	while (p < end) {
		long a = decimal(&p, end, 3), b = a;
		if (a >= 0 && p < end && *p == '-') {
			p++;
			b = decimal(&p, end, 3);
		}
		if (a < 0 || b < 0 || a > b || (p < end && *p != ','))
			return util_why_set(-EINVAL, why, whylen, "ranks are not a list like 0-3,6");
		if ((unsigned long)b >= ranks)
			return util_why_set(-ERANGE, why, whylen, "rank %ld beyond the group's %u ranks", b,
				       ranks);
		for (long r = a; r <= b; r++) {
			if (m & ((uint64_t)1 << r))
				return util_why_set(-EINVAL, why, whylen, "rank %ld listed twice", r);
			m |= (uint64_t)1 << r;
		}
		if (p < end && ++p == end)
			return util_why_set(-EINVAL, why, whylen, "ranks end with a comma");
	}
	if (!m)
		return util_why_set(-EINVAL, why, whylen, "no ranks");
	*mask = m;
	return 0;
}

/* The next word of [*p, end) on one line. */
static bool next_word(const char **p, const char *end, const char **w, size_t *wlen)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p >= end)
		return false;
	*w = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*wlen = (size_t)(*p - *w);
	return true;
}

/* One node line into @n (checked on its own, not against the others). */
static int parse_line(const char *s, size_t len, unsigned ranks, struct fsd_node_conf *n,
		      char *why, size_t whylen)
{
	const char *p = s, *end = s + len, *w[4];
	size_t wl[4];
	int nw = 0, rc;

	while (nw < 4 && next_word(&p, end, &w[nw], &wl[nw]))
		nw++;
	if (nw != 3)
		return util_why_set(-EINVAL, why, whylen, "not NAME tcp://ADDR:PORT RANKS");
	const char *problem = name_problem(w[0], wl[0]);
	if (problem)
		return util_why_set(-EINVAL, why, whylen, "%s", problem);
	memset(n, 0, sizeof(*n));
	memcpy(n->name, w[0], wl[0]);
	if ((rc = parse_addr(w[1], wl[1], n, why, whylen)))
		return rc;
	return parse_ranks(w[2], wl[2], ranks, &n->ranks, why, whylen);
}

/* Checks across the nodes: names, addresses, every rank once (1 when
 * all holds but ranks are missing and @partial allows it). */
static int check_all(const struct fsd_cluster *c, unsigned ranks, bool partial, char *why,
		     size_t whylen)
{
	uint64_t all = ranks >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << ranks) - 1, seen = 0;

	for (unsigned i = 0; i < c->n; i++) {
		const struct fsd_node_conf *a = &c->node[i];
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(a->name, c->node[j].name))
				return util_why_set(-EINVAL, why, whylen, "node %s listed twice", a->name);
			if (a->ip == c->node[j].ip && a->port == c->node[j].port)
				return util_why_set(-EINVAL, why, whylen, "nodes %s and %s share %s",
					       c->node[j].name, a->name, a->addr);
		}
		if (a->ranks & ~all)
			return util_why_set(-ERANGE, why, whylen, "node %s holds a rank beyond the group's %u",
				       a->name, ranks);
		if (a->ranks & seen)
			return util_why_set(-EINVAL, why, whylen, "rank %d on two nodes (the second: %s)",
				       __builtin_ctzll(a->ranks & seen), a->name);
		seen |= a->ranks;
	}
	if (c->n && seen != all)
		return util_why_set(partial ? 1 : -EINVAL, why, whylen, "rank %d is on no node (the group has %u ranks)",
			       __builtin_ctzll(~seen & all), ranks);
	return 0;
}

static int parse_nodes(const char *buf, size_t len, unsigned ranks, struct fsd_cluster *out,
		       bool partial, char *why, size_t whylen)
{
	struct fsd_cluster c;
	unsigned lineno = 0;
	size_t pos = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	if (ranks == 0 || ranks > 64)
		return util_why_set(-EINVAL, why, whylen, "the group has %u ranks", ranks);
	if (len > FSD_NODES_TEXT_MAX)
		return util_why_set(-EINVAL, why, whylen, "nodes: longer than %d bytes", FSD_NODES_TEXT_MAX);
	if (memchr(buf, '\0', len))
		return util_why_set(-EINVAL, why, whylen, "nodes: NUL byte");
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		char lwhy[128] = "";
		pos += l + 1;
		lineno++;
		while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
			l--;
		while (l && (*s == ' ' || *s == '\t'))
			s++, l--;
		if (l == 0 || *s == '#')
			continue;
		if (c.n == FSD_NODES_MAX)
			return util_why_set(-ERANGE, why, whylen, "nodes line %u: more than %d nodes", lineno,
				       FSD_NODES_MAX);
		rc = parse_line(s, l, ranks, &c.node[c.n], lwhy, sizeof(lwhy));
		if (rc)
			return util_why_set(rc, why, whylen, "nodes line %u: %s", lineno, lwhy);
		c.n++;
	}
	if ((rc = check_all(&c, ranks, partial, why, whylen)))
		return rc;
	memcpy(c.self, out->self, sizeof(c.self));
	memcpy(c.keys, out->keys, sizeof(c.keys));
	if (c.self[0] && c.n && fsd_cluster_find(&c, c.self) < 0)
		return util_why_set(-EINVAL, why, whylen, "node is %s, which the nodes do not list (change node first)",
			       c.self);
	*out = c;
	return 0;
}

int fsd_cluster_parse_nodes(const char *buf, size_t len, unsigned ranks, struct fsd_cluster *out,
			    char *why, size_t whylen)
{
	return parse_nodes(buf, len, ranks, out, false, why, whylen);
}

int fsd_cluster_parse_nodes_partial(const char *buf, size_t len, unsigned ranks,
				    struct fsd_cluster *out, char *why, size_t whylen)
{
	return parse_nodes(buf, len, ranks, out, true, why, whylen);
}

int fsd_cluster_parse_self(const char *buf, size_t len, const struct fsd_cluster *c, char *name,
			   char *why, size_t whylen)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		name[0] = '\0';
		return 0;
	}
	const char *problem = name_problem(buf, len);
	if (problem)
		return util_why_set(-EINVAL, why, whylen, "node: %s", problem);
	char tmp[FSD_NODE_NAME_MAX + 1];
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	if (c->n && fsd_cluster_find(c, tmp) < 0)
		return util_why_set(-EINVAL, why, whylen, "node: %s is not one of the nodes", tmp);
	memcpy(name, tmp, len + 1);
	return 0;
}

int fsd_cluster_check_ranks(const struct fsd_cluster *c, unsigned ranks, char *why, size_t whylen)
{
	char sub[128];
	int rc = check_all(c, ranks, false, sub, sizeof(sub));

	return rc ? util_why_set(-EINVAL, why, whylen, "ranks %u does not fit the nodes: %s", ranks, sub)
		  : 0;
}

int fsd_cluster_find(const struct fsd_cluster *c, const char *name)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->node[i].name, name))
			return (int)i;
	return -1;
}

int fsd_cluster_node_of(const struct fsd_cluster *c, unsigned rank)
{
	for (unsigned i = 0; i < c->n && rank < 64; i++)
		if (c->node[i].ranks & ((uint64_t)1 << rank))
			return (int)i;
	return -1;
}

int fsd_cluster_format_ranks(uint64_t mask, char *buf, size_t size)
{
	size_t o = 0;
	int n;

	buf[0] = '\0';
	for (unsigned r = 0; r < 64 && size;) {
		if (!(mask & ((uint64_t)1 << r))) {
			r++;
			continue;
		}
		unsigned e = r;
		while (e + 1 < 64 && (mask & ((uint64_t)1 << (e + 1))))
			e++;
		n = e == r ? snprintf(buf + o, size - o, "%s%u", o ? "," : "", r)
			   : snprintf(buf + o, size - o, "%s%u-%u", o ? "," : "", r, e);
		if (n < 0 || (size_t)n >= size - o)
			return (int)size - 1;
		o += (size_t)n;
		r = e + 1;
	}
	return (int)o;
}

int fsd_cluster_format_node(const struct fsd_node_conf *n, char *buf, size_t size)
{
	char ranks[200];

	fsd_cluster_format_ranks(n->ranks, ranks, sizeof(ranks));
	int len = snprintf(buf, size, "%s %s %s\n", n->name, n->addr, ranks);
	return len < 0 ? 0 : (size_t)len >= size ? (int)size - 1 : len;
}
