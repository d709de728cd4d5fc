/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - a group spanning machines: which node holds which ranks and
 * where its bridge listens (the group's `nodes` file), and which of them
 * is this machine (`node`). Plain data and pure functions (no lock, no
 * FUSE, no file system; lib/cluster.c, inside libipcfs), shared by the
 * daemon, which validates and keeps it, by ipcfs-bridge, which reads it
 * back from the mount, and by the library's GPU communicator, which uses
 * NCCL for a group on several nodes; unit-tested and fuzzed on its own
 * (tests/unit/test_fsd_cluster.c). Its names keep the daemon's prefix.
 *
 * `nodes`: one line per node, words separated by spaces or tabs:
 *
 *     NAME tcp://A.B.C.D:PORT RANKS
 *
 * NAME as a group name (1..32 of [A-Za-z0-9_.-]), unique; the address an
 * IPv4 address and a port 1..65535, unique; RANKS a list like "0-1" or
 * "0,2,4-7". Together the nodes hold every rank of the group exactly once.
 * Empty lines and lines starting with '#' are ignored; an empty file means
 * "one machine" (no bridge).
 */
#ifndef IPCFS_FSD_CLUSTER_H
#define IPCFS_FSD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define FSD_NODES_MAX 16         /* nodes of one group */
#define FSD_NODE_NAME_MAX 32
#define FSD_NODE_ADDR_MAX 32     /* "tcp://255.255.255.255:65535" */
/* The bridge's record of what it delivered (bridge/in.c): a file named
 * as the group's segment with this suffix, beside it; removed with it. */
#define FSD_BRIDGE_STATE_SUFFIX ".bridge"
/* The bridge reports its counters to its daemon through a pipe, one
 * write(2) a line (at most this long, under PIPE_BUF so that each write
 * is whole or refused): "NODE up=0|1 tx_msgs=N tx_bytes=N rx_msgs=N
 * rx_bytes=N acked=N rtt_us=N" per remote node, "auth curve=0|1
 * refused=N" (fsd/bridge.c reads them). */
#define FSD_BRIDGE_LINE_MAX 320
/* The longest `nodes` file: FSD_NODES_MAX full lines. */
#define FSD_NODES_TEXT_MAX (FSD_NODES_MAX * (FSD_NODE_NAME_MAX + FSD_NODE_ADDR_MAX + 200))
#define FSD_KEYS_PATH_MAX 255    /* the `keys` file: a directory (keys.h) */

struct fsd_node_conf {
	char name[FSD_NODE_NAME_MAX + 1];
	char addr[FSD_NODE_ADDR_MAX + 1]; /* canonical tcp://A.B.C.D:PORT */
	uint32_t ip;                      /* host byte order */
	uint16_t port;
	uint64_t ranks;                   /* mask of the ranks it holds */
};

struct fsd_cluster {
	unsigned n;                       /* 0: not configured */
	struct fsd_node_conf node[FSD_NODES_MAX];
	char self[FSD_NODE_NAME_MAX + 1]; /* `node`: this machine, "" if unset */
	char keys[FSD_KEYS_PATH_MAX + 1]; /* `keys`: CURVE key directory, "" if none */
};

/*
 * Parse a `nodes` file (@len bytes, any content) for a group of @ranks
 * ranks into @out (replaced whole only on success; out->self and out->keys are
 * kept).
 * -EINVAL (malformed, duplicate name or address, a rank twice or missing),
 * -ERANGE (a rank >= @ranks, a port beyond 65535, too many nodes), with the
 * reason, naming the line, in @why.
 */
int fsd_cluster_parse_nodes(const char *buf, size_t len, unsigned ranks, struct fsd_cluster *out,
			    char *why, size_t whylen);

/* The same for a file being written in pieces (a shell writes line by
 * line): 1, @out untouched and the reason in @why, when every line so far
 * is valid but some ranks are on no node yet; else as above. */
int fsd_cluster_parse_nodes_partial(const char *buf, size_t len, unsigned ranks,
				    struct fsd_cluster *out, char *why, size_t whylen);

/* Parse a `node` value (one trailing newline allowed; empty: unset) into
 * @name (FSD_NODE_NAME_MAX + 1 bytes). -EINVAL if malformed or, when @c
 * has nodes, not one of them. */
int fsd_cluster_parse_self(const char *buf, size_t len, const struct fsd_cluster *c, char *name,
			   char *why, size_t whylen);

/* Whether @c still fits a group of @ranks ranks (after ranks changes):
 * 0, or -EINVAL with the reason. */
int fsd_cluster_check_ranks(const struct fsd_cluster *c, unsigned ranks, char *why, size_t whylen);

/* Index of the node called @name, or -1. */
int fsd_cluster_find(const struct fsd_cluster *c, const char *name);
/* Index of the node holding @rank, or -1. */
int fsd_cluster_node_of(const struct fsd_cluster *c, unsigned rank);

/* One node as a `nodes` line with a trailing newline, into @buf; the
 * ranks as a canonical list ("0-1,4"). Return the length (cut to @size-1). */
int fsd_cluster_format_node(const struct fsd_node_conf *n, char *buf, size_t size);
int fsd_cluster_format_ranks(uint64_t mask, char *buf, size_t size);

#endif
