/* SPDX-License-Identifier: MIT */
/*
 * gpu_rdv.c - rendezvous through gpu/NAME/RANK: publishing, reading,
 * gathering and waiting out the records of a communicator's ranks. The
 * only code that talks to the daemon's `register` verb (a mounted group)
 * or writes the files itself (a plain group directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipcfs/ctl_proto.h"
#include "gpu_int.h"
#include "util.h"
#include "wait_int.h"

int gpu_path_of(char *out, size_t size, const char *fmt, ...)
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
	rc = gpu_path_of(ctl, sizeof(ctl), "%s/ctl", dir);
	if (rc)
		return rc;
	v->mounted = access(ctl, F_OK) == 0;
	return 0;
}

int gpu_write_all(int fd, const char *p, size_t n)
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
	int rc = util_path_join(ctl, sizeof(ctl), v->dir, "ctl");

	return rc ? rc : ctl_send(ctl, cmd);
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
		rc = ctl_fmt_register(cmd, sizeof(cmd), name, rank, hex);
		return rc < 0 ? rc : ctl_write(v, cmd);
	}
	strcat(hex, "\n");
	if ((rc = gpu_path_of(path, sizeof(path), "%s/gpu", v->dir)))
		return rc;
	if (mkdir(path, 0770) && errno != EEXIST)
		return -errno;
	if ((rc = gpu_path_of(path, sizeof(path), "%s/gpu/%s", v->dir, name)))
		return rc;
	if (mkdir(path, 0770) && errno != EEXIST)
		return -errno;
	if ((rc = gpu_path_of(tmp, sizeof(tmp), "%s/gpu/%s/.%d.%d.tmp", v->dir, name, rank,
			  (int)getpid())) ||
	    (rc = gpu_path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank)))
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -errno;
	rc = gpu_write_all(fd, hex, strlen(hex));
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
		rc = ctl_fmt_unregister(cmd, sizeof(cmd), name, rank);
		return rc < 0 ? rc : ctl_write(v, cmd);
	}
	if ((rc = gpu_path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank)))
		return rc;
	rc = unlink(path) ? -errno : 0;
	/* The last one out removes the directories (ENOTEMPTY otherwise). */
	if (!gpu_path_of(path, sizeof(path), "%s/gpu/%s", v->dir, name))
		rmdir(path);
	if (!gpu_path_of(path, sizeof(path), "%s/gpu", v->dir))
		rmdir(path);
	return rc;
}

int gpu_rdv_read(const struct gpu_rdv *v, const char *name, int rank, struct gpu_record *rec)
{
	char path[PATH_MAX], buf[GPU_REC_HEX + 64];
	size_t len = 0;
	int fd, rc = gpu_path_of(path, sizeof(path), "%s/gpu/%s/%d", v->dir, name, rank);

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

/* Gone, or a zombie that its parent has not reaped yet. */
bool gpu_pid_dead(uint32_t pid)
{
	char path[64], buf[256];
	const char *s;
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	s = strrchr(buf, ')');  /* "pid (comm) S ...": comm may hold anything */
	return s && (s[2] == 'Z' || s[2] == 'X');
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
	 * notice), or a zombie: stale too. */
	return !gpu_pid_dead((uint32_t)st.pid);
}

uint64_t gpu_now_ms(void)
{
	return wait_now_ns() / 1000000;
}

void gpu_nap(unsigned *us)
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
	uint64_t have = 0, start = gpu_now_ms();
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
		if (timeout_ms >= 0 && gpu_now_ms() - start >= (uint64_t)timeout_ms)
			return -ETIMEDOUT;
		gpu_nap(&us);
	}
}

int gpu_rdv_wait_gone(const struct gpu_rdv *v, const char *name, int world, uint64_t mask,
		      uint32_t kind, uint64_t gen, int timeout_ms, gpu_accept_fn accept,
		      void *arg)
{
	uint64_t start = gpu_now_ms();
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
		if (timeout_ms >= 0 && gpu_now_ms() - start >= (uint64_t)timeout_ms)
			return -ETIMEDOUT;
		gpu_nap(&us);
	}
}
