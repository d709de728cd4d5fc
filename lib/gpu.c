/* SPDX-License-Identifier: MIT */
/*
 * gpu.c - the host side of the GPU all-reduce: communicator set-up through
 * the group's gpu/ records, the choice of algorithm per call, counters, the
 * NCCL fallback.
 *
 * libipcfs never links CUDA: every CUDA call is made by libipcfs_cuda.so
 * (kernels/allreduce_kernels.h, kernels/ipc_host.h), which is dlopen()ed
 * on the first GPU call. Without it, a driver or a device every entry point
 * returns -ENODEV and ipcfs_gpu_error() says why.
 *
 * Set-up (ipcfs_gpu_comm_init, collective over the group's ranks):
 *   1. allocate [signal block | probe words | buffer] in one cudaMalloc on
 *      the current device; a host-mapped error record;
 *   2. publish gpu/NAME/RANK (kind BUF: IPC handle, offsets, size, device
 *      UUID, pid, host name, generation); rank 0 publishes the NCCL id as
 *      gpu/NAME.nccl/0 (kind NCCL);
 *   3. gather every rank's BUF record (pid must be the rank's live owner,
 *      generation ours: older records are waited past), check them;
 *   4. on one host: open every peer's handle, check peer access
 *      (cudaDeviceCanAccessPeer between different devices, and a kernel
 *      that writes a peer's probe word and reads it back);
 *   5. NCCL init (collective) unless some rank does not want it or two
 *      ranks share a device (NCCL refuses that);
 *   6. publish gpu/NAME.ok/RANK (kind READY: verdicts and settings) and
 *      gather all: peer access and NCCL are used only when every rank
 *      succeeded, and every rank must have the same settings (-EINVAL).
 * Step 6 is also the barrier after which peers may write our signal block.
 *
 * Destroy: synchronize, close the peers' handles, remove gpu/NAME/RANK,
 * wait until every peer removed its own (so nobody maps our buffer any
 * more), free, remove the other records.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/allreduce_kernels.h"
#include "../kernels/ipc_host.h"
#include "cuda_host_int.h"
#include "gpu_int.h"
#include "member_int.h"
#include "segment_int.h"

#define API __attribute__((visibility("default")))

/* ---- the record --------------------------------------------------------- */

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

enum {
	O_MAGIC = 0, O_VERSION = 4, O_KIND = 6, O_RANK = 8, O_WORLD = 12, O_PID = 16,
	O_FLAGS = 20, O_GEN = 24, O_BUF_BYTES = 32, O_BUF_OFF = 40, O_SIG_OFF = 48,
	O_PROBE_OFF = 56, O_UUID = 64, O_HANDLE = 80, O_HOST = 144, O_NCCL = 208,
	O_ALGO = 336, O_BLOCKS = 340, O_ONESHOT = 344, O_SUM = 352,
};
_Static_assert(O_SUM + 8 == GPU_REC_BYTES, "record layout");
_Static_assert(O_HOST - O_HANDLE == GPU_HANDLE_BYTES && O_NCCL - O_HOST == GPU_HOST_MAX &&
	       O_ALGO - O_NCCL == GPU_NCCL_ID_BYTES, "record fields");
_Static_assert(GPU_HANDLE_BYTES == IPCFS_K_IPC_HANDLE_BYTES &&
	       GPU_UUID_BYTES == IPCFS_K_UUID_BYTES &&
	       GPU_NCCL_ID_BYTES == IPCFS_K_NCCL_ID_BYTES, "sizes shared with libipcfs_cuda");

int gpu_record_encode(const struct gpu_record *r, char *hex, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[GPU_REC_BYTES];

	if (size < GPU_REC_HEX + 1)
		return -ENOSPC;
	if (!memchr(r->host, '\0', sizeof(r->host)))
		return -EINVAL;
	memset(b, 0, sizeof(b));
	put32(b + O_MAGIC, GPU_REC_MAGIC);
	put16(b + O_VERSION, GPU_REC_VERSION);
	put16(b + O_KIND, (uint16_t)r->kind);
	put32(b + O_RANK, r->rank);
	put32(b + O_WORLD, r->world);
	put32(b + O_PID, r->pid);
	put32(b + O_FLAGS, r->flags);
	put64(b + O_GEN, r->gen);
	put64(b + O_BUF_BYTES, r->buf_bytes);
	put64(b + O_BUF_OFF, r->buf_off);
	put64(b + O_SIG_OFF, r->sig_off);
	put64(b + O_PROBE_OFF, r->probe_off);
	memcpy(b + O_UUID, r->uuid, GPU_UUID_BYTES);
	memcpy(b + O_HANDLE, r->handle, GPU_HANDLE_BYTES);
	memcpy(b + O_HOST, r->host, strlen(r->host));
	memcpy(b + O_NCCL, r->nccl_id, GPU_NCCL_ID_BYTES);
	put32(b + O_ALGO, r->algo);
	put32(b + O_BLOCKS, r->blocks);
	put64(b + O_ONESHOT, r->oneshot_max);
	put64(b + O_SUM, fnv1a(b, O_SUM));
	for (size_t i = 0; i < GPU_REC_BYTES; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[GPU_REC_HEX] = '\0';
	return GPU_REC_HEX;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gpu_record_decode(const char *text, size_t len, struct gpu_record *r)
{
	unsigned char b[GPU_REC_BYTES];
	size_t nul;

	if (!text)
		return -EBADMSG;
	if (len && text[len - 1] == '\n')
		len--;
	if (len != GPU_REC_HEX)
		return -EBADMSG;
	for (size_t i = 0; i < GPU_REC_BYTES; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	if (get32(b + O_MAGIC) != GPU_REC_MAGIC || get16(b + O_VERSION) != GPU_REC_VERSION ||
	    get64(b + O_SUM) != fnv1a(b, O_SUM))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->kind = get16(b + O_KIND);
	r->rank = get32(b + O_RANK);
	r->world = get32(b + O_WORLD);
	r->pid = get32(b + O_PID);
	r->flags = get32(b + O_FLAGS);
	r->gen = get64(b + O_GEN);
	r->buf_bytes = get64(b + O_BUF_BYTES);
	r->buf_off = get64(b + O_BUF_OFF);
	r->sig_off = get64(b + O_SIG_OFF);
	r->probe_off = get64(b + O_PROBE_OFF);
	memcpy(r->uuid, b + O_UUID, GPU_UUID_BYTES);
	memcpy(r->handle, b + O_HANDLE, GPU_HANDLE_BYTES);
	memcpy(r->host, b + O_HOST, GPU_HOST_MAX);
	memcpy(r->nccl_id, b + O_NCCL, GPU_NCCL_ID_BYTES);
	r->algo = get32(b + O_ALGO);
	r->blocks = get32(b + O_BLOCKS);
	r->oneshot_max = get64(b + O_ONESHOT);

	if (r->kind < GPU_REC_BUF || r->kind > GPU_REC_GRAPH)
		return -EBADMSG;
	if (r->world < 1 || r->world > IPCFS_MAX_RANKS || r->rank >= r->world || !r->pid)
		return -EBADMSG;
	nul = strnlen(r->host, GPU_HOST_MAX);
	if (nul == GPU_HOST_MAX)
		return -EBADMSG;
	for (size_t i = nul; i < GPU_HOST_MAX; i++)  /* canonical: zero padded */
		if (r->host[i])
			return -EBADMSG;
	if (r->buf_bytes % ALLREDUCE_VEC_BYTES || r->buf_off % ALLREDUCE_VEC_BYTES)
		return -EBADMSG;
	if (r->kind == GPU_REC_BUF && (r->flags & GPU_F_IPC)) {
		if (r->sig_off % 256 || r->probe_off % 256 || !r->buf_bytes ||
		    r->sig_off + sizeof(struct ipcfs_k_signal) > r->probe_off ||
		    r->probe_off + 8 * IPCFS_K_MAX_RANKS > r->buf_off)
			return -EBADMSG;
	}
	if (r->algo >= ALLREDUCE_NALGOS || r->blocks > IPCFS_K_MAX_BLOCKS)
		return -EBADMSG;
	return 0;
}

int gpu_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n < 1 || n > GPU_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return -EINVAL;
	return 0;
}

/* ---- rendezvous through gpu/NAME/RANK ------------------------------------ */

static int path_of(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int path_of(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int gpu_rdv_init(struct gpu_rdv *v, const char *dir)
{
	char ctl[PATH_MAX];
	int rc;

	if (!dir || strlen(dir) >= sizeof(v->dir))
		return -ENAMETOOLONG;
	strcpy(v->dir, dir);
	rc = path_of(ctl, sizeof(ctl), "%s/ctl", dir);
	if (rc)
		return rc;
	v->mounted = access(ctl, F_OK) == 0;
	return 0;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int ctl_write(const struct gpu_rdv *v, const char *cmd)
{
	char ctl[PATH_MAX];
	size_t len = strlen(cmd);
	int fd, rc = path_of(ctl, sizeof(ctl), "%s/ctl", v->dir);
	ssize_t n;

	if (rc)
		return rc;
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, cmd, len);  /* one command, one write(2) */
	rc = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	close(fd);
	return rc;
}

int gpu_rdv_publish(const struct gpu_rdv *v, const char *name, int rank,
		    const struct gpu_record *rec)
{
	char hex[GPU_REC_HEX + 2];
	char path[PATH_MAX], tmp[PATH_MAX];
	int rc = gpu_record_encode(rec, hex, sizeof(hex)), fd;

	if (rc < 0)
		return rc;
	if (v->mounted) {
		char cmd[GPU_REC_HEX + 128];
		rc = path_of(cmd, sizeof(cmd), "register %s %d %s\n", name, rank, hex);
		return rc ? rc : ctl_write(v, cmd);
	}
	strcat(hex, "\n");
	if ((rc = path_of(path, sizeof(path), "%s/gpu", v->dir)))
		return rc;
	if (mkdir(path, 0770) && errno != EEXIST)
		return -errno;
	if ((rc = path_of(path, sizeof(path), "%s/gpu/%s", v->dir, name)))
		return rc;
	if (mkdir(path, 0770) && errno != EEXIST)
		return -errno;
	if ((rc = path_of(tmp, sizeof(tmp), "%s/gpu/%s/.%d.%d.tmp", v->dir, name, rank,
			  (int)getpid())) ||
	    (rc = path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank)))
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -errno;
	rc = write_all_fd(fd, hex, strlen(hex));
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int gpu_rdv_unpublish(const struct gpu_rdv *v, const char *name, int rank)
{
	char path[PATH_MAX];
	int rc;

	if (v->mounted) {
		char cmd[128];
		rc = path_of(cmd, sizeof(cmd), "unregister %s %d\n", name, rank);
		return rc ? rc : ctl_write(v, cmd);
	}
	if ((rc = path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank)))
		return rc;
	rc = unlink(path) ? -errno : 0;
	/* The last one out removes the directories (ENOTEMPTY otherwise). */
	if (!path_of(path, sizeof(path), "%s/gpu/%s", v->dir, name))
		rmdir(path);
	if (!path_of(path, sizeof(path), "%s/gpu", v->dir))
		rmdir(path);
	return rc;
}

int gpu_rdv_read(const struct gpu_rdv *v, const char *name, int rank, struct gpu_record *rec)
{
	char path[PATH_MAX], buf[GPU_REC_HEX + 64];
	size_t len = 0;
	int fd, rc = path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank);

	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf)) {
			rc = -EBADMSG;  /* far longer than a record */
			break;
		}
	}
	close(fd);
	if (rc)
		return rc;
	return gpu_record_decode(buf, len, rec);
}

int gpu_accept_live(const struct gpu_record *rec, int rank, void *arg)
{
	struct ipcfs_rank_stat st;
	int rc = ipcfs_stat_rank((const struct ipcfs_member *)arg, rank, &st);

	if (rc)
		return rc;
	if (st.state != IPCFS_STATE_LIVE || st.pid <= 0 || (uint32_t)st.pid != rec->pid)
		return 0;
	/* Left live by a process that ended without leaving (no daemon to
	 * notice): stale too. */
	return kill(st.pid, 0) == 0 || errno == EPERM;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(unsigned *us)
{
	struct timespec ts = { 0, (long)*us * 1000 };
	nanosleep(&ts, NULL);
	if (*us < 10000)
		*us *= 2;
}

/* 1: a current record of @rank is there (in *rec), 0: none (or stale),
 * < 0: an error. */
static int current(const struct gpu_rdv *v, const char *name, int world, int rank,
		   uint32_t kind, uint64_t gen, gpu_accept_fn accept, void *arg,
		   struct gpu_record *rec)
{
	int rc = gpu_rdv_read(v, name, rank, rec);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (rec->kind != kind || rec->gen != gen)
		return 0;
	rc = accept ? accept(rec, rank, arg) : 1;
	/* Only a record of the process that holds @rank now can be wrong; one
	 * left by an earlier group of another size is just stale. */
	if (rc > 0 && (rec->rank != (uint32_t)rank || rec->world != (uint32_t)world))
		return -EBADMSG;
	return rc;
}

int gpu_rdv_gather(const struct gpu_rdv *v, const char *name, int world, uint64_t mask,
		   uint32_t kind, uint64_t gen, int timeout_ms, gpu_accept_fn accept,
		   void *arg, struct gpu_record *out)
{
	uint64_t have = 0, start = now_ms();
	unsigned us = 200;

	if (world < 1 || world > IPCFS_MAX_RANKS)
		return -EINVAL;
	if (world < 64)
		mask &= (1ull << world) - 1;
	for (;;) {
		for (int r = 0; r < world; r++) {
			if (!(mask & (1ull << r)) || (have & (1ull << r)))
				continue;
			int rc = current(v, name, world, r, kind, gen, accept, arg, &out[r]);
			if (rc < 0)
				return rc;
			if (rc)
				have |= 1ull << r;
		}
		if (have == mask)
			return 0;
		if (timeout_ms >= 0 && now_ms() - start >= (uint64_t)timeout_ms)
			return -ETIMEDOUT;
		nap(&us);
	}
}

int gpu_rdv_wait_gone(const struct gpu_rdv *v, const char *name, int world, uint64_t mask,
		      uint32_t kind, uint64_t gen, int timeout_ms, gpu_accept_fn accept,
		      void *arg)
{
	uint64_t start = now_ms();
	unsigned us = 200;
	struct gpu_record rec;

	if (world < 64)
		mask &= (1ull << world) - 1;
	for (;;) {
		for (int r = 0; r < world; r++) {
			if (!(mask & (1ull << r)))
				continue;
			/* A malformed or foreign record counts as gone. */
			if (current(v, name, world, r, kind, gen, accept, arg, &rec) <= 0)
				mask &= ~(1ull << r);
		}
		if (!mask)
			return 0;
		if (timeout_ms >= 0 && now_ms() - start >= (uint64_t)timeout_ms)
			return -ETIMEDOUT;
		nap(&us);
	}
}

/* ---- settings ---------------------------------------------------------- */

int gpu_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = 1024 * 1024; end++; break;
	case 'g': case 'G': mul = 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == '\n')
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int bad_setting(const char *what, const char *value)
{
	cuda_host_set_error("invalid %s: \"%s\"", what, value);
	return -EINVAL;
}

int gpu_settings_load(const char *dir, bool mounted, struct gpu_settings *s)
{
	char path[PATH_MAX], buf[64];
	const char *e;
	uint64_t v;
	int fd;

	memset(s, 0, sizeof(*s));
	s->algo = ALLREDUCE_ALGO_AUTO;
	s->nccl = true;
	allreduce_plan_tuning_default(&s->tuning);
	if (dir && !path_of(path, sizeof(path), "%s/algo", dir) &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (allreduce_plan_algo_parse(buf, &s->algo))
			return bad_setting("algo attribute", buf);
	}
	if (!mounted && (e = getenv("IPCFS_ALGO")) && *e && allreduce_plan_algo_parse(e, &s->algo))
		return bad_setting("IPCFS_ALGO", e);
	if ((e = getenv("IPCFS_ONESHOT_MAX")) && *e) {
		if (gpu_parse_size(e, &v) || v > SIZE_MAX)
			return bad_setting("IPCFS_ONESHOT_MAX", e);
		allreduce_plan_tuning_set(&s->tuning, 0, (size_t)v);
	}
	if ((e = getenv("IPCFS_GPU_BLOCKS")) && *e) {
		if (gpu_parse_size(e, &v) || v < 1 || v > IPCFS_K_MAX_BLOCKS)
			return bad_setting("IPCFS_GPU_BLOCKS (1..64)", e);
		s->blocks = (unsigned)v;
	}
	if ((e = getenv("IPCFS_GPU_TIMEOUT_MS")) && *e) {
		if (gpu_parse_size(e, &v) || v < 1 || v > UINT64_MAX / 1000000)
			return bad_setting("IPCFS_GPU_TIMEOUT_MS", e);
		s->timeout_ns = v * 1000000;
	}
	if ((e = getenv("IPCFS_NCCL")) && !strcmp(e, "0"))
		s->nccl = false;
	return 0;
}

/* ---- libipcfs_cuda.so -------------------------------------------------- */

static struct kapi {
	void *lib;
	int (*device_count)(void);
	const char *(*last_error)(void);
	int (*oneshot)(const struct ipcfs_k_allreduce_args *, void *);
	int (*twoshot)(const struct ipcfs_k_allreduce_args *, void *);
	int (*signal_reset)(struct ipcfs_k_signal *, void *);
	int (*nccl_unique_id)(unsigned char *);
	int (*nccl_init)(void **, int, int, const unsigned char *);
	int (*nccl_allreduce)(void *, const void *, void *, size_t, int, void *);
	int (*nccl_destroy)(void *);
	int (*current_device)(int *, unsigned char *);
	int (*device_by_uuid)(const unsigned char *, int *);
	int (*can_access_peer)(int, int, int *);
	int (*buf_alloc)(size_t, void **);
	int (*buf_free)(void *);
	int (*ipc_export)(void *, unsigned char *, uint64_t *);
	int (*ipc_open)(const unsigned char *, void **);
	int (*ipc_close)(void *);
	int (*peer_probe)(uint64_t *, uint64_t, int *);
	int (*host_alloc_mapped)(size_t, void **, void **);
	int (*host_free)(void *);
	int (*stream_sync)(void *);
	int (*device_sync)(void);
	int (*stream_capturing)(void *, int *);
	int (*memcpy_h2d)(void *, const void *, size_t);
} k;
static pthread_mutex_t k_lock = PTHREAD_MUTEX_INITIALIZER;

static int k_try(const char *path, char *why, size_t whylen)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	struct kapi t;

	if (!lib) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot load %s: %s", path, e ? e : "unknown error");
		return -ENODEV;
	}
	memset(&t, 0, sizeof(t));
	t.lib = lib;
#define SYM(field, name)                                                              \
	do {                                                                          \
		*(void **)&t.field = dlsym(lib, name);                                \
		if (!t.field) {                                                       \
			snprintf(why, whylen, "%s lacks %s (an older build?)", path, name); \
			dlclose(lib);                                                 \
			return -ENODEV;                                               \
		}                                                                     \
	} while (0)
	SYM(device_count, "ipcfs_k_device_count");
	SYM(last_error, "ipcfs_k_last_error");
	SYM(oneshot, "ipcfs_k_allreduce_oneshot");
	SYM(twoshot, "ipcfs_k_allreduce_twoshot");
	SYM(signal_reset, "ipcfs_k_signal_reset");
	SYM(nccl_unique_id, "ipcfs_k_nccl_unique_id");
	SYM(nccl_init, "ipcfs_k_nccl_init");
	SYM(nccl_allreduce, "ipcfs_k_nccl_allreduce");
	SYM(nccl_destroy, "ipcfs_k_nccl_destroy");
	SYM(current_device, "ipcfs_k_current_device");
	SYM(device_by_uuid, "ipcfs_k_device_by_uuid");
	SYM(can_access_peer, "ipcfs_k_can_access_peer");
	SYM(buf_alloc, "ipcfs_k_buf_alloc");
	SYM(buf_free, "ipcfs_k_buf_free");
	SYM(ipc_export, "ipcfs_k_ipc_export");
	SYM(ipc_open, "ipcfs_k_ipc_open");
	SYM(ipc_close, "ipcfs_k_ipc_close");
	SYM(peer_probe, "ipcfs_k_peer_probe");
	SYM(host_alloc_mapped, "ipcfs_k_host_alloc_mapped");
	SYM(host_free, "ipcfs_k_host_free");
	SYM(stream_sync, "ipcfs_k_stream_sync");
	SYM(device_sync, "ipcfs_k_device_sync");
	SYM(stream_capturing, "ipcfs_k_stream_capturing");
	SYM(memcpy_h2d, "ipcfs_k_memcpy_h2d");
#undef SYM
	k = t;
	return 0;
}

/*
 * Load libipcfs_cuda.so: $IPCFS_CUDA_LIB (only that, when set), else next to
 * the object holding libipcfs (libipcfs.so, or the program when linked
 * statically), else the dynamic linker's search path. A failure is not
 * remembered: a later call tries again. Then check for a device.
 */
static int k_load(void)
{
	char why[512] = "", path[PATH_MAX];
	const char *env = getenv("IPCFS_CUDA_LIB");
	Dl_info info;
	int rc = 0, n;

	pthread_mutex_lock(&k_lock);
	if (!k.lib) {
		if (env && *env) {
			rc = k_try(env, why, sizeof(why));
		} else {
			rc = -ENODEV;
			if (dladdr((void *)ipcfs_gpu_comm_init, &info) && info.dli_fname &&
			    strchr(info.dli_fname, '/')) {
				const char *slash = strrchr(info.dli_fname, '/');
				if (!path_of(path, sizeof(path), "%.*s/libipcfs_cuda.so",
					     (int)(slash - info.dli_fname), info.dli_fname) &&
				    access(path, F_OK) == 0)
					rc = k_try(path, why, sizeof(why));
			}
			if (rc)
				rc = k_try("libipcfs_cuda.so", why, sizeof(why));
		}
	}
	pthread_mutex_unlock(&k_lock);
	if (rc) {
		cuda_host_set_error("no CUDA support: %s", why);
		return rc;
	}
	n = k.device_count();
	if (n < 0) {
		cuda_host_set_error("%s", k.last_error());
		return -ENODEV;
	}
	return 0;
}

/* A failed call of libipcfs_cuda.so: keep its reason. */
static int kfail(int rc, const char *what)
{
	cuda_host_set_error("%s: %s", what, k.last_error());
	return rc;
}

/* ---- the communicator -------------------------------------------------- */

#define GPU_MAX_USER 16
/* Calls that can be captured into CUDA graphs with their own buffers: one
 * table of IPCFS_K_MAX_RANKS pointers each in device memory (2 MiB), made
 * at init because cudaMalloc is not allowed while a stream is captured.
 * Fixed, so that every rank runs out at the same call (later captured
 * calls copy into the communicator's buffer instead). */
#define GPU_GRAPH_CALLS 32768

/* A peer's allocation opened for graph buffers (each once: opening a
 * handle again would only add a reference). */
struct gpu_import {
	int rank;
	unsigned char handle[GPU_HANDLE_BYTES];
	void *base;
};

struct gpu_user {
	void *local;                             /* this rank's pointer */
	size_t bytes;
	void *bufs[IPCFS_K_MAX_RANKS];           /* every rank's, as seen here */
	void *opened[IPCFS_K_MAX_RANKS];         /* bases to close */
};

struct ipcfs_gpu_comm {
	struct ipcfs_member *m;
	struct gpu_rdv rdv;
	char name[GPU_NAME_MAX + 1];
	int world, rank, dev, timeout_ms;
	uint64_t gen;
	size_t buf_bytes;
	struct gpu_settings set;

	bool published;            /* gpu/NAME/RANK written: peers may open our buffer */
	bool nccl_published;       /* rank 0: gpu/NAME.nccl/0 written */
	bool ipc;                  /* IPC buffers exchanged and opened */
	bool peer_access;          /* every rank's probes passed */
	int nodes;
	void *alloc;               /* [signal | probe | buffer] of this rank */
	uint64_t buf_off, sig_off, probe_off;
	void *bufs[IPCFS_K_MAX_RANKS];
	struct ipcfs_k_signal *sigs[IPCFS_K_MAX_RANKS];
	void *opened[IPCFS_K_MAX_RANKS];
	struct ipcfs_k_error *err_host, *err_dev;

	void *nccl;
	char nccl_why[200];

	int broken;                /* a kernel-detected error, sticky */
	int nuser;
	int user_names;            /* gpu/NAME.uK written for K < user_names */
	uint64_t user_attempts;    /* calls of ipcfs_gpu_register */
	struct gpu_user user[GPU_MAX_USER];

	/* Calls captured in CUDA graphs (see ipcfs_gpu_register_graph). */
	void **graph_tables;       /* device: GPU_GRAPH_CALLS x MAX_RANKS pointers */
	const void **graph_in;     /* host: this rank's input of each table */
	size_t graph_used;         /* tables handed to captured calls */
	size_t graph_done;         /* tables filled in */
	uint64_t graph_batch;      /* registrations so far */
	struct gpu_import *imports;
	size_t nimports, imports_cap;
};

/* Generation of a name in this process: every rank inits the same names in
 * the same order, so generations match, and records of an earlier
 * communicator of that name are told apart. */
static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gen_ent {
	struct gen_ent *next;
	uint64_t gen;
	char key[];   /* "DIR/NAME" */
} *gens;

static uint64_t next_gen(const char *dir, const char *name)
{
	struct gen_ent *e;
	uint64_t g = 0;
	size_t len = strlen(dir) + strlen(name) + 2;

	pthread_mutex_lock(&gen_lock);
	for (e = gens; e; e = e->next)
		if (strlen(e->key) + 1 == len && !strncmp(e->key, dir, strlen(dir)) &&
		    e->key[strlen(dir)] == '/' && !strcmp(e->key + strlen(dir) + 1, name))
			break;
	if (!e && (e = calloc(1, sizeof(*e) + len))) {
		snprintf(e->key, len, "%s/%s", dir, name);
		e->next = gens;
		gens = e;
	}
	if (e)
		g = ++e->gen;
	pthread_mutex_unlock(&gen_lock);
	return g ? g : 1;
}

static int sub_name(char *out, size_t size, const char *name, const char *suffix)
{
	return path_of(out, size, "%s%s", name, suffix);
}

static void fill_rec(const struct ipcfs_gpu_comm *c, struct gpu_record *r, uint32_t kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->rank = (uint32_t)c->rank;
	r->world = (uint32_t)c->world;
	r->pid = (uint32_t)getpid();
	r->gen = c->gen;
}

static void set_uuid_host(struct gpu_record *r, const unsigned char *uuid)
{
	memcpy(r->uuid, uuid, GPU_UUID_BYTES);
	if (gethostname(r->host, sizeof(r->host) - 1))
		strcpy(r->host, "unknown");
	r->host[sizeof(r->host) - 1] = '\0';
	memset(r->host + strlen(r->host), 0, sizeof(r->host) - strlen(r->host));
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static void close_peers(struct ipcfs_gpu_comm *c)
{
	for (size_t i = 0; i < c->nimports; i++)
		k.ipc_close(c->imports[i].base);
	c->nimports = 0;
	for (int r = 0; r < IPCFS_K_MAX_RANKS; r++) {
		if (c->opened[r])
			k.ipc_close(c->opened[r]);
		c->opened[r] = NULL;
		for (int u = 0; u < c->nuser; u++) {
			if (c->user[u].opened[r])
				k.ipc_close(c->user[u].opened[r]);
			c->user[u].opened[r] = NULL;
		}
	}
}

/* Free what init allocated and remove the records it published. */
static void teardown(struct ipcfs_gpu_comm *c, bool barrier)
{
	char sub[GPU_NAME_MAX + 16];

	if (k.device_sync)
		k.device_sync();
	close_peers(c);
	if (c->nccl)
		k.nccl_destroy(c->nccl);
	c->nccl = NULL;
	gpu_rdv_unpublish(&c->rdv, c->name, c->rank);
	if (c->nccl_published) {
		sub_name(sub, sizeof(sub), c->name, ".nccl");
		gpu_rdv_unpublish(&c->rdv, sub, 0);
	}
	/* Nobody may still map our buffer when it is freed. */
	if (barrier && c->alloc)
		gpu_rdv_wait_gone(&c->rdv, c->name, c->world, ~(1ull << c->rank), GPU_REC_BUF,
				  c->gen, c->timeout_ms, gpu_accept_live, c->m);
	if (c->alloc)
		k.buf_free(c->alloc);
	if (c->graph_tables)
		k.buf_free(c->graph_tables);
	free(c->graph_in);
	free(c->imports);
	if (c->err_host)
		k.host_free(c->err_host);
	/* Only now, when every peer has reached its destroy (and so has
	 * finished reading them), the records of the later rounds go. */
	for (int u = 0; u < c->user_names; u++) {
		snprintf(sub, sizeof(sub), "%s.u%d", c->name, u);
		gpu_rdv_unpublish(&c->rdv, sub, c->rank);
	}
	for (uint64_t b = 1; b <= c->graph_batch && b <= 2; b++) {
		snprintf(sub, sizeof(sub), "%s.g%d", c->name, (int)(b & 1));
		gpu_rdv_unpublish(&c->rdv, sub, c->rank);
	}
	sub_name(sub, sizeof(sub), c->name, ".ok");
	gpu_rdv_unpublish(&c->rdv, sub, c->rank);
}

/* Steps 4: open the peers' buffers and probe them. Returns 0 and sets
 * *ok; failures to open or probe are a verdict (*ok = 0), not an error. */
static int open_peers(struct ipcfs_gpu_comm *c, const struct gpu_record *recs, int *ok,
		      char *why, size_t whylen)
{
	*ok = 1;
	for (int p = 0; p < c->world; p++) {
		int pdev, can = 0, rc;
		void *base;

		if (p == c->rank)
			continue;
		if (recs[p].pid == (uint32_t)getpid()) {
			snprintf(why, whylen, "rank %d is in this process (CUDA IPC needs another)", p);
			*ok = 0;
			return 0;
		}
		rc = k.device_by_uuid(recs[p].uuid, &pdev);
		if (rc == 0 && pdev != c->dev) {
			rc = k.can_access_peer(c->dev, pdev, &can);
			if (rc == 0 && !can) {
				snprintf(why, whylen, "device %d cannot access device %d of rank %d",
					 c->dev, pdev, p);
				*ok = 0;
				return 0;
			}
		}
		/* A device not visible here may still be reachable: the probe decides. */
		rc = k.ipc_open(recs[p].handle, &base);
		if (rc) {
			snprintf(why, whylen, "opening rank %d's buffer: %s", p, k.last_error());
			*ok = 0;
			return 0;
		}
		c->opened[p] = base;
		c->bufs[p] = (char *)base + recs[p].buf_off;
		c->sigs[p] = (struct ipcfs_k_signal *)((char *)base + recs[p].sig_off);
		uint64_t *probe = (uint64_t *)((char *)base + recs[p].probe_off) + c->rank;
		rc = k.peer_probe(probe, c->gen << 8 | (uint64_t)c->rank | 0x1000000000000ull, &can);
		if (rc || !can) {
			snprintf(why, whylen, "write and read back through rank %d's buffer: %s", p,
				 rc ? k.last_error() : "wrong value read back");
			*ok = 0;
			return 0;
		}
	}
	c->bufs[c->rank] = (char *)c->alloc + c->buf_off;
	c->sigs[c->rank] = (struct ipcfs_k_signal *)((char *)c->alloc + c->sig_off);
	return 0;
}

static int init_fail(struct ipcfs_gpu_comm *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int init_fail(struct ipcfs_gpu_comm *c, int rc, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Once published, a peer may have opened our buffer: wait until every
	 * peer has given up too (and closed it) before freeing it. */
	teardown(c, c->published);
	free(c);
	cuda_host_set_error("%s", why);
	return rc;
}

API int ipcfs_gpu_comm_init(struct ipcfs_member *m, const char *name, size_t buf_bytes,
			    int timeout_ms, struct ipcfs_gpu_comm **out)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	unsigned char uuid[GPU_UUID_BYTES];
	char sub[GPU_NAME_MAX + 16], why[256] = "";
	struct ipcfs_gpu_comm *c;
	const char *dir;
	uint64_t all;
	int rc, world, rank, peer_ok = 0, nccl_ok = 0;
	bool same_dev = false;

	cuda_host_set_error("%s", "");
	if (!m || !out || gpu_name_check(name) || buf_bytes % ALLREDUCE_VEC_BYTES ||
	    timeout_ms < -1) {
		cuda_host_set_error("ipcfs_gpu_comm_init: invalid argument (name: [A-Za-z0-9_.-], "
				    "1..%d; buf_bytes a multiple of 16)", GPU_NAME_MAX);
		return -EINVAL;
	}
	*out = NULL;
	world = ipcfs_size(m);
	rank = ipcfs_rank(m);
	dir = member_dir(m);
	rc = k_load();
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->m = m;
	strcpy(c->name, name);
	c->world = world;
	c->rank = rank;
	c->buf_bytes = buf_bytes;
	c->timeout_ms = timeout_ms;
	c->nodes = 1;
	rc = gpu_rdv_init(&c->rdv, dir);
	if (!rc)
		rc = gpu_settings_load(dir, c->rdv.mounted, &c->set);
	if (rc) {
		free(c);
		return rc;  /* the reason is set */
	}
	c->gen = next_gen(dir, name);
	all = world < 64 ? (1ull << world) - 1 : ~0ull;

	rc = k.current_device(&c->dev, uuid);
	if (rc) {
		free(c);
		return kfail(rc, "the current CUDA device");
	}
	rc = k.host_alloc_mapped(sizeof(struct ipcfs_k_error), (void **)&c->err_host,
				 (void **)&c->err_dev);
	if (rc)
		return init_fail(c, rc, "error record: %s", k.last_error());

	/* 1-2: this rank's buffer and record. */
	fill_rec(c, &mine, GPU_REC_BUF);
	set_uuid_host(&mine, uuid);
	mine.buf_bytes = buf_bytes;
	mine.flags = c->set.nccl ? GPU_F_NCCL_WANT : 0;
	if (world >= ALLREDUCE_MIN_RANKS && world <= ALLREDUCE_MAX_RANKS && buf_bytes) {
		c->sig_off = 0;
		c->probe_off = round_up(sizeof(struct ipcfs_k_signal), 256);
		c->buf_off = round_up(c->probe_off + 8 * IPCFS_K_MAX_RANKS, 256);
		rc = k.buf_alloc(c->buf_off + buf_bytes, &c->alloc);
		if (rc)
			return init_fail(c, rc, "allocating %zu bytes on device %d: %s",
					 (size_t)(c->buf_off + buf_bytes), c->dev, k.last_error());
		uint64_t off = 0;
		rc = k.ipc_export(c->alloc, mine.handle, &off);
		if (rc)
			return init_fail(c, rc, "exporting the buffer: %s", k.last_error());
		mine.flags |= GPU_F_IPC;
		mine.buf_off = c->buf_off + off;
		mine.sig_off = c->sig_off + off;
		mine.probe_off = c->probe_off + off;
	}
	rc = gpu_rdv_publish(&c->rdv, name, rank, &mine);
	if (rc)
		return init_fail(c, rc, "publishing gpu/%s/%d: %s", name, rank, strerror(-rc));
	c->published = true;

	/* 3: every rank's record. */
	rc = gpu_rdv_gather(&c->rdv, name, world, all, GPU_REC_BUF, c->gen, timeout_ms,
			    gpu_accept_live, m, recs);
	if (rc == -ETIMEDOUT)
		return init_fail(c, rc, "waited %d ms for the records gpu/%s/* of every rank",
				 timeout_ms, name);
	if (rc)
		return init_fail(c, rc, "reading gpu/%s/*: %s", name, strerror(-rc));
	bool want_nccl = true, ipc_all = true;
	for (int p = 0; p < world; p++) {
		if (recs[p].buf_bytes != buf_bytes)
			return init_fail(c, -EINVAL, "rank %d has buf_bytes %llu, this rank %zu", p,
					 (unsigned long long)recs[p].buf_bytes, buf_bytes);
		if (strcmp(recs[p].host, mine.host))
			c->nodes = 2;
		if (!(recs[p].flags & GPU_F_NCCL_WANT))
			want_nccl = false;
		if (!(recs[p].flags & GPU_F_IPC))
			ipc_all = false;
		for (int q = 0; q < p; q++)
			if (!memcmp(recs[p].uuid, recs[q].uuid, GPU_UUID_BYTES) &&
			    !strcmp(recs[p].host, recs[q].host))
				same_dev = true;
	}

	/* 4: peers' buffers, on one host only. */
	if (c->alloc && ipc_all && c->nodes == 1) {
		rc = open_peers(c, recs, &peer_ok, why, sizeof(why));
		if (rc)
			return init_fail(c, rc, "%s", why);
		c->ipc = peer_ok;
	} else if (!c->alloc || !ipc_all) {
		snprintf(why, sizeof(why), world < ALLREDUCE_MIN_RANKS || world > ALLREDUCE_MAX_RANKS ?
			 "the custom kernels need 2..8 ranks" : "no registered buffer");
	} else {
		snprintf(why, sizeof(why), "the ranks span more than one host");
	}

	/* 5: NCCL, decided alike on every rank from the records. */
	sub_name(sub, sizeof(sub), name, ".nccl");
	if (!want_nccl) {
		snprintf(c->nccl_why, sizeof(c->nccl_why), "NCCL disabled (IPCFS_NCCL=0 on some rank)");
	} else if (same_dev) {
		snprintf(c->nccl_why, sizeof(c->nccl_why),
			 "NCCL not initialized: several ranks share one GPU, which NCCL refuses");
	} else {
		struct gpu_record id;
		if (rank == 0) {
			fill_rec(c, &id, GPU_REC_NCCL);
			if (k.nccl_unique_id(id.nccl_id) == 0)
				id.flags = GPU_F_ID_VALID;
			else
				snprintf(c->nccl_why, sizeof(c->nccl_why), "ncclGetUniqueId: %s",
					 k.last_error());
			rc = gpu_rdv_publish(&c->rdv, sub, 0, &id);
			if (rc)
				return init_fail(c, rc, "publishing gpu/%s/0: %s", sub, strerror(-rc));
			c->nccl_published = true;
		}
		rc = gpu_rdv_gather(&c->rdv, sub, world, 1, GPU_REC_NCCL, c->gen, timeout_ms,
				    gpu_accept_live, m, recs);
		if (rc)
			return init_fail(c, rc, "waiting for the NCCL id gpu/%s/0: %s", sub,
					 strerror(-rc));
		if (!(recs[0].flags & GPU_F_ID_VALID)) {
			if (!c->nccl_why[0])
				snprintf(c->nccl_why, sizeof(c->nccl_why),
					 "rank 0 could not create an NCCL id");
		} else if (k.nccl_init(&c->nccl, world, rank, recs[0].nccl_id)) {
			snprintf(c->nccl_why, sizeof(c->nccl_why), "%s", k.last_error());
			c->nccl = NULL;
		} else {
			nccl_ok = 1;
		}
	}

	/* 6: verdicts and settings of every rank. */
	fill_rec(c, &mine, GPU_REC_READY);
	mine.flags = (peer_ok ? GPU_F_PEER_OK : 0) | (nccl_ok ? GPU_F_NCCL_OK : 0);
	mine.algo = (uint32_t)c->set.algo;
	mine.blocks = c->set.blocks;
	mine.oneshot_max = c->set.tuning.oneshot_max[world <= ALLREDUCE_MAX_RANKS ? world : 0];
	sub_name(sub, sizeof(sub), name, ".ok");
	rc = gpu_rdv_publish(&c->rdv, sub, rank, &mine);
	if (rc)
		return init_fail(c, rc, "publishing gpu/%s/%d: %s", sub, rank, strerror(-rc));
	rc = gpu_rdv_gather(&c->rdv, sub, world, all, GPU_REC_READY, c->gen, timeout_ms,
			    gpu_accept_live, m, recs);
	if (rc)
		return init_fail(c, rc, "waiting for gpu/%s/* of every rank: %s", sub,
				 strerror(-rc));
	for (int p = 0; p < world; p++) {
		if (recs[p].algo != mine.algo || recs[p].blocks != mine.blocks ||
		    recs[p].oneshot_max != mine.oneshot_max)
			return init_fail(c, -EINVAL,
					 "rank %d has other settings (algo %s, blocks %u, oneshot_max "
					 "%llu): IPCFS_ALGO, IPCFS_GPU_BLOCKS, IPCFS_ONESHOT_MAX must "
					 "agree", p, allreduce_plan_algo_name(recs[p].algo),
					 recs[p].blocks, (unsigned long long)recs[p].oneshot_max);
		if (!(recs[p].flags & GPU_F_PEER_OK)) {
			if (peer_ok)
				snprintf(why, sizeof(why), "rank %d found no peer access", p);
			peer_ok = 0;
		}
		if (!(recs[p].flags & GPU_F_NCCL_OK)) {
			if (nccl_ok)
				snprintf(c->nccl_why, sizeof(c->nccl_why),
					 "NCCL failed to initialize on rank %d", p);
			nccl_ok = 0;
		}
	}
	c->peer_access = peer_ok;
	if (peer_ok) {
		rc = k.buf_alloc(GPU_GRAPH_CALLS * IPCFS_K_MAX_RANKS * sizeof(void *),
				 (void **)&c->graph_tables);
		c->graph_in = calloc(GPU_GRAPH_CALLS, sizeof(*c->graph_in));
		if (rc || !c->graph_in)
			return init_fail(c, rc ? rc : -ENOMEM, "tables of graph buffers: %s",
					 rc ? k.last_error() : strerror(ENOMEM));
	}
	if (!nccl_ok && c->nccl) {
		k.nccl_destroy(c->nccl);
		c->nccl = NULL;
	}
	if (!c->peer_access)
		close_peers(c);  /* the kernels will not be used */
	*out = c;
	cuda_host_set_error("%s", why);  /* informative: why no custom kernels */
	return 0;
}

static int dtype_of(int dtype)
{
	switch (dtype) {
	case IPCFS_F32: return ALLREDUCE_F32;
	case IPCFS_F16: return ALLREDUCE_F16;
	case IPCFS_BF16: return ALLREDUCE_BF16;
	default: return -1;
	}
}

static struct seg_rank *my_counters(const struct ipcfs_gpu_comm *c)
{
	return seg_rank(member_seg(c->m), (unsigned)c->rank);
}

static int poll_err(struct ipcfs_gpu_comm *c)
{
	if (!c->broken && c->err_host) {
		int code = ipcfs_k_error_check(c->err_host);
		if (code) {
			const volatile struct ipcfs_k_error *e = c->err_host;
			c->broken = code;
			seg_count(&my_counters(c)->ar_errors, 1);
			if (code == -ENXIO)
				cuda_host_set_error("all-reduce kernel: a CUDA graph was launched "
						    "before ipcfs_gpu_register_graph() filled in "
						    "the buffers of its calls (rank %d, call %llu); "
						    "the communicator must be destroyed", e->rank,
						    (unsigned long long)e->call);
			else
				cuda_host_set_error("all-reduce kernel: %s (rank %d waited for rank "
						    "%d at barrier %d of call %llu, block %d); the "
						    "communicator must be destroyed",
						    code == -ETIMEDOUT ? "timeout" : "ranks out of step",
						    e->rank, e->peer, e->barrier,
						    (unsigned long long)e->call, e->block);
		}
	}
	return c->broken;
}

static struct gpu_user *user_of(struct ipcfs_gpu_comm *c, const void *in, size_t bytes)
{
	for (int u = 0; u < c->nuser; u++)
		if (c->user[u].local == in && bytes <= c->user[u].bytes)
			return &c->user[u];
	return NULL;
}

static bool overlap(const void *a, size_t na, const void *b, size_t nb)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

/*
 * Whether @algo may read the input where it is, in a buffer @base of
 * @base_bytes that the peers have opened, writing @out. One-shot: peers
 * read the buffer until the end barrier, so out must lie outside it.
 * Two-shot: the reduce-scatter writes this rank's range into the buffer
 * itself, so only an in-place call (out == base) leaves the caller's input
 * as it expects; an out-of-place one copies the input first. The same
 * answer on every rank requires the same pointer relations on every rank
 * (the same program), as for the rest of the call.
 */
static bool zero_copy_ok(enum allreduce_algo algo, const void *base, size_t base_bytes,
			 const void *out, size_t bytes)
{
	if (algo == ALLREDUCE_ALGO_ONESHOT)
		return !overlap(out, bytes, base, base_bytes);
	return algo == ALLREDUCE_ALGO_TWOSHOT && out == base;
}

API int ipcfs_allreduce(struct ipcfs_gpu_comm *c, const void *in, void *out, size_t count,
			int dtype, int op, void *stream)
{
	struct ipcfs_k_allreduce_args a;
	struct allreduce_plan_env env;
	enum allreduce_reason why;
	enum allreduce_algo algo;
	struct gpu_user *u = NULL;
	size_t bytes = 0;
	int d = dtype_of(dtype), rc, capturing = 0;
	bool graph = false;

	if (!c || (count && (!in || !out)) || op != IPCFS_OP_SUM || d < 0) {
		cuda_host_set_error("ipcfs_allreduce: %s",
				    !c ? "no communicator" : op != IPCFS_OP_SUM ? "only IPCFS_OP_SUM" :
				    d < 0 ? "dtype must be IPCFS_F32, IPCFS_F16 or IPCFS_BF16" :
				    "NULL in or out");
		return -EINVAL;
	}
	rc = poll_err(c);
	if (rc)
		return rc;
	if (count > SIZE_MAX / allreduce_plan_dtype_size(d)) {
		cuda_host_set_error("ipcfs_allreduce: count overflows");
		return -EINVAL;
	}
	bytes = count * allreduce_plan_dtype_size(d);
	env.world = c->world;
	env.nodes = c->nodes;
	env.peer_access = c->peer_access;
	env.buf_bytes = c->peer_access ? c->buf_bytes : 0;
	if (c->peer_access && (u = user_of(c, in, bytes))) {
		env.buf_bytes = u->bytes;
	} else if (c->graph_tables && bytes) {
		/* Captured into a graph: the input may be read where it is,
		 * whatever its size, once registered after capture. */
		rc = k.stream_capturing(stream, &capturing);
		if (rc)
			return kfail(rc, "ipcfs_allreduce: stream capture status");
		if (capturing) {
			graph = true;
			env.buf_bytes = SIZE_MAX;
		}
	}
	algo = allreduce_plan_choose(&c->set.tuning, &env, c->set.algo, count, d, &why);
	/* A registered user buffer replaces the communicator's when the
	 * kernel allows out where it is (same decision on every rank that
	 * makes the same call). */
	if (u && !zero_copy_ok(algo, u->local, u->bytes, out, bytes))
		u = NULL;
	if (graph && (!zero_copy_ok(algo, in, bytes, out, bytes) || ((uintptr_t)in & 15) ||
		      c->graph_used == GPU_GRAPH_CALLS))
		graph = false;
	if (!u && !graph && algo != ALLREDUCE_ALGO_NCCL && bytes > c->buf_bytes) {
		algo = ALLREDUCE_ALGO_NCCL;
		why = ALLREDUCE_WHY_TOO_BIG;
	}
	if (algo == ALLREDUCE_ALGO_NCCL) {
		if (!c->nccl) {
			seg_count(&my_counters(c)->ar_errors, 1);
			cuda_host_set_error("all-reduce needs NCCL (%s) and NCCL is unavailable: %s",
					    allreduce_plan_reason_name(why), c->nccl_why);
			return -EOPNOTSUPP;
		}
		rc = k.nccl_allreduce(c->nccl, in, out, count, d, stream);
		if (rc) {
			seg_count(&my_counters(c)->ar_errors, 1);
			return kfail(rc, "NCCL all-reduce");
		}
		seg_count(&my_counters(c)->ar_nccl, 1);
		seg_count(&my_counters(c)->ar_bytes, bytes);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.world = c->world;
	a.rank = c->rank;
	a.dtype = d;
	a.count = count;
	a.out = out;
	a.err = c->err_dev;
	a.timeout_ns = c->set.timeout_ns;
	a.blocks = c->set.blocks;
	if (u) {
		a.in = NULL;  /* already in place */
		a.buf_bytes = u->bytes;
		for (int r = 0; r < c->world; r++)
			a.bufs[r] = u->bufs[r];
	} else if (graph) {
		/* The peers' inputs are filled into this table after capture. */
		a.in = NULL;
		a.buf_bytes = bytes;
		a.bufs[c->rank] = (void *)in;
		a.dev_bufs = c->graph_tables + c->graph_used * IPCFS_K_MAX_RANKS;
	} else {
		a.in = in;
		a.buf_bytes = c->buf_bytes;
		for (int r = 0; r < c->world; r++)
			a.bufs[r] = c->bufs[r];
	}
	for (int r = 0; r < c->world; r++)
		a.sigs[r] = c->sigs[r];
	rc = algo == ALLREDUCE_ALGO_ONESHOT ? k.oneshot(&a, stream) : k.twoshot(&a, stream);
	if (!rc && graph)
		c->graph_in[c->graph_used++] = in;
	if (rc) {
		seg_count(&my_counters(c)->ar_errors, 1);
		return kfail(rc, algo == ALLREDUCE_ALGO_ONESHOT ? "one-shot all-reduce"
							       : "two-shot all-reduce");
	}
	seg_count(algo == ALLREDUCE_ALGO_ONESHOT ? &my_counters(c)->ar_oneshot
						 : &my_counters(c)->ar_twoshot, 1);
	seg_count(&my_counters(c)->ar_bytes, bytes);
	return 0;
}

API int ipcfs_gpu_comm_check(struct ipcfs_gpu_comm *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	rc = poll_err(c);
	if (rc)
		return rc;
	rc = k.device_sync();
	if (rc)
		return kfail(rc, "waiting for the device");
	return poll_err(c);
}

/*
 * Registrations (user buffers, graph batches) take two rounds on one record
 * per rank: round 1 publishes what the peers need, round 2 republishes it
 * marked done, with the rank's verdict; a rank uses the result only when
 * every rank's round-2 record says it worked, so no rank goes on with a
 * registration that a peer dropped. The attempt number, in oneshot_max
 * (unused by these kinds), tells a record of this attempt from one left by
 * an earlier, failed one.
 */
struct round_accept {
	struct ipcfs_member *m;
	uint64_t attempt;
	uint32_t need;   /* flags the record must have */
};

static int round_accept(const struct gpu_record *rec, int rank, void *arg)
{
	const struct round_accept *ra = arg;

	if (rec->oneshot_max != ra->attempt || (rec->flags & ra->need) != ra->need)
		return 0;
	return gpu_accept_live(rec, rank, ra->m);
}

/* Round 2: republish @mine done, and OK when this rank's own part worked
 * (@self_ok; a peer's failure in round 1 every rank has seen already), then
 * gather every rank's. 0 with *@bad as given when it names a rank (>= 0),
 * else the first rank whose part failed, or -1; or an error of the exchange
 * (reason set). */
static int round_two(struct ipcfs_gpu_comm *c, const char *sub, struct gpu_record *mine,
		     bool self_ok, struct round_accept *ra, int *bad)
{
	struct gpu_record recs[IPCFS_MAX_RANKS];
	uint64_t all = c->world < 64 ? (1ull << c->world) - 1 : ~0ull;
	int rc;

	mine->flags = (self_ok ? GPU_F_REG_OK : 0) | GPU_F_REG_DONE;
	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, mine))) {
		cuda_host_set_error("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		return rc;
	}
	ra->need = GPU_F_REG_DONE;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, all, mine->kind, c->gen, c->timeout_ms,
			    round_accept, ra, recs);
	if (rc) {
		cuda_host_set_error("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		return rc;
	}
	for (int p = 0; *bad < 0 && p < c->world; p++)
		if (!(recs[p].flags & GPU_F_REG_OK))
			*bad = p;
	return 0;
}

API int ipcfs_gpu_register(struct ipcfs_gpu_comm *c, void *ptr, size_t bytes)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	struct round_accept ra;
	char sub[GPU_NAME_MAX + 16];
	struct gpu_user *u;
	uint64_t off = 0, all;
	int rc, err = 0, bad = -1;

	if (!c || !ptr || !bytes || bytes % ALLREDUCE_VEC_BYTES || ((uintptr_t)ptr & 15)) {
		cuda_host_set_error("ipcfs_gpu_register: a 16-byte aligned buffer of a multiple "
				    "of 16 bytes");
		return -EINVAL;
	}
	if (!c->peer_access) {
		cuda_host_set_error("ipcfs_gpu_register: the custom kernels are not used "
				    "(no peer access): nothing to register");
		return -EOPNOTSUPP;
	}
	if (c->nuser == GPU_MAX_USER) {
		cuda_host_set_error("ipcfs_gpu_register: at most %d buffers", GPU_MAX_USER);
		return -ENOSPC;
	}
	u = &c->user[c->nuser];
	memset(u, 0, sizeof(*u));
	all = c->world < 64 ? (1ull << c->world) - 1 : ~0ull;
	ra.m = c->m;
	ra.attempt = ++c->user_attempts;
	ra.need = 0;
	fill_rec(c, &mine, GPU_REC_USER);
	mine.oneshot_max = ra.attempt;
	mine.buf_bytes = bytes;
	/* A local failure still takes part (with a record that says so), so
	 * that the peers fail at once instead of waiting out the timeout. */
	err = k.ipc_export(ptr, mine.handle, &off);
	if (err) {
		kfail(err, "ipcfs_gpu_register: exporting the buffer");
	} else if (off % ALLREDUCE_VEC_BYTES) {
		cuda_host_set_error("ipcfs_gpu_register: offset in its allocation not aligned");
		err = -EINVAL;
	}
	mine.buf_off = err ? 0 : off;
	mine.flags = err ? 0 : GPU_F_REG_OK;
	snprintf(sub, sizeof(sub), "%s.u%d", c->name, c->nuser);
	rc = gpu_rdv_publish(&c->rdv, sub, c->rank, &mine);
	if (rc) {
		cuda_host_set_error("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		return rc;
	}
	c->user_names = c->nuser + 1;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, all, GPU_REC_USER, c->gen, c->timeout_ms,
			    round_accept, &ra, recs);
	if (rc) {
		cuda_host_set_error("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		return rc;
	}
	for (int p = 0; !err && p < c->world; p++) {
		if (!(recs[p].flags & GPU_F_REG_OK)) {
			bad = p;
			break;
		}
		if (recs[p].buf_bytes != bytes) {
			cuda_host_set_error("rank %d registered %llu bytes, this rank %zu", p,
					    (unsigned long long)recs[p].buf_bytes, bytes);
			err = -EINVAL;
		} else if (p == c->rank) {
			u->bufs[p] = ptr;
		} else if ((err = k.ipc_open(recs[p].handle, &u->opened[p])) == 0) {
			u->bufs[p] = (char *)u->opened[p] + recs[p].buf_off;
		} else {
			kfail(err, "opening a peer's registered buffer");
		}
	}
	rc = round_two(c, sub, &mine, !err, &ra, &bad);
	if (!rc && err)
		bad = c->rank;
	if (!rc && bad >= 0) {
		if (bad != c->rank)
			cuda_host_set_error("ipcfs_gpu_register: rank %d failed to register its "
					    "buffer (its ipcfs_gpu_error() says why)", bad);
		rc = err ? err : -EINVAL;
	}
	if (rc) {
		/* The record stays (marked failed) until destroy: a slower
		 * peer may still be reading it. */
		for (int p = 0; p < c->world; p++)
			if (u->opened[p])
				k.ipc_close(u->opened[p]);
		return rc;
	}
	u->local = ptr;
	u->bytes = bytes;
	c->nuser++;
	return 0;
}

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
	return fnv1a((const unsigned char *)e, calls * sizeof(*e)) ^
	       fnv1a(*handles, nhandles * GPU_HANDLE_BYTES);
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

		rc = k.ipc_export((void *)c->graph_in[first + i], hd, &e[i].off);
		if (rc) {
			kfail(rc, "ipcfs_gpu_register_graph: exporting the input of a captured "
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
	if ((rc = write_all_fd(*fd, (const char *)&h, sizeof(h))) ||
	    (rc = write_all_fd(*fd, (const char *)handles, hbytes)) ||
	    (rc = write_all_fd(*fd, (const char *)e, ebytes)))
		goto out;
	*bytes = round_up(sizeof(h) + hbytes + ebytes, ALLREDUCE_VEC_BYTES);
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
	int rc = k.ipc_open(handle, base);
	if (rc)
		return kfail(rc, "ipcfs_gpu_register_graph: opening a peer's allocation");
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
		cuda_host_set_error("ipcfs_gpu_register_graph: rank %d's table %s: %s", p, path,
				    strerror(-rc));
		return rc;
	}
	rc = read_all_fd(fd, &h, sizeof(h));
	if (!rc && (h.magic != GRAPH_TABLE_MAGIC || h.gen != c->gen ||
		    h.batch != c->graph_batch || h.first != first ||
		    h.nhandles > (h.calls ? h.calls : 1)))
		rc = -EBADMSG;
	if (!rc && h.calls != calls) {
		cuda_host_set_error("ipcfs_gpu_register_graph: rank %d captured %llu all-reduce "
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
		cuda_host_set_error("ipcfs_gpu_register_graph: rank %d's table is malformed", p);
	for (size_t i = 0; !rc && i < calls; i++) {
		void *base;
		if (e[i].handle >= h.nhandles || e[i].off % ALLREDUCE_VEC_BYTES) {
			cuda_host_set_error("ipcfs_gpu_register_graph: rank %d's table is malformed",
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

API int ipcfs_gpu_register_graph(struct ipcfs_gpu_comm *c)
{
	struct gpu_record mine, recs[IPCFS_MAX_RANKS];
	struct round_accept ga;
	char sub[GPU_NAME_MAX + 16];
	size_t first, calls;
	void **ptrs = NULL;
	uint64_t all, bytes = 0;
	int rc, fd = -1, bad = -1;

	if (!c) {
		cuda_host_set_error("ipcfs_gpu_register_graph: no communicator");
		return -EINVAL;
	}
	/* Without peer access nothing was captured with its own buffers
	 * (every rank knows it alike): nothing to do. */
	if (!c->graph_tables)
		return 0;
	first = c->graph_done;
	calls = c->graph_used - first;
	all = c->world < 64 ? (1ull << c->world) - 1 : ~0ull;
	ga.m = c->m;
	ga.attempt = ++c->graph_batch;
	/* Two names, by the parity of the batch: a rank that finished batch b
	 * and goes on to b+1 must not overwrite the record of b that a slower
	 * peer may still be waiting to read in round 2; it cannot reach b+2
	 * before every peer has published round 1 of b+1, past b. */
	snprintf(sub, sizeof(sub), "%s.g%d", c->name, (int)(ga.attempt & 1));

	/* Round 1: publish this rank's table, read every peer's. */
	rc = graph_table_write(c, first, calls, &fd, &bytes);
	fill_rec(c, &mine, GPU_REC_GRAPH);
	mine.flags = rc ? 0 : GPU_F_REG_OK;
	mine.buf_bytes = bytes;
	mine.sig_off = first;
	mine.probe_off = calls;
	mine.oneshot_max = ga.attempt;
	memcpy(mine.handle, &(uint32_t){ (uint32_t)fd }, sizeof(uint32_t));
	if (rc)
		bad = c->rank;
	if ((rc = gpu_rdv_publish(&c->rdv, sub, c->rank, &mine))) {
		cuda_host_set_error("publishing gpu/%s/%d: %s", sub, c->rank, strerror(-rc));
		goto out;
	}
	ga.need = 0;
	rc = gpu_rdv_gather(&c->rdv, sub, c->world, all, GPU_REC_GRAPH, c->gen, c->timeout_ms,
			    round_accept, &ga, recs);
	if (rc) {
		cuda_host_set_error("waiting for gpu/%s/*: %s", sub, strerror(-rc));
		goto out;
	}
	ptrs = calloc(calls ? calls : 1, IPCFS_K_MAX_RANKS * sizeof(void *));
	if (!ptrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < calls; i++)
		ptrs[i * IPCFS_K_MAX_RANKS + (size_t)c->rank] = (void *)c->graph_in[first + i];
	for (int p = 0; bad < 0 && p < c->world; p++) {
		if (!(recs[p].flags & GPU_F_REG_OK))
			bad = p;
		else if (p != c->rank && graph_table_read(c, p, &recs[p], first, calls, ptrs))
			bad = c->rank;
	}

	/* Round 2: the tables may go once every rank is done; the pointers
	 * are used only if all worked. */
	if ((rc = round_two(c, sub, &mine, bad != c->rank, &ga, &bad)))
		goto out;
	if (bad >= 0) {
		/* this rank's reason is set; a peer's is on that peer */
		if (bad != c->rank)
			cuda_host_set_error("ipcfs_gpu_register_graph: rank %d failed to register "
					    "its graph buffers (its ipcfs_gpu_error() says why)", bad);
		rc = -EINVAL;
		goto out;
	}
	if (calls) {
		rc = k.memcpy_h2d(c->graph_tables + first * IPCFS_K_MAX_RANKS, ptrs,
				  calls * IPCFS_K_MAX_RANKS * sizeof(void *));
		if (rc) {
			kfail(rc, "ipcfs_gpu_register_graph: writing the tables");
			goto out;
		}
	}
	c->graph_done = first + calls;
out:
	if (fd >= 0)
		close(fd);
	free(ptrs);
	return rc;
}

API int ipcfs_gpu_comm_destroy(struct ipcfs_gpu_comm *c)
{
	if (!c)
		return 0;
	teardown(c, true);
	free(c);
	return 0;
}
