/* SPDX-License-Identifier: MIT */
/*
 * cuda_emu.c - libipcfs_cuda_emu.so: a CPU stand-in for libipcfs_cuda.so,
 * for the tests only (never installed). It exports the same table of
 * operations (include/ipcfs/cuda_abi.h, ipcfs_k_ops_v1), so that the tests
 * can set IPCFS_CUDA_LIB to it and drive the host side of the GPU
 * communicator (lib/gpu_*.c) through init, rendezvous, peer probe,
 * algorithm choice, NCCL fallback, registration, graphs, timeouts,
 * failures and destroy with real processes on a machine without a GPU.
 * It models what lib/gpu_*.c relies on, and the kernels' protocol; it says
 * nothing about the CUDA kernels themselves (tests/gpu/ does, on a GPU).
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
 *  - The stream, kernels, co-residency, capture and replay: emu_stream.c.
 *  - NCCL: emu_nccl.c.
 *
 * Environment: IPCFS_EMU_UUID=pid (every process its own "device": NCCL
 * may be used) or unset (every rank on one device, as on a one-GPU test
 * machine: NCCL refuses); IPCFS_EMU_NO_PEER=1 (the peer probe reads back a
 * wrong value); IPCFS_EMU_NO_DEVICE=1 (device count -ENODEV);
 * IPCFS_EMU_OLD_DRIVER=1 (device count -ENOTSUP: a driver older than the
 * runtime); IPCFS_EMU_NCCL_FAIL=1 (NCCL init fails on this rank);
 * IPCFS_EMU_ALLOC_FAIL=1 (cudaMalloc of the communicator's buffer fails);
 * IPCFS_EMU_VISIBLE=1 (with IPCFS_EMU_UUID=pid: the peers' devices are
 * visible, so peer access is checked between devices); IPCFS_EMU_PCIE=1
 * (no native atomics between devices: PCIe, not NVLink);
 * IPCFS_EMU_SMS=N (SMs of the device, default 132) and
 * IPCFS_EMU_DEVICE_FD (a memfd shared by the ranks of one device: its
 * resident blocks).
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

#include "ipcfs/plan.h"
#include "emu_int.h"

#define EMU_PAGE 4096u

/* ---- errors ---------------------------------------------------------------- */

static __thread char last_error[256];

int emu_fail(int rc, const char *fmt, ...)
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

bool emu_env_on(const char *name)
{
	const char *e = getenv(name);
	return e && *e && strcmp(e, "0");
}

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- statistics for the tests ------------------------------------------------ */

pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
struct ipcfs_emu_stats emu_stats;

EMU_API void ipcfs_emu_stats(struct ipcfs_emu_stats *out)
{
	pthread_mutex_lock(&emu_lock);
	*out = emu_stats;
	pthread_mutex_unlock(&emu_lock);
}

/* ---- device memory ----------------------------------------------------------- */

#define EMU_OPENERS 64

/* First page of every allocation. opens is changed by importers (other
 * processes) with atomics: seq_cst, nothing else is ordered by it. */
struct emu_hdr {
	uint64_t magic, seq, bytes;
	int32_t opens;
	/* Who opened it: a slot per importing process (claimed with a CAS of
	 * its pid), that process's open count. A dead importer's mappings
	 * went with it, as the driver releases them. */
	int32_t opener[EMU_OPENERS], opener_count[EMU_OPENERS];
};

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
		return emu_fail(-EINVAL, "cudaMalloc: invalid argument");
	/* The communicator's allocation is the one with a signal block. */
	if (emu_env_on("IPCFS_EMU_ALLOC_FAIL") && bytes > sizeof(struct ipcfs_k_signal))
		return emu_fail(-ENOMEM, "cudaMalloc: out of memory (emulated)");
	m = calloc(1, sizeof(*m));
	fd = memfd_create("ipcfs-emu-dev", MFD_CLOEXEC);
	if (!m || fd < 0 || ftruncate(fd, (off_t)map_bytes) ||
	    (rc = map_fd(fd, map_bytes, &m->hdr))) {
		if (fd >= 0)
			close(fd);
		free(m);
		return emu_fail(-ENOMEM, "cudaMalloc: out of memory (emulated)");
	}
	m->fd = fd;
	m->map_bytes = map_bytes;
	pthread_mutex_lock(&emu_lock);
	m->hdr->magic = EMU_MAGIC;
	m->hdr->seq = next_seq++;
	m->hdr->bytes = bytes;
	m->next = allocs;
	allocs = m;
	pthread_mutex_unlock(&emu_lock);
	*ptr = data_of(m);
	return 0;
}

/* A process gone or a zombie: its mappings are gone. */
static bool pid_dead(int32_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	const char *s = strrchr(buf, ')');
	return s && (s[2] == 'Z' || s[2] == 'X');
}

/* Opens by live processes (seq_cst atomics: importers change them). */
static int live_opens(struct emu_hdr *h)
{
	int n = 0;

	for (int i = 0; i < EMU_OPENERS; i++) {
		int32_t pid = __atomic_load_n(&h->opener[i], __ATOMIC_SEQ_CST);
		if (pid && !pid_dead(pid))
			n += __atomic_load_n(&h->opener_count[i], __ATOMIC_SEQ_CST);
	}
	return n;
}

/* This process's slot in @h (claimed on first use), or -1 when full. */
static int opener_slot(struct emu_hdr *h)
{
	int32_t me = getpid();

	for (int i = 0; i < EMU_OPENERS; i++) {
		int32_t cur = __atomic_load_n(&h->opener[i], __ATOMIC_SEQ_CST);
		if (cur == me)
			return i;
		if (!cur && __atomic_compare_exchange_n(&h->opener[i], &cur, me, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return i;
		if (cur == me)
			return i;
	}
	return -1;
}

EMU_API int ipcfs_k_buf_free(void *ptr)
{
	struct emu_map **pp, *m = NULL;

	pthread_mutex_lock(&emu_lock);
	for (pp = &allocs; *pp; pp = &(*pp)->next)
		if (data_of(*pp) == ptr) {
			m = *pp;
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&emu_lock);
	if (!m)
		return emu_fail(-EINVAL, "cudaFree: not an allocation");
	if (live_opens(m->hdr)) {
		fprintf(stderr, "cuda_emu[%d]: cudaFree of a buffer that %d peer mapping(s) still "
			"have open (undefined behaviour in CUDA)\n", getpid(), live_opens(m->hdr));
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

	pthread_mutex_lock(&emu_lock);
	emu_stats.ipc_exports++;
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
	pthread_mutex_unlock(&emu_lock);
	return m ? 0 : emu_fail(-EINVAL, "cudaIpcGetMemHandle: not device memory");
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
		return emu_fail(-EINVAL, "cudaIpcOpenMemHandle: invalid resource handle");
	if (h.pid == getpid())
		return emu_fail(-EINVAL, "cudaIpcOpenMemHandle: a handle of this process");
	pthread_mutex_lock(&emu_lock);
	emu_stats.ipc_opens++;
	for (m = imports; m; m = m->next)
		if (!memcmp(&m->key, &h, sizeof(h))) {
			m->refs++;
			*base = data_of(m);
			pthread_mutex_unlock(&emu_lock);
			return 0;
		}
	pthread_mutex_unlock(&emu_lock);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", h.pid, h.fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return emu_fail(-EIO, "cudaIpcOpenMemHandle: %s: %s", path, strerror(errno));
	m = calloc(1, sizeof(*m));
	if (!m || fstat(fd, &st) || (rc = map_fd(fd, (size_t)st.st_size, &m->hdr))) {
		close(fd);
		free(m);
		return emu_fail(-EIO, "cudaIpcOpenMemHandle: cannot map %s", path);
	}
	close(fd);
	m->map_bytes = (size_t)st.st_size;
	if (m->hdr->magic != EMU_MAGIC || m->hdr->seq != h.seq) {
		munmap(m->hdr, m->map_bytes);
		free(m);
		return emu_fail(-EIO, "cudaIpcOpenMemHandle: the allocation was freed");
	}
	__atomic_add_fetch(&m->hdr->opens, 1, __ATOMIC_SEQ_CST);
	int slot = opener_slot(m->hdr);
	if (slot >= 0)
		__atomic_add_fetch(&m->hdr->opener_count[slot], 1, __ATOMIC_SEQ_CST);
	m->fd = -1;
	m->key = h;
	m->refs = 1;
	pthread_mutex_lock(&emu_lock);
	m->next = imports;
	imports = m;
	pthread_mutex_unlock(&emu_lock);
	*base = data_of(m);
	return 0;
}

EMU_API int ipcfs_k_ipc_close(void *base)
{
	struct emu_map **pp, *m = NULL;

	pthread_mutex_lock(&emu_lock);
	for (pp = &imports; *pp; pp = &(*pp)->next)
		if (data_of(*pp) == base) {
			m = *pp;
			if (--m->refs == 0)
				*pp = m->next;
			else
				m = (void *)1;
			break;
		}
	pthread_mutex_unlock(&emu_lock);
	if (!m)
		return emu_fail(-EINVAL, "cudaIpcCloseMemHandle: not an opened handle");
	if (m != (void *)1) {
		__atomic_sub_fetch(&m->hdr->opens, 1, __ATOMIC_SEQ_CST);
		int slot = opener_slot(m->hdr);
		if (slot >= 0)
			__atomic_sub_fetch(&m->hdr->opener_count[slot], 1, __ATOMIC_SEQ_CST);
		munmap(m->hdr, m->map_bytes);
		free(m);
	}
	return 0;
}

/* ---- devices ------------------------------------------------------------------ */

EMU_API int ipcfs_k_device_count(void)
{
	if (emu_env_on("IPCFS_EMU_NO_DEVICE"))
		return emu_fail(-ENODEV, "no usable CUDA device: emulated none");
	if (emu_env_on("IPCFS_EMU_OLD_DRIVER"))
		return emu_fail(-ENOTSUP, "CUDA driver too old: the NVIDIA driver supports CUDA "
				"12.4, libipcfs_cuda.so was built for CUDA 13.0: update the driver "
				"(emulated)");
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
		return emu_fail(-EINVAL, "no output");
	*dev = 0;
	my_uuid(uuid);
	return 0;
}

EMU_API int ipcfs_k_device_by_uuid(const unsigned char uuid[IPCFS_K_UUID_BYTES], int *dev)
{
	unsigned char mine[IPCFS_K_UUID_BYTES];

	my_uuid(mine);
	if (!memcmp(mine, uuid, IPCFS_K_UUID_BYTES)) {
		*dev = 0;
		return 0;
	}
	/* IPCFS_EMU_VISIBLE=1: every process's device is visible here (as on
	 * one multi-GPU host), numbered by its pid. */
	if (emu_env_on("IPCFS_EMU_VISIBLE") && !memcmp(uuid, "emu-gpu", 7)) {
		int32_t pid;
		memcpy(&pid, uuid + 8, sizeof(pid));
		*dev = pid;
		return 0;
	}
	return emu_fail(-ENOENT, "no visible device has that UUID");
}

EMU_API int ipcfs_k_can_access_peer(int dev, int peer, int *ok)
{
	*ok = dev == peer || !emu_env_on("IPCFS_EMU_NO_PEER");
	return 0;
}

EMU_API int ipcfs_k_peer_probe(uint64_t *remote, uint64_t value, int *ok)
{
	/* seq_cst: the probe is a one-off handshake, nothing depends on it. */
	__atomic_store_n(remote, value, __ATOMIC_SEQ_CST);
	*ok = __atomic_load_n(remote, __ATOMIC_SEQ_CST) == value && !emu_env_on("IPCFS_EMU_NO_PEER");
	return 0;
}

EMU_API int ipcfs_k_host_alloc_mapped(size_t bytes, void **host, void **dev)
{
	void *p = calloc(1, bytes);
	if (!p)
		return emu_fail(-ENOMEM, "cudaHostAlloc: out of memory");
	*host = *dev = p;
	return 0;
}

EMU_API int ipcfs_k_host_free(void *host)
{
	free(host);
	return 0;
}


/* IPCFS_EMU_PCIE=1: devices linked by PCIe only (no native atomics). */
static int emu_p2p_native_atomics(int dev, int peer, int *ok)
{
	*ok = dev == peer || !emu_env_on("IPCFS_EMU_PCIE");
	return 0;
}

static int emu_versions(int *driver, int *runtime, int *nccl)
{
	*driver = 13000;
	*runtime = 13000;
	*nccl = 22809;
	return 0;
}

EMU_API const struct ipcfs_k_ops ipcfs_k_ops_v1 = {
	.abi = IPCFS_K_ABI,
	.size = sizeof(struct ipcfs_k_ops),
	.last_error = ipcfs_k_last_error,
	.device_count = ipcfs_k_device_count,
	.versions = emu_versions,
	.max_coresident_blocks = emu_max_coresident_blocks,
	.preload = emu_preload,
	.allreduce_oneshot = emu_allreduce_oneshot,
	.allreduce_twoshot = emu_allreduce_twoshot,
	.signal_reset = emu_signal_reset,
	.signal_abort = emu_signal_abort,
	.nccl_unique_id = emu_nccl_unique_id,
	.nccl_init_start = emu_nccl_init_start,
	.nccl_init_poll = emu_nccl_init_poll,
	.nccl_allreduce = emu_nccl_allreduce,
	.nccl_abort = emu_nccl_abort,
	.nccl_destroy = emu_nccl_destroy,
	.current_device = ipcfs_k_current_device,
	.device_by_uuid = ipcfs_k_device_by_uuid,
	.can_access_peer = ipcfs_k_can_access_peer,
	.p2p_native_atomics = emu_p2p_native_atomics,
	.buf_alloc = ipcfs_k_buf_alloc,
	.buf_free = ipcfs_k_buf_free,
	.ipc_export = ipcfs_k_ipc_export,
	.ipc_open = ipcfs_k_ipc_open,
	.ipc_close = ipcfs_k_ipc_close,
	.peer_probe = ipcfs_k_peer_probe,
	.host_alloc_mapped = ipcfs_k_host_alloc_mapped,
	.host_free = ipcfs_k_host_free,
	.stream_sync = emu_stream_sync,
	.device_sync = emu_device_sync,
	.stream_capturing = emu_stream_capturing,
	.memcpy_h2d = emu_memcpy_h2d,
};
