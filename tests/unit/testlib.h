/* SPDX-License-Identifier: MIT */
/* testlib.h - helpers shared by the Check suites: temporary groups, child
 * processes that must exit 0, a deterministic payload. */
#ifndef IPCFS_TESTLIB_H
#define IPCFS_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcfs.h"

/* Create a group with @p (NULL: defaults) in a fresh temporary directory;
 * the path is written to @dir (PATH_MAX). Fails the test on error. */
void tl_group(char *dir, const struct ipcfs_params *p);
/* Destroy it (and the directory). */
void tl_group_done(const char *dir);

struct seg_map;
/* A second, writable mapping of @dir's segment (to look at or scribble
 * over what members share), failing the test on error; seg_unmap() it. */
void tl_map_seg(const char *dir, struct seg_map *m);
/* Bytes of the arena in blocks not free now, headers included. */
uint64_t tl_arena_used(const struct seg_map *m);

/* Join @dir as @rank, failing the test on error. */
struct ipcfs_member *tl_join(const char *dir, int rank);

/* Fork a child running @fn(@arg); its return value is its exit status. */
pid_t tl_fork(int (*fn)(void *arg), void *arg);
/* Wait for @pid; returns its exit status, or 128+signal. Fails the test if
 * it does not end within @timeout_s seconds (it is killed then). */
int tl_wait(pid_t pid, int timeout_s);

/* Fill @len bytes at @buf from (@seed), and check them. */
void tl_fill(void *buf, size_t len, uint64_t seed);
bool tl_check(const void *buf, size_t len, uint64_t seed);

/* A small fast PRNG (xorshift64*). */
static inline uint64_t tl_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

/* Scale of the long tests: $IPCFS_TEST_SCALE (default 1.0); sanitizer
 * builds set it lower in tests/run.sh. */
double tl_scale(void);

/* Run one suite with Check and return the process exit status. */
int tl_run(Suite *s);

#endif
