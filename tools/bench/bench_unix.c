/* SPDX-License-Identifier: MIT */
/*
 * bench_unix.c - what the Unix-socket contenders share (see bench_unix.h).
 */
#include "bench_unix.h"

#include "bench_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void bench_write_all(int fd, const void *buf, size_t len, const char *who)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_die("%s: write: %s", who, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

void bench_read_all(int fd, void *buf, size_t len, const char *who)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_die("%s: read: %s", who, strerror(errno));
		}
		if (n == 0)
			bench_die("%s: unexpected end of stream", who);
		p += n;
		len -= (size_t)n;
	}
}

int *bench_unix_fork_readers(int readers, void (*reader)(int fd, int r, const void *arg),
			     const void *arg)
{
	int *fds = calloc((size_t)readers, sizeof(*fds));

	if (!fds)
		bench_die("out of memory");
	for (int r = 0; r < readers; r++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			bench_die("socketpair: %s", strerror(errno));
		if (bench_fork_child() == 0) {
			close(sv[0]);
			for (int k = 0; k < r; k++)
				close(fds[k]); /* earlier readers' sender ends */
			reader(sv[1], r, arg);
			_exit(0);
		}
		close(sv[1]);
		fds[r] = sv[0];
	}
	return fds;
}
