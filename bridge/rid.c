/* SPDX-License-Identifier: MIT */
/*
 * rid.c - the bridge's ZeroMQ routing ids (used by net.c).
 *
 * Each DEALER has one of its own, NAME#N.R (this node's name, the count of
 * sockets this incarnation made, 64 random bits), so no two connections
 * ever share one: a replaced socket (reset_dealers) or a restarted bridge
 * connects with a new id, and the ROUTER needs no ZMQ_ROUTER_HANDOVER.
 * With handover, a peer holding a valid key (a node's) could connect with
 * another node's id and take that node's connection over: its own messages
 * were dropped (the key is not that node's), but the node's acks went to
 * it and the node's connection was closed under it, again and again.
 * Without it ZeroMQ ignores a second connection with an id already
 * connected, and the random part keeps an id from being claimed before its
 * socket connects. The ROUTER maps an id to a node by its NAME part, with
 * CURVE only when the connection proved that node's key, and remembers per
 * node the id of the latest such connection (peer.rid): its acks go there.
 * An id of another form is dropped with a log line. Without keys anyone
 * who can reach the address can claim any node's name (as documented: no
 * keys, no authentication).
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bridge.h"

/* A character of a routing id: those of node names (lib/cluster.c). */
static bool rid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* The other node routing id @id (@l bytes) names, NAME#ID; -1 if none,
 * or not of that form. */
int bridge_rid_node(struct bridge *b, const char *id, size_t l)
{
	char name[FSD_NODE_NAME_MAX + 1];
	const char *hash = l <= BRIDGE_RID_MAX ? memchr(id, '#', l) : NULL;
	size_t nl = hash ? (size_t)(hash - id) : 0;

	if (!hash || nl == 0 || nl > FSD_NODE_NAME_MAX || nl + 1 == l)
		return -1;
	for (size_t i = 0; i < l; i++)
		if (i != nl && !rid_char(id[i]))
			return -1;
	memcpy(name, id, nl);
	name[nl] = '\0';
	int node = fsd_cluster_find(&b->cl, name);
	return node == b->self ? -1 : node;
}

/* Routing id @id of a message that did not name another node, for the
 * log (it is anyone's: printable, cut), one line of the first few. */
void bridge_bad_rid(struct bridge *b, const char *id, size_t l)
{
	static uint64_t count; /* network thread */
	char text[48];
	size_t n = 0;

	if (!bridge_log_nth(++count))
		return;
	for (size_t i = 0; i < l && n + 5 < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, id[i] > ' ' && id[i] < 127 ? "%c" : "\\x%02x",
				      (unsigned char)id[i]);
	bridge_log(b, "dropped a message with a bad routing id %s%s (not NAME#ID of another node; "
		   "%llu so far)", n ? text : "(empty)", n < l ? "..." : "", (unsigned long long)count);
}

/* A message proved that routing id @id (@l bytes) is node @node's: its
 * latest connection, where its acks go from now on. */
void bridge_note_rid(struct bridge *b, unsigned node, const char *id, size_t l)
{
	struct peer *p = &b->peer[node];

	if (p->rid_len == l && !memcmp(p->rid, id, l))
		return;
	memcpy(p->rid, id, l);
	p->rid_len = l;
	/* Once per connection (rid_node checked it is printable). */
	bridge_log(b, "node %s connects as %.*s", b->cl.node[node].name, (int)l, id);
}

/* A routing id for a new DEALER into @id (BRIDGE_RID_MAX bytes), NAME#N.R
 * (rid.c); its length. */
size_t bridge_new_rid(struct bridge *b, char *id)
{
	static unsigned count; /* open_sockets, then the network thread */
	uint64_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = bridge_now_ns() ^ (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&r;
	int l = snprintf(id, BRIDGE_RID_MAX, "%s#%u.%016llx", b->cl.node[b->self].name, ++count,
			 (unsigned long long)r);
	return l > 0 && l < BRIDGE_RID_MAX ? (size_t)l : 0;
}
