/* SPDX-License-Identifier: MIT */
/* ctl_proto.c - the control protocol's formatters and grammars (ctl_proto.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipcfs/ctl_proto.h"

const char *const ctl_algo_names[CTL_ALGO_COUNT] = { "auto", "oneshot", "twoshot", "nccl" };

const char *ctl_name_problem(const char *s, size_t len)
{
	if (len == 0)
		return "empty name";
	if (len > CTL_NAME_MAX)
		return "name longer than 64 characters";
	if (s[0] == '.')
		return "name starts with '.'";
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		/* ASCII ranges, not isalnum(): the grammar must not depend
		 * on the locale of whoever parses it. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return "name has a character outside [A-Za-z0-9_.-]";
	}
	return NULL;
}

_Static_assert(CTL_NAME_MAX == 64, "the message of ctl_name_problem says 64");

static int fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	int n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	return n < 0 ? -EINVAL : (size_t)n >= size ? -ENAMETOOLONG : n;
}

int ctl_fmt_join(char *buf, size_t size, int rank)
{
	return fmt(buf, size, CTL_JOIN " %d\n", rank);
}

int ctl_fmt_leave(char *buf, size_t size, unsigned rank)
{
	return fmt(buf, size, CTL_LEAVE " %u\n", rank);
}

int ctl_fmt_register(char *buf, size_t size, const char *name, int rank, const char *hex)
{
	if (ctl_name_problem(name, strlen(name)))
		return -EINVAL;
	return fmt(buf, size, CTL_REGISTER " %s %d %s\n", name, rank, hex);
}

int ctl_fmt_unregister(char *buf, size_t size, const char *name, int rank)
{
	if (ctl_name_problem(name, strlen(name)))
		return -EINVAL;
	return fmt(buf, size, CTL_UNREGISTER " %s %d\n", name, rank);
}

int ctl_send(const char *path, const char *cmd)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(cmd);

	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, cmd, len);
	int rc = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	close(fd);
	return rc;
}

int ctl_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ctl_parse_size(const char *s, size_t len, uint64_t *out)
{
	static const struct { const char *sfx; unsigned shift; } sfx[] = {
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "K", 10 }, { "M", 20 }, { "G", 30 },
	};
	unsigned shift = 0;
	uint64_t v;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t n = strlen(sfx[i].sfx);
		if (len > n && memcmp(s + len - n, sfx[i].sfx, n) == 0) {
			shift = sfx[i].shift;
			len -= n;
			break;
		}
	}
	int rc = ctl_parse_u64(s, len, &v);
	if (rc)
		return rc;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}
