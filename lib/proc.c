/* SPDX-License-Identifier: MIT */
/* proc.c - what /proc says of a process (proc_int.h). */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_int.h"

/* Field 22 of the stat file at @path; 0 if absent or a zombie. */
static uint64_t starttime_at(const char *path)
{
	char buf[1024];
	unsigned long long start = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields we want follow its last ')'. */
	char *p = strrchr(buf, ')');
	char state;
	if (!p || sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
			 &state, &start) != 2)
		return 0;
	if (state == 'Z' || state == 'X' || start == 0)
		return 0;
	return start;
}

uint64_t proc_starttime(pid_t pid)
{
	char path[64];

	if (pid <= 0)
		return 0;
	/* Ourselves through /proc/self: right even where /proc belongs to
	 * another PID namespace than ours (our pid means another process
	 * there). */
	if (pid == getpid())
		return starttime_at("/proc/self/stat");
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return starttime_at(path);
}

uint64_t proc_thread_starttime(void)
{
	return starttime_at("/proc/thread-self/stat");
}

/* Our PID namespace (its inode, 0 if unknown) and, in bit 0 of the cache
 * key, whether our /proc is of it. Cached per process: a child made after
 * unshare(CLONE_NEWPID) lives in another namespace than its parent, so
 * the cache is keyed by pid. */
static uint64_t pidns_load(bool *readable)
{
	static _Atomic uint64_t cached; /* getpid() << 32 | 2 | readable */
	static _Atomic uint64_t cached_ns;
	uint64_t key = (uint64_t)(uint32_t)getpid() << 32 | 2, k, ns = 0;
	struct stat st;
	char self[32];
	ssize_t n;

	/* Acquire (P1): pairs with the release below; the namespace stored
	 * before its key is seen with it. After a fork the key differs. */
	k = atomic_load_explicit(&cached, memory_order_acquire);
	if ((k & ~(uint64_t)1) == key) {
		*readable = k & 1;
		return atomic_load_explicit(&cached_ns, memory_order_relaxed);
	}
	/* /proc/self leads to us whatever namespace /proc belongs to; it
	 * names us by our own pid only if that is ours. */
	if (stat("/proc/self/ns/pid", &st) == 0)
		ns = (uint64_t)st.st_ino;
	n = readlink("/proc/self", self, sizeof(self) - 1);
	*readable = false;
	if (n > 0) {
		self[n] = '\0';
		*readable = strtol(self, NULL, 10) == (long)getpid();
	}
	atomic_store_explicit(&cached_ns, ns, memory_order_relaxed);
	/* Release (P1): see above. */
	atomic_store_explicit(&cached, key | (*readable ? 1 : 0), memory_order_release);
	return ns;
}

uint64_t proc_pidns(void)
{
	bool readable;
	return pidns_load(&readable);
}

bool proc_pid_visible(uint64_t ns)
{
	bool readable;
	uint64_t mine = pidns_load(&readable);
	return ns != 0 && ns == mine && readable;
}
