/* SPDX-License-Identifier: MIT */
/*
 * cuda_emu.c - libipcfs_cuda_emu.so: a CPU stand-in for libipcfs_cuda.so,
 * for the tests only (never installed). It exports the same C ABI
 * (kernels/allreduce_kernels.h, kernels/ipc_host.h), so that the tests can
 * set IPCFS_CUDA_LIB to it and drive the host side of the GPU communicator
 * (lib/gpu.c) through init, rendezvous, peer probe, algorithm choice,
 * NCCL fallback, registration, graphs, timeouts and destroy with real
 * processes on a machine without a GPU. It models what lib/gpu.c relies on;
 * it says nothing about the CUDA kernels themselves (tests/gpu/ does, on a
 * GPU).
 *
 * Model.
 *  - "Device memory" is a memfd mapped shared; an IPC handle names the
 *    exporting process and descriptor (the importer opens
 *    /proc/PID/fd/FD), so nothing is left behind in /dev/shm when a test
 *    dies. A header page before the data counts the importers' opens: a
 *    buffer freed while a peer still has it open aborts the process (in
 *    CUDA that is undefined behaviour; here it must fail the test). An
 *    importer that opens the same handle twice gets the same pointer and a
 *    reference count, as cudaIpcOpenMemHandle documents.
 *  - Kernels run in the calling thread when "launched" (streams are
 *    synchronous), block by block in order, with the kernels' barrier
 *    protocol: the same flag words, values 4c+k, alternating sets, per-
 *    block call counters in the signal block, timeout -> error record,
 *    EPROTO for a value of a later call. Sums in rank order with fp32
 *    accumulation, so results equal the CPU reference bit for bit.
 *  - Stream capture: ipcfs_emu_capture(1) makes the stream "capturing";
 *    launches are then recorded (arguments frozen, like a CUDA graph) and
 *    run by ipcfs_emu_replay().
 *  - NCCL: a shared memfd named by the unique id; chunked copy-in,
 *    barrier, reduce in rank order, barrier.
 *
 * Environment: IPCFS_EMU_UUID=pid (every process its own "device": NCCL
 * may be used) or unset (every rank on one device, as on a one-GPU test
 * machine: NCCL refuses); IPCFS_EMU_NO_PEER=1 (the peer probe reads back a
 * wrong value); IPCFS_EMU_NO_DEVICE=1 (device count -ENODEV);
 * IPCFS_EMU_NCCL_FAIL=1 (ncclCommInitRank fails on this rank).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "allreduce_kernels.h"
#include "allreduce_plan_int.h"
#include "ipc_host.h"

#define EMU_API __attribute__((visibility("default")))
#define EMU_PAGE 4096u

/* ---- errors ---------------------------------------------------------------- */

static __thread char last_error[256];

static int fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return rc;
}

EMU_API const char *ipcfs_k_last_error(void)
{
	return last_error;
}

static bool env_on(const char *name)
{
	const char *e = getenv(name);
	return e && *e && strcmp(e, "0");
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- statistics for the tests ------------------------------------------------ */

struct ipcfs_emu_stats {
	uint64_t launches;     /* kernels run (one-shot + two-shot) */
	uint64_t copy_in;      /* bytes copied into a registered buffer */
	uint64_t indirect;     /* kernels that took their buffers from device memory */
	uint64_t nccl_calls;
	uint64_t recorded;     /* launches captured, waiting for a replay */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipcfs_emu_stats stats;

EMU_API void ipcfs_emu_stats(struct ipcfs_emu_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	pthread_mutex_unlock(&lock);
}

/* ---- device memory ----------------------------------------------------------- */

/* First page of every allocation. opens is changed by importers (other
 * processes) with atomics: seq_cst, nothing else is ordered by it. */
struct emu_hdr {
	uint64_t magic, seq, bytes;
	int32_t opens;
};
#define EMU_MAGIC 0x554d454346435049ull  /* "IPCFCEMU" */

struct emu_handle {   /* the 64-byte IPC handle */
	uint64_t magic, seq;
	int32_t pid, fd;
	unsigned char pad[IPCFS_K_IPC_HANDLE_BYTES - 24];
};
_Static_assert(sizeof(struct emu_handle) == IPCFS_K_IPC_HANDLE_BYTES, "handle size");

struct emu_map {
	struct emu_map *next;
	struct emu_hdr *hdr;   /* start of the mapping */
	size_t map_bytes;
	int fd;                /* own allocations: the memfd; imports: -1 */
	struct emu_handle key; /* imports: the handle opened */
	int refs;              /* imports: open count in this process */
};

static struct emu_map *allocs, *imports;
static uint64_t next_seq = 1;

static void *data_of(const struct emu_map *m)
{
	return (char *)m->hdr + EMU_PAGE;
}

static int map_fd(int fd, size_t map_bytes, struct emu_hdr **hdr)
{
	void *p = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*hdr = p;
	return 0;
}

EMU_API int ipcfs_k_buf_alloc(size_t bytes, void **ptr)
{
	struct emu_map *m;
	size_t map_bytes = EMU_PAGE + (bytes + EMU_PAGE - 1) / EMU_PAGE * EMU_PAGE;
	int fd, rc;

	if (!ptr || !bytes)
		return fail(-EINVAL, "cudaMalloc: invalid argument");
	m = calloc(1, sizeof(*m));
	fd = memfd_create("ipcfs-emu-dev", MFD_CLOEXEC);
	if (!m || fd < 0 || ftruncate(fd, (off_t)map_bytes) ||
	    (rc = map_fd(fd, map_bytes, &m->hdr))) {
		if (fd >= 0)
			close(fd);
		free(m);
		return fail(-ENOMEM, "cudaMalloc: out of memory (emulated)");
	}
	m->fd = fd;
	m->map_bytes = map_bytes;
	pthread_mutex_lock(&lock);
	m->hdr->magic = EMU_MAGIC;
	m->hdr->seq = next_seq++;
	m->hdr->bytes = bytes;
	m->next = allocs;
	allocs = m;
	pthread_mutex_unlock(&lock);
	*ptr = data_of(m);
	return 0;
}

EMU_API int ipcfs_k_buf_free(void *ptr)
{
	struct emu_map **pp, *m = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &allocs; *pp; pp = &(*pp)->next)
		if (data_of(*pp) == ptr) {
			m = *pp;
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (!m)
		return fail(-EINVAL, "cudaFree: not an allocation");
	if (__atomic_load_n(&m->hdr->opens, __ATOMIC_SEQ_CST)) {
		fprintf(stderr, "cuda_emu[%d]: cudaFree of a buffer that %d peer mapping(s) still "
			"have open (undefined behaviour in CUDA)\n", getpid(), m->hdr->opens);
		abort();
	}
	munmap(m->hdr, m->map_bytes);
	close(m->fd);
	free(m);
	return 0;
}

static struct emu_map *alloc_of(const void *ptr)
{
	for (struct emu_map *m = allocs; m; m = m->next)
		if ((const char *)ptr >= (const char *)data_of(m) &&
		    (const char *)ptr < (const char *)data_of(m) + m->hdr->bytes)
			return m;
	return NULL;
}

EMU_API int ipcfs_k_ipc_export(void *ptr, unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES],
			       uint64_t *offset)
{
	struct emu_handle h;
	struct emu_map *m;

	pthread_mutex_lock(&lock);
	m = alloc_of(ptr);
	if (m) {
		memset(&h, 0, sizeof(h));
		h.magic = EMU_MAGIC;
		h.seq = m->hdr->seq;
		h.pid = getpid();
		h.fd = m->fd;
		memcpy(handle, &h, sizeof(h));
		*offset = (uint64_t)((char *)ptr - (char *)data_of(m));
	}
	pthread_mutex_unlock(&lock);
	return m ? 0 : fail(-EINVAL, "cudaIpcGetMemHandle: not device memory");
}

EMU_API int ipcfs_k_ipc_open(const unsigned char handle[IPCFS_K_IPC_HANDLE_BYTES], void **base)
{
	struct emu_handle h;
	struct emu_map *m;
	char path[64];
	struct stat st;
	int fd, rc = 0;

	memcpy(&h, handle, sizeof(h));
	if (h.magic != EMU_MAGIC)
		return fail(-EINVAL, "cudaIpcOpenMemHandle: invalid resource handle");
	if (h.pid == getpid())
		return fail(-EINVAL, "cudaIpcOpenMemHandle: a handle of this process");
	pthread_mutex_lock(&lock);
	for (m = imports; m; m = m->next)
		if (!memcmp(&m->key, &h, sizeof(h))) {
			m->refs++;
			*base = data_of(m);
			pthread_mutex_unlock(&lock);
			return 0;
		}
	pthread_mutex_unlock(&lock);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", h.pid, h.fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(-EIO, "cudaIpcOpenMemHandle: %s: %s", path, strerror(errno));
	m = calloc(1, sizeof(*m));
	if (!m || fstat(fd, &st) || (rc = map_fd(fd, (size_t)st.st_size, &m->hdr))) {
		close(fd);
		free(m);
		return fail(-EIO, "cudaIpcOpenMemHandle: cannot map %s", path);
	}
	close(fd);
	m->map_bytes = (size_t)st.st_size;
	if (m->hdr->magic != EMU_MAGIC || m->hdr->seq != h.seq) {
		munmap(m->hdr, m->map_bytes);
		free(m);
		return fail(-EIO, "cudaIpcOpenMemHandle: the allocation was freed");
	}
	__atomic_add_fetch(&m->hdr->opens, 1, __ATOMIC_SEQ_CST);
	m->fd = -1;
	m->key = h;
	m->refs = 1;
	pthread_mutex_lock(&lock);
	m->next = imports;
	imports = m;
	pthread_mutex_unlock(&lock);
	*base = data_of(m);
	return 0;
}

EMU_API int ipcfs_k_ipc_close(void *base)
{
	struct emu_map **pp, *m = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &imports; *pp; pp = &(*pp)->next)
		if (data_of(*pp) == base) {
			m = *pp;
			if (--m->refs == 0)
				*pp = m->next;
			else
				m = (void *)1;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (!m)
		return fail(-EINVAL, "cudaIpcCloseMemHandle: not an opened handle");
	if (m != (void *)1) {
		__atomic_sub_fetch(&m->hdr->opens, 1, __ATOMIC_SEQ_CST);
		munmap(m->hdr, m->map_bytes);
		free(m);
	}
	return 0;
}

/* ---- devices ------------------------------------------------------------------ */

EMU_API int ipcfs_k_device_count(void)
{
	if (env_on("IPCFS_EMU_NO_DEVICE"))
		return fail(-ENODEV, "no usable CUDA device: emulated none");
	return 1;
}

static void my_uuid(unsigned char uuid[IPCFS_K_UUID_BYTES])
{
	const char *e = getenv("IPCFS_EMU_UUID");

	memset(uuid, 0, IPCFS_K_UUID_BYTES);
	memcpy(uuid, "emu-gpu", 7);
	if (e && !strcmp(e, "pid")) {
		pid_t pid = getpid();
		memcpy(uuid + 8, &pid, sizeof(pid));
	}
}

EMU_API int ipcfs_k_current_device(int *dev, unsigned char uuid[IPCFS_K_UUID_BYTES])
{
	if (!dev || !uuid)
		return fail(-EINVAL, "no output");
	*dev = 0;
	my_uuid(uuid);
	return 0;
}

EMU_API int ipcfs_k_device_by_uuid(const unsigned char uuid[IPCFS_K_UUID_BYTES], int *dev)
{
	unsigned char mine[IPCFS_K_UUID_BYTES];

	my_uuid(mine);
	if (memcmp(mine, uuid, IPCFS_K_UUID_BYTES))
		return fail(-ENOENT, "no visible device has that UUID");
	*dev = 0;
	return 0;
}

EMU_API int ipcfs_k_can_access_peer(int dev, int peer, int *ok)
{
	*ok = dev == peer || !env_on("IPCFS_EMU_NO_PEER");
	return 0;
}

EMU_API int ipcfs_k_peer_probe(uint64_t *remote, uint64_t value, int *ok)
{
	/* seq_cst: the probe is a one-off handshake, nothing depends on it. */
	__atomic_store_n(remote, value, __ATOMIC_SEQ_CST);
	*ok = __atomic_load_n(remote, __ATOMIC_SEQ_CST) == value && !env_on("IPCFS_EMU_NO_PEER");
	return 0;
}

EMU_API int ipcfs_k_host_alloc_mapped(size_t bytes, void **host, void **dev)
{
	void *p = calloc(1, bytes);
	if (!p)
		return fail(-ENOMEM, "cudaHostAlloc: out of memory");
	*host = *dev = p;
	return 0;
}

EMU_API int ipcfs_k_host_free(void *host)
{
	free(host);
	return 0;
}

/* ---- streams and capture ------------------------------------------------------ */

struct emu_launch {
	struct ipcfs_k_allreduce_args a;
	bool two;
};

static bool capturing;
static struct emu_launch *graph;
static size_t graph_n, graph_cap;

EMU_API void ipcfs_emu_capture(int on)
{
	pthread_mutex_lock(&lock);
	capturing = on;
	pthread_mutex_unlock(&lock);
}

EMU_API int ipcfs_k_stream_capturing(void *stream, int *out)
{
	(void)stream;
	pthread_mutex_lock(&lock);
	*out = capturing;
	pthread_mutex_unlock(&lock);
	return 0;
}

EMU_API int ipcfs_k_stream_sync(void *stream)
{
	(void)stream;
	return 0;
}

EMU_API int ipcfs_k_device_sync(void)
{
	return 0;
}

EMU_API int ipcfs_k_memset_async(void *ptr, size_t bytes, void *stream)
{
	(void)stream;
	memset(ptr, 0, bytes);
	return 0;
}

EMU_API int ipcfs_k_memcpy_h2d(void *dst, const void *src, size_t bytes)
{
	memcpy(dst, src, bytes);
	return 0;
}

EMU_API int ipcfs_k_signal_reset(struct ipcfs_k_signal *sig, void *stream)
{
	return ipcfs_k_memset_async(sig, sizeof(*sig), stream);
}

/* ---- the kernels ----------------------------------------------------------------- */

/* report(): diagnostics first, the code last with a release store (a host
 * reader that sees the code sees the fields). */
static void report(const struct ipcfs_k_allreduce_args *a, int code, int peer, int k,
		   unsigned b, uint64_t call)
{
	struct ipcfs_k_error *e = a->err;

	if (!e)
		return;
	e->rank = a->rank;
	e->peer = peer;
	e->barrier = k;
	e->block = (int32_t)b;
	e->call = call;
	__atomic_store_n(&e->code, code, __ATOMIC_RELEASE);
}

/* Barrier k of @call for block @b: the kernels' protocol (allreduce.cu).
 * Release store of the arrival into the peer's signal block, acquire load
 * of the peer's arrival in ours; the pair orders the data written before
 * the barrier (plain stores) before the peer's reads after it. */
static bool barrier(const struct ipcfs_k_allreduce_args *a, uint64_t call, int k, unsigned b,
		    const uint64_t timeout_ns)
{
	const uint64_t want = call * 4 + (uint64_t)k;
	const int set = (int)(call & 1);
	bool failed = false;

	for (int t = 0; t < a->world; t++)
		if (t != a->rank)
			__atomic_store_n(&a->sigs[t]->flags[set][b][a->rank], want,
					 __ATOMIC_RELEASE);
	for (int t = 0; t < a->world && !failed; t++) {
		const uint64_t *slot = &a->sigs[a->rank]->flags[set][b][t];
		uint64_t v, start = now_ns();
		unsigned spins = 0;

		if (t == a->rank)
			continue;
		while ((v = __atomic_load_n(slot, __ATOMIC_ACQUIRE)) < want) {
			if ((++spins & 63u) == 0) {
				sched_yield();
				if (now_ns() - start > timeout_ns) {
					report(a, ETIMEDOUT, t, k, b, call);
					failed = true;
					break;
				}
			}
		}
		if (!failed && v > call * 4 + 3) {
			report(a, EPROTO, t, k, b, call);
			failed = true;
		}
	}
	return failed;
}

/* Vector @v summed over bufs[0..N-1] in rank order into dst[v]. */
static void reduce_vec(const struct ipcfs_k_allreduce_args *a, void *const bufs[], size_t v,
		       void *dst)
{
	const size_t es = allreduce_plan_dtype_size(a->dtype), per = ALLREDUCE_VEC_BYTES / es;
	const void *in[IPCFS_K_MAX_RANKS];
	unsigned char tmp[ALLREDUCE_VEC_BYTES];

	for (int r = 0; r < a->world; r++)
		in[r] = bufs[r];
	for (size_t j = 0; j < per; j++) {
		size_t i = v * per + j;
		float acc = allreduce_load_f32(in[0], a->dtype, i);
		for (int r = 1; r < a->world; r++)
			acc += allreduce_load_f32(in[r], a->dtype, i);
		allreduce_store_f32(tmp, a->dtype, j, acc);
	}
	memcpy((char *)dst + v * ALLREDUCE_VEC_BYTES, tmp, sizeof(tmp));
}

/* Run one kernel: every block in order. Block b handles the vectors
 * first + k * stride of each range, first = b*T + t, as the kernels do. */
static void run_kernel(const struct ipcfs_k_allreduce_args *a, bool two)
{
	const size_t es = allreduce_plan_dtype_size(a->dtype);
	const size_t nvec = a->count * es / ALLREDUCE_VEC_BYTES, T = IPCFS_K_THREADS;
	const size_t per_rank = two ? (nvec + (size_t)a->world - 1) / (size_t)a->world : nvec;
	const size_t want = (per_rank + T - 1) / T;
	const size_t maxb = a->blocks ? a->blocks : IPCFS_K_DEFAULT_BLOCKS;
	const unsigned grid = (unsigned)(want < maxb ? (want ? want : 1) : maxb);
	const size_t stride = grid * T;
	const uint64_t timeout = a->timeout_ns ? a->timeout_ns : IPCFS_K_DEFAULT_TIMEOUT_NS;
	void *bufs[IPCFS_K_MAX_RANKS];
	void *own;

	memcpy(bufs, a->bufs, sizeof(bufs));
	if (a->dev_bufs) {
		/* The buffers of a captured call: filled in device memory
		 * after capture (ipcfs_gpu_register_graph). */
		memcpy(bufs, a->dev_bufs, sizeof(void *) * (size_t)a->world);
		for (int r = 0; r < a->world; r++)
			if (!bufs[r]) {
				report(a, ENXIO, r, 0, 0, 0);
				return;
			}
	}
	own = bufs[a->rank];
	for (unsigned b = 0; b < grid; b++) {
		const uint64_t call = a->sigs[a->rank]->calls[b] + 1;

		if (barrier(a, call, 0, b, timeout))
			return;
		if (!two) {
			for (size_t t = 0; t < T; t++)
				for (size_t v = b * T + t; v < nvec; v += stride)
					reduce_vec(a, bufs, v, a->out);
		} else {
			struct allreduce_range mine =
				allreduce_plan_twoshot_range(nvec, a->world, a->rank);
			for (size_t t = 0; t < T; t++)
				for (size_t v = mine.begin + b * T + t; v < mine.end; v += stride) {
					reduce_vec(a, bufs, v, own);
					if (a->out != own)
						memcpy((char *)a->out + v * 16, (char *)own + v * 16, 16);
				}
			if (barrier(a, call, 1, b, timeout))
				return;
			for (int s = 1; s < a->world; s++) {
				int q = (a->rank + s) % a->world;
				struct allreduce_range g = allreduce_plan_twoshot_range(nvec, a->world, q);
				for (size_t t = 0; t < T; t++)
					for (size_t v = g.begin + b * T + t; v < g.end; v += stride)
						memcpy((char *)a->out + v * 16, (char *)bufs[q] + v * 16,
						       16);
			}
		}
		if (barrier(a, call, 2, b, timeout))
			return;
		a->sigs[a->rank]->calls[b] = call;
	}
}

static bool overlaps(const void *a, size_t na, const void *b, size_t nb)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

/* The launcher's argument checks (allreduce.cu launch()), then run or
 * record the kernel. */
static int launch(const struct ipcfs_k_allreduce_args *a, bool two)
{
	const size_t es = a ? allreduce_plan_dtype_size(a->dtype) : 0;
	size_t bytes;
	void *own;

	if (!a || a->world < 2 || a->world > IPCFS_K_MAX_RANKS || a->rank < 0 ||
	    a->rank >= a->world || !es || a->count > SIZE_MAX / es)
		return fail(-EINVAL, "invalid argument: world, rank, dtype or count");
	bytes = a->count * es;
	if (bytes % ALLREDUCE_VEC_BYTES)
		return fail(-EINVAL, "invalid argument: size not a multiple of 16 bytes");
	if (bytes > a->buf_bytes)
		return fail(-EINVAL, "invalid argument: larger than the registered buffer");
	if (a->blocks > IPCFS_K_MAX_BLOCKS)
		return fail(-EINVAL, "invalid argument: too many blocks");
	for (int r = 0; r < a->world; r++) {
		if ((!a->dev_bufs || r == a->rank) && (!a->bufs[r] || ((uintptr_t)a->bufs[r] & 15)))
			return fail(-EINVAL, "invalid argument: missing or unaligned buffer");
		if (!a->sigs[r] || ((uintptr_t)a->sigs[r] & 7))
			return fail(-EINVAL, "invalid argument: missing signal block");
	}
	if (a->dev_bufs && a->in)
		return fail(-EINVAL, "invalid argument: dev_bufs needs in == NULL");
	if (!a->out || ((uintptr_t)a->out & 15) || (a->in && ((uintptr_t)a->in & 15)))
		return fail(-EINVAL, "invalid argument: missing or unaligned in/out");
	own = a->bufs[a->rank];
	if (overlaps(a->out, bytes, own, a->buf_bytes) && !(two && a->out == own))
		return fail(-EINVAL, "invalid argument: out overlaps the registered buffer");
	if (a->in && a->in != own && overlaps(a->in, bytes, own, a->buf_bytes))
		return fail(-EINVAL, "invalid argument: in overlaps the registered buffer");
	if (!bytes)
		return 0;
	pthread_mutex_lock(&lock);
	if (capturing) {
		if (graph_n == graph_cap) {
			size_t cap = graph_cap ? 2 * graph_cap : 64;
			struct emu_launch *g = realloc(graph, cap * sizeof(*g));
			if (!g) {
				pthread_mutex_unlock(&lock);
				return fail(-ENOMEM, "graph capture: out of memory");
			}
			graph = g;
			graph_cap = cap;
		}
		graph[graph_n].a = *a;
		graph[graph_n++].two = two;
		stats.recorded = graph_n;
		pthread_mutex_unlock(&lock);
		return 0;
	}
	stats.launches++;
	if (a->in && a->in != own)
		stats.copy_in += bytes;
	if (a->dev_bufs)
		stats.indirect++;
	pthread_mutex_unlock(&lock);
	if (a->in && a->in != own)
		memcpy(own, a->in, bytes);
	run_kernel(a, two);
	return 0;
}

EMU_API int ipcfs_k_allreduce_oneshot(const struct ipcfs_k_allreduce_args *a, void *stream)
{
	(void)stream;
	return launch(a, false);
}

EMU_API int ipcfs_k_allreduce_twoshot(const struct ipcfs_k_allreduce_args *a, void *stream)
{
	(void)stream;
	return launch(a, true);
}

/* Run the captured launches once, in order (a graph launch). */
EMU_API int ipcfs_emu_replay(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = graph_n;
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++) {
		int rc = launch(&graph[i].a, graph[i].two);
		if (rc)
			return rc;
	}
	return 0;
}

EMU_API void ipcfs_emu_graph_reset(void)
{
	pthread_mutex_lock(&lock);
	free(graph);
	graph = NULL;
	graph_n = graph_cap = 0;
	stats.recorded = 0;
	pthread_mutex_unlock(&lock);
}

/* ---- NCCL ----------------------------------------------------------------------------- */

#define NCCL_CHUNK (256u * 1024u)

struct emu_nccl_shm {
	uint64_t magic;
	int32_t attached;                        /* atomic: ranks that mapped it */
	int32_t pad;
	uint64_t phase[IPCFS_K_MAX_RANKS];       /* atomic: barriers passed, per rank */
	unsigned char area[IPCFS_K_MAX_RANKS][NCCL_CHUNK];
};

struct emu_nccl {
	struct emu_nccl_shm *s;
	int world, rank;
	uint64_t phase;
};

struct emu_nccl_id {
	uint64_t magic;
	int32_t pid, fd;
};

EMU_API int ipcfs_k_nccl_unique_id(unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	struct emu_nccl_id u = { EMU_MAGIC, getpid(), -1 };
	struct emu_nccl_shm *s;

	/* The creator keeps the memfd open for the peers to find through
	 * /proc (one per id; the tests make few). */
	u.fd = memfd_create("ipcfs-emu-nccl", MFD_CLOEXEC);
	if (u.fd < 0 || ftruncate(u.fd, sizeof(*s)))
		return fail(-EIO, "ncclGetUniqueId: memfd: %s", strerror(errno));
	memset(id, 0, IPCFS_K_NCCL_ID_BYTES);
	memcpy(id, &u, sizeof(u));
	return 0;
}

/* Every rank raises its phase to @p, then waits for all: seq_cst, a
 * plain generation barrier (the data in area[] is ordered by it). */
static int nccl_barrier(struct emu_nccl *n)
{
	uint64_t start = now_ns();

	n->phase++;
	__atomic_store_n(&n->s->phase[n->rank], n->phase, __ATOMIC_SEQ_CST);
	for (int r = 0; r < n->world; r++)
		while (__atomic_load_n(&n->s->phase[r], __ATOMIC_SEQ_CST) < n->phase) {
			sched_yield();
			if (now_ns() - start > 30000000000ull)
				return fail(-EIO, "ncclAllReduce: rank %d did not arrive (emulated "
					    "NCCL gives up after 30 s)", r);
		}
	return 0;
}

EMU_API int ipcfs_k_nccl_init(void **comm, int world, int rank,
			      const unsigned char id[IPCFS_K_NCCL_ID_BYTES])
{
	struct emu_nccl_id u;
	struct emu_nccl *n;
	char path[64];
	uint64_t start = now_ns();
	int fd;

	memcpy(&u, id, sizeof(u));
	if (!comm || u.magic != EMU_MAGIC || world < 1 || world > IPCFS_K_MAX_RANKS ||
	    rank < 0 || rank >= world)
		return fail(-EINVAL, "ncclCommInitRank: invalid argument");
	if (env_on("IPCFS_EMU_NCCL_FAIL"))
		return fail(-EIO, "ncclCommInitRank: unhandled system error (emulated)");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", u.pid, u.fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	n = calloc(1, sizeof(*n));
	if (fd < 0 || !n) {
		if (fd >= 0)
			close(fd);
		free(n);
		return fail(-EIO, "ncclCommInitRank: cannot open %s", path);
	}
	n->s = mmap(NULL, sizeof(*n->s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (n->s == MAP_FAILED) {
		free(n);
		return fail(-EIO, "ncclCommInitRank: mmap failed");
	}
	n->world = world;
	n->rank = rank;
	__atomic_add_fetch(&n->s->attached, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&n->s->attached, __ATOMIC_SEQ_CST) < world) {
		sched_yield();
		if (now_ns() - start > 30000000000ull) {
			munmap(n->s, sizeof(*n->s));
			free(n);
			return fail(-EIO, "ncclCommInitRank: peers did not arrive");
		}
	}
	/* Everyone has it mapped: the creator may close its descriptor. */
	if (u.pid == getpid())
		close(u.fd);
	*comm = n;
	return 0;
}

EMU_API int ipcfs_k_nccl_allreduce(void *comm, const void *in, void *out, size_t count,
				   int dtype, void *stream)
{
	struct emu_nccl *n = comm;
	const size_t es = allreduce_plan_dtype_size(dtype);
	int rc;

	(void)stream;
	if (!n || !es || (count && (!in || !out)))
		return fail(-EINVAL, "ncclAllReduce: invalid argument");
	pthread_mutex_lock(&lock);
	stats.nccl_calls++;
	pthread_mutex_unlock(&lock);
	for (size_t done = 0; done < count;) {
		size_t k = count - done < NCCL_CHUNK / es ? count - done : NCCL_CHUNK / es;

		memcpy(n->s->area[n->rank], (const char *)in + done * es, k * es);
		if ((rc = nccl_barrier(n)))
			return rc;
		for (size_t i = 0; i < k; i++) {
			float acc = allreduce_load_f32(n->s->area[0], dtype, i);
			for (int r = 1; r < n->world; r++)
				acc += allreduce_load_f32(n->s->area[r], dtype, i);
			allreduce_store_f32((char *)out + done * es, dtype, i, acc);
		}
		if ((rc = nccl_barrier(n)))
			return rc;
		done += k;
	}
	return 0;
}

EMU_API int ipcfs_k_nccl_destroy(void *comm)
{
	struct emu_nccl *n = comm;

	if (!n)
		return 0;
	munmap(n->s, sizeof(*n->s));
	free(n);
	return 0;
}

