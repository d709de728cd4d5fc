/* SPDX-License-Identifier: MIT */
/*
 * gpu_graph.c - the buffers of all-reduce calls captured in CUDA graphs:
 * each rank's table of inputs in a memfd, exchanged through the
 * registration rounds (gpu_register.c), then written into device memory
 * where the captured kernels read them at replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gpu_comm_int.h"
#include "util.h"

/* ---- buffers of calls captured in CUDA graphs ----------------------------- */

/*
 * The table a rank shares for one registration: which allocation (an IPC
 * handle, each once) and offset holds the input of each captured call. It
 * lives in a memfd that the peers open through /proc/PID/fd/FD (it can be
 * far larger than a record, and vanishes with its process).
 */
struct graph_table_hdr {
	uint64_t magic, gen, batch, first, calls, nhandles, sum;
};
struct graph_entry {
	uint64_t handle, off;
};
#define GRAPH_TABLE_MAGIC 0x48504152474350ull  /* "PCGRAPH" */

/* Checksum of a table's body: its entries, then its handles. */
static uint64_t graph_table_sum(const struct graph_entry *e, size_t calls,
				const unsigned char (*handles)[GPU_HANDLE_BYTES], size_t nhandles)
{
	return util_fnv1a64((const unsigned char *)e, calls * sizeof(*e)) ^
	       util_fnv1a64(*handles, nhandles * GPU_HANDLE_BYTES);
}

/* Write this rank's table for calls [first, first + calls) into a new
 * memfd: *fd, *bytes. -errno, or -EINVAL with the reason set when an
 * input is not in memory that CUDA IPC can export. */
static int graph_table_write(struct ipcfs_gpu_comm *c, size_t first, size_t calls, int *fd,
			     uint64_t *bytes)
{
	struct graph_table_hdr h = { GRAPH_TABLE_MAGIC, c->gen, c->graph_batch, first, calls, 0, 0 };
	unsigned char (*handles)[GPU_HANDLE_BYTES] = calloc(calls ? calls : 1, GPU_HANDLE_BYTES);
	struct graph_entry *e = calloc(calls ? calls : 1, sizeof(*e));
	size_t hbytes, ebytes;
	int rc = 0;

	*fd = -1;
	if (!handles || !e) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < calls; i++) {
		unsigned char hd[GPU_HANDLE_BYTES];
		uint64_t j;

		rc = k->ipc_export((void *)c->graph_in[first + i], hd, &e[i].off);
		if (rc) {
			gpu_kfail(rc, "ipcfs_gpu_register_graph: exporting the input of a captured "
			      "call (memory from cudaMalloc is needed)");
			goto out;
		}
		for (j = 0; j < h.nhandles && memcmp(handles[j], hd, GPU_HANDLE_BYTES); j++)
			;
		if (j == h.nhandles)
			memcpy(handles[h.nhandles++], hd, GPU_HANDLE_BYTES);
		e[i].handle = j;
	}
	hbytes = h.nhandles * GPU_HANDLE_BYTES;
	ebytes = calls * sizeof(*e);
	h.sum = graph_table_sum(e, calls, (const unsigned char (*)[GPU_HANDLE_BYTES])handles,
				h.nhandles);
	*fd = memfd_create("ipcfs-graph", MFD_CLOEXEC);
	if (*fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = gpu_write_all(*fd, (const char *)&h, sizeof(h))) ||
	    (rc = gpu_write_all(*fd, (const char *)handles, hbytes)) ||
	    (rc = gpu_write_all(*fd, (const char *)e, ebytes)))
		goto out;
	*bytes = (sizeof(h) + hbytes + ebytes + ALLREDUCE_VEC_BYTES - 1) / ALLREDUCE_VEC_BYTES *
		 ALLREDUCE_VEC_BYTES;
out:
	if (rc && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(handles);
	free(e);
	return rc;
}

static int read_all_fd(int fd, void *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = read(fd, (char *)p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EBADMSG;
		done += (size_t)r;
	}
	return 0;
}

/* The opened base of peer @rank's allocation @handle (opened once). */
static int graph_import(struct ipcfs_gpu_comm *c, int rank, const unsigned char *handle,
			void **base)
{
	for (size_t i = 0; i < c->nimports; i++)
		if (c->imports[i].rank == rank &&
		    !memcmp(c->imports[i].handle, handle, GPU_HANDLE_BYTES)) {
			*base = c->imports[i].base;
			return 0;
		}
	if (c->nimports == c->imports_cap) {
		size_t cap = c->imports_cap ? 2 * c->imports_cap : 16;
		struct gpu_import *n = realloc(c->imports, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->imports = n;
		c->imports_cap = cap;
	}
	int rc = k->ipc_open(handle, base);
	if (rc)
		return gpu_kfail(rc, "ipcfs_gpu_register_graph: opening a peer's allocation");
	c->imports[c->nimports].rank = rank;
	memcpy(c->imports[c->nimports].handle, handle, GPU_HANDLE_BYTES);
	c->imports[c->nimports++].base = *base;
	return 0;
}

/* Read peer @p's table (@rec) and fill column @p of @ptrs (calls rows of
 * IPCFS_K_MAX_RANKS). 0, or -EBADMSG/-EINVAL with the reason set. */
static int graph_table_read(struct ipcfs_gpu_comm *c, int p, const struct gpu_record *rec,
			    size_t first, size_t calls, void **ptrs)
{
	struct graph_table_hdr h;
	unsigned char (*handles)[GPU_HANDLE_BYTES] = NULL;
	struct graph_entry *e = NULL;
	char path[64];
	int fd, rc;
	uint32_t pfd;

	memcpy(&pfd, rec->handle, sizeof(pfd));
	snprintf(path, sizeof(path), "/proc/%u/fd/%u", rec->pid, pfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		gpu_err_set("ipcfs_gpu_register_graph: rank %d's table %s: %s", p, path,
				    strerror(-rc));
		return rc;
	}
	rc = read_all_fd(fd, &h, sizeof(h));
	if (!rc && (h.magic != GRAPH_TABLE_MAGIC || h.gen != c->gen ||
		    h.batch != c->graph_batch || h.first != first ||
		    h.nhandles > (h.calls ? h.calls : 1)))
		rc = -EBADMSG;
	if (!rc && h.calls != calls) {
		gpu_err_set("ipcfs_gpu_register_graph: rank %d captured %llu all-reduce "
				    "calls, this rank %zu (every rank must capture the same calls)",
				    p, (unsigned long long)h.calls, calls);
		close(fd);
		return -EINVAL;
	}
	if (!rc) {
		handles = calloc(h.nhandles ? h.nhandles : 1, GPU_HANDLE_BYTES);
		e = calloc(calls ? calls : 1, sizeof(*e));
		if (!handles || !e)
			rc = -ENOMEM;
	}
	if (!rc && !(rc = read_all_fd(fd, handles, h.nhandles * GPU_HANDLE_BYTES)) &&
	    !(rc = read_all_fd(fd, e, calls * sizeof(*e))) &&
	    h.sum != graph_table_sum(e, calls, (const unsigned char (*)[GPU_HANDLE_BYTES])handles,
				     h.nhandles))
		rc = -EBADMSG;
	close(fd);
	if (rc == -EBADMSG)
		gpu_err_set("ipcfs_gpu_register_graph: rank %d's table is malformed", p);
	for (size_t i = 0; !rc && i < calls; i++) {
		void *base;
		if (e[i].handle >= h.nhandles || e[i].off % ALLREDUCE_VEC_BYTES) {
			gpu_err_set("ipcfs_gpu_register_graph: rank %d's table is malformed",
					    p);
			rc = -EBADMSG;
		} else if (!(rc = graph_import(c, p, handles[e[i].handle], &base))) {
			ptrs[i * IPCFS_K_MAX_RANKS + (size_t)p] = (char *)base + e[i].off;
		}
	}
	free(handles);
	free(e);
	return rc;
}

/* Round 1: publish this rank's table for calls [first, first + calls) (or
 * that it failed: *@bad = this rank), read every peer's into @ptrs. *@fd:
 * the table, to close once round 2 is over. 0, or < 0 for a failed
 * exchange (reason set). */
static int graph_round_one(struct ipcfs_gpu_comm *c, const char *sub, struct gpu_record *mine,
			   struct gpu_round *ga, size_t first, size_t calls, void **ptrs, int *fd,
			   int *bad)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	uint64_t bytes = 0;
	int rc;

	rc = graph_table_write(c, first, calls, fd, &bytes);
	gpu_fill_rec(c, mine, GPU_REC_GRAPH);
	mine->flags = rc ? 0 : GPU_F_REG_OK;
	mine->buf_bytes = bytes;
	mine->sig_off = first;
	mine->probe_off = calls;
	mine->oneshot_max = ga->attempt;
	memcpy(mine->handle, &(uint32_t){ (uint32_t)*fd }, sizeof(uint32_t));
	if (rc)
		*bad = c->rank;
	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, mine))) {
		gpu_err_set("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		return rc;
	}
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, gpu_all_ranks(c->world), GPU_REC_GRAPH, c->gen,
			    c->timeout_ms, gpu_round_accept, ga, recs);
	if (rc) {
		gpu_err_set("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < calls; i++)
		ptrs[i * IPCFS_K_MAX_RANKS + (size_t)c->rank] = (void *)c->graph_in[first + i];
	for (int p = 0; *bad < 0 && p < c->world; p++) {
		if (!(recs[p].flags & GPU_F_REG_OK))
			*bad = p;
		else if (p != c->rank && graph_table_read(c, p, &recs[p], first, calls, ptrs))
			*bad = c->rank;
	}
	return 0;
}

/* Write the rows of calls [first, first + calls) into device memory, and
 * wait until they are there: a pageable cudaMemcpy may return before its
 * copy reached the device, and a graph launched next on another stream
 * would read the old (NULL) entries. */
static int graph_tables_store(struct ipcfs_gpu_comm *c, size_t first, size_t calls,
			      void *const *ptrs)
{
	int rc;

	if (!calls)
		return 0;
	rc = k->memcpy_h2d(c->graph_tables + first * IPCFS_K_MAX_RANKS, ptrs,
			   calls * IPCFS_K_MAX_RANKS * sizeof(void *));
	if (!rc)
		rc = k->device_sync();
	return rc ? gpu_kfail(rc, "ipcfs_gpu_register_graph: writing the tables") : 0;
}

API int ipcfs_gpu_register_graph(struct ipcfs_gpu_comm *c)
{
	struct gpu_record mine;
	struct gpu_round ga;
	char sub[GPU_NAME_MAX + 16];
	size_t first, calls;
	void **ptrs;
	int rc, fd = -1, bad = -1;

	if (!c) {
		gpu_err_set("ipcfs_gpu_register_graph: no communicator");
		return -EINVAL;
	}
	/* Without peer access nothing was captured with its own buffers
	 * (every rank knows it alike): nothing to do. */
	if (!c->graph_tables)
		return 0;
	first = c->graph_done;
	calls = c->graph_used - first;
	ga = (struct gpu_round){ c->m, ++c->graph_batch, 0 };
	/* Two names, by the parity of the batch: a rank that finished batch b
	 * and goes on to b+1 must not overwrite the record of b that a slower
	 * peer may still be waiting to read in round 2; it cannot reach b+2
	 * before every peer has published round 1 of b+1, past b. */
	snprintf(sub, sizeof(sub), "%s.g%d", c->name, (int)(ga.attempt & 1));
	ptrs = calloc(calls ? calls : 1, IPCFS_K_MAX_RANKS * sizeof(void *));
	if (!ptrs) {
		gpu_err_set("ipcfs_gpu_register_graph: out of memory");
		return -ENOMEM;
	}
	rc = graph_round_one(c, sub, &mine, &ga, first, calls, ptrs, &fd, &bad);
	/* Round 2: the tables may go once every rank is done; the pointers
	 * are used only if all worked. */
	if (!rc)
		rc = gpu_round_two(c, sub, &mine, bad != c->rank, &ga, &bad);
	if (!rc && bad >= 0) {
		/* this rank's reason is set; a peer's is on that peer */
		if (bad != c->rank)
			gpu_err_set("ipcfs_gpu_register_graph: rank %d failed to register its graph "
				    "buffers (its ipcfs_gpu_error() says why)", bad);
		rc = -EINVAL;
	}
	if (!rc && !(rc = graph_tables_store(c, first, calls, ptrs)))
		c->graph_done = first + calls;
	if (fd >= 0)
		close(fd);
	free(ptrs);
	return rc;
}

void gpu_graph_close(struct ipcfs_gpu_comm *c)
{
	for (size_t i = 0; i < c->nimports; i++)
		k->ipc_close(c->imports[i].base);
	c->nimports = 0;
}
