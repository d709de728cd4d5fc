/* SPDX-License-Identifier: MIT */
/* testlib.c - see testlib.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena_int.h"
#include "member_int.h"
#include "segment_int.h"
#include "testlib.h"

/* Where this run's groups live (set by tl_run before the tests fork), so
 * that the groups of a test that failed half way are destroyed after it:
 * their segments would stay in /dev/shm for ever. */
static char run_root[64] = "/tmp";

void tl_group(char *dir, const struct ipcfs_params *p)
{
	char tmpl[128];
	snprintf(tmpl, sizeof(tmpl), "%s/ipcfs-test.XXXXXX", run_root);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(dir, PATH_MAX, "%s/g", tmpl);
	int rc = ipcfs_group_create(dir, p);
	ck_assert_msg(rc == 0, "ipcfs_group_create: %s", strerror(-rc));
}

void tl_group_done(const char *dir)
{
	char parent[PATH_MAX];
	ck_assert_int_eq(ipcfs_group_destroy(dir), 0);
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		rmdir(parent);
	}
}

void tl_map_seg(const char *dir, struct seg_map *m)
{
	char path[PATH_MAX];
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, SEG_MAP_WRITE, m), 0);
}

uint64_t tl_arena_used(const struct seg_map *m)
{
	struct arena_stat st;
	arena_stat(m, &st);
	return st.used_bytes;
}

struct ipcfs_member *tl_join(const char *dir, int rank)
{
	struct ipcfs_member *m = NULL;
	int rc = ipcfs_join(dir, rank, &m);
	ck_assert_msg(rc >= 0, "ipcfs_join(%d): %s", rank, strerror(-rc));
	ck_assert_ptr_nonnull(m);
	return m;
}

pid_t tl_fork(int (*fn)(void *arg), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int tl_wait(pid_t pid, int timeout_s)
{
	int status;
	for (int i = 0; i < timeout_s * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ge(r, 0);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("child %d did not end within %d s", (int)pid, timeout_s);
	return -1;
}

/* Every 8-byte word depends on the seed and its index, so that a message
 * delivered twice, out of order, or torn is caught. */
void tl_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *b = buf;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = (seed * 0x9E3779B97F4A7C15ull) ^ (i * 0xBF58476D1CE4E5B9ull);
		memcpy(b + i, &v, 8);
	}
	for (; i < len; i++)
		b[i] = (unsigned char)(seed ^ i);
}

bool tl_check(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *b = buf;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t v = (seed * 0x9E3779B97F4A7C15ull) ^ (i * 0xBF58476D1CE4E5B9ull), w;
		memcpy(&w, b + i, 8);
		if (v != w)
			return false;
	}
	for (; i < len; i++)
		if (b[i] != (unsigned char)(seed ^ i))
			return false;
	return true;
}

double tl_scale(void)
{
	const char *s = getenv("IPCFS_TEST_SCALE");
	double v = s ? atof(s) : 1.0;
	return v > 0 ? v : 1.0;
}

/* Destroy every group left under run_root (a test failed before its
 * tl_group_done), then the directories. */
static void destroy_leftovers(void)
{
	DIR *d = opendir(run_root);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/g", run_root, e->d_name);
		if (ipcfs_group_destroy(path) == 0)
			fprintf(stderr, "testlib: destroyed the group a failed test left: %s\n", path);
		rmdir(path);
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
	closedir(d);
	rmdir(run_root);
}

int tl_run(Suite *s)
{
	snprintf(run_root, sizeof(run_root), "/tmp/ipcfs-unit.XXXXXX");
	if (!mkdtemp(run_root))
		snprintf(run_root, sizeof(run_root), "/tmp");
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	if (strcmp(run_root, "/tmp") != 0)
		destroy_leftovers();
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
