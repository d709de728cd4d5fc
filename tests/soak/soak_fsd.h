/* SPDX-License-Identifier: MIT */
/* soak_fsd.h - the soak conductor's ipcfsd and file helpers (soak_fsd.c). */
#ifndef SOAK_FSD_H
#define SOAK_FSD_H

#include <stdint.h>
#include <sys/types.h>

struct soak_fsd {
	const char *exe, *mnt, *state, *log;
	pid_t pid;                 /* 0 while none runs */
};

struct soak_usage {
	unsigned long fds;
	unsigned long rss_kb;
};

int soak_fsd_start(struct soak_fsd *d);
void soak_fsd_kill(struct soak_fsd *d);
int soak_fsd_stop(struct soak_fsd *d);
void soak_fsd_unmount(struct soak_fsd *d);
int soak_fsd_usage(const struct soak_fsd *d, struct soak_usage *u);

/* One write(2) of @text to @path: 0 or -errno. */
int soak_write(const char *path, const char *text);
/* The value of @key in the flat keyed file @file, -1 if absent. */
long long soak_stat_key(const char *file, const char *key);

uint64_t soak_now_ns(void);
void soak_sleep_ms(unsigned ms);

#endif
