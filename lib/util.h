/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers that several parts of libipcfs and the daemon
 * need, defined once. Internal; not installed. (The clock is
 * wait_now_ns(), wait_int.h.)
 */
#ifndef IPCFS_UTIL_H
#define IPCFS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bits, of @n bytes at @p: a short stable id (of a mount point,
 * a state directory) and the checksum of records. Not for anything an
 * adversary chooses to collide. */
static inline uint64_t util_fnv1a64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* "@dir/@name" into @out: 0, or -ENAMETOOLONG when it does not fit. */
int util_path_join(char *out, size_t size, const char *dir, const char *name);

/* Read the small text file @path into @buf (@size bytes), NUL-terminated,
 * trailing whitespace cut: 0, -errno, or -ENAMETOOLONG when it fills @buf. */
int util_read_small(const char *path, char *buf, size_t size);

/* Put the reason, formatted, into @why (@whylen bytes; none if NULL) and
 * return @err, so that a parser can `return util_why_set(-EINVAL, why,
 * whylen, ...)`. */
__attribute__((format(printf, 4, 5))) int util_why_set(int err, char *why, size_t whylen,
							 const char *fmt, ...);

/* The bytes of one core's private cache (its L2 on x86 and most arm64
 * parts): what a reader still holds of a block it has just read. Read
 * once from the system (sysconf, else sysfs), 1 MiB when neither says. */
size_t util_private_cache_bytes(void);

#endif
