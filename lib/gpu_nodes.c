/* SPDX-License-Identifier: MIT */
/*
 * gpu_nodes.c - how many machines a group's ranks span, for the GPU
 * communicator: CUDA IPC handles mean nothing on another machine, so a
 * group on several nodes uses NCCL for every call (gpu_span.c).
 *
 * The source is the group's `nodes` file on the mount, read with the
 * daemon's parser (include/ipcfs/cluster.h, lib/cluster.c; the daemon has
 * checked what it shows and prints it in canonical form). The text is
 * still untrusted bytes: anything the parser refuses is -EBADMSG, never a
 * guess.
 */
#include <errno.h>
#include <string.h>

#include "gpu_int.h"
#include "ipcfs/cluster.h"
#include "util.h"

int gpu_nodes_parse(const char *text, size_t len, int world, int *nodes)
{
	struct fsd_cluster cl;

	if (world < 1 || world > IPCFS_MAX_RANKS)
		return -EBADMSG;
	memset(&cl, 0, sizeof(cl));
	/* The daemon's own grammar (include/ipcfs/cluster.h), not a second. */
	if (fsd_cluster_parse_nodes(text, len, (unsigned)world, &cl, NULL, 0))
		return -EBADMSG;
	*nodes = cl.n ? (int)cl.n : 1;
	return 0;
}

int gpu_nodes_read(const struct gpu_rdv *v, int world, int *nodes)
{
	char path[PATH_MAX], text[8192];
	int rc;

	*nodes = 1;
	if (!v->mounted)
		return 0;
	if ((rc = util_path_join(path, sizeof(path), v->dir, "nodes")))
		return rc;
	rc = util_read_small(path, text, sizeof(text));
	if (rc == -ENOENT)
		return 0;  /* a daemon from before groups spanned machines */
	if (rc)
		return rc == -ENAMETOOLONG ? -EBADMSG : rc;
	return gpu_nodes_parse(text, strlen(text), world, nodes);
}
