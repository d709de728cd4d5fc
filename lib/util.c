/* SPDX-License-Identifier: MIT */
/* util.c - small helpers defined once (util.h). */
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

int util_path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int util_read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		rc = -errno;
	close(fd);
	if (rc)
		return rc;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return (size_t)n == size - 1 ? -ENAMETOOLONG : 0;
}

static size_t cache_from_sysfs(void)
{
	char buf[32], *end;
	unsigned long long v;

	if (util_read_small("/sys/devices/system/cpu/cpu0/cache/index2/size", buf, sizeof(buf)))
		return 0;
	v = strtoull(buf, &end, 10);
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	return (size_t)v;
}

size_t util_private_cache_bytes(void)
{
	/* Relaxed: a cache of a value every thread computes the same way;
	 * racing first callers store the same number. */
	static _Atomic size_t cached;
	size_t v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v)
		return v;
	long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
	v = l2 > 0 ? (size_t)l2 : cache_from_sysfs();
	if (!v)
		v = (size_t)1 << 20;
	atomic_store_explicit(&cached, v, memory_order_relaxed);
	return v;
}

int util_why_set(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}
