/* SPDX-License-Identifier: MIT */
/*
 * bench_unix.h - what the Unix-socket contenders (bcast_unix.c,
 * payload_unix.c) share: one socketpair(AF_UNIX, SOCK_STREAM) per forked
 * reader, and blocking whole-buffer reads and writes. Every failure exits
 * through bench_die().
 */
#ifndef BENCH_UNIX_H
#define BENCH_UNIX_H

#include <stddef.h>

/* Write all @len bytes of @buf to @fd, retrying on EINTR. */
void bench_write_all(int fd, const void *buf, size_t len, const char *who);

/* Read exactly @len bytes from @fd into @buf, retrying on EINTR; end of
 * stream is an error. */
void bench_read_all(int fd, void *buf, size_t len, const char *who);

/*
 * Fork @readers readers, each with one end of its own socketpair: reader
 * r runs @reader(its fd, r, @arg) and exits with status 0 (it has closed
 * the sender's ends, its own and the earlier readers'). Returns the
 * sender's ends, fds[r] for reader r (free() it; close each fd).
 */
int *bench_unix_fork_readers(int readers, void (*reader)(int fd, int r, const void *arg),
			     const void *arg);

#endif /* BENCH_UNIX_H */
