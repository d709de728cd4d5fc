/* SPDX-License-Identifier: MIT */
/*
 * fsd_probe - one system call on a file of the tree, and its errno, for
 * the daemon's shell tests.
 *
 *   fsd_probe write FILE DATA [OFFSET]  one write(2) (pwrite at OFFSET), then close(2)
 *   fsd_probe writex FILE HEX [OFFSET]  the same with bytes given in hex
 *   fsd_probe writen FILE N CHAR        one write of N times CHAR
 *   fsd_probe read FILE                 one read of 64 KiB; -n: O_NONBLOCK
 *   fsd_probe poll FILE MS              poll(POLLIN) then read one chunk
 *   fsd_probe open FILE r|w|rw          open only
 *   fsd_probe mmap FILE shared|private  map it read-only (its size, one
 *                                       page if 0), print what it holds
 *
 * Prints "OK" (and what was read) or the errno's name (EINVAL, ...);
 * exits 0 on success, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int report(int err)
{
	if (!err) {
		printf("OK\n");
		return 0;
	}
	printf("%s\n", strerrorname_np(err) ? strerrorname_np(err) : "E?");
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	bool nonblock = false;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		nonblock = true;
		argv++;
		argc--;
	}
	if (argc < 3)
		return 2;
	const char *op = argv[1], *file = argv[2];

	if (strncmp(op, "write", 5) == 0) {
		char *data;
		size_t len;
		long long off = -1;
		if (argc < 4)
			return 2;
		if (strcmp(op, "writen") == 0) {
			if (argc < 5)
				return 2;
			len = strtoul(argv[3], NULL, 10);
			data = malloc(len ? len : 1);
			memset(data, argv[4][0], len);
		} else if (strcmp(op, "writex") == 0) {
			len = strlen(argv[3]) / 2;
			data = malloc(len + 1);
			for (size_t i = 0; i < len; i++) {
				int hi = hexval(argv[3][2 * i]), lo = hexval(argv[3][2 * i + 1]);
				if (hi < 0 || lo < 0)
					return 2;
				data[i] = (char)(hi * 16 + lo);
			}
			if (argc > 4)
				off = atoll(argv[4]);
		} else {
			data = argv[3];
			len = strlen(data);
			if (argc > 4)
				off = atoll(argv[4]);
		}
		int fd = open(file, O_WRONLY), err = 0;
		if (fd < 0) {
			err = errno;
		} else {
			ssize_t n = off >= 0 ? pwrite(fd, data, len, (off_t)off) : write(fd, data, len);
			err = n < 0 ? errno : (size_t)n != len ? EIO : 0;
			/* close(2) reports what a file checks when whole
			 * (nodes, fsd_op_flush). */
			if (close(fd) != 0 && !err)
				err = errno;
		}
		if (data != argv[3])
			free(data);
		return report(err);
	}
	if (strcmp(op, "read") == 0 || strcmp(op, "poll") == 0) {
		static char buf[65536];
		int fd = open(file, O_RDONLY | (nonblock ? O_NONBLOCK : 0));
		if (fd < 0)
			return report(errno);
		if (op[0] == 'p') {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = poll(&p, 1, argc > 3 ? atoi(argv[3]) : 1000);
			if (r < 0)
				return report(errno);
			if (r == 0) {
				printf("timeout\n");
				return 1;
			}
			printf("ready\n");
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return report(errno);
		printf("OK\n");
		fwrite(buf, 1, (size_t)n, stdout);
		close(fd);
		return 0;
	}
	if (strcmp(op, "mmap") == 0) {
		if (argc < 4)
			return 2;
		int fd = open(file, O_RDONLY);
		if (fd < 0)
			return report(errno);
		int how = strcmp(argv[3], "shared") == 0 ? MAP_SHARED : MAP_PRIVATE;
		struct stat st;
		if (fstat(fd, &st) != 0)
			return report(errno);
		size_t len = st.st_size > 0 ? (size_t)st.st_size : 4096;
		const char *p = mmap(NULL, len, PROT_READ, how, fd, 0);
		if (p == MAP_FAILED)
			return report(errno);
		/* The first access: SIGBUS here ends the probe by that signal. */
		printf("OK\n%.*s", (int)strnlen(p, len), p);
		munmap((void *)p, len);
		close(fd);
		return 0;
	}
	if (strcmp(op, "open") == 0) {
		if (argc < 4)
			return 2;
		int flags = strcmp(argv[3], "r") == 0 ? O_RDONLY : strcmp(argv[3], "w") == 0 ? O_WRONLY : O_RDWR;
		int fd = open(file, flags);
		if (fd < 0)
			return report(errno);
		close(fd);
		return report(0);
	}
	return 2;
}
