/* SPDX-License-Identifier: MIT */
/*
 * test_pidns.c - a member in a PID namespace of its own (issue 14 item 9),
 * with a /proc of its own as containers have: its pids and thread ids mean
 * other processes here. While it holds the arena's lock (stopped at a
 * death point inside the allocator, lib/fault_int.h), a member of ours
 * must neither take the lock from it nor mark its rank dead; once it is
 * killed, both come back: its rank is reaped and the lock taken over.
 * Skipped (passes with a note) where new namespaces are not permitted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault_int.h"
#include "segment_int.h"
#include "testlib.h"

/* Written to when the contained member holds the arena's lock. */
static int there_fd = -1;

/* At the death point inside the allocator: say so and stay (pid 1 of a
 * namespace cannot stop itself with a signal). */
static void stay_in_allocator(const char *name)
{
	if (strcmp(name, "arena_take_reserved") != 0)
		return;
	if (write(there_fd, "x", 1) != 1)
		_exit(15);
	for (;;)
		pause();
}

/* In the new namespace (pid 1 there), with its own /proc: join rank 1 and
 * allocate an arena block; the hook keeps us there holding the arena's
 * lock. */
static int contained(const char *dir)
{
	struct ipcfs_member *m;
	void *buf;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", 0, NULL) != 0)
		return 10;
	if (getpid() != 1)
		return 11;
	fault_set_hook(stay_in_allocator);
	if (ipcfs_join(dir, 1, &m) != 1)
		return 12;
	if (ipcfs_reserve(m, 20000, &buf, 5000) != 0)
		return 13;
	return 14; /* killed while stopped: never here */
}

/* Start contained() in new PID and mount namespaces; its pid (ours) in
 * *pid, once it holds the arena's lock. 0, or -1 where new namespaces are
 * not permitted. */
static int start_contained(const char *dir, pid_t *pid)
{
	int fds[2], there[2];
	pid_t mid;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(pipe(there), 0);
	fflush(NULL);
	mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		close(fds[0]);
		close(there[0]);
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
			_exit(77);
		pid_t c = fork();
		if (c == 0) {
			there_fd = there[1];
			_exit(contained(dir));
		}
		if (write(fds[1], &c, sizeof(c)) != sizeof(c))
			_exit(2);
		int st;
		waitpid(c, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 0);
	}
	close(fds[1]);
	close(there[1]);
	ssize_t n = read(fds[0], pid, sizeof(*pid));
	close(fds[0]);
	if (n != sizeof(*pid)) {
		int st;
		close(there[0]);
		waitpid(mid, &st, 0);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 77, "namespace child failed");
		return -1;
	}
	char x;
	n = read(there[0], &x, 1);
	close(there[0]);
	if (n != 1) {
		int st;
		waitpid(mid, &st, 0);
		ck_abort_msg("the contained member did not reach the allocator (exit %d)",
			     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	return 0;
}

/* Process state letter of @pid ('?' if gone). */
static char state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

START_TEST(arena_holder_in_another_pid_namespace)
{
	struct ipcfs_params p;
	char dir[PATH_MAX];
	uint64_t live, gone;
	pid_t c;
	void *buf;

	ipcfs_params_init(&p);
	p.ranks = 2;
	p.slot_bytes = 256;
	p.arena_bytes = 256 << 10;
	tl_group(dir, &p);
	struct ipcfs_member *m = tl_join(dir, 0);
	if (start_contained(dir, &c) != 0) {
		printf("test_pidns: new PID namespaces not permitted here: not tested\n");
		ipcfs_leave(m);
		tl_group_done(dir);
		return;
	}
	/* It holds the lock and lives: we wait for it (2 s) and fail, and
	 * reaping on the way (every 100 ms of a wait) leaves its rank live. */
	ck_assert_int_eq(ipcfs_reserve(m, 20000, &buf, 3000), -ETIMEDOUT);
	ck_assert_int_eq(ipcfs_reap(m, &gone), 0);
	ipcfs_live(m, &live);
	ck_assert_uint_eq(live, 3);

	/* Killed: its rank is reaped by its lock, the arena's lock taken over. */
	kill(c, SIGKILL);
	for (int i = 0; i < 500 && state_of(c) != '?'; i++)
		usleep(10000);
	while (waitpid(-1, NULL, 0) > 0) /* the namespace's parent */
		;
	ck_assert_int_eq(ipcfs_reap(m, &gone), 1);
	ck_assert_uint_eq(gone, 2);
	ck_assert_int_eq(ipcfs_reserve(m, 20000, &buf, 3000), 0);
	ipcfs_leave(m);

	struct seg_map sm;
	tl_map_seg(dir, &sm);
	ck_assert_uint_eq(tl_arena_used(&sm), 0);
	seg_unmap(&sm);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pidns");
	TCase *tc = tcase_create("pidns");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, arena_holder_in_another_pid_namespace);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
