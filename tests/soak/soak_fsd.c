/* SPDX-License-Identifier: MIT */
/*
 * soak_fsd.c - the soak conductor's own ipcfsd: start it on the soak's
 * mount point and state directory, kill it with SIGKILL and unmount the
 * dead mount as a user would (fusermount3 -u -z), read its descriptor
 * count and resident memory, write commands and read stat keys the way a
 * shell does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "soak_fsd.h"

uint64_t soak_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void soak_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int is_mounted(const char *mnt)
{
	char line[4096], want[4096];
	FILE *f = fopen("/proc/self/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), " %s fuse", mnt);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

int soak_fsd_start(struct soak_fsd *d)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char opt[4200];
		pid_t pid;

		snprintf(opt, sizeof(opt), "statedir=%s", d->state);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0)
				dup2(fd, 2);
			execl(d->exe, d->exe, "-f", "-o", opt, d->mnt, (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 400 && !is_mounted(d->mnt); i++) {
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			soak_sleep_ms(25);
		}
		if (pid && is_mounted(d->mnt)) {
			d->pid = pid;
			return 0;
		}
		if (pid) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		soak_fsd_unmount(d);
		soak_sleep_ms(200);
	}
	return -EIO;
}

void soak_fsd_unmount(struct soak_fsd *d)
{
	pid_t pid;

	if (!is_mounted(d->mnt))
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		execlp("fusermount3", "fusermount3", "-u", "-z", d->mnt, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void soak_fsd_kill(struct soak_fsd *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	soak_fsd_unmount(d);
}

/* Unmount cleanly; the daemon must exit 0 (-EIO otherwise). */
int soak_fsd_stop(struct soak_fsd *d)
{
	int st = 0;

	if (d->pid <= 0)
		return 0;
	soak_fsd_unmount(d);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int soak_fsd_usage(const struct soak_fsd *d, struct soak_usage *u)
{
	char path[64], line[256];
	struct dirent *e;
	DIR *dir;
	FILE *f;

	u->fds = 0;
	u->rss_kb = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir)))
		u->fds += e->d_name[0] != '.';
	closedir(dir);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu", &u->rss_kb) == 1)
			break;
	fclose(f);
	return 0;
}

int soak_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), rc = 0;
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		rc = -errno;
	close(fd);
	return rc;
}

long long soak_stat_key(const char *file, const char *key)
{
	char line[256], k[128];
	unsigned long long v;
	long long out = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %llu", k, &v) == 2 && strcmp(k, key) == 0) {
			out = (long long)v;
			break;
		}
	fclose(f);
	return out;
}
